//! A property over the turmoil simulator: a built-in scenario with every send made
//! through the guard, perturbed like `dcsim explore` perturbs it (latency, loss, fault
//! times drawn from the seed), never violates an invariant. Few cases: one simulator
//! run takes tens to hundreds of milliseconds in a debug build.

use dcsim::explore::perturb;
use dcsim::model::ProfileName;
use dcsim::scenario::{builtin, Action, Scenario};
use dcsim::sim::{self, Engine, RunOptions};
use dcsim::trace::Via;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The built-in scenario `name` with every send made through the guard.
fn guarded(name: &str) -> Scenario {
    let mut scenario = builtin::get(name).expect("a built-in scenario");
    for step in &mut scenario.steps {
        if let Action::Send { via, .. } = &mut step.action {
            *via = Via::Guarded;
        }
    }
    scenario
}

fn names() -> Vec<&'static str> {
    builtin::names().map(|(name, _)| name).collect()
}

proptest! {
    #![proptest_config(Config { cases: 16, failure_persistence: None, ..Config::default() })]

    #[test]
    fn guarded_sends_never_violate_an_invariant_under_the_simulator(
        name in proptest::sample::select(names()),
        seed in any::<u64>(),
        w3c in any::<bool>(),
    ) {
        let scenario = perturb(&guarded(name), seed);
        let profile = if w3c { ProfileName::W3c } else { ProfileName::WebrtcRs };
        let options = RunOptions {
            seed: Some(seed),
            profile: Some(profile),
            engine: Engine::Turmoil,
            ..RunOptions::default()
        };
        let report = sim::run(&scenario, &options).map_err(TestCaseError::fail)?;
        prop_assert!(
            report.trace.is_clean(),
            "{name} seed {seed} {profile}:\n{}",
            report.trace.render_text()
        );
    }
}
