//! Shrinking: a failure found by swarm exploration becomes a minimal scenario file that
//! fails the same way when replayed with `dcsim run`.

#[path = "../examples/open_avatar_chat/app.rs"]
mod app;

use app::{AvatarChat, Sending};
use dcsim::explore::{explore_with, Failure, Mode, Shard};
use dcsim::scenario::Scenario;
use dcsim::shrink::{shrink, Shrunk, DEFAULT_BUDGET};
use dcsim::sim::{self, AppFactory, RunOptions};
use dcsim::trace::{EventKind, PeerId, Trace};
use std::path::Path;
use std::process::Command;

fn planted() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shrink/planted-raw-sender.toml");
    Scenario::load(path.to_str().expect("utf-8 path")).expect("planted scenario")
}

/// The violation details of `invariant`, numbers left in.
fn details(trace: &Trace, invariant: &str) -> Vec<String> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Violation {
                invariant: i,
                detail,
            } if i == invariant => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

/// The planted bug (raw sends with no readyState check) passes on its own and is found
/// by swarm runs; the shortest failing run shrinks to a handful of steps, and the file
/// fails the same way under `dcsim run`.
#[test]
fn a_planted_bug_found_by_swarm_shrinks_to_a_file_that_fails_under_dcsim_run() {
    let base = planted();
    let apps = sim::script_apps();
    let options = RunOptions::default();
    let clean = sim::run_apps(&base, &options, &apps).expect("runs").trace;
    assert!(
        clean.violated().is_empty(),
        "the planted scenario passes without faults"
    );
    let invariant = "no-send-on-non-open";
    let (_, failure, _, shrunk) = found_and_shrunk(&base, 40, &apps, Some(invariant));
    assert!(shrunk.steps.1 <= 5, "{} steps left", shrunk.steps.1);
    assert!(shrunk.steps.1 <= shrunk.steps.0);
    assert!(!shrunk.budget_hit);
    let want = details(&failure.trace, invariant);
    let got = details(&shrunk.trace, invariant);
    let shape = |d: &str| {
        d.chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    assert!(
        got.iter().any(|g| shape(g) == shape(&want[0])),
        "{got:?} vs {want:?}"
    );

    // The file, replayed by the command line.
    let dir = std::env::temp_dir().join(format!("dcsim-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("shrunk.toml");
    std::fs::write(&file, shrunk.scenario.to_toml()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_dcsim"))
        .args(["run", file.to_str().expect("utf-8")])
        .output()
        .expect("dcsim run");
    assert_eq!(out.status.code(), Some(1), "the shrunk file fails");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("violation {invariant}: ")), "{text}");
    assert!(text.contains(&got[0]), "{text}");
    // Byte for byte the run the shrink ended on.
    assert_eq!(text, shrunk.trace.render_text());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `dcsim explore --shrink DIR` writes the shrunk file and its trace.
#[test]
fn explore_shrink_writes_the_regression_file_and_its_trace() {
    let dir = std::env::temp_dir().join(format!("dcsim-shrink-cli-{}", std::process::id()));
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shrink/planted-raw-sender.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_dcsim"))
        .args([
            "explore",
            scenario.to_str().expect("utf-8"),
            "--runs",
            "40",
            "--shrink",
        ])
        .arg(&dir)
        .output()
        .expect("dcsim explore");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shrunk no-send-on-non-open: "), "{text}");
    let file = dir.join("no-send-on-non-open.toml");
    let toml = std::fs::read_to_string(&file).expect("shrunk file");
    assert!(toml.contains("seed = "), "{toml}");
    assert!(dir.join("no-send-on-non-open.trace.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `runs` swarm runs of `base` with `apps` (default options, seed 0), then the shrink of
/// the shortest run that violated `invariant` (`None`: the first one violated): the
/// invariant, the failure, the options it replays with, and the shrunk scenario.
fn found_and_shrunk(
    base: &Scenario,
    runs: u64,
    apps: &AppFactory,
    invariant: Option<&str>,
) -> (String, Failure, RunOptions, Shrunk) {
    let options = RunOptions::default();
    let report = explore_with(
        base,
        runs,
        0,
        Shard::ALL,
        Mode::Swarm,
        &options,
        apps,
        |_| {},
    )
    .expect("explore");
    let (invariant, failure) = match invariant {
        Some(i) => (i, &report.violated.get(i).expect("swarm finds the bug").1),
        None => {
            let (i, (_, f)) = report
                .violated
                .iter()
                .next()
                .expect("swarm finds a failure");
            (i.as_str(), f)
        }
    };
    let run = RunOptions {
        seed: Some(failure.seed),
        ..options
    };
    let shrunk = shrink(
        &failure.scenario,
        Some(invariant),
        &run,
        apps,
        DEFAULT_BUDGET,
    )
    .expect("shrinks");
    (invariant.to_string(), failure.clone(), run, shrunk)
}

fn make(sending: Sending) -> impl Fn(PeerId) -> AvatarChat + Copy {
    move |peer| AvatarChat::new(peer, sending)
}

/// A user's own application: the naive avatar app, found by swarm runs and shrunk with
/// the library; the shrunk scenario fails the same way with the same app, and the fixed
/// app passes it.
#[test]
fn the_naive_avatar_app_shrinks_with_the_library() {
    let base = dcsim::scenario::builtin::get("checking-disconnected-failed").expect("built-in");
    let naive = dcsim::drive::apps(make(Sending::Naive));
    let (invariant, failure, run, shrunk) = found_and_shrunk(&base, 20, &naive, None);
    let invariant = &invariant;
    assert!(shrunk.steps.1 <= shrunk.steps.0);
    let again = sim::run_apps(&shrunk.scenario, &run, &naive)
        .expect("runs")
        .trace;
    assert!(again.violated().contains(invariant));
    // Deterministic: the same shrink gives the same file.
    let twice = shrink(
        &failure.scenario,
        Some(invariant),
        &run,
        &naive,
        DEFAULT_BUDGET,
    )
    .expect("shrinks");
    assert_eq!(twice.scenario.to_toml(), shrunk.scenario.to_toml());
    let fixed = dcsim::drive::apps(make(Sending::Fixed));
    let passed = sim::run_apps(&shrunk.scenario, &run, &fixed)
        .expect("runs")
        .trace;
    assert!(
        !passed.violated().contains(invariant),
        "{}",
        passed.render_text()
    );
}

#[test]
fn a_scenario_that_does_not_fail_is_not_shrunk() {
    let err = shrink(
        &planted(),
        Some("no-send-on-non-open"),
        &RunOptions::default(),
        &sim::script_apps(),
        100,
    )
    .expect_err("nothing to shrink");
    assert!(err.contains("violates no invariant"), "{err}");
}

#[test]
fn dcsim_shrink_writes_a_file_and_checks_its_arguments() {
    let dcsim = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dcsim"))
            .args(args)
            .output()
            .expect("dcsim")
    };
    let dir = std::env::temp_dir().join(format!("dcsim-shrink-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("race.toml");
    let out = dcsim(&[
        "shrink",
        "send-before-open",
        "--out",
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("shrunk no-send-on-non-open: "), "{text}");
    let replay = dcsim(&["run", file.to_str().expect("utf-8")]);
    assert_eq!(replay.status.code(), Some(1));
    let bad = dcsim(&["shrink", "send-before-open", "--invariant", "no-such-thing"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown invariant"), "{stderr}");
    let clean = dcsim(&["shrink", "happy-path"]);
    assert_eq!(clean.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&clean.stderr).contains("nothing to shrink"));
    let _ = std::fs::remove_dir_all(&dir);
}
