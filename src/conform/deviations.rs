//! Known deviations: where the real `rtc` 0.21.1 stack is at odds with itself or with the
//! W3C spec, each with the crate source location and how conformance treats it.
//!
//! Every entry has a test in `tests/conform_deviations.rs` that pins the real crate's
//! behaviour, so a crate upgrade that fixes (or changes) it makes that test fail and the
//! entry is revisited. Paths are relative to each crate's root in
//! `~/.cargo/registry/src/*/`.
//!
//! Three kinds ([`Handling`]):
//!
//! - **tolerated**: the real trace shows it, the model follows the spec; `dcsim conform`
//!   rewrites the real trace's normalized form into the spec's behaviour and reports the
//!   scenario as `known deviation: <id>` instead of failing. None of the `rtc` crate's
//!   deviations is tolerated: every one an application can observe (a getter, an event,
//!   a send result) is mirrored, so the `webrtc-rs` profile shows the application what
//!   the crate shows it. (The real peers' lists, [`super::peers`], still use it.)
//! - **mirrored**: the model's `webrtc-rs` profile reproduces it (a named [`Profile`]
//!   switch; `w3c` does what the spec says), so the traces agree and nothing is rewritten;
//! - **unobservable**: the real stack has no event and no getter for it, so
//!   [`super::normalize()`] drops it from both traces.
//!
//! [`Profile`]: crate::model::Profile

use super::normalize::Normalized;

/// How conformance treats a deviation.
#[derive(Clone, Copy, Debug)]
pub enum Handling {
    /// Rewritten in the real trace (normalized form) before comparing. The function gets
    /// the real and the model trace, rewrites the real one, and describes the first thing
    /// it rewrote (`None`: the deviation does not show in this run).
    Tolerated(fn(&mut Normalized, &Normalized) -> Option<String>),
    /// Reproduced by the model's `webrtc-rs` profile: the named `Profile` switch.
    Mirrored(&'static str),
    /// Dropped from both traces by [`super::normalize()`].
    Unobservable,
}

impl Handling {
    /// `tolerated`, `mirrored` or `unobservable`.
    pub fn name(&self) -> &'static str {
        match self {
            Handling::Tolerated(_) => "tolerated",
            Handling::Mirrored(_) => "mirrored",
            Handling::Unobservable => "unobservable",
        }
    }
}

/// One known deviation of the real crate.
#[derive(Clone, Copy, Debug)]
pub struct Deviation {
    /// Stable id, shown by `dcsim conform`.
    pub id: &'static str,
    /// What the crate does.
    pub summary: &'static str,
    /// Where, in the crate source.
    pub source: &'static str,
    /// What the spec (or the crate elsewhere) says instead.
    pub expected: &'static str,
    /// How conformance treats it.
    pub handling: Handling,
    /// The test in `tests/conform_deviations.rs` that pins the crate's behaviour.
    pub test: &'static str,
}

