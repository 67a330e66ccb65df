//! What the simulator must show for the race scenarios, on the turmoil engine.

use dcsim::model::Profile;
use dcsim::scenario::builtin;
use dcsim::sim::{self, RunOptions};
use dcsim::trace::{EventKind, PeerId, SendOutcome, Trace, Via};

fn run(name: &str) -> Trace {
    let scenario = builtin::get(name).expect("built-in");
    sim::run(&scenario, &RunOptions::default())
        .expect("runs")
        .trace
}

fn first_state(trace: &Trace, peer: PeerId, machine: &str, to: &str) -> Option<u64> {
    trace.events.iter().find_map(|e| match &e.kind {
        EventKind::State {
            machine: m, to: t, ..
        } if e.peer == Some(peer) && m.as_str() == machine && t == to => Some(e.t_ms),
        _ => None,
    })
}

#[test]
fn send_before_open_raw_sends_fail_with_the_crates_error_and_are_flagged() {
    let trace = run("send-before-open");
    let open = first_state(&trace, PeerId::A, "data_channel", "open").expect("opens");
    let mut early_raw = 0;
    for e in &trace.events {
        if let EventKind::Send {
            via: Via::Raw,
            state,
            outcome,
            error,
            msg,
            ..
        } = &e.kind
        {
            if e.t_ms < open {
                early_raw += 1;
                assert_eq!(state, "connecting");
                assert_eq!(*outcome, SendOutcome::Error);
                assert_eq!(error.as_deref(), Some(Profile::WEBRTC_RS.errors.not_open));
                let flagged = trace.violations().any(|v| {
                    v.t_ms == e.t_ms
                        && matches!(&v.kind, EventKind::Violation { invariant, detail }
                            if invariant == "no-send-on-non-open" && detail.contains(&format!("#{msg} ")))
                });
                assert!(flagged, "raw send #{msg} at {} not flagged", e.t_ms);
            }
        }
    }
    assert!(early_raw >= 3, "the scenario sends while checking");
}

#[test]
fn checking_disconnected_failed_follows_the_predicted_times() {
    let trace = run("checking-disconnected-failed");
    let scenario = builtin::get("checking-disconnected-failed").expect("built-in");
    let partition = scenario
        .steps
        .iter()
        .find(|s| s.action.name() == "partition")
        .expect("partition step")
        .at_ms;
    for peer in PeerId::BOTH {
        let checking = first_state(&trace, peer, "ice_connection", "checking").expect("checking");
        let connected =
            first_state(&trace, peer, "ice_connection", "connected").expect("connected");
        let disc = first_state(&trace, peer, "ice_connection", "disconnected").expect("disc");
        let failed = first_state(&trace, peer, "ice_connection", "failed").expect("failed");
        assert!(checking < connected && connected <= partition);
        // The last STUN arrived at or before the partition and after connecting:
        // disconnected 5 s after it, failed 30 s after it, on the next 200 ms tick.
        assert!(
            disc > connected + 5000 && disc <= partition + 5200,
            "{peer}: {disc}"
        );
        assert!(
            failed > connected + 30_000 && failed <= partition + 30_200,
            "{peer}: {failed}"
        );
    }
    // After close_peer, sends fail with "data channel closed".
    let close = trace
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::App { action, .. } if action == "close_peer"))
        .expect("close_peer")
        .t_ms;
    let after: Vec<_> = trace
        .events
        .iter()
        .filter(|e| e.t_ms > close)
        .filter_map(|e| match &e.kind {
            EventKind::Send {
                via: Via::Raw,
                error,
                ..
            } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert!(!after.is_empty());
    assert!(after
        .iter()
        .all(|e| e.as_deref() == Some("data channel closed")));
}

#[test]
fn transient_disconnect_recovers_and_delivers() {
    let trace = run("transient-disconnect");
    let states: Vec<&str> = trace
        .events
        .iter()
        .filter(|e| e.peer == Some(PeerId::A))
        .filter_map(|e| match &e.kind {
            EventKind::State { machine, to, .. } if machine.as_str() == "ice_connection" => {
                Some(to.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        ["checking", "connected", "disconnected", "connected"]
    );
}

#[test]
fn guarded_sends_never_violate_an_invariant_in_any_builtin() {
    use dcsim::model::ProfileName;
    for (name, _) in builtin::names() {
        let scenario = builtin::get(name).expect("built-in");
        for profile in ProfileName::ALL {
            let options = RunOptions {
                profile: Some(profile),
                engine: dcsim::sim::Engine::Direct,
                ..RunOptions::default()
            };
            let trace = sim::run(&scenario, &options).expect("runs").trace;
            // Every violation is a raw call; none comes from the guard or the stack.
            for v in trace.violations() {
                let EventKind::Violation { invariant, detail } = &v.kind else {
                    continue;
                };
                assert!(
                    invariant == "no-send-on-non-open" && detail.contains("send called"),
                    "{name} ({profile}): {invariant}: {detail}"
                );
            }
            // Every guarded message has exactly one fate in the trace.
            let guarded: Vec<u64> = trace
                .events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::Send {
                        via: Via::Guarded,
                        flushed: false,
                        msg,
                        ..
                    } => Some(*msg),
                    _ => None,
                })
                .collect();
            for msg in guarded {
                let fates = trace
                    .events
                    .iter()
                    .filter(|e| match &e.kind {
                        EventKind::Send {
                            msg: m,
                            via: Via::Guarded,
                            outcome,
                            ..
                        } => {
                            *m == msg
                                && matches!(outcome, SendOutcome::Sent | SendOutcome::Rejected)
                        }
                        EventKind::Drop { msg: m, reason, .. } => {
                            *m == msg && reason != "undelivered"
                        }
                        _ => false,
                    })
                    .count();
                assert_eq!(
                    fates, 1,
                    "{name} ({profile}): guarded #{msg} has {fates} fates"
                );
            }
        }
    }
}

#[test]
fn a_guard_first_used_after_ice_failed_knows_the_path_failed() {
    use dcsim::scenario::{Action, Payload};
    let mut scenario = builtin::get("checking-disconnected-failed").expect("built-in");
    // Only one guarded send, after ICE failed (30.2 s) and before close_peer (33 s).
    scenario.steps.retain(|s| {
        !matches!(
            &s.action,
            Action::Send {
                via: Via::Guarded,
                ..
            }
        )
    });
    let mut step = scenario
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Send { .. }))
        .expect("a send step")
        .clone();
    step.at_ms = 31_500;
    step.action = Action::Send {
        peer: PeerId::A,
        channel: "chat".into(),
        via: Via::Guarded,
        payload: Payload::Text("late".into()),
        count: 1,
        interval_ms: 0,
    };
    scenario.steps.push(step);
    scenario.steps.sort_by_key(|s| s.at_ms);
    let trace = sim::run(
        &scenario,
        &RunOptions {
            engine: dcsim::sim::Engine::Direct,
            ..RunOptions::default()
        },
    )
    .expect("runs")
    .trace;
    let outcome = trace.events.iter().find_map(|e| match &e.kind {
        EventKind::Send {
            via: Via::Guarded,
            outcome,
            reason,
            ..
        } => Some((*outcome, reason.clone())),
        _ => None,
    });
    assert_eq!(
        outcome,
        Some((SendOutcome::Rejected, Some("path-failed".to_string())))
    );
}
