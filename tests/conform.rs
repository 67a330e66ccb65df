//! Differential conformance: every built-in scenario on the model and on the real `rtc`
//! 0.21.1 stack under the same simulator, seed and faults; the ICE timeouts at the same
//! virtual times; the comparison's own rules on hand-made traces; the command line.

#[path = "support/messages.rs"]
mod messages;

use dcsim::conform::{
    self, compare_traces, normalize, ConformOptions, ConformReport, Key, Verdict,
    DEFAULT_TOLERANCE_MS,
};
use dcsim::scenario::{self, Scenario};
use dcsim::sim::{self, RunOptions, StackKind};
use dcsim::trace::{EventKind, Machine, Millis, PeerId, SendOutcome, Trace, TraceEvent, Via};
use std::process::Command;
use std::sync::OnceLock;

const A: PeerId = PeerId::A;
const B: PeerId = PeerId::B;

fn load(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(scenario: &Scenario, stack: StackKind) -> Trace {
    let options = RunOptions {
        stack,
        ..RunOptions::default()
    };
    sim::run(scenario, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .trace
}

/// (time, to) of the ICE connection changes of one peer, but `closed` (which only the
/// model reports, on `close_peer`: see `conform::normalize`).
fn ice(t: &Trace, peer: PeerId) -> Vec<(Millis, String)> {
    t.events
        .iter()
        .filter(|e| e.peer == Some(peer))
        .filter_map(|e| match &e.kind {
            EventKind::State {
                machine: Machine::IceConnection,
                to,
                ..
            } if to != "closed" => Some((e.t_ms, to.clone())),
            _ => None,
        })
        .collect()
}

fn at(t: Millis, s: &str) -> (Millis, String) {
    (t, s.to_string())
}

/// The ICE sequences of both stacks: same states, each within the tolerance (here, on
/// the same millisecond).
fn assert_same_ice(model: &Trace, real: &Trace, peer: PeerId) -> Vec<(Millis, String)> {
    let (m, r) = (ice(model, peer), ice(real, peer));
    let states = |v: &[(Millis, String)]| v.iter().map(|x| x.1.clone()).collect::<Vec<_>>();
    assert_eq!(states(&m), states(&r), "{peer}: ICE states");
    for ((tm, s), (tr, _)) in m.iter().zip(&r) {
        assert!(
            tm.abs_diff(*tr) <= DEFAULT_TOLERANCE_MS,
            "{peer} {s}: model {tm} ms, rtc {tr} ms"
        );
    }
    r
}

/// `dcsim conform` over every built-in scenario, run once for all the tests here (the
/// real stack is slow in a debug build).
fn builtins() -> &'static [ConformReport] {
    static REPORTS: OnceLock<Vec<ConformReport>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        scenario::builtin::names()
            .map(|(name, _)| {
                conform::conform(&load(name), &ConformOptions::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect()
    })
}

/// The model's and the real stack's trace of a built-in scenario.
fn builtin(name: &str) -> (&'static Trace, &'static Trace) {
    let r = builtins()
        .iter()
        .find(|r| r.scenario == name)
        .unwrap_or_else(|| panic!("no built-in {name}"));
    (&r.model, &r.real)
}

#[test]
fn every_builtin_scenario_agrees_up_to_known_deviations() {
    let reports = builtins();
    for report in reports {
        assert!(report.agrees(), "{}", report.render_details());
        // Every deviation an application can observe is mirrored by the webrtc-rs
        // profile: nothing is rewritten, every built-in agrees outright.
        assert_eq!(
            report.outcome.verdict(),
            Verdict::Agree,
            "{}",
            report.render_details()
        );
    }
    let table = conform::render_table(reports);
    println!("{table}");
    assert!(table.starts_with("| scenario | result | first divergence |\n|---|---|---|\n"));
    assert_eq!(table.lines().count(), 2 + reports.len());
}

/// The check-then-send trap after the local pc.close(), on both stacks alike: a's channel
/// still reads `open`, the raw send fails "data channel closed" and is flagged
/// no-send-on-non-open (judged on what the stack can carry), the guarded send is rejected
/// `channel-closed` (the guard learned the peer connection closed).
#[test]
fn pc_close_check_then_send_fails_with_the_channel_reading_open_on_both_stacks() {
    let (model, real) = builtin("pc-close-check-then-send");
    for t in [model, real] {
        let sends: Vec<(String, SendOutcome, Option<String>, Option<String>)> = t
            .events
            .iter()
            .filter(|e| e.peer == Some(A) && e.t_ms == 1100)
            .filter_map(|e| match &e.kind {
                EventKind::Send {
                    state,
                    outcome,
                    error,
                    reason,
                    ..
                } => Some((state.clone(), *outcome, error.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            sends,
            [
                (
                    "open".to_string(),
                    SendOutcome::Error,
                    Some("data channel closed".to_string()),
                    None
                ),
                (
                    "open".to_string(),
                    SendOutcome::Rejected,
                    None,
                    Some("channel-closed".to_string())
                ),
            ]
        );
        let flagged: Vec<String> = t
            .violations()
            .filter_map(|v| match &v.kind {
                EventKind::Violation { invariant, detail } => {
                    Some(format!("{invariant}: {detail}"))
                }
                _ => None,
            })
            .filter(|v| v.starts_with("no-send-on-non-open"))
            .collect();
        assert_eq!(
            flagged,
            ["no-send-on-non-open: a: send called on chat #1 while open (pc closed)"]
        );
    }
}

/// The OpenAvatarChat path (the built-in): a sends while ICE is checking, the path dies
/// at 45 ms, after both peers selected their pair (31 and 41 ms with 10 ms latency) and
/// before DTLS completes (81 ms): both go checking -> connected -> disconnected -> failed,
/// at the first 200 ms ICE tick more than 5 s and 30 s after the last STUN packet
/// received (31 ms on b, 41 ms on a; a's ticks run from 1 ms). Same virtual times on both
/// stacks.
#[test]
fn checking_disconnected_failed_happens_at_the_same_virtual_times() {
    let (model, real) = builtin("checking-disconnected-failed");
    assert_eq!(
        assert_same_ice(model, real, B),
        [
            at(0, "checking"),
            at(31, "connected"),
            at(5200, "disconnected"),
            at(30_200, "failed")
        ]
    );
    assert_eq!(
        assert_same_ice(model, real, A),
        [
            at(1, "checking"),
            at(41, "connected"),
            at(5201, "disconnected"),
            at(30_201, "failed")
        ]
    );
    assert_eq!(
        compare_traces(model, real, DEFAULT_TOLERANCE_MS).verdict(),
        Verdict::Agree
    );
}

/// The same scenario with the partition at 30 ms, while a's nomination is in flight: b
/// goes connected -> disconnected -> failed 5 s and 30 s after the last STUN it received;
/// a, stuck in checking, fails 30 s after checking began. Same times on both stacks.
#[test]
fn partition_during_checking_fails_the_stuck_peer_on_both_stacks() {
    let mut s = load("checking-disconnected-failed");
    for step in &mut s.steps {
        if step.at_ms == 45 {
            step.at_ms = 30;
        }
    }
    let (model, real) = (run(&s, StackKind::Model), run(&s, StackKind::Rtc));
    assert_eq!(
        assert_same_ice(&model, &real, B),
        [
            at(0, "checking"),
            at(31, "connected"),
            at(5200, "disconnected"),
            at(30_200, "failed")
        ]
    );
    assert_eq!(
        assert_same_ice(&model, &real, A),
        [at(1, "checking"), at(30_201, "failed")]
    );
    assert_ne!(
        compare_traces(&model, &real, DEFAULT_TOLERANCE_MS).verdict(),
        Verdict::Diverge
    );
}

/// An 8 s partition from 2 s: disconnected 5 s after the last STUN (the handshake's: the
/// first keepalive, at 2 s, falls into the partition), connected again at the first tick
/// after the heal's keepalive round trip (b's keepalive at 10 000 ms, answered at 10 020).
#[test]
fn transient_disconnect_recovers_at_the_same_virtual_times() {
    let (model, real) = builtin("transient-disconnect");
    assert_eq!(
        assert_same_ice(model, real, B),
        [
            at(0, "checking"),
            at(31, "connected"),
            at(5200, "disconnected"),
            at(10_200, "connected")
        ]
    );
    assert_eq!(
        assert_same_ice(model, real, A),
        [
            at(1, "checking"),
            at(41, "connected"),
            at(5201, "disconnected"),
            at(10_201, "connected")
        ]
    );
}

/// The mirrored deviations agree on scenarios that exercise them (late negotiated channel,
/// send between DCEP OPEN and ACK), which the built-ins do not.
#[test]
fn scenarios_of_the_mirrored_deviations_agree() {
    let source = include_str!("conform_deviations.rs");
    for name in ["LATE_NEGOTIATED", "SEND_BEFORE_ACK"] {
        let start = source
            .find(&format!("{name}: &str = r#\""))
            .map(|i| i + name.len() + 12)
            .expect("scenario text");
        let len = source[start..].find("\"#;").expect("end of scenario");
        let s = Scenario::parse(name, &source[start..start + len]).expect("scenario");
        let report = conform::conform(&s, &ConformOptions::default()).expect("run");
        assert!(report.agrees(), "{}", report.render_details());
    }
}

/// Partial reliability and unordered delivery (`tests/data/reliability/`) agree with the
/// crate's PR-SCTP: the same message abandoned, the same ones delivered at the same
/// times (a message waiting behind an abandoned one on an ordered channel included),
/// and an unordered message overtaking a retransmitted one. Each scenario also shows
/// what it is about, so an agreement cannot come from the feature being unused.
#[test]
fn partial_reliability_and_unordered_delivery_agree_with_the_crate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reliability");
    let cases: [(&str, &[u64], &[u64]); 5] = [
        // (file, delivered in this order, reported undelivered)
        ("unordered-no-retransmit", &[0, 2, 3, 4], &[1]),
        ("mixed-channels", &[0, 2], &[1]),
        ("ordered-one-retransmit", &[0, 2], &[1]),
        ("packet-life-time", &[0, 2], &[1]),
        ("unordered-reliable", &[0, 2, 1], &[]),
    ];
    for (name, delivered, lost) in cases {
        let s = Scenario::load(&format!("{dir}/{name}.toml")).expect("scenario");
        let report = conform::conform(&s, &ConformOptions::default()).expect("run");
        assert!(report.agrees(), "{name}: {}", report.render_details());
        for stack in [StackKind::Model, StackKind::Rtc] {
            let t = run(&s, stack);
            let got = messages::delivered(&t);
            assert_eq!(got, delivered, "{name} on {stack:?}: delivered");
            let undelivered = messages::undelivered(&t);
            assert_eq!(undelivered, lost, "{name} on {stack:?}: undelivered");
            assert!(!t
                .events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Violation { .. })));
        }
    }
}

/// A relayed path (`[network] relay_ms`) agrees with the crate, and the relay's hop is
/// really on the path: the channel opens later than over the direct leg alone, and a
/// message takes the whole relayed path.
#[test]
fn a_relayed_path_agrees_with_the_crate() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/network/relayed-path.toml"
    );
    let relayed = Scenario::load(path).expect("scenario");
    let report = conform::conform(&relayed, &ConformOptions::default()).expect("run");
    assert!(report.agrees(), "{}", report.render_details());
    let mut direct = relayed.clone();
    direct.network.relay_ms = 0;
    let opened = |t: &Trace| {
        t.events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::State { machine: Machine::DataChannel, to, .. } if to == "open"))
            .map(|e| e.t_ms)
    };
    for stack in [StackKind::Model, StackKind::Rtc] {
        let (r, d) = (run(&relayed, stack), run(&direct, stack));
        assert!(
            opened(&r) > opened(&d),
            "{stack:?}: {:?} vs {:?}",
            opened(&r),
            opened(&d)
        );
        assert_eq!(messages::first_delivery_delay(&r), Some(60), "{stack:?}");
        assert_eq!(messages::first_delivery_delay(&d), Some(20), "{stack:?}");
    }
}

