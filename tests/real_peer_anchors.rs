//! Real-peer runs compared on the intervals that carry meaning, not on their absolute
//! times (`src/conform/peers/anchor.rs`), and the vanish the Chromium player now cuts at
//! the relay on the survivor's first DTLS record.

use dcsim::conform::peers::{conform_recorded, RealPeer};
use dcsim::conform::{compare_traces_with, Verdict};
use dcsim::scenario::Scenario;
use dcsim::trace::{EventKind, Machine, PeerId, Trace};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> Trace {
    let path = root().join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    Trace::from_jsonl(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn scenario(path: &str) -> Scenario {
    Scenario::load(&root().join(path).to_string_lossy()).expect("scenario loads")
}

const RECORDED: &str = "tests/data/real-peers/chromium/checking-disconnected-failed";

/// The recorded run, as if the browser had taken `late` ms longer to make its offer:
/// every event from the offer on moves, the vanish (which the player places on Chrome's
/// progress) with them, and so do the steps after the vanish (the player keeps them at
/// their distance to it); what the script did before the offer does not move.
fn started_late(trace: &Trace, late: u64) -> Trace {
    let offer = trace
        .events
        .iter()
        .find(|e| {
            matches!(&e.kind, EventKind::State { machine: Machine::Signaling, to, .. }
                if to == "have-local-offer")
        })
        .map(|e| e.t_ms)
        .expect("an offer");
    let mut out = trace.clone();
    for e in &mut out.events {
        if e.t_ms >= offer {
            e.t_ms += late;
        }
    }
    out
}

/// A run whose browser started a second late compares as the run itself did; on
/// absolute times it would diverge (this is what failed CI on a slower machine).
#[test]
fn a_late_start_moves_nothing() {
    let recorded = read(&format!("{RECORDED}.jsonl"));
    let played = scenario(&format!("{RECORDED}.toml"));
    let on_time =
        conform_recorded(RealPeer::Chromium, &played, recorded.clone(), None).expect("compares");
    let late = started_late(&recorded, 1000);
    let report =
        conform_recorded(RealPeer::Chromium, &played, late.clone(), None).expect("compares");
    assert_eq!(report.outcome.verdict(), on_time.outcome.verdict());
    assert_eq!(
        report.outcome.verdict(),
        Verdict::Known,
        "{}",
        report.render_details()
    );
    // The same comparison on absolute times parts at the first moved event.
    let rules = RealPeer::Chromium.rules();
    let absolute = compare_traces_with(
        &report.model,
        &late,
        rules.deviations,
        rules.unreported,
        rules.tolerance_ms,
    );
    assert_eq!(absolute.verdict(), Verdict::Diverge);
}

/// A run recorded with the relay-driven vanish on Chromium 156: the trace names its
/// browser first, the vanish falls after a's ICE `connected` and before any DTLS
/// transport connects, and the run compares with the model with only Chrome's known
/// deviations.
#[test]
fn chromium_156_vanish_lands_in_its_window() {
    let base = "conformance/browser/evidence/checking-disconnected-failed-chromium-156";
    let real = read(&format!("{base}.jsonl"));
    match &real.events[0].kind {
        EventKind::Meta { name, value } => {
            assert_eq!(name, "peer");
            assert!(value.starts_with("Chromium 156."), "{value}");
        }
        other => panic!("first event is not the peer's version: {other:?}"),
    }
    let crash = real
        .events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::Fault { action, .. } if action == "crash"))
        .expect("the vanish");
    let before = &real.events[..crash];
    let reached = |peer: Option<PeerId>, machine: Machine, state: &str| {
        before.iter().any(|e| {
            (peer.is_none() || e.peer == peer)
                && matches!(&e.kind, EventKind::State { machine: m, to, .. }
                    if *m == machine && to == state)
        })
    };
    assert!(reached(
        Some(PeerId::A),
        Machine::IceConnection,
        "connected"
    ));
    assert!(!reached(None, Machine::Dtls, "connected"));
    let report = conform_recorded(
        RealPeer::Chromium,
        &scenario(&format!("{base}.toml")),
        real,
        None,
    )
    .expect("compares");
    assert_eq!(
        report.outcome.verdict(),
        Verdict::Known,
        "{}",
        report.render_details()
    );
}
