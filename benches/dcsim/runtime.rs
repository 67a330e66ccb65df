//! Unmodified async code against the `webrtc` 0.21.1 crate on the dcsim runtime: the
//! OpenAvatarChat server (examples/open_avatar_chat_async) on two real peer connections
//! replaying the failure race, beside the model on the direct engine.

use crate::avatar_async::{play, Sending};
use crate::harness::{dur, how, interleaved, si, Budget, Table};
use dcsim::runtime::harness::AsyncRun;
use dcsim::scenario::builtin;
use dcsim::sim::{self, Engine, RunOptions};
use dcsim::trace::Trace;
use std::hint::black_box;

const RACE: &str = "checking-disconnected-failed";

/// One run of the server against the race (the example's own test code).
fn run_async(sending: Sending) -> Trace {
    let scenario = builtin::get(RACE).expect("built-in race");
    let run = AsyncRun::new(&scenario, 1);
    run.run(play(sending, &run)).expect("the run ends")
}

pub fn race(table: &mut Table, budget: Budget) {
    let scenario = builtin::get(RACE).expect("built-in race");
    let simulated = scenario.duration_ms as f64 / 1000.0;
    // The run reproduces the race before it is timed.
    let trace = run_async(Sending::Naive);
    assert!(trace
        .violated()
        .contains(&"no-send-on-non-open".to_string()));
    let options = RunOptions {
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    let mut model = || {
        black_box(sim::run(&scenario, &options).expect("run"));
    };
    let mut naive = || {
        black_box(run_async(Sending::Naive));
    };
    let mut fixed = || {
        black_box(run_async(Sending::Fixed));
    };
    let samples = interleaved(budget, &mut [&mut model, &mut naive, &mut fixed]);
    let rows = [
        ("the model, direct engine", None),
        (
            "two real webrtc 0.21.1 peers on the dcsim runtime, the naive async server",
            Some(true),
        ),
        (
            "two real webrtc 0.21.1 peers on the dcsim runtime, the guarded async server",
            Some(true),
        ),
    ];
    for ((what, target), sample) in rows.into_iter().zip(&samples) {
        let wall = sample.secs();
        let x = simulated / wall;
        let verdict = target.map(|_| x >= 1000.0);
        table.row(
            "Runtime",
            format!("`{RACE}` ({simulated:.0} s simulated), {what}"),
            format!("{} ({}x real time)", dur(wall), si(x)),
            if target.is_some() {
                "> 1,000x real time"
            } else {
                ""
            },
            verdict,
            how(sample),
        );
    }
    table.row(
        "Runtime",
        "async peers on the runtime / the model",
        format!("{:.0}x", samples[1].secs() / samples[0].secs()),
        "",
        None,
        "the rows above, measured interleaved",
    );
}

/// `cargo test`: one run of each server.
pub fn smoke() {
    assert!(!run_async(Sending::Naive).violated().is_empty());
    assert!(run_async(Sending::Fixed).violated().is_empty());
}
