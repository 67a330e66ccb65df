//! dcsim's benchmarks: one binary that measures every row of the performance table and
//! prints it as Markdown (`scripts/bench.sh` runs it and writes BENCHMARKS.md).
//!
//! ```text
//! cargo bench --bench dcsim -- [--quick] [--only GROUP[,GROUP...]] [--out FILE]
//! ```
//!
//! Groups: model, guard, sim, explore, proptest, check, channels, messages.
//! `--quick` cuts every measurement budget to a tenth (a smoke run, not for the table).
//! Progress goes to stderr; the table to stdout (and to FILE with `--out`).
//!
//! Run without `--bench` (as `cargo test --all-targets` runs it, in a debug build) it
//! measures nothing: it runs each workload once, small, so that a change that breaks a
//! benchmark's assertions fails the tests, not the next benchmark run.

mod harness;
mod link;
mod model;
mod props;
mod runtime;
mod scale;
mod sim;

#[path = "../../examples/open_avatar_chat_async/app.rs"]
mod avatar_async;

use harness::{Budget, Table};

const GROUPS: &[&str] = &[
    "model", "guard", "sim", "runtime", "explore", "proptest", "check", "channels", "messages",
];

fn main() {
    let mut quick = false;
    let mut bench = false;
    let mut only: Option<Vec<String>> = None;
    let mut out: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--quick" => quick = true,
            "--only" => {
                only = args
                    .next()
                    .map(|s| s.split(',').map(str::to_string).collect())
            }
            "--out" => out = args.next(),
            // libtest-style filters and flags are ignored.
            _ => {}
        }
    }
    if !bench {
        smoke();
        return;
    }
    if let Some(only) = &only {
        for g in only {
            if !GROUPS.contains(&g.as_str()) {
                eprintln!("unknown group {g:?}; groups: {}", GROUPS.join(", "));
                std::process::exit(2);
            }
        }
    }
    let wanted = |g: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == g));
    let scale = if quick { 0.1 } else { 1.0 };
    let b = |secs: f64, max: usize| Budget::secs(secs, max).scaled(scale);

    let started = std::time::Instant::now();
    let mut table = Table::default();
    if wanted("model") {
        eprintln!("model ...");
        model::throughput(&mut table, b(4.0, 400));
    }
    if wanted("guard") {
        eprintln!("guard ...");
        model::guard_overhead(&mut table, b(6.0, 4000));
    }
    if wanted("sim") {
        eprintln!("sim ...");
        sim::race(&mut table, b(4.0, 2000));
        sim::whole_process(&mut table, b(3.0, 200));
    }
    if wanted("runtime") {
        eprintln!("runtime ...");
        runtime::race(&mut table, b(4.0, 500));
    }
    if wanted("explore") {
        eprintln!("explore ...");
        sim::explore_rate(&mut table, b(4.0, 200));
    }
    if wanted("proptest") {
        eprintln!("proptest ...");
        props::cases_per_second(&mut table, b(4.0, 200));
    }
    if wanted("check") {
        eprintln!("check ...");
        props::checker(&mut table, b(3.0, 10));
    }
    if wanted("channels") {
        eprintln!("channels ...");
        scale::channels(&mut table, b(2.5, 200), quick);
    }
    if wanted("messages") {
        eprintln!("messages ...");
        scale::messages(&mut table, b(3.5, 200), quick);
    }
    let md = table.markdown();
    print!("{md}");
    eprintln!("measured in {:.0} s", started.elapsed().as_secs_f64());
    if let Some(path) = out {
        if let Err(e) = std::fs::write(&path, &md) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}

/// `cargo test`: every workload once, small, with its assertions.
fn smoke() {
    model::smoke();
    sim::smoke();
    props::smoke();
    scale::smoke();
    runtime::smoke();
    println!("bench smoke: 5 passed, 0 failed");
}
