//! Pins the real `rtc` 0.21.1 behaviour behind every entry of
//! `dcsim::conform::deviations::DEVIATIONS`: each test runs a scenario on the real stack
//! under the simulator (`--stack rtc`) and asserts what the crate does today. When a crate
//! upgrade fixes (or changes) one of them, its test fails: revisit the entry, and the
//! model's profile switch if it is mirrored.

use dcsim::conform::{deviations, Handling, DEVIATIONS};
use dcsim::model::ProfileName;
use dcsim::scenario::Scenario;
use dcsim::sim::{self, RunOptions, StackKind};
use dcsim::trace::{EventKind, Machine, Millis, PeerId, SendOutcome, Trace};

const A: PeerId = PeerId::A;
const B: PeerId = PeerId::B;

fn scenario(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rtc(scenario: &Scenario) -> Trace {
    let options = RunOptions {
        stack: StackKind::Rtc,
        ..RunOptions::default()
    };
    sim::run(scenario, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .trace
}

fn model(scenario: &Scenario) -> Trace {
    sim::run(scenario, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .trace
}

/// The model under the `w3c` profile (what the spec says instead).
fn model_w3c(scenario: &Scenario) -> Trace {
    let options = RunOptions {
        profile: Some(ProfileName::W3c),
        ..RunOptions::default()
    };
    sim::run(scenario, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .trace
}

/// (time, to) of every change of one machine on one peer (`channel` for data channels).
fn states(
    t: &Trace,
    peer: PeerId,
    machine: Machine,
    channel: Option<&str>,
) -> Vec<(Millis, String)> {
    t.events
        .iter()
        .filter(|e| e.peer == Some(peer))
        .filter_map(|e| match &e.kind {
            EventKind::State {
                machine: m,
                channel: c,
                to,
                ..
            } if *m == machine && c.as_deref() == channel => Some((e.t_ms, to.clone())),
            _ => None,
        })
        .collect()
}

/// (time, name) of every callback of one channel on one peer.
fn callbacks(t: &Trace, peer: PeerId, channel: &str) -> Vec<(Millis, String)> {
    t.events
        .iter()
        .filter(|e| e.peer == Some(peer))
        .filter_map(|e| match &e.kind {
            EventKind::Callback { channel: c, name } if c == channel => {
                Some((e.t_ms, name.clone()))
            }
            _ => None,
        })
        .collect()
}

fn at(t: Millis, s: &str) -> (Millis, String) {
    (t, s.to_string())
}

/// Index in the trace of the change of `machine` on `peer` at `t_ms`.
fn index_at(t: &Trace, peer: PeerId, machine: Machine, t_ms: Millis) -> usize {
    t.events
        .iter()
        .position(|e| {
            e.peer == Some(peer)
                && e.t_ms == t_ms
                && matches!(&e.kind, EventKind::State { machine: m, .. } if *m == machine)
        })
        .unwrap_or_else(|| panic!("{peer} {machine}: no change at {t_ms} ms"))
}

#[test]
fn every_deviation_has_its_pinning_test_here() {
    let source = include_str!("conform_deviations.rs");
    for d in DEVIATIONS {
        assert!(
            source.contains(&format!("fn {}()", d.test)),
            "{}: no test {} in tests/conform_deviations.rs",
            d.id,
            d.test
        );
        assert!(!d.source.is_empty() && !d.expected.is_empty(), "{}", d.id);
        assert_eq!(deviations::find(d.id).map(|x| x.id), Some(d.id));
    }
    let mut ids: Vec<&str> = DEVIATIONS.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), DEVIATIONS.len(), "deviation ids are unique");
    // Every mirrored deviation names a switch the webrtc-rs profile really sets.
    let profile = format!("{:?}", dcsim::model::Profile::WEBRTC_RS);
    for d in DEVIATIONS {
        if let Handling::Mirrored(switch) = d.handling {
            assert!(profile.contains(switch), "{}: no switch {switch}", d.id);
        }
    }
}

/// `sctp-closed-during-handshake`: rtc/src/peer_connection/transport/sctp/mod.rs:106-112.
#[test]
fn sctp_reads_closed_during_the_offerers_handshake() {
    let t = rtc(&scenario("happy-path"));
    // The offerer is the DTLS server: INIT arrives at 101 ms, COOKIE ECHO at 121 ms.
    assert_eq!(
        states(&t, A, Machine::Sctp, None),
        [at(101, "closed"), at(121, "connected")]
    );
    assert_eq!(states(&t, B, Machine::Sctp, None), [at(131, "connected")]);
    // Mirrored (`Profile::sctp_closed_during_handshake`): the model's webrtc-rs profile
    // reads the same; w3c stays connecting until the association is up.
    let m = model(&scenario("happy-path"));
    assert_eq!(
        states(&m, A, Machine::Sctp, None),
        states(&t, A, Machine::Sctp, None)
    );
    let w = model_w3c(&scenario("happy-path"));
    assert_eq!(states(&w, A, Machine::Sctp, None), [at(121, "connected")]);
}

/// `pc-close-leaves-channels-open`: rtc/src/peer_connection/handler/mod.rs:559-568.
#[test]
fn pc_close_leaves_the_closing_peers_channels_reading_open() {
    let t = rtc(&scenario("pc-close-with-open-channels"));
    for channel in ["chat", "control"] {
        assert_eq!(
            states(&t, A, Machine::DataChannel, Some(channel)),
            [at(141, "open")],
            "{channel}: never reported closed after a's pc.close() at 1000 ms"
        );
    }
    // ... while a send on it is refused as closed (the async wrapper's `closing` flag).
    let send = t
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Send {
                channel,
                state,
                outcome,
                error,
                ..
            } if e.peer == Some(A) && e.t_ms == 1100 && channel == "chat" => {
                Some((state.clone(), *outcome, error.clone()))
            }
            _ => None,
        })
        .expect("a's send at 1100 ms");
    assert_eq!(
        send,
        (
            "open".to_string(),
            SendOutcome::Error,
            Some("data channel closed".to_string())
        )
    );
    // Mirrored (`Profile::pc_close_leaves_channels`): the model's webrtc-rs profile
    // leaves them open and refuses the send the same way; w3c closes them at once.
    let m = model(&scenario("pc-close-with-open-channels"));
    for channel in ["chat", "control"] {
        assert_eq!(
            states(&m, A, Machine::DataChannel, Some(channel)),
            [at(141, "open")]
        );
    }
    let w = model_w3c(&scenario("pc-close-with-open-channels"));
    assert_eq!(
        states(&w, A, Machine::DataChannel, Some("chat")).last(),
        Some(&at(1000, "closed"))
    );
}

