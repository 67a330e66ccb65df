//! Profiles: where the `webrtc` crate and the W3C spec differ, each difference is one
//! named switch here, and the model reads the switch, never the profile name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which behaviour the model reproduces.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum ProfileName {
    /// The `webrtc` 0.21.1 crate (default).
    #[default]
    #[serde(rename = "webrtc-rs")]
    WebrtcRs,
    /// The W3C WebRTC 1.0 spec (browsers).
    #[serde(rename = "w3c")]
    W3c,
}

impl ProfileName {
    /// Every profile.
    pub const ALL: [ProfileName; 2] = [ProfileName::WebrtcRs, ProfileName::W3c];

    /// `"webrtc-rs"` or `"w3c"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::WebrtcRs => "webrtc-rs",
            ProfileName::W3c => "w3c",
        }
    }

    /// Parses `webrtc-rs` or `w3c`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The switches where the two profiles differ. The model reads these, one per behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Profile {
    /// Which profile this is.
    pub name: ProfileName,
    /// An in-band channel opens only when DATA_CHANNEL_ACK arrives (webrtc-rs,
    /// `rtc/src/peer_connection/handler/datachannel.rs`); the spec opens it when SCTP is up.
    pub open_on_dcep_ack: bool,
    /// `send()` checks that the SCTP stream exists, not readyState (webrtc-rs
    /// `ensure_sendable`): a dialed, un-ACKed channel accepts sends, and a send right
    /// after `close()` returns Ok and is silently lost.
    pub send_checks_stream: bool,
    /// `closing` is an observable readyState (w3c); webrtc-rs goes straight to closed.
    pub observable_closing: bool,
    /// After the remote's `pc.close()` (SCTP ABORT), each channel fires `error` before
    /// `close` (w3c, errorDetail sctp-failure); webrtc-rs fires only `close`.
    pub abort_fires_error: bool,
    /// On an ICE change the peer-connection change is reported *before* the ICE change
    /// that caused it (webrtc-rs queues it first, `rtc/src/peer_connection/handler/mod.rs`
    /// 379-393); w3c fires iceconnectionstatechange, then connectionstatechange.
    pub pc_change_before_ice: bool,
    /// DCEP messages (DATA_CHANNEL_OPEN, DATA_CHANNEL_ACK) count in the channel's buffered
    /// amount, so `bufferedamountlow` fires when they are acknowledged, with no application
    /// data sent (webrtc-rs: they go through the SCTP stream whose `buffered_amount` the
    /// event watches, `rtc-sctp/src/association/stream.rs` `on_buffer_released`); w3c
    /// counts only data passed to `send()`.
    pub dcep_in_buffered_amount: bool,
    /// `close()` on a channel fires its `close` event at once, on the closing side, and
    /// drops the stream when the stack next runs (webrtc-rs emits `SCTPStreamClosed` when
    /// its write pipeline handles the close, `rtc/src/peer_connection/handler/sctp.rs`
    /// `DataChannelClose`); w3c fires it when the closing procedure ends, after the
    /// remote's stream reset.
    pub close_event_at_once: bool,
    /// A negotiated channel created after SCTP is up fires `open` (w3c: "announce the
    /// channel as open"); webrtc-rs opens it without an open event (`create_data_channel`
    /// dials it, `rtc/src/peer_connection/mod.rs` 1996-2016, and `dial` sets `Open` with
    /// no `emit_data_channel_opened`).
    pub late_negotiated_fires_open: bool,
    /// The application's data leaves `bufferedAmount` when the stack hands it to the
    /// network (W3C: "bytes ... queued using send() ... not yet transmitted"; Chrome
    /// fires `bufferedamountlow` about 1 ms after each send, measured in
    /// `conformance/browser/README.md`), released one millisecond after the send so that
    /// the sends of one task give one event; webrtc-rs keeps it until the SCTP SACK.
    pub buffered_released_on_transmit: bool,
    /// An in-band channel created while SCTP is up is announced open in a later task
    /// (one millisecond later), so a `send()` right after `createDataChannel()` finds it
    /// `connecting` (W3C createDataChannel / "announce open" is queued; Chrome opens it
    /// about 4 ms later); webrtc-rs opens it when the DCEP ACK arrives anyway.
    pub late_inband_opens_async: bool,
    /// The max message size both peers advertise and enforce, when the profile's peers
    /// advertise their own (`None`: the config's, 65536 for webrtc-rs). Chrome advertises
    /// `a=max-message-size:262144`.
    pub max_message_size: Option<usize>,
    /// An ICE restart of a connection that was `connected` or `disconnected` is not
    /// reported as `checking`: the state reads what it read until the new checks settle
    /// it (`connected`, or `failed`), and ICE gathering runs again (gathering ->
    /// complete). Chrome, measured in ice-restart (`conformance/browser/README.md`):
    /// `disconnected` -> `connected` 40-50 ms after the restart, gathering `complete`
    /// again. W3C derives the states from the transports, and a restart by itself does
    /// not make a transport `checking`. webrtc-rs goes `checking` at once (reported).
    pub ice_restart_keeps_state: bool,
    /// Upper bound of the SCTP T3-rtx backoff (`None`: the model's 60 s). Chromium caps
    /// every dcSCTP retry timer at 3 s (`kMaxTimerBackoffDuration`,
    /// `media/sctp/dcsctp_transport.cc`), so data sent into a dead path is retried at
    /// most 3 s apart and arrives within 3 s of a heal (measured: 11.86-11.88 s in
    /// transient-disconnect and ice-restart, healed at 10 s).
    pub sctp_max_backoff_ms: Option<u64>,
    /// When ICE selects a pair again after a restart, outstanding SCTP data is sent at
    /// once (webrtc-rs resumes what waited for a path); with `false` only the T3 timer
    /// retransmits it (Chrome: dcSCTP does not watch ICE).
    pub sctp_retransmits_on_ice_reselect: bool,
    /// ICE liveness timing of the profile's peers, used instead of the crate's defaults
    /// (`None`: the config's). Each value applies only where the scenario leaves its
    /// `[ice]` key at the crate default (5000, 25000, 2000 ms).
    pub ice_timing: Option<IceTiming>,
    /// Error texts of `send()`.
    pub errors: SendErrors,
}

