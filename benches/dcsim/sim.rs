//! The simulator: the failure race replayed on both engines and both stacks, and
//! `explore`'s runs per second.

use crate::harness::{dur, how, interleaved, measure, si, Budget, Table};
use dcsim::explore::explore;
use dcsim::scenario::builtin;
use dcsim::sim::{self, Engine, RunOptions, StackKind};
use std::hint::black_box;

const RACE: &str = "checking-disconnected-failed";

fn options(stack: StackKind, engine: Engine) -> RunOptions {
    RunOptions {
        stack,
        engine,
        ..RunOptions::default()
    }
}

pub fn race(table: &mut Table, budget: Budget) {
    let scenario = builtin::get(RACE).expect("built-in race");
    let simulated = scenario.duration_ms as f64 / 1000.0;
    for engine in [Engine::Direct, Engine::Turmoil] {
        let e = match engine {
            Engine::Direct => "direct",
            _ => "turmoil",
        };
        let stacks = [(StackKind::Model, "model"), (StackKind::Rtc, "rtc")];
        for (stack, s) in stacks {
            // Check the run reproduces the race before timing it.
            let report = sim::run(&scenario, &options(stack, engine)).expect("run");
            assert!(
                report.trace.events.iter().any(|ev| matches!(
                    &ev.kind,
                    dcsim::trace::EventKind::State { to, machine, .. }
                        if to == "failed" && machine.as_str() == "ice_connection"
                )),
                "{s}/{e}: the race reaches ICE failed"
            );
        }
        // Model and rtc stack side by side on the same engine.
        let (m, r) = (
            options(StackKind::Model, engine),
            options(StackKind::Rtc, engine),
        );
        let mut run_model = || {
            black_box(sim::run(&scenario, &m).expect("run"));
        };
        let mut run_rtc = || {
            black_box(sim::run(&scenario, &r).expect("run"));
        };
        let samples = interleaved(budget, &mut [&mut run_model, &mut run_rtc]);
        for ((stack, s), sample) in stacks.into_iter().zip(&samples) {
            let wall = sample.secs();
            let x = simulated / wall;
            let (target, verdict) = if stack == StackKind::Model {
                ("< 10 ms, > 3,000x".to_string(), Some(wall < 0.010))
            } else {
                ("report beside the model's".to_string(), None)
            };
            table.row(
                "Simulator",
                format!("`{RACE}` ({simulated:.0} s simulated), {s} stack, {e} engine"),
                format!("{} ({}x real time)", dur(wall), si(x)),
                target,
                verdict,
                how(sample),
            );
        }
        table.row(
            "Simulator",
            format!("rtc stack / model stack, {e} engine"),
            format!("{:.1}x", samples[1].secs() / samples[0].secs()),
            "",
            None,
            "the two rows above, measured interleaved",
        );
    }
}

/// `dcsim run <race>` as a whole process with the defaults (process start, scenario
/// load, the run, the text trace written to a pipe).
pub fn whole_process(table: &mut Table, budget: Budget) {
    let exe = env!("CARGO_BIN_EXE_dcsim");
    let scenario = builtin::get(RACE).expect("built-in race");
    let simulated = scenario.duration_ms as f64 / 1000.0;
    let mut run = || {
        let out = std::process::Command::new(exe)
            .args(["run", RACE])
            .output()
            .expect("dcsim runs");
        assert!(!out.stdout.is_empty());
        black_box(out);
    };
    let samples = interleaved(budget, &mut [&mut run]);
    let wall = samples[0].secs();
    let x = simulated / wall;
    table.row(
        "Simulator",
        format!("`dcsim run {RACE}` as a whole process, defaults (direct engine)"),
        format!("{} ({}x real time)", dur(wall), si(x)),
        "> 3,000x real time",
        Some(x >= 3000.0),
        how(&samples[0]),
    );
}

pub fn explore_rate(table: &mut Table, budget: Budget) {
    let scenario = builtin::get(RACE).expect("built-in race");
    for (stack, engine, runs, s, e, share) in [
        (
            StackKind::Model,
            Engine::Direct,
            200u64,
            "model",
            "direct",
            1.0,
        ),
        (
            StackKind::Model,
            Engine::Turmoil,
            4,
            "model",
            "turmoil",
            0.5,
        ),
        (StackKind::Rtc, Engine::Direct, 20, "rtc", "direct", 0.5),
    ] {
        let opts = options(stack, engine);
        let sample = measure(budget.scaled(share), || {
            explore(&scenario, runs, 1, &opts, |_| {}).expect("explore")
        });
        let rate = runs as f64 / sample.secs();
        let (target, verdict) = if engine == Engine::Direct && stack == StackKind::Model {
            ("hundreds of runs/s", Some(rate >= 200.0))
        } else {
            ("", None)
        };
        table.row(
            "Simulator",
            format!("`dcsim explore {RACE}`, {s} stack, {e} engine"),
            format!("{} runs/s", si(rate)),
            target,
            verdict,
            format!(
                "{runs} runs (run 0 twice: the replay check) in {}, {}",
                dur(sample.secs()),
                how(&sample)
            ),
        );
    }
}

pub fn smoke() {
    let scenario = builtin::get(RACE).expect("built-in race");
    for stack in [StackKind::Model, StackKind::Rtc] {
        let report = sim::run(&scenario, &options(stack, Engine::Direct)).expect("run");
        assert!(!report.trace.events.is_empty());
    }
    let report = explore(
        &scenario,
        3,
        1,
        &options(StackKind::Model, Engine::Direct),
        |_| {},
    )
    .expect("explore");
    assert_eq!(report.runs, 3);
}
