//! Profiles: where the `webrtc` crate and the W3C spec differ, each difference is one
//! named switch here, and the model reads the switch, never the profile name.

use super::config::PeerConfig;
use crate::vocab::Millis;
use crate::vocab::SendErrorKind;
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
    /// aiortc 1.16 (Python; aioice 0.13), as measured in `conformance/aiortc/`.
    #[serde(rename = "aiortc")]
    Aiortc,
}

impl ProfileName {
    /// Every profile.
    pub const ALL: [ProfileName; 3] =
        [ProfileName::WebrtcRs, ProfileName::W3c, ProfileName::Aiortc];

    /// `"webrtc-rs"`, `"w3c"` or `"aiortc"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::WebrtcRs => "webrtc-rs",
            ProfileName::W3c => "w3c",
            ProfileName::Aiortc => "aiortc",
        }
    }

    /// Parses `webrtc-rs`, `w3c` or `aiortc`.
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
    /// The ICE connection state reads `completed` where the others read `connected`, and
    /// never `connected` (aiortc: `RTCPeerConnection.__updateIceConnectionState` derives
    /// `completed` from `RTCIceTransport`, which goes checking -> completed when aioice's
    /// `connect()` returns; "we do not have connected or disconnected states").
    pub ice_reports_completed: bool,
    /// The answerer's channel, announced by DATA_CHANNEL_OPEN, fires `open` where the
    /// application can see it (w3c: `datachannel`, then `open`). aiortc opens it before it
    /// emits `datachannel` (`rtcsctptransport.py` `_data_channel_receive`), so the `open`
    /// event fires before any listener exists: the application sees only `datachannel`.
    pub announced_channel_fires_open: bool,
    /// `bufferedAmount` goes back down when a message is handed to the SCTP association,
    /// not when it is acknowledged, so `bufferedamountlow` fires right after `send()`
    /// (aiortc `_data_channel_flush`, which calls `_addBufferedAmount(-len)` once the
    /// message is queued for transmission). The flush is a task that takes everything
    /// sent in one instant at once, so the model fires it once per instant and channel.
    /// Chrome does the same (W3C: bufferedAmount counts bytes "not yet transmitted"):
    /// `bufferedamountlow` about 1 ms after a small send, once for a burst
    /// (`conformance/browser/README.md`).
    pub buffered_amount_on_transmit: bool,
    /// When the DTLS transport ends, the peer connection closes itself (aiortc
    /// `__updateConnectionState`: "if all DTLS connections are closed, initiate a
    /// shutdown"). It ends on the remote's close_notify and when ICE fails: aioice closes
    /// the connection after 6 failed consent checks, so a connected DTLS transport reads
    /// a ConnectionError and closes (the peer then closes without ever reporting ICE
    /// `failed`), and a handshaking one goes `failed` (ICE and the peer connection
    /// report `failed` and stay open).
    pub closes_when_dtls_ends: bool,
    /// `pc.close()` closes the channels by stopping the SCTP transport: every channel with
    /// a stream fires `close`, and a channel not yet given a stream (created before the
    /// association came up) is left `connecting` (aiortc `RTCSctpTransport._set_state`
    /// closes only `_data_channels`). w3c and webrtc-rs close every channel with no
    /// event.
    pub pc_close_via_sctp_streams: bool,
    /// `restartIce()` is not there: the call fails with this text and nothing restarts
    /// (aiortc 1.16's RTCPeerConnection has no `restartIce`, and its offers never change
    /// the ICE credentials). `None`: ICE restarts are supported.
    pub ice_restart_error: Option<&'static str>,
    /// Each SCTP T3 (retransmission) expiry doubles the RTO (RFC 4960 6.3.3 E2; the
    /// `rtc-sctp` crate). aiortc keeps the RTO (`_t3_expired` resets the congestion window
    /// but not `_rto`): with its 1 s minimum, a message sent into a dead path is
    /// retransmitted every second and arrives within a second after the path heals.
    pub sctp_t3_backoff: bool,
    /// An in-band channel created while SCTP is up is announced open in a later task
    /// (one millisecond later), so a `send()` right after `createDataChannel()` finds it
    /// `connecting` (W3C createDataChannel / "announce open" is queued; Chrome opens it
    /// about 4 ms later); webrtc-rs opens it when the DCEP ACK arrives anyway.
    pub late_inband_opens_async: bool,
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
    /// `pc.close()` leaves every data channel reading what it read (`open`, or
    /// `connecting`), with no event, while every send on it fails with the `closed` error
    /// text (webrtc-rs: `close()` step 5, closing the channels, is a TODO in
    /// `rtc/src/peer_connection/handler/mod.rs` 559-568, and the async wrapper refuses
    /// sends through its `closing` flag, `webrtc/src/data_channel/mod.rs` 467-508). An
    /// application that checks `readyState == "open"` before it sends still fails: the
    /// trap `pc-close-check-then-send` shows. w3c and aiortc close the channels.
    pub pc_close_leaves_channels: bool,
    /// `pc.close()` leaves the ICE connection state as it was: the crate never stops its
    /// ICE transport (a TODO in `rtc/src/peer_connection/handler/mod.rs` 580-583), so the
    /// ICE transport's `state()` getter (`pc.sctp().transport().ice_transport()`) keeps
    /// reading the agent's state and no change is reported. w3c sets it `closed`.
    pub pc_close_leaves_ice: bool,
    /// An SCTP transport whose association never came up reads `connecting` for ever,
    /// also after `pc.close()` (webrtc-rs `RTCSctpTransport::state`,
    /// `rtc/src/peer_connection/transport/sctp/mod.rs` 106-112: `None => Connecting`);
    /// one that had an association reads `closed`. w3c closes it in any case.
    pub sctp_connecting_without_association: bool,
    /// The DTLS server's (offerer's) SCTP transport reads `closed` from the INIT until
    /// the COOKIE ECHO: `connecting -> closed -> connected` (webrtc-rs: `state()` tests
    /// `is_closed()` before `is_handshaking()`, and the server's association is `Closed`
    /// until the COOKIE ECHO, `rtc/src/peer_connection/transport/sctp/mod.rs` 106-112).
    /// w3c stays `connecting` until the association is up.
    pub sctp_closed_during_handshake: bool,
    /// ICE gathering reports `gathering` (w3c: icegatheringstatechange fires for it).
    /// webrtc-rs sets it without an event in `set_local_description`
    /// (`rtc/src/peer_connection/mod.rs` 1244) and reports only `complete`, so an
    /// application listening for the change sees `new -> complete`. (The ICE transport's
    /// `gathering_state()` getter, reached through `pc.sctp()`, does read `gathering`
    /// until then; the model reports the change the event stream shows.)
    pub ice_gathering_reports_gathering: bool,
    /// The transports start as the crate starts them, and are reported in its order:
    /// ICE starts when the remote description is applied on either peer
    /// (`set_remote_description` calls `start_transports`,
    /// `rtc/src/peer_connection/mod.rs` 1587), so the answerer goes `checking` before its
    /// answer exists; the DTLS transport's `connecting` is reported once its getter is
    /// reachable, when both descriptions are set (`pc.sctp()` exists from the SCTP
    /// transport's start): on the offerer before the ICE change the same call causes,
    /// on the answerer when it sets its answer. Only the order of changes within one
    /// instant differs: with `false` each peer starts ICE and DTLS together, the
    /// answerer when it sets its answer.
    pub transports_start_on_remote_description: bool,
    /// Error texts of `send()`.
    pub errors: SendErrors,
}