/// ICE liveness timing (see [`crate::model::PeerConfig`] for the rule they feed:
/// disconnected when nothing was received for `disconnected_timeout_ms`, failed after
/// `failed_timeout_ms` more, consent checks every `keepalive_interval_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct IceTiming {
    /// Idle time to `disconnected`.
    pub disconnected_timeout_ms: u64,
    /// Further idle time to `failed`.
    pub failed_timeout_ms: u64,
    /// Consent-check interval.
    pub keepalive_interval_ms: u64,
}

/// Chrome's ICE timing, measured in headless Chromium 148 (`conformance/browser/README.md`):
/// `disconnected` 5.02-5.07 s after the remote vanished right after connecting (5 runs)
/// and 5.2-5.4 s after a partition or a remote `pc.close()` 1-2 s after connecting;
/// `failed` (connectionState) exactly 10.0 s after `disconnected` (7 runs). Chrome counts
/// 5 s from the first consent check that goes unanswered and checks every few hundred ms
/// in a connection's first seconds; the model counts from the last response received,
/// so a 200 ms check interval and 5.2 s put its `disconnected` where Chrome's is
/// (`RTT + 5 s` after the first unanswered check). Not modelled: Chrome slows its checks
/// to 2.5 s once a connection is stable, which moves `disconnected` to 5-7.5 s after a
/// cut on a long-lived connection.
pub const CHROME_ICE_TIMING: IceTiming = IceTiming {
    disconnected_timeout_ms: 5_200,
    failed_timeout_ms: 10_000,
    keepalive_interval_ms: 200,
};

/// The exact error texts `send()` gives in one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SendErrors {
    /// The channel is connecting (no stream yet).
    pub not_open: &'static str,
    /// The channel is closing or closed, or unknown.
    pub closed: &'static str,
    /// The message is larger than the negotiated max message size.
    pub too_large: &'static str,
}

/// Chrome's InvalidStateError text, the error users see in the field.
pub const W3C_INVALID_STATE: &str = "InvalidStateError: Failed to execute 'send' on 'RTCDataChannel': RTCDataChannel.readyState is not 'open'";

impl Profile {
    /// The `webrtc` 0.21.1 crate.
    pub const WEBRTC_RS: Profile = Profile {
        name: ProfileName::WebrtcRs,
        open_on_dcep_ack: true,
        send_checks_stream: true,
        observable_closing: false,
        abort_fires_error: false,
        pc_change_before_ice: true,
        dcep_in_buffered_amount: true,
        close_event_at_once: true,
        late_negotiated_fires_open: false,
        buffered_released_on_transmit: false,
        late_inband_opens_async: false,
        max_message_size: None,
        ice_restart_keeps_state: false,
        sctp_max_backoff_ms: None,
        sctp_retransmits_on_ice_reselect: true,
        ice_timing: None,
        errors: SendErrors {
            not_open: "data channel is not open yet",
            closed: "data channel closed",
            too_large: "outbound packet larger than maximum message size",
        },
    };

    /// The W3C spec, with Chrome's error texts.
    pub const W3C: Profile = Profile {
        name: ProfileName::W3c,
        open_on_dcep_ack: false,
        send_checks_stream: false,
        observable_closing: true,
        abort_fires_error: true,
        pc_change_before_ice: false,
        dcep_in_buffered_amount: false,
        close_event_at_once: false,
        late_negotiated_fires_open: true,
        buffered_released_on_transmit: true,
        late_inband_opens_async: true,
        max_message_size: Some(262_144),
        ice_restart_keeps_state: true,
        sctp_max_backoff_ms: Some(3_000),
        sctp_retransmits_on_ice_reselect: false,
        ice_timing: Some(CHROME_ICE_TIMING),
        errors: SendErrors {
            not_open: W3C_INVALID_STATE,
            closed: W3C_INVALID_STATE,
            too_large: "TypeError: Failed to execute 'send' on 'RTCDataChannel': Message size exceeds maximum message size",
        },
    };

    /// The switch set of a profile name.
    pub fn of(name: ProfileName) -> Profile {
        match name {
            ProfileName::WebrtcRs => Self::WEBRTC_RS,
            ProfileName::W3c => Self::W3C,
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::WEBRTC_RS
    }
}