/// `sctp-connecting-without-association`: rtc/src/peer_connection/transport/sctp/mod.rs:107.
#[test]
fn sctp_without_association_reads_connecting_after_pc_close() {
    // The path dies before DTLS completes, so a's association never exists; a closes its
    // peer connection at 33 s.
    let t = rtc(&scenario("checking-disconnected-failed"));
    assert_eq!(
        states(&t, A, Machine::Sctp, None),
        [],
        "sctp reads connecting throughout"
    );
    assert_eq!(
        states(&t, A, Machine::Dtls, None),
        [at(1, "connecting"), at(33_000, "closed")]
    );
    assert_eq!(
        states(&t, A, Machine::PeerConnection, None).last(),
        Some(&at(33_000, "closed"))
    );
    // Mirrored (`Profile::sctp_connecting_without_association`); w3c closes it.
    let m = model(&scenario("checking-disconnected-failed"));
    assert_eq!(states(&m, A, Machine::Sctp, None), []);
    let w = model_w3c(&scenario("checking-disconnected-failed"));
    assert_eq!(
        states(&w, A, Machine::Sctp, None)
            .last()
            .map(|s| s.1.as_str()),
        Some("closed")
    );
}

/// `ice-gathering-no-gathering-event`: rtc/src/peer_connection/mod.rs:1244.
#[test]
fn ice_gathering_reports_only_complete() {
    let t = rtc(&scenario("send-before-open"));
    for peer in [A, B] {
        assert_eq!(
            states(&t, peer, Machine::IceGathering, None),
            [at(0, "complete")]
        );
    }
}

/// `no-ice-closed-on-pc-close`: rtc/src/peer_connection/handler/mod.rs:580-583.
#[test]
fn pc_close_reports_no_ice_or_signaling_change() {
    let t = rtc(&scenario("pc-close-with-open-channels"));
    assert_eq!(
        states(&t, A, Machine::IceConnection, None),
        [at(1, "checking"), at(41, "connected")]
    );
    assert_eq!(
        states(&t, A, Machine::Signaling, None),
        [at(0, "have-local-offer"), at(1, "stable")]
    );
    assert_eq!(
        states(&t, A, Machine::PeerConnection, None).last(),
        Some(&at(1000, "closed"))
    );
    // Mirrored (`Profile::pc_close_leaves_ice`): the model's webrtc-rs profile reports no
    // ICE change either (nor signaling, which no getter shows).
    let m = model(&scenario("pc-close-with-open-channels"));
    assert_eq!(
        states(&m, A, Machine::IceConnection, None),
        states(&t, A, Machine::IceConnection, None)
    );
    assert_eq!(
        states(&m, A, Machine::Signaling, None),
        states(&t, A, Machine::Signaling, None)
    );
}

