//! The bug library: every pinned verdict is what the scenario shows on its target, every
//! symptom can fire (a hand-made trace that has it is caught), and the README's bug
//! table is rendered from the same data.

#[path = "support/messages.rs"]
mod messages;

use dcsim::bugs::{Player, Target, Verdict, BUGS};
use dcsim::scenario::builtin;
use dcsim::trace::{EventKind, Machine, PeerId, SendOutcome, Trace, TraceEvent, Via};

#[test]
fn every_pinned_verdict_is_what_the_scenario_shows() {
    let mut differ = Vec::new();
    for bug in BUGS {
        for (target, pinned) in Target::ALL.into_iter().zip(bug.pinned) {
            let (verdict, evidence) = bug.play(target).expect("plays");
            println!(
                "{} on {}: {:?} {evidence}",
                bug.thread,
                target.as_str(),
                verdict
            );
            if verdict != pinned {
                differ.push(format!(
                    "{} on {}: pinned {:?}, shows {:?} {evidence}",
                    bug.thread,
                    target.as_str(),
                    pinned,
                    verdict
                ));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn every_bug_scenario_names_its_public_thread_and_loads_by_name() {
    for bug in BUGS {
        match bug.scenario {
            Some(name) => {
                let source = builtin::source(name).expect("a bug scenario");
                assert!(source.contains(&bug.url()), "{name} cites {}", bug.url());
                assert!(builtin::get(name).is_some(), "{name} loads");
                assert!(bug.symptom.is_some(), "{name} has a symptom");
                let (sans_io, on_async) = bug.pinned.split_at(4);
                match bug.player {
                    // A bug of the async crate's own layer: played there only.
                    Player::Async(_) => {
                        assert!(sans_io.iter().all(|v| *v == Verdict::NotExpressible));
                        assert!(!matches!(
                            on_async[0],
                            Verdict::NotExpressible | Verdict::NotPlayed
                        ));
                    }
                    Player::Script | Player::App(_) => {
                        assert!(sans_io.iter().all(|v| *v != Verdict::NotExpressible));
                        assert_eq!(on_async[0], Verdict::NotPlayed);
                    }
                }
            }
            None => {
                let (sans_io, on_async) = bug.pinned.split_at(4);
                assert!(sans_io.iter().all(|v| *v == Verdict::NotExpressible));
                assert_eq!(on_async[0], Verdict::NotPlayed);
                assert!(
                    bug.why.starts_with("needs "),
                    "{}: says what is missing",
                    bug.thread
                );
            }
        }
    }
    let listed: Vec<&str> = builtin::bug_names().map(|(n, _)| n).collect();
    let used: Vec<&str> = BUGS.iter().filter_map(|b| b.scenario).collect();
    for name in &listed {
        assert!(used.contains(name), "{name} is in the library");
    }
    // The bug scenarios are not among the built-ins every stack and real peer replays.
    assert!(builtin::names().all(|(n, _)| !n.starts_with("bug-")));
}

#[test]
fn the_readme_table_is_the_librarys() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let table = dcsim::bugs::table();
    assert!(
        readme.contains(&table),
        "README.md's bug table is not `dcsim bugs --table`:\n{table}"
    );
}

fn on(t: u64, peer: PeerId, kind: EventKind) -> TraceEvent {
    TraceEvent::on(t, peer, kind)
}

fn raw_send(t: u64, msg: u64, state: &str, stream: Option<u16>, peer: PeerId) -> TraceEvent {
    on(
        t,
        peer,
        EventKind::Send {
            channel: "chat".into(),
            stream,
            msg,
            via: Via::Raw,
            state: state.into(),
            outcome: SendOutcome::Sent,
            error: None,
            reason: None,
            flushed: false,
        },
    )
}

fn state(t: u64, peer: PeerId, machine: Machine, to: &str) -> TraceEvent {
    on(
        t,
        peer,
        EventKind::State {
            machine,
            channel: (machine == Machine::DataChannel).then(|| "chat".to_string()),
            from: "x".into(),
            to: to.into(),
        },
    )
}

fn trace(events: Vec<TraceEvent>) -> Trace {
    let mut t = Trace::default();
    for e in events {
        t.push(e);
    }
    t
}

fn symptom(thread: &str) -> dcsim::bugs::Symptom {
    BUGS.iter()
        .find(|b| b.thread == thread)
        .and_then(|b| b.symptom)
        .expect("a bug with a symptom")
}

/// Each symptom catches a trace that has it (so a verdict of "not exposed" is a finding,
/// not a check that cannot fail).
#[test]
fn every_symptom_fires_on_a_trace_that_has_it() {
    use PeerId::{A, B};
    let cases: Vec<(&str, Trace)> = vec![
        (
            "webrtc-rs/webrtc#826",
            trace(vec![raw_send(1, 0, "connecting", None, A)]),
        ),
        (
            "webrtc-rs/webrtc#517",
            trace(vec![raw_send(1, 0, "open", Some(1), A)]),
        ),
        (
            "webrtc-rs/webrtc#468",
            trace(vec![state(5, A, Machine::DataChannel, "closing")]),
        ),
        (
            "webrtc-rs/rtc#228",
            trace(vec![
                state(5, A, Machine::DataChannel, "open"),
                state(6, A, Machine::Sctp, "connected"),
            ]),
        ),
        (
            "webrtc-rs/rtc#199",
            trace(vec![
                raw_send(1, 0, "open", Some(1), A),
                raw_send(1, 1, "open", Some(3), B),
            ]),
        ),
        (
            "pion/webrtc#1063",
            trace(vec![raw_send(1, 0, "open", Some(0), A)]),
        ),
        (
            "pion/webrtc#1270",
            trace(vec![
                raw_send(1, 0, "open", Some(0), A),
                on(
                    6000,
                    B,
                    EventKind::Deliver {
                        channel: "chat".into(),
                        stream: Some(0),
                        msg: 0,
                        unordered: false,
                    },
                ),
            ]),
        ),
        (
            "webrtc-rs/webrtc#901",
            trace(vec![
                state(1, A, Machine::DataChannel, "open"),
                raw_send(1, 0, "open", Some(0), A),
            ]),
        ),
        (
            "webrtc-rs/webrtc#858",
            trace(vec![
                state(1, A, Machine::DataChannel, "open"),
                raw_send(2, 0, "open", Some(0), A),
            ]),
        ),
        (
            "webrtc-rs/webrtc#776",
            trace(vec![
                state(1, A, Machine::DataChannel, "open"),
                on(
                    5,
                    B,
                    EventKind::State {
                        machine: Machine::DataChannel,
                        channel: Some("chat".into()),
                        from: "open".into(),
                        to: "closed".into(),
                    },
                ),
            ]),
        ),
        (
            "openai/openai-realtime-console#547",
            trace(
                std::iter::once(state(5, A, Machine::IceConnection, "failed"))
                    .chain((0..10).map(|m| raw_send(10 + m, m, "open", Some(0), A)))
                    .collect(),
            ),
        ),
    ];
    for (thread, t) in &cases {
        assert!(symptom(thread)(t).is_some(), "{thread}: not caught");
    }
    // And none fires on a clean exchange.
    let clean = trace(vec![
        state(1, A, Machine::Sctp, "connected"),
        state(2, A, Machine::DataChannel, "open"),
        raw_send(3, 0, "open", Some(0), A),
        on(
            13,
            B,
            EventKind::Deliver {
                channel: "chat".into(),
                stream: Some(0),
                msg: 0,
                unordered: false,
            },
        ),
    ]);
    for (thread, _) in &cases {
        assert!(
            symptom(thread)(&clean).is_none(),
            "{thread} fires on a clean trace"
        );
    }
    let with_scenario = BUGS.iter().filter(|b| b.symptom.is_some()).count();
    assert_eq!(cases.len(), with_scenario, "a case for every symptom");
}

/// pion/webrtc#1063 and webrtc-rs/webrtc#901 are played by an application that writes
/// from inside its open handler: every peer's three writes go out while the channel
/// reads `open`, and (on every target) all arrive; over the relay, each one a full
/// relayed path (60 ms) after it was written.
#[test]
fn the_open_handler_app_writes_at_open_and_every_write_arrives() {
    for (name, one_way) in [
        ("bug-write-right-after-open-lost", 10),
        ("bug-first-message-over-relay-lost", 60),
    ] {
        let trace = writes_at_open(name);
        let delay = messages::first_delivery_delay(&trace)
            .unwrap_or_else(|| panic!("{name}: no send or no delivery"));
        assert!(
            delay >= one_way,
            "{name}: first delivery {delay} ms after its send"
        );
    }
}

fn writes_at_open(name: &str) -> Trace {
    use dcsim::sim::{self, RunOptions};
    let scenario = builtin::get(name).expect("bug scenario");
    let apps = dcsim::drive::apps(|_| dcsim::bugs::SendOnOpen);
    let trace = sim::run_apps(&scenario, &RunOptions::default(), &apps)
        .expect("runs")
        .trace;
    let sends: Vec<(Option<PeerId>, String)> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Send {
                via: Via::Raw,
                state,
                ..
            } => Some((e.peer, state.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 6, "{}", trace.render_text());
    assert!(sends.iter().all(|(_, s)| s == "open"));
    assert!(sends.iter().any(|(p, _)| *p == Some(PeerId::A)));
    assert!(sends.iter().any(|(p, _)| *p == Some(PeerId::B)));
    let delivered = trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Deliver { .. }))
        .count();
    assert_eq!(delivered, 6);
    trace
}

/// The slow consumer of webrtc-rs/webrtc#858 on the real async crate: the verdict is a
/// finding only if the reader really was slow and the burst really overran the crate's
/// queue of 256 events; every message arrives, in order, the last one about 10 s after
/// the burst.
#[test]
fn the_slow_consumer_reads_every_message_of_the_burst_late_and_in_order() {
    use dcsim::bugs::slow_consumer::{play, MESSAGES, READ_MS};
    let scenario = builtin::get("bug-slow-consumer-loses-messages").expect("scenario");
    let trace = play(&scenario).expect("plays");
    let sent: Vec<u64> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Send {
                msg,
                outcome: SendOutcome::Sent,
                ..
            } => Some(msg),
            _ => None,
        })
        .collect();
    let delivered: Vec<(u64, u64)> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver { msg, .. } => Some((e.t_ms, msg)),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), MESSAGES, "every write accepted");
    assert_eq!(
        delivered.iter().map(|d| d.1).collect::<Vec<_>>(),
        sent,
        "every message read, in order"
    );
    let first = delivered[0].0;
    let last = delivered[MESSAGES - 1].0;
    assert!(
        last - first >= (MESSAGES as u64 - 1) * READ_MS,
        "the reader was slow: {first} to {last} ms"
    );
    assert_eq!(trace.violated(), Vec::<String>::new());
}
