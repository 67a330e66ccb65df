//! The two engines play every built-in scenario identically, and each is deterministic:
//! same scenario and seed, byte-identical JSON trace.

use dcsim::model::ProfileName;
use dcsim::scenario::{builtin, Scenario};
use dcsim::sim::{self, Engine, RunOptions};

fn trace(scenario: &Scenario, profile: ProfileName, engine: Engine) -> String {
    let options = RunOptions {
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
