//! The OpenAvatarChat server written against the async webrtc 0.21.1 API
//! (examples/open_avatar_chat_async), unmodified but for its channel type, on two real
//! peer connections under the dcsim runtime and the built-in
//! `checking-disconnected-failed` race.

#[path = "../examples/open_avatar_chat_async/app.rs"]
mod app;

use app::{close_peer_at, play, Sending};
use dcsim::check::names;
use dcsim::runtime::harness::{self, AsyncRun};
use dcsim::scenario::Scenario;
use dcsim::trace::{EventKind, PeerId, Trace};

fn race() -> Scenario {
    dcsim::scenario::builtin::get("checking-disconnected-failed").expect("built-in scenario")
}

/// One run of the server against the race, seed `seed`: both peers built, the
/// scenario's faults played, offer/answer at 0, the server closes its peer connection
/// at 33 s as the scenario says, the run ends at 40 s.
fn serve(sending: Sending, scenario: &Scenario, seed: u64) -> Trace {
    let run = AsyncRun::new(scenario, seed);
    run.run(play(sending, &run)).expect("the run ends")
}

fn naive(seed: u64) -> Trace {
    serve(Sending::Naive, &race(), seed)
}

fn fixed(seed: u64) -> Trace {
    serve(Sending::Fixed, &race(), seed)
}

#[test]
fn the_guarded_server_passes_the_race() {
    let trace = fixed(1);
    println!("{}", trace.render_text());
    assert_eq!(
        trace.violated(),
        Vec::<String>::new(),
        "{}",
        trace.render_text()
    );
}

#[test]
fn the_guarded_server_delivers_on_a_healthy_path() {
    let trace = serve(
        Sending::Fixed,
        &dcsim::scenario::builtin::get("happy-path").expect("built-in"),
        1,
    );
    println!("{}", trace.render_text());
    assert_eq!(
        trace.violated(),
        Vec::<String>::new(),
        "{}",
        trace.render_text()
    );
    assert!(trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Deliver { .. })));
}

#[test]
fn the_naive_server_is_caught_at_its_first_send_with_the_crates_error() {
    let trace = naive(1);
    println!("{}", trace.render_text());
    assert!(
        trace
            .violated()
            .contains(&names::NO_SEND_ON_NON_OPEN.to_string()),
        "{}",
        trace.render_text()
    );
    let first = trace
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Send { error, .. } => Some(error.clone()),
            _ => None,
        })
        .expect("a send");
    assert_eq!(first.as_deref(), Some("data channel is not open yet"));
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in 0..5 {
        assert_eq!(
            naive(seed).to_jsonl(),
            naive(seed).to_jsonl(),
            "seed {seed}"
        );
    }
}

#[test]
fn a_seed_sweep_reports_the_naive_servers_first_failure_with_its_trace() {
    let err = harness::sweep(&race(), 5, |run| play(Sending::Naive, run)).expect_err("caught");
    println!("{err}");
    assert!(
        err.contains("seed 0: no-send-on-non-open: a: send called on chat #0 while connecting"),
        "{err}"
    );
    assert!(err.contains("DCSIM_SEED=0"), "{err}");
    let jsonl = "target/dcsim/checking-disconnected-failed-seed0.jsonl";
    assert!(err.contains(jsonl), "{err}");
    assert!(std::path::Path::new(jsonl).exists());
}

#[test]
fn the_guarded_server_passes_100_seeds_of_the_race_each_replayed_identically() {
    let report = harness::sweep(&race(), 100, |run| play(Sending::Fixed, run)).expect("clean");
    assert_eq!(report.seeds.len(), 100);
}

/// (peer, machine, state) -> time of the ICE connection and peer-connection changes.
fn ice_timeline(trace: &Trace) -> Vec<(PeerId, String, String, u64)> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::State {
                machine,
                to,
                channel: None,
                ..
            } if matches!(
                machine,
                dcsim::trace::Machine::IceConnection | dcsim::trace::Machine::PeerConnection
            ) =>
            {
                Some((e.peer?, machine.to_string(), to.clone(), e.t_ms))
            }
            _ => None,
        })
        .collect()
}