/// A session with no data channel at all: the crate's offer has no m=application section
/// and its answerer refuses it ("no ice-ufrag"), while the model connects. A divergence
/// the model does not cover yet; it shows how conform reports one.
#[test]
fn a_session_without_channels_diverges() {
    let s = Scenario::parse(
        "no-channel",
        "version = 1\nname = \"no-channel\"\ndescription = \"x\"\nduration_ms = 500\n\
         [[step]]\nat_ms = 0\naction = \"connect\"\n",
    )
    .expect("scenario");
    let report = conform::conform(&s, &ConformOptions::default()).expect("run");
    assert_eq!(report.outcome.verdict(), Verdict::Diverge);
    let first = &report.outcome.divergences[0];
    assert_eq!(first.t_ms(), 0);
    assert!(report.result().starts_with("DIVERGE"));
    assert!(report.render_details().contains("-- rtc, 0 ms to 300 ms"));
}

// ----- the comparison's rules, on hand-made traces ----------------------------------

fn state(t: Millis, peer: PeerId, machine: Machine, from: &str, to: &str) -> TraceEvent {
    TraceEvent::on(
        t,
        peer,
        EventKind::State {
            machine,
            channel: None,
            from: from.into(),
            to: to.into(),
        },
    )
}

fn trace(events: Vec<TraceEvent>) -> Trace {
    Trace { events }
}