/// Every known deviation, in the order `dcsim conform` applies the tolerated ones.
pub const DEVIATIONS: &[Deviation] = &[
    Deviation {
        id: "sctp-closed-during-handshake",
        summary: "the offerer's (DTLS server's) SCTP transport reads `closed` from the INIT \
                  until the COOKIE ECHO: connecting -> closed -> connected",
        source: "rtc/src/peer_connection/transport/sctp/mod.rs:106-112 (`state()` tests \
                 `is_closed()` before `is_handshaking()`); rtc-sctp/src/association/mod.rs:630 \
                 (the server's association exists from the INIT, in state `Closed` until \
                 the COOKIE ECHO)",
        expected: "W3C RTCSctpTransportState: `closed` is terminal; the transport stays \
                   `connecting` until the association is up",
        handling: Handling::Mirrored("sctp_closed_during_handshake"),
        test: "sctp_reads_closed_during_the_offerers_handshake",
    },
    Deviation {
        id: "pc-close-leaves-channels-open",
        summary: "after the local pc.close(), the peer's data channels keep reading their \
                  readyState (`open`, or `connecting`) while sends on them fail with \
                  \"data channel closed\"",
        source: "rtc/src/peer_connection/handler/mod.rs:559-568 (close() step 5, closing \
                 every data channel, is a TODO); webrtc/src/data_channel/mod.rs:508 (the \
                 async wrapper refuses sends through its `closing` flag instead)",
        expected: "W3C close(): every channel's readyState is set to `closed` (no events)",
        handling: Handling::Mirrored("pc_close_leaves_channels"),
        test: "pc_close_leaves_the_closing_peers_channels_reading_open",
    },
    Deviation {
        id: "sctp-connecting-without-association",
        summary: "an SCTP transport whose association never came up reads `connecting` for \
                  ever, also after pc.close()",
        source: "rtc/src/peer_connection/transport/sctp/mod.rs:107 (`None => Connecting`)",
        expected: "W3C close(): the SCTP transport's state is set to `closed`",
        handling: Handling::Mirrored("sctp_connecting_without_association"),
        test: "sctp_without_association_reads_connecting_after_pc_close",
    },
    Deviation {
        id: "ice-gathering-no-gathering-event",
        summary: "ICE gathering goes `gathering` without an event; the first event is \
                  `complete` (new -> complete)",
        source: "rtc/src/peer_connection/mod.rs:1244 (set_local_description sets the \
                 state directly)",
        expected: "W3C: icegatheringstatechange fires for `gathering`",
        handling: Handling::Mirrored("ice_gathering_reports_gathering"),
        test: "ice_gathering_reports_only_complete",
    },
    Deviation {
        id: "no-ice-closed-on-pc-close",
        summary: "pc.close() never stops the ICE transport: its `state()` getter (reached \
                  through pc.sctp().transport().ice_transport()) keeps reading the agent's \
                  state, and no ICE change is reported (signaling goes `closed` without an \
                  event and has no getter, as W3C fires none)",
        source: "rtc/src/peer_connection/handler/mod.rs:580-583 (ICE transport stop is a \
                 TODO in close()); rtc/src/peer_connection/transport/mod.rs:283 and \
                 webrtc/src/peer_connection/transport/mod.rs:509 (the getter)",
        expected: "W3C close(): the ICE transport's state and iceConnectionState `closed` \
                   (no event)",
        handling: Handling::Mirrored("pc_close_leaves_ice"),
        test: "pc_close_reports_no_ice_or_signaling_change",
    },
    Deviation {
        id: "pc-change-before-ice-change",
        summary: "on an ICE change, the peer-connection change is reported before the ICE \
                  change that caused it",
        source: "rtc/src/peer_connection/handler/mod.rs:379-393 (update_connection_state \
                 queues its event before the ICE event is forwarded)",
        expected: "W3C: iceconnectionstatechange, then connectionstatechange",
        handling: Handling::Mirrored("pc_change_before_ice"),
        test: "peer_connection_change_comes_before_the_ice_change",
    },
    Deviation {
        id: "dcep-in-buffered-amount",
        summary: "the DCEP OPEN and ACK count in the channel's buffered amount: \
                  bufferedamountlow fires when they are acknowledged, with no data sent",
        source: "rtc-sctp/src/association/stream.rs:601 (on_buffer_released, for every \
                 message of the stream); rtc/src/peer_connection/handler/sctp.rs:440",
        expected: "W3C bufferedAmount counts only data passed to send()",
        handling: Handling::Mirrored("dcep_in_buffered_amount"),
        test: "bufferedamountlow_fires_with_no_data_sent",
    },
    Deviation {
        id: "close-event-at-once",
        summary: "channel close() fires the closing side's close event at once, before the \
                  stream reset is answered",
        source: "rtc/src/peer_connection/handler/sctp.rs:616-632 (DataChannelClose: the \
                 stream is closed and SCTPStreamClosed raised in the same step)",
        expected: "W3C: the close event fires when the closing procedure (the stream reset) \
                   completes",
        handling: Handling::Mirrored("close_event_at_once"),
        test: "channel_close_fires_close_at_once_on_the_closing_side",
    },
    Deviation {
        id: "late-negotiated-no-open-event",
        summary: "a negotiated channel created after SCTP is up is `open` at once but no \
                  open event ever fires (one created before does fire it)",
        source: "rtc/src/peer_connection/mod.rs:1996-2016 (create_data_channel dials it); \
                 rtc/src/data_channel/internal.rs:140-144 (dial sets `Open`, with no \
                 emit_data_channel_opened)",
        expected: "W3C createDataChannel: a negotiated channel on a connected transport is \
                   announced open (open event)",
        handling: Handling::Mirrored("late_negotiated_fires_open"),
        test: "late_negotiated_channel_opens_without_an_open_event",
    },
    Deviation {
        id: "send-checks-stream-not-state",
        summary: "send() checks that the SCTP stream exists, not readyState: an in-band \
                  channel accepts sends between DATA_CHANNEL_OPEN and ACK while it reads \
                  `connecting`",
        source: "rtc/src/data_channel/mod.rs:302-318 (ensure_sendable tests \
                 `data_channel.is_none()`)",
        expected: "W3C send(): InvalidStateError unless readyState is `open`",
        handling: Handling::Mirrored("send_checks_stream"),
        test: "send_is_accepted_between_dcep_open_and_ack",
    },
];

/// The deviation with this id.
pub fn find(id: &str) -> Option<&'static Deviation> {
    DEVIATIONS.iter().find(|d| d.id == id)
}

/// [`DEVIATIONS`] as a Markdown table (for docs/conformance.md and `dcsim conform --details`).
pub fn render_markdown() -> String {
    let mut out = String::from(
        "| id | handling | what the crate does | source | instead | pinned by |\n\
         |---|---|---|---|---|---|\n",
    );
    for d in DEVIATIONS {
        let handling = match d.handling {
            Handling::Mirrored(switch) => format!("mirrored (`Profile::{switch}`)"),
            h => h.name().to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | `tests/conform_deviations.rs::{}` |\n",
            d.id, handling, d.summary, d.source, d.expected, d.test
        ));
    }
    out
}
