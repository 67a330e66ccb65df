//! State enums that mirror `webrtc` 0.21.1 one to one.
//!
//! Same variants (including `Unspecified`), same Display strings, so that a trace written
//! by the model and one written by the real crate use the same words. Conversions to and
//! from the crate's enums live in [`crate::model::convert`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a state enum with its Display strings and a string parser.
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            /// Not set; the crate's default, never entered by the model.
            Unspecified,
            $(
                #[doc = concat!("`", $text, "`")]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every variant, `Unspecified` first (for exhaustive tests and tables).
            pub const ALL: &'static [$name] = &[$name::Unspecified, $($name::$variant),+];

            /// The crate's Display string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::Unspecified => "Unspecified",
                    $($name::$variant => $text,)+
                }
            }

            /// Parses a Display string; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|s| s.as_str() == text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

state_enum! {
    /// `RTCDataChannelState`.
    ///
    /// ```text
    /// connecting -> open -> closing -> closed
    ///      \___________\________________^      (webrtc-rs: closing is not observable)
    /// ```
    DataChannelState {
        Connecting => "connecting",
        Open => "open",
        Closing => "closing",
        Closed => "closed",
    }
}

state_enum! {
    /// `RTCIceConnectionState`. In 0.21.1 `completed` is never entered and `new` is never
    /// reported (the first change is to `checking`).
    ///
    /// ```text
    /// new -> checking -> connected <-> disconnected
    ///           |            \            |
    ///           +-------------> failed <--+      failed -> checking only by ICE restart
    /// any -> closed (peer connection closed)
    /// ```
    IceConnectionState {
        New => "new",
        Checking => "checking",
        Connected => "connected",
        Completed => "completed",
        Disconnected => "disconnected",
        Failed => "failed",
        Closed => "closed",
    }
}

state_enum! {
    /// `RTCIceGatheringState`: new -> gathering -> complete.
    IceGatheringState {
        New => "new",
        Gathering => "gathering",
        Complete => "complete",
    }
}

state_enum! {
    /// `RTCPeerConnectionState`, derived from ICE and DTLS by
    /// [`crate::model::derive_peer_connection_state`].
    PeerConnectionState {
        New => "new",
        Connecting => "connecting",
        Connected => "connected",
        Disconnected => "disconnected",
        Failed => "failed",
        Closed => "closed",
    }
}

state_enum! {
    /// `RTCSignalingState`.
    ///
    /// ```text
    /// offerer:  stable -> have-local-offer -> stable
    /// answerer: stable -> have-remote-offer -> stable
    /// any -> closed
    /// ```
    SignalingState {
        Stable => "stable",
        HaveLocalOffer => "have-local-offer",
        HaveRemoteOffer => "have-remote-offer",
        HaveLocalPranswer => "have-local-pranswer",
        HaveRemotePranswer => "have-remote-pranswer",
        Closed => "closed",
    }
}

state_enum! {
    /// `RTCDtlsTransportState`: new -> connecting -> connected -> closed. `failed` is never
    /// entered in 0.21.1.
    DtlsTransportState {
        New => "new",
        Connecting => "connecting",
        Connected => "connected",
        Closed => "closed",
        Failed => "failed",
    }
}

state_enum! {
    /// `RTCSctpTransportState`: connecting -> connected -> closed.
    SctpTransportState {
        Connecting => "connecting",
        Connected => "connected",
        Closed => "closed",
    }
}

/// The peer-connection state the crate derives from ICE and DTLS
/// (`rtc/src/peer_connection/internal.rs` `update_connection_state`; the W3C table).
/// First match wins.
pub fn derive_peer_connection_state(
    is_closed: bool,
    ice: IceConnectionState,
    dtls: DtlsTransportState,
) -> PeerConnectionState {
    use DtlsTransportState as D;
    use IceConnectionState as I;
    if is_closed {
        PeerConnectionState::Closed
    } else if ice == I::Failed || dtls == D::Failed {
        PeerConnectionState::Failed
    } else if ice == I::Disconnected {
        PeerConnectionState::Disconnected
    } else if matches!(ice, I::New | I::Closed) && matches!(dtls, D::New | D::Closed) {
        PeerConnectionState::New
    } else if matches!(ice, I::New | I::Checking) || matches!(dtls, D::New | D::Connecting) {
        PeerConnectionState::Connecting
    } else if matches!(ice, I::Connected | I::Completed | I::Closed)
        && matches!(dtls, D::Connected | D::Closed)
    {
        PeerConnectionState::Connected
    } else {
        PeerConnectionState::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips_through_parse() {
        for s in DataChannelState::ALL {
            assert_eq!(DataChannelState::parse(s.as_str()), Some(*s));
        }
        for s in SignalingState::ALL {
            assert_eq!(SignalingState::parse(&s.to_string()), Some(*s));
        }
        assert_eq!(IceConnectionState::parse("bogus"), None);
    }

    #[test]
    fn derived_state_follows_the_table() {
        use DtlsTransportState as D;
        use IceConnectionState as I;
        use PeerConnectionState as P;
        let d = derive_peer_connection_state;
        assert_eq!(d(true, I::Connected, D::Connected), P::Closed);
        assert_eq!(d(false, I::Failed, D::Connected), P::Failed);
        assert_eq!(d(false, I::Disconnected, D::Connected), P::Disconnected);
        assert_eq!(d(false, I::New, D::New), P::New);
        assert_eq!(d(false, I::Checking, D::New), P::Connecting);
        assert_eq!(d(false, I::Connected, D::Connecting), P::Connecting);
        assert_eq!(d(false, I::Connected, D::Connected), P::Connected);
        // close_notify from the remote while ICE stays up: still connected (rule 6)
        assert_eq!(d(false, I::Connected, D::Closed), P::Connected);
    }
}