#[test]
fn times_within_the_tolerance_agree_and_beyond_it_diverge() {
    let m = trace(vec![state(
        5000,
        A,
        Machine::IceConnection,
        "connected",
        "disconnected",
    )]);
    let within = trace(vec![state(
        5250,
        A,
        Machine::IceConnection,
        "connected",
        "disconnected",
    )]);
    let beyond = trace(vec![state(
        5251,
        A,
        Machine::IceConnection,
        "connected",
        "disconnected",
    )]);
    let ok = compare_traces(&m, &within, 250);
    assert_eq!(ok.verdict(), Verdict::Agree);
    assert_eq!(ok.max_shift.map(|s| s.ms()), Some(250));
    let bad = compare_traces(&m, &beyond, 250);
    assert_eq!(bad.verdict(), Verdict::Diverge);
    assert!(bad.divergences[0].is_timing());
    assert_eq!(
        bad.divergences[0].to_string(),
        "a ice_connection: disconnected at 5000 ms (model) vs 5251 ms (rtc)"
    );
}

#[test]
fn a_different_state_is_reported_once_at_the_first_difference() {
    let m = trace(vec![
        state(1, A, Machine::IceConnection, "new", "checking"),
        state(41, A, Machine::IceConnection, "checking", "connected"),
        state(5201, A, Machine::IceConnection, "connected", "disconnected"),
    ]);
    let r = trace(vec![
        state(1, A, Machine::IceConnection, "new", "checking"),
        state(30_201, A, Machine::IceConnection, "checking", "failed"),
    ]);
    let out = compare_traces(&m, &r, 250);
    assert_eq!(out.divergences.len(), 1);
    assert_eq!(
        out.divergences[0].to_string(),
        "a ice_connection #2: model connected at 41 ms, rtc failed at 30201 ms"
    );
}