/// The async stack on the dcsim runtime against the model and the rtc stack under the
/// simulator: the same ICE connection and peer-connection changes, in the same order per
/// peer, each within a few milliseconds (the harness's offer/answer waits for gathering,
/// which puts the async peers 1-2 ms behind). Up to the local `pc.close()`, which the
/// async API reports differently (no event at all).
#[test]
fn the_ice_timeline_on_the_runtime_matches_the_model_and_the_rtc_stack() {
    use dcsim::sim::{run, Engine, RunOptions, StackKind};
    for name in [
        "checking-disconnected-failed",
        "transient-disconnect",
        "happy-path",
    ] {
        let scenario = dcsim::scenario::builtin::get(name).expect("built-in");
        let end = close_peer_at(&scenario).unwrap_or(u64::MAX);
        let upto =
            |t: &Trace| -> Vec<_> { ice_timeline(t).into_iter().filter(|e| e.3 < end).collect() };
        let ours = upto(&serve(Sending::Fixed, &scenario, 1));
        for stack in [StackKind::Model, StackKind::Rtc] {
            let options = RunOptions {
                engine: Engine::Direct,
                stack,
                ..RunOptions::default()
            };
            let theirs = upto(&run(&scenario, &options).expect("run").trace);
            for peer in [PeerId::A, PeerId::B] {
                let mine: Vec<_> = ours.iter().filter(|e| e.0 == peer).collect();
                let mut other: Vec<_> = theirs.iter().filter(|e| e.0 == peer).collect();
                if name == "checking-disconnected-failed" && peer == PeerId::B {
                    // The async driver of the DTLS client has stopped by then (see
                    // the_async_dtls_client_stops_its_driver_when_the_handshake_gives_up).
                    other.retain(|e| e.2 != "failed");
                }
                let names = |v: &[&(PeerId, String, String, u64)]| -> Vec<(String, String)> {
                    v.iter().map(|e| (e.1.clone(), e.2.clone())).collect()
                };
                assert_eq!(names(&mine), names(&other), "{name} {peer} vs {stack:?}");
                // Timing is compared on the ICE connection state (the race's clock). The
                // async crate connects DTLS later than the sans-IO stack (peer connection
                // `connected` about 210 ms after ICE connected on the runtime, 150 ms on
                // tokio over loopback, against 40 ms for rtc under the simulator), so
                // the peer-connection changes are compared in order only.
                for (m, o) in mine.iter().zip(&other) {
                    if m.1 != "ice_connection" {
                        continue;
                    }
                    assert!(
                        m.3.abs_diff(o.3) <= 5,
                        "{name} {peer} {} {}: {} ms on the runtime, {} ms on {stack:?}",
                        m.1,
                        m.2,
                        m.3,
                        o.3
                    );
                }
            }
        }
    }
}

/// Captures the crate's warnings and errors (the `log` facade it writes to).
struct Capture;

static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            if let Ok(mut lines) = LINES.lock() {
                lines.push(format!("{} {}: {}", r.level(), r.target(), r.args()));
            }
        }
    }

    fn flush(&self) {}
}

/// A finding about the async crate, measured on the runtime: when the path dies before
/// DTLS completes, the DTLS client (`b`) retransmits its first flight every second and
/// gives up after the 8th (rtc-dtls `DEFAULT_MAXIMUM_RETRANSMIT_NUMBER` 7,
/// `INITIAL_TICKER_INTERVAL` 1 s); the handshake error comes out of `handle_timeout`, and
/// the async driver's event loop returns on it (webrtc/src/peer_connection/driver.rs,
/// `self.handle_timeout(now).await?`; mod.rs logs "I/O error"). From then on `b` reports
/// nothing: no ICE `failed`, no peer-connection `failed`, ever. The sans-IO rtc stack
/// under the simulator goes on and reports both at 30.2 s.
#[test]
fn the_async_dtls_client_stops_its_driver_when_the_handshake_gives_up() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Warn);
    let trace = fixed(1);
    let lines = LINES.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        lines.iter().any(|l| l.contains(
            "[handshake:client] Flight 1 current_retransmit_count 8 > maximum_retransmit_number 7"
        )),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ERROR webrtc::peer_connection: I/O error")),
        "{lines:#?}"
    );
    let b_failed = ice_timeline(&trace)
        .into_iter()
        .any(|(p, _, to, _)| p == PeerId::B && to == "failed");
    assert!(!b_failed, "{}", trace.render_text());
}

/// Messages the crate accepted into a path that then died are not silently gone: the
/// run's end reports each as `undelivered`.
#[test]
fn a_message_sent_into_the_dead_path_is_reported_undelivered() {
    let scenario = Scenario::parse(
        "dead-after-open.toml",
        r#"version = 1
name = "dead-after-open"
duration_ms = 12000

[[channel]]
label = "chat"

[[step]]
at_ms = 0
action = "connect"

[[step]]
at_ms = 5000
action = "partition"
"#,
    )
    .expect("scenario");
    let trace = serve(Sending::Naive, &scenario, 1);
    let undelivered = trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Drop { reason, .. } if reason == "undelivered"))
        .count();
    // Heartbeats from 5 s to 12 s went into the dead path (8 of them).
    assert_eq!(undelivered, 8, "{}", trace.render_text());
}