/// ICE liveness timing of a profile's peers ([`Profile::peer_config`]; see
/// [`crate::model::PeerConfig`] for the rule they feed:
/// disconnected when nothing was received for `disconnected_timeout_ms`, failed after
/// `failed_timeout_ms` more, consent checks every `keepalive_interval_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IceTiming {
    /// Idle time to `disconnected`.
    pub disconnected_timeout_ms: u64,
    /// Further idle time to `failed`.
    pub failed_timeout_ms: u64,
    /// Consent-check interval.
    pub keepalive_interval_ms: u64,
}

impl IceTiming {
    /// webrtc 0.21.1's defaults (the `rtc-ice` agent config): disconnected after 5 s,
    /// failed 25 s later, a consent check every 2 s.
    pub const WEBRTC_RS: IceTiming = IceTiming {
        disconnected_timeout_ms: 5_000,
        failed_timeout_ms: 25_000,
        keepalive_interval_ms: 2_000,
    };

    /// aiortc's consent freshness as the model approximates it (no disconnected
    /// timeout; see [`Profile::peer_config`]).
    pub const AIORTC: IceTiming = IceTiming {
        disconnected_timeout_ms: 0,
        failed_timeout_ms: AIORTC_CONSENT_FAILED_MS,
        keepalive_interval_ms: AIORTC_CONSENT_INTERVAL_MS,
    };
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
    /// The peer has no channel with this label (the application holds no channel
    /// object): what the application's call gives.
    pub unknown: &'static str,
    /// The kind of `closed` as the API's error type tells it (a W3C InvalidStateError
    /// cannot tell closed from connecting).
    #[serde(skip)]
    pub closed_kind: SendErrorKind,
    /// The kind of `too_large`.
    #[serde(skip)]
    pub too_large_kind: SendErrorKind,
    /// The kind of `unknown`.
    #[serde(skip)]
    pub unknown_kind: SendErrorKind,
}