#[test]
fn gathering_and_closed_after_close_peer_are_dropped() {
    let close = TraceEvent::on(
        900,
        A,
        EventKind::App {
            action: "close_peer".into(),
            detail: None,
        },
    );
    let m = trace(vec![
        state(0, A, Machine::IceGathering, "new", "gathering"),
        state(0, A, Machine::IceGathering, "gathering", "complete"),
        close.clone(),
        state(900, A, Machine::IceConnection, "connected", "closed"),
        state(900, A, Machine::Signaling, "stable", "closed"),
    ]);
    let r = trace(vec![
        state(0, A, Machine::IceGathering, "new", "complete"),
        close,
    ]);
    assert_eq!(compare_traces(&m, &r, 0).verdict(), Verdict::Agree);
    let n = normalize(&m);
    assert_eq!(n.closed_at, [Some(900), None]);
    assert!(!n.seqs.contains_key(&Key::State {
        peer: A,
        machine: Machine::Signaling,
        channel: None
    }));
}

#[test]
fn send_outcomes_compare_with_their_error_text() {
    let send = |error: &str| {
        TraceEvent::on(
            5,
            A,
            EventKind::Send {
                channel: "chat".into(),
                stream: None,
                msg: 0,
                via: Via::Raw,
                state: "connecting".into(),
                outcome: SendOutcome::Error,
                error: Some(error.into()),
                reason: None,
                flushed: false,
            },
        )
    };
    let m = trace(vec![send("data channel is not open yet")]);
    let r = trace(vec![send("data channel closed")]);
    let out = compare_traces(&m, &r, 250);
    assert_eq!(
        out.divergences[0].to_string(),
        "send #0 #1: model error: data channel is not open yet at 5 ms, rtc error: data channel closed at 5 ms"
    );
}

