//! Swarm exploration: each run draws which fault kinds are on and aims them at the
//! lifecycle's edges; the sweep reports what it reached.

use dcsim::explore::coverage::POINTS;
use dcsim::explore::swarm::swarm;
use dcsim::explore::{explore_with, Mode, Shard};
use dcsim::model::PeerConfig;
use dcsim::scenario::builtin;
use dcsim::sim::{script_apps, RunOptions};

#[test]
fn a_draw_is_a_valid_scenario_and_the_same_for_the_same_seed() {
    let base = builtin::get("checking-disconnected-failed").expect("built-in");
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let (s, draw) = swarm(&base, seed, &PeerConfig::default());
        let (again, draw_again) = swarm(&base, seed, &PeerConfig::default());
        assert_eq!(draw, draw_again);
        assert_eq!(s.to_toml(), again.to_toml());
        assert!(
            s.steps.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
            "sorted"
        );
        assert!(
            s.steps.iter().all(|st| st.at_ms <= s.duration_ms),
            "in the run"
        );
        if let Some((at, Some(heal))) = draw.partition {
            assert!(at < heal, "seed {seed}: heal after the partition");
        }
        // The drawn scenario reads back from its file as the same scenario.
        let text = s.to_toml();
        let parsed = dcsim::scenario::Scenario::parse("drawn", &text)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(parsed.steps.len(), s.steps.len());
        for st in &s.steps {
            kinds.insert(st.action.name());
        }
        // The base's own steps are all still there.
        for st in &base.steps {
            assert!(s
                .steps
                .iter()
                .any(|x| x.action == st.action && x.at_ms == st.at_ms));
        }
    }
    // Over 200 seeds every fault kind is drawn.
    for kind in [
        "partition",
        "heal",
        "hold",
        "release",
        "latency",
        "crash",
        "close_peer",
        "close_channel",
        "ice_restart",
    ] {
        assert!(kinds.contains(kind), "{kind} never drawn");
    }
    let (_, a) = swarm(&base, 1, &PeerConfig::default());
    let (_, b) = swarm(&base, 2, &PeerConfig::default());
    assert_ne!(a, b);
}

#[test]
fn the_race_scenarios_coverage_lists_what_the_runs_reached() {
    let base = builtin::get("checking-disconnected-failed").expect("built-in");
    let run = || {
        explore_with(
            &base,
            100,
            0,
            Shard::ALL,
            Mode::Swarm,
            &RunOptions::default(),
            &script_apps(),
            |_| {},
        )
        .expect("explore")
    };
    let report = run();
    assert_eq!(report.runs, 100);
    for (point, n) in &report.coverage {
        assert!(POINTS.contains(&point.as_str()), "{point}");
        assert!(*n <= report.runs, "{point}: {n}");
    }
    let reached = |p: &str| report.coverage.get(p).copied().unwrap_or(0);
    // The lifecycle's edges are reached by some runs, not by all.
    for point in [
        "ice failed",
        "ice disconnected",
        "channel open",
        "guard dropped: path-failed",
    ] {
        assert!(
            reached(point) > 0 && reached(point) < 100,
            "{point}: {}",
            reached(point)
        );
    }
    assert!(reached("ice restarted") > 0);
    // Deterministic: the same sweep reports the same coverage.
    assert_eq!(run().coverage, report.coverage);
}

#[test]
fn swarm_finds_the_raw_send_race_and_says_what_it_drew() {
    let base = builtin::get("send-before-open").expect("built-in");
    let report = explore_with(
        &base,
        20,
        0,
        Shard::ALL,
        Mode::Swarm,
        &RunOptions::default(),
        &script_apps(),
        |_| {},
    )
    .expect("explore");
    let (count, failure) = report
        .violated
        .get("no-send-on-non-open")
        .expect("the raw send race");
    assert!(*count > 0);
    assert!(failure.draw.is_some(), "a swarm failure carries its draw");
}
