//! Conversions between the model's state enums and the real `webrtc` 0.21.1 enums.
//!
//! `From<model> for crate` is total. `TryFrom<crate> for model` fails only for a variant a
//! future crate version might add (the crate's enums are `#[non_exhaustive]`).

use super::states::*;
use rtc::peer_connection::transport::{RTCDtlsTransportState, RTCSctpTransportState};
use std::fmt;
use webrtc::data_channel::RTCDataChannelState;
use webrtc::peer_connection::{
    RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionState, RTCSignalingState,
};

/// A crate state the model does not know (a variant added after 0.21.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state {:?} is not known to the dcsim model", self.0)
    }
}

impl std::error::Error for UnknownState {}

macro_rules! convert {
    ($ours:ident, $theirs:ident { $($v:ident),+ }) => {
        impl From<$ours> for $theirs {
            fn from(s: $ours) -> Self {
                match s {
                    $ours::Unspecified => $theirs::Unspecified,
                    $($ours::$v => $theirs::$v,)+
                }
            }
        }

        impl TryFrom<$theirs> for $ours {
            type Error = UnknownState;
            fn try_from(s: $theirs) -> Result<Self, UnknownState> {
                #[allow(unreachable_patterns)]
                match s {
                    $theirs::Unspecified => Ok($ours::Unspecified),
                    $($theirs::$v => Ok($ours::$v),)+
                    other => Err(UnknownState(format!("{other:?}"))),
                }
            }
        }
    };
}

convert!(
    DataChannelState,
    RTCDataChannelState {
        Connecting,
        Open,
        Closing,
        Closed
    }
);
convert!(
    IceConnectionState,
    RTCIceConnectionState {
        New,
        Checking,
        Connected,
        Completed,
        Disconnected,
        Failed,
        Closed
    }
);
convert!(
    IceGatheringState,
    RTCIceGatheringState {
        New,
        Gathering,
        Complete
    }
);
convert!(
    PeerConnectionState,
    RTCPeerConnectionState {
        New,
        Connecting,
        Connected,
        Disconnected,
        Failed,
        Closed
    }
);
convert!(
    SignalingState,
    RTCSignalingState {
        Stable,
        HaveLocalOffer,
        HaveRemoteOffer,
        HaveLocalPranswer,
        HaveRemotePranswer,
        Closed
    }
);
convert!(
    DtlsTransportState,
    RTCDtlsTransportState {
        New,
        Connecting,
        Connected,
        Closed,
        Failed
    }
);
convert!(
    SctpTransportState,
    RTCSctpTransportState {
        Connecting,
        Connected,
        Closed
    }
);