/// The SCTP handshake `closed` is mirrored by the webrtc-rs profile, not rewritten: a
/// model trace without it diverges from the real one.
#[test]
fn the_sctp_handshake_deviation_is_mirrored_not_rewritten() {
    let m = trace(vec![state(
        121,
        A,
        Machine::Sctp,
        "connecting",
        "connected",
    )]);
    let r = trace(vec![
        state(101, A, Machine::Sctp, "connecting", "closed"),
        state(121, A, Machine::Sctp, "closed", "connected"),
    ]);
    let out = compare_traces(&m, &r, 0);
    assert_eq!(out.verdict(), Verdict::Diverge);
    assert!(out.known.is_empty());
    let out = compare_traces(&r, &r, 0);
    assert_eq!(out.verdict(), Verdict::Agree);
}

// ----- the command line ----------------------------------------------------------------

#[test]
fn dcsim_conform_prints_the_table_and_exits_by_the_verdict() {
    let bin = env!("CARGO_BIN_EXE_dcsim");
    let out = Command::new(bin)
        .args(["conform", "send-before-open"])
        .output()
        .expect("run dcsim");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| send-before-open | agree | - |"));
    assert!(
        out.stderr.is_empty(),
        "no progress when stderr is not a terminal"
    );

    let dir = std::env::temp_dir().join(format!("dcsim-conform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("no-channel.toml");
    std::fs::write(
        &path,
        "version = 1\nname = \"no-channel\"\ndescription = \"x\"\nduration_ms = 300\n\
         [[step]]\nat_ms = 0\naction = \"connect\"\n",
    )
    .expect("write scenario");
    let out = Command::new(bin)
        .arg("conform")
        .arg(&path)
        .output()
        .expect("run dcsim");
    assert_eq!(out.status.code(), Some(1), "a divergence exits 1");
    assert!(String::from_utf8_lossy(&out.stdout).contains("| no-channel | DIVERGE"));

    let out = Command::new(bin)
        .args(["conform", "no-such-scenario"])
        .output()
        .expect("run dcsim");
    assert_eq!(out.status.code(), Some(2), "bad input exits 2");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The built-ins perturbed as `dcsim explore` perturbs them (latency 1-50 ms, fault times
/// moved), lossless seeds only: every run agrees up to known deviations. Excluded:
/// `oversize-message`, whose 65536-byte message the crate sends under SCTP slow start
/// (about four extra round trips, beyond the tolerance from about 32 ms one-way
/// latency), which the model does not model. Slow in a debug build (about 4 minutes):
/// `cargo test --test conform -- --ignored`.
#[test]
#[ignore]
fn perturbed_lossless_runs_agree() {
    let mut runs = 0;
    for (name, _) in scenario::builtin::names() {
        if name == "oversize-message" {
            continue;
        }
        let base = load(name);
        for seed in 0..4 {
            let s = dcsim::explore::perturb(&base, seed);
            if s.network.loss > 0.0 {
                continue;
            }
            let options = ConformOptions {
                seed: Some(seed),
                ..ConformOptions::default()
            };
            let report = conform::conform(&s, &options).expect("run");
            assert!(report.agrees(), "seed {seed}: {}", report.render_details());
            runs += 1;
        }
    }
    assert!(runs >= 20, "{runs} lossless runs");
}