/// aiortc's `send()` on a channel that is not open: `raise InvalidStateError`, no message
/// (`rtcdatachannel.py`), so the text is the bare class name.
pub const AIORTC_INVALID_STATE: &str = "InvalidStateError";

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
        ice_reports_completed: false,
        announced_channel_fires_open: true,
        buffered_amount_on_transmit: false,
        closes_when_dtls_ends: false,
        pc_close_via_sctp_streams: false,
        ice_restart_error: None,
        sctp_t3_backoff: true,
        late_inband_opens_async: false,
        ice_restart_keeps_state: false,
        sctp_max_backoff_ms: None,
        sctp_retransmits_on_ice_reselect: true,
        pc_close_leaves_channels: true,
        pc_close_leaves_ice: true,
        sctp_connecting_without_association: true,
        sctp_closed_during_handshake: true,
        ice_gathering_reports_gathering: false,
        transports_start_on_remote_description: true,
        errors: SendErrors {
            not_open: "data channel is not open yet",
            closed: "data channel closed",
            too_large: "outbound packet larger than maximum message size",
            unknown: "data channel closed",
            // ErrDataChannelClosed, ErrOutboundPacketTooLarge, ErrDataChannelClosed.
            closed_kind: SendErrorKind::Closed,
            too_large_kind: SendErrorKind::TooLarge,
            unknown_kind: SendErrorKind::Closed,
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
        ice_reports_completed: false,
        announced_channel_fires_open: true,
        buffered_amount_on_transmit: true,
        closes_when_dtls_ends: false,
        pc_close_via_sctp_streams: false,
        ice_restart_error: None,
        sctp_t3_backoff: true,
        late_inband_opens_async: true,
        ice_restart_keeps_state: true,
        sctp_max_backoff_ms: Some(3_000),
        sctp_retransmits_on_ice_reselect: false,
        pc_close_leaves_channels: false,
        pc_close_leaves_ice: false,
        sctp_connecting_without_association: false,
        sctp_closed_during_handshake: false,
        ice_gathering_reports_gathering: true,
        transports_start_on_remote_description: false,
        errors: SendErrors {
            not_open: W3C_INVALID_STATE,
            closed: W3C_INVALID_STATE,
            too_large: "TypeError: Failed to execute 'send' on 'RTCDataChannel': Message size exceeds maximum message size",
            unknown: W3C_INVALID_STATE,
            // InvalidStateError says only "not open": held until the close report.
            closed_kind: SendErrorKind::NotOpen,
            too_large_kind: SendErrorKind::TooLarge,
            unknown_kind: SendErrorKind::NotOpen,
        },
    };

    /// aiortc 1.16 with aioice 0.13, as recorded by `conformance/aiortc/play.sh` (the
    /// traces in `tests/data/real-peers/aiortc/`, the measurements in
    /// `conformance/aiortc/README.md`). Its timing is [`Profile::peer_config`].
    pub const AIORTC: Profile = Profile {
        name: ProfileName::Aiortc,
        // The offerer's channel opens on DATA_CHANNEL_ACK (`_data_channel_receive`).
        open_on_dcep_ack: true,
        // `send()` checks readyState first (`rtcdatachannel.py`).
        send_checks_stream: false,
        // `close()` sets `closing` (no event); `close` fires when both streams are reset.
        observable_closing: true,
        // An ABORT closes the association: each channel fires `close` only.
        abort_fires_error: false,
        // The ICE transport's statechange runs the ICE listener, then the peer's.
        pc_change_before_ice: false,
        // DCEP goes to `_send` directly, never through `_addBufferedAmount`.
        dcep_in_buffered_amount: false,
        close_event_at_once: false,
        // `_data_channel_add_negotiated` opens it inside `createDataChannel`, before the
        // application holds it: the event fires unseen.
        late_negotiated_fires_open: false,
        ice_reports_completed: true,
        announced_channel_fires_open: false,
        buffered_amount_on_transmit: true,
        closes_when_dtls_ends: true,
        pc_close_via_sctp_streams: true,
        ice_restart_error: Some(
            "AttributeError: 'RTCPeerConnection' object has no attribute 'restartIce'",
        ),
        sctp_t3_backoff: false,
        late_inband_opens_async: false,
        ice_restart_keeps_state: false,
        sctp_max_backoff_ms: None,
        sctp_retransmits_on_ice_reselect: true,
        pc_close_leaves_channels: false,
        pc_close_leaves_ice: false,
        sctp_connecting_without_association: false,
        sctp_closed_during_handshake: false,
        ice_gathering_reports_gathering: true,
        transports_start_on_remote_description: false,
        errors: SendErrors {
            not_open: AIORTC_INVALID_STATE,
            closed: AIORTC_INVALID_STATE,
            // aiortc's text names the sizes ("ValueError: Cannot send message of N bytes,
            // the remote party only supports messages up to M bytes"); M is 262144 between
            // two aiortc peers, so no built-in scenario reaches it.
            too_large: "ValueError: Cannot send message, the remote party only supports messages up to 262144 bytes",
            // The application's reference is None: Python's own error for `None.send(...)`.
            unknown: "AttributeError: 'NoneType' object has no attribute 'send'",
            // InvalidStateError says only "not open"; ValueError and AttributeError are
            // not send refusals the guard knows (kept, held until writable).
            closed_kind: SendErrorKind::NotOpen,
            too_large_kind: SendErrorKind::Other,
            unknown_kind: SendErrorKind::Other,
        },
    };

    /// The switch set of a profile name.
    pub fn of(name: ProfileName) -> Profile {
        match name {
            ProfileName::WebrtcRs => Self::WEBRTC_RS,
            ProfileName::W3c => Self::W3C,
            ProfileName::Aiortc => Self::AIORTC,
        }
    }

    /// The timeouts and limits of this profile's stack, where they differ from the
    /// `webrtc` crate's ([`PeerConfig::default`]).
    ///
    /// aiortc (measured, `conformance/aiortc/README.md`): no `disconnected` state
    /// (timeout 0); aioice checks consent every 4 to 6 s (`CONSENT_INTERVAL` 5 s x
    /// 0.8..1.2) with a single 0.5 s try and gives up after 6 failures in a row
    /// (`CONSENT_FAILURES`), which the model approximates as a 5 s keepalive and failure
    /// 33 s after the last STUN packet received: 32 path deaths at 2 s ended 27.4 to 34.0 s
    /// later (mean 31.3 s, standard deviation 1.4 s), i.e. about 33 s after ICE completed,
    /// where the model puts it (31.2 s after such a path death). aiortc has no DCEP
    /// handshake deadline (a channel whose ACK never comes stays `connecting`). Both
    /// aiortc peers advertise `a=max-message-size:262144` (`LOCAL_MAX_MESSAGE_SIZE`).
    pub fn peer_config(&self) -> PeerConfig {
        match self.name {
            ProfileName::WebrtcRs => PeerConfig::default(),
            // Chrome's ICE timing ([`CHROME_ICE_TIMING`]) and its advertised
            // `a=max-message-size:262144`.
            ProfileName::W3c => PeerConfig {
                ice: CHROME_ICE_TIMING,
                max_message_size: 262_144,
                ..PeerConfig::default()
            },
            ProfileName::Aiortc => PeerConfig {
                ice: IceTiming::AIORTC,
                // No DCEP handshake deadline: an un-ACKed channel waits for ever.
                dcep_handshake_timeout_ms: 0,
                max_message_size: 262_144,
                ..PeerConfig::default()
            },
        }
    }
}

/// aioice's consent check interval (`CONSENT_INTERVAL`, randomized 0.8..1.2).
pub const AIORTC_CONSENT_INTERVAL_MS: Millis = 5_000;

/// Time from the last STUN packet received to aiortc's consent failure, measured (see
/// [`Profile::peer_config`]).
pub const AIORTC_CONSENT_FAILED_MS: Millis = 33_000;

impl Default for Profile {
    fn default() -> Self {
        Self::WEBRTC_RS
    }
}
