//! The two engines play every built-in scenario identically, and each is deterministic:
//! same scenario and seed, byte-identical JSON trace. Both apply the faults by the same
//! rules at the sender, so they also agree on perturbed scenarios (moved faults, other
//! latencies, random loss) and on a hold released with a 1 ms path.

use dcsim::explore::perturb;
use dcsim::model::ProfileName;
use dcsim::scenario::{builtin, Action, Scenario, Step};
use dcsim::sim::{self, Engine, RunOptions};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn trace(scenario: &Scenario, profile: ProfileName, engine: Engine) -> String {
    seeded(scenario, profile, engine, None)
}

fn seeded(scenario: &Scenario, profile: ProfileName, engine: Engine, seed: Option<u64>) -> String {
    let options = RunOptions {
        seed,
        profile: Some(profile),
        engine,
        ..RunOptions::default()
    };
    sim::run(scenario, &options)
        .expect("built-in scenarios run")
        .trace
        .to_jsonl()
}

#[test]
fn every_builtin_is_byte_identical_across_runs_and_engines() {
    for (name, _) in builtin::names() {
        let scenario = builtin::get(name).expect("built-in");
        for profile in ProfileName::ALL {
            let turmoil = trace(&scenario, profile, Engine::Turmoil);
            let direct = trace(&scenario, profile, Engine::Direct);
            assert_eq!(
                turmoil, direct,
                "{name} ({profile}): engines differ; `dcsim diff` the two --format json runs"
            );
            if profile == ProfileName::WebrtcRs {
                assert_eq!(
                    turmoil,
                    trace(&scenario, profile, Engine::Turmoil),
                    "{name}: turmoil replay"
                );
            }
            assert_eq!(
                direct,
                trace(&scenario, profile, Engine::Direct),
                "{name}: replay"
            );
        }
    }
}

#[test]
fn lossy_runs_replay_exactly_under_the_same_seed_and_vary_with_another() {
    let mut scenario = builtin::get("happy-path").expect("built-in");
    scenario.network.loss = 0.2;
    for engine in [Engine::Turmoil, Engine::Direct] {
        let run = |seed| {
            sim::run(
                &scenario,
                &RunOptions {
                    seed: Some(seed),
                    engine,
                    ..RunOptions::default()
                },
            )
            .expect("runs")
            .trace
            .to_jsonl()
        };
        assert_eq!(run(1), run(1), "{engine:?}: same seed");
        assert_ne!(
            run(1),
            run(2),
            "{engine:?}: another seed changes the losses"
        );
    }
}

/// Found by the `sim_faults` fuzzer: an offer to a crashed peer stayed queued in the direct
/// engine and kept its clock from advancing (a hang). Both engines now agree on it.
#[test]
fn renegotiation_towards_a_crashed_peer_terminates_on_both_engines() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/direct-engine-crash-then-ice-restart.toml"
    );
    let scenario = Scenario::load(path).expect("regression scenario parses");
    for profile in ProfileName::ALL {
        assert_eq!(
            trace(&scenario, profile, Engine::Turmoil),
            trace(&scenario, profile, Engine::Direct),
            "{profile}"
        );
    }
}

fn names() -> Vec<&'static str> {
    builtin::names().map(|(name, _)| name).collect()
}

proptest! {
    #![proptest_config(Config { cases: 24, failure_persistence: None, ..Config::default() })]

    /// A built-in perturbed as `dcsim explore` perturbs it (fault times, latencies, loss
    /// drawn from the seed) plays the same on both engines, losses included.
    #[test]
    fn perturbed_and_lossy_runs_are_the_same_on_both_engines(
        name in proptest::sample::select(names()),
        seed in any::<u64>(),
        w3c in any::<bool>(),
    ) {
        let scenario = perturb(&builtin::get(name).expect("built-in"), seed);
        let profile = if w3c { ProfileName::W3c } else { ProfileName::WebrtcRs };
        let turmoil = seeded(&scenario, profile, Engine::Turmoil, Some(seed));
        let direct = seeded(&scenario, profile, Engine::Direct, Some(seed));
        prop_assert!(turmoil == direct, "{} seed {} {}: engines differ", name, seed, profile);
    }
}

/// Held datagrams arrive one millisecond after the release: after what was sent before
/// the hold and is due then, before what a peer sends in the release's own millisecond.
/// With no latency (a 1 ms path) both kinds meet the released ones in one millisecond;
/// with a hold shorter than the latency, datagrams sent before it are still in flight.
/// The channel is unordered, so the order of arrival is the order of delivery.
#[test]
fn a_release_orders_held_datagrams_the_same_on_both_engines() {
    let mut base = builtin::get("happy-path").expect("built-in");
    for channel in &mut base.channels {
        channel.ordered = false;
    }
    for (latency_ms, hold_at, release_at) in
        [(0, 995, 1010), (1, 40, 45), (30, 1015, 1029), (10, 60, 65)]
    {
        let mut scenario = base.clone();
        scenario.network.latency_ms = latency_ms;
        for (at_ms, action) in [(hold_at, Action::Hold), (release_at, Action::Release)] {
            scenario.steps.push(Step {
                at_ms,
                line: 0,
                action,
            });
        }
        scenario.steps.sort_by_key(|s| s.at_ms);
        for profile in ProfileName::ALL {
            assert_eq!(
                trace(&scenario, profile, Engine::Turmoil),
                trace(&scenario, profile, Engine::Direct),
                "latency {latency_ms} ms, hold {hold_at}..{release_at} ms ({profile})"
            );
        }
    }
}
