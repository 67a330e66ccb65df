//! The recorded aiortc run (`tests/data/real-peers/aiortc/`, one run of
//! `conformance/aiortc/play.sh`) against the model's `aiortc` profile, without Python:
//! every scenario agrees up to aiortc's known deviations, and each deviation of
//! `src/conform/peers/aiortc.rs` is pinned here by the run that shows it, so a re-recorded
//! run (a newer aiortc) that no longer shows one fails its test and the entry is
//! revisited.

use dcsim::conform::peers::{conform_dir, RealPeer, RecordedRun};
use dcsim::conform::{normalize, Key, Verdict};
use dcsim::trace::{EventKind, Machine, PeerId, Trace};
use std::path::Path;

fn run() -> RecordedRun {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-peers/aiortc");
    conform_dir(RealPeer::Aiortc, &dir, None).expect("recorded run loads")
}

fn real(name: &str) -> Trace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real-peers/aiortc")
        .join(format!("{name}.jsonl"));
    Trace::from_jsonl(&std::fs::read_to_string(path).expect("trace")).expect("parses")
}

/// The deviation ids that showed in scenario `name`.
fn known(run: &RecordedRun, name: &str) -> Vec<&'static str> {
    let report = run
        .reports
        .iter()
        .find(|r| r.scenario == name)
        .unwrap_or_else(|| panic!("{name} recorded"));
    report.outcome.known.iter().map(|k| k.id).collect()
}

fn states(trace: &Trace, peer: PeerId, machine: Machine) -> Vec<String> {
    let n = normalize(trace);
    n.get(&Key::State {
        peer,
        machine,
        channel: None,
    })
    .iter()
    .map(|s| s.value.clone())
    .collect()
}

#[test]
fn every_recorded_scenario_agrees_up_to_known_deviations() {
    let run = run();
    assert!(run.reports.len() >= 10, "{} traces", run.reports.len());
    for r in &run.reports {
        assert_ne!(
            r.outcome.verdict(),
            Verdict::Diverge,
            "{}: {:?}",
            r.scenario,
            r.outcome.divergences.first()
        );
    }
    // dcep-ack-lost is left out on purpose (timing), with its reason.
    assert!(run.skipped.iter().any(|(n, _)| n == "dcep-ack-lost"));
}

#[test]
fn aiortc_sctp_starts_new() {
    let run = run();
    assert!(known(&run, "happy-path").contains(&"aiortc-sctp-new-state"));
    let t = real("happy-path");
    assert!(t.events.iter().any(|e| matches!(&e.kind,
        EventKind::State { machine: Machine::Sctp, from, to, .. } if from == "new" && to == "connecting")));
}

#[test]
fn aiortc_fires_no_closing_event() {
    let run = run();
    assert!(known(&run, "remote-close").contains(&"aiortc-no-closing-event"));
    let t = real("remote-close");
    let closing_state = t.events.iter().any(|e| {
        matches!(&e.kind, EventKind::State { machine: Machine::DataChannel, to, .. } if to == "closing")
    });
    let closing_event = t
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Callback { name, .. } if name == "closing"));
    assert!(closing_state && !closing_event);
}

#[test]
fn aiortc_delivers_on_a_closing_channel() {
    let run = run();
    assert!(known(&run, "remote-close").contains(&"aiortc-delivers-while-closing"));
}

#[test]
fn aiortc_dtls_fails_on_close_during_handshake() {
    // close-during-dtls (conformance/aiortc/scenarios/): the path dies during the DTLS
    // handshake and a closes its peer connection at 5 s.
    let run = run();
    assert!(known(&run, "close-during-dtls").contains(&"aiortc-dtls-failed-on-close"));
    let t = real("close-during-dtls");
    assert_eq!(
        states(&t, PeerId::A, Machine::Dtls),
        ["connecting", "failed"]
    );
}

#[test]
fn aiortc_consent_failure_within_the_jitter() {
    let run = run();
    assert!(known(&run, "checking-disconnected-failed").contains(&"consent-jitter"));
    // With the path dead after ICE completed and before DTLS finished, each peer's ICE,
    // DTLS and peer connection go failed (and nothing closes) 27 to 39 s in.
    let t = real("checking-disconnected-failed");
    for peer in PeerId::BOTH {
        for machine in [
            Machine::IceConnection,
            Machine::PeerConnection,
            Machine::Dtls,
        ] {
            let failed = t
                .events
                .iter()
                .find(|e| {
                    e.peer == Some(peer)
                        && matches!(&e.kind, EventKind::State { machine: m, to, .. } if *m == machine && to == "failed")
                })
                .map(|e| e.t_ms)
                .unwrap_or_else(|| panic!("{peer} {machine} failed"));
            assert!(
                (27_000..=39_500).contains(&failed),
                "{peer} {machine} at {failed}"
            );
        }
    }
}

#[test]
fn aiortc_never_reports_connected_or_disconnected_ice() {
    for r in run().reports {
        for e in &r.real.events {
            if let EventKind::State {
                machine: Machine::IceConnection,
                to,
                ..
            } = &e.kind
            {
                assert!(
                    to != "connected" && to != "disconnected",
                    "{}: {to}",
                    r.scenario
                );
            }
        }
    }
}