/// `pc-change-before-ice-change`: rtc/src/peer_connection/handler/mod.rs:379-393.
#[test]
fn peer_connection_change_comes_before_the_ice_change() {
    let t = rtc(&scenario("transient-disconnect"));
    // Every ICE change that changes the peer connection: checking (connecting),
    // disconnected (8 s partition from 2 s), connected again after the heal at 10 s.
    let mut seen = 0;
    for peer in [A, B] {
        for (at_ms, ice) in states(&t, peer, Machine::IceConnection, None) {
            let pc = states(&t, peer, Machine::PeerConnection, None);
            let Some((_, pc_to)) = pc.iter().find(|(t_pc, _)| *t_pc == at_ms) else {
                continue; // ICE connected before DTLS: the peer connection does not move
            };
            let i = index_at(&t, peer, Machine::IceConnection, at_ms);
            let p = index_at(&t, peer, Machine::PeerConnection, at_ms);
            assert!(
                p < i,
                "{peer} at {at_ms} ms: peer connection {pc_to} after ICE {ice}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 6, "checking, disconnected, connected on both peers");
}

/// `dcep-in-buffered-amount`: rtc-sctp/src/association/stream.rs:601.
#[test]
fn bufferedamountlow_fires_with_no_data_sent() {
    // happy-path: a's first send is at 1000 ms (send-before-open would flush guarded
    // messages at open, whose acks would fire the event for a reason).
    let t = rtc(&scenario("happy-path"));
    let a = callbacks(&t, A, "chat");
    assert_eq!(
        a.get(..2),
        Some(&[at(141, "open"), at(341, "bufferedamountlow")][..])
    );
    let b = callbacks(&t, B, "chat");
    assert_eq!(
        b.get(..3),
        Some(
            &[
                at(131, "datachannel"),
                at(131, "open"),
                at(351, "bufferedamountlow")
            ][..]
        ),
        "b never sends: its low event is the DCEP ACK's, acknowledged by a's delayed SACK"
    );
}

/// `close-event-at-once`: rtc/src/peer_connection/handler/sctp.rs:616-632.
#[test]
fn channel_close_fires_close_at_once_on_the_closing_side() {
    let t = rtc(&scenario("happy-path"));
    assert_eq!(callbacks(&t, A, "chat").last(), Some(&at(3000, "close")));
    assert_eq!(callbacks(&t, B, "chat").last(), Some(&at(3010, "close")));
    // remote-close: b closes at 1000 ms.
    let t = rtc(&scenario("remote-close"));
    assert_eq!(callbacks(&t, B, "chat").last(), Some(&at(1000, "close")));
    assert_eq!(callbacks(&t, A, "chat").last(), Some(&at(1010, "close")));
}

/// A negotiated channel created by both peers at 1 s, long after SCTP is up. ("chat" is
/// there so that the offer has a data section at all: without any channel the crate's
/// offer has no m=application line and nothing connects.)
pub const LATE_NEGOTIATED: &str = r#"
version = 1
name = "late-negotiated"
description = "A negotiated channel created on both peers after SCTP is up."
duration_ms = 2000

[[channel]]
label = "chat"

[[channel]]
label = "late"
negotiated = true
id = 2
create_at_start = false

[[step]]
at_ms = 0
action = "connect"

[[step]]
at_ms = 1000
action = "create_channel"
peer = "a"
channel = "late"

[[step]]
at_ms = 1000
action = "create_channel"
peer = "b"
channel = "late"

[[step]]
at_ms = 1500
action = "send"
peer = "a"
channel = "late"
data = "on late"
"#;

/// `late-negotiated-no-open-event`: rtc/src/peer_connection/mod.rs:1996-2016.
#[test]
fn late_negotiated_channel_opens_without_an_open_event() {
    let s = Scenario::parse("late-negotiated", LATE_NEGOTIATED).expect("scenario");
    let t = rtc(&s);
    for peer in [A, B] {
        assert_eq!(
            states(&t, peer, Machine::DataChannel, Some("late")),
            [at(1000, "open")]
        );
        assert!(
            callbacks(&t, peer, "late")
                .iter()
                .all(|(_, name)| name != "open"),
            "{peer}: no open event"
        );
    }
    assert!(t
        .events
        .iter()
        .any(|e| e.peer == Some(B) && matches!(e.kind, EventKind::Deliver { .. })));
}

/// A send from a between its DATA_CHANNEL_OPEN (SCTP up at 121 ms) and the ACK (141 ms).
pub const SEND_BEFORE_ACK: &str = r#"
version = 1
name = "send-before-ack"
description = "a sends while its in-band channel waits for the DCEP ACK."
duration_ms = 1000

[[channel]]
label = "chat"

[[step]]
at_ms = 0
action = "connect"

[[step]]
at_ms = 130
action = "send"
peer = "a"
channel = "chat"
data = "before the ack"
"#;

/// `send-checks-stream-not-state`: rtc/src/data_channel/mod.rs:302-318.
#[test]
fn send_is_accepted_between_dcep_open_and_ack() {
    let s = Scenario::parse("send-before-ack", SEND_BEFORE_ACK).expect("scenario");
    let t = rtc(&s);
    let send = t
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Send { state, outcome, .. } => Some((e.t_ms, state.clone(), *outcome)),
            _ => None,
        })
        .expect("the send");
    assert_eq!(send, (130, "connecting".to_string(), SendOutcome::Sent));
    // Delivered after b's channel opened (b opened at 131 ms on the OPEN).
    assert!(t
        .events
        .iter()
        .any(|e| e.peer == Some(B) && matches!(e.kind, EventKind::Deliver { msg: 0, .. })));
}
