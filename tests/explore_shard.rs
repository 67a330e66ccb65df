//! `dcsim explore --shard K/N`: the shards of an exploration, merged, report exactly what
//! one unsharded exploration reports.

use dcsim::explore::{explore_shard, explore_with, ExploreReport, Mode, Shard};
use dcsim::scenario::builtin;
use dcsim::sim::{script_apps, RunOptions};

fn summary(r: &ExploreReport) -> Vec<(String, u64, u64, u64, String)> {
    r.violated
        .iter()
        .map(|(inv, (count, f))| (inv.clone(), *count, f.run, f.seed, f.trace.to_jsonl()))
        .collect()
}

#[test]
fn the_union_of_the_shards_is_the_unsharded_report() {
    let apps = script_apps();
    let options = RunOptions::default();
    for name in ["send-before-open", "checking-disconnected-failed"] {
        let scenario = builtin::get(name).expect("built-in");
        let whole =
            explore_shard(&scenario, 24, 5, Shard::ALL, &options, &apps, |_| {}).expect("explore");
        assert!(
            !whole.is_clean(),
            "{name}: the test needs violations to compare"
        );
        for n in [2, 3, 5] {
            let mut merged = ExploreReport::default();
            // Merged in an order other than the shards' own, which must not matter.
            for k in (0..n).rev() {
                let shard = Shard { index: k, count: n };
                let part = explore_shard(&scenario, 24, 5, shard, &options, &apps, |_| {})
                    .expect("explore");
                merged.merge(part);
            }
            assert_eq!(merged.runs, whole.runs, "{name} in {n} shards");
            assert_eq!(summary(&merged), summary(&whole), "{name} in {n} shards");
            assert_eq!(merged.coverage, whole.coverage, "{name} in {n} shards");
        }
    }
}

/// The same for swarm runs, whose coverage differs from run to run.
#[test]
fn the_union_of_swarm_shards_is_the_unsharded_report() {
    let apps = script_apps();
    let options = RunOptions::default();
    let scenario = builtin::get("checking-disconnected-failed").expect("built-in");
    let sweep = |shard| {
        explore_with(
            &scenario,
            30,
            11,
            shard,
            Mode::Swarm,
            &options,
            &apps,
            |_| {},
        )
        .expect("explore")
    };
    let whole = sweep(Shard::ALL);
    let mut merged = ExploreReport::default();
    for k in 0..3 {
        merged.merge(sweep(Shard { index: k, count: 3 }));
    }
    assert_eq!(merged.runs, 30);
    assert_eq!(summary(&merged), summary(&whole));
    assert_eq!(merged.coverage, whole.coverage);
    assert!(!whole.coverage.is_empty());
}

#[test]
fn shard_arguments_are_checked() {
    assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 1, count: 4 }));
    for bad in ["0/4", "5/4", "1/0", "x", "1/", "/3"] {
        let err = Shard::parse(bad).expect_err(bad);
        assert!(err.starts_with("--shard: expected K/N"), "{bad}: {err}");
    }
}
