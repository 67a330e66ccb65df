//! Mutation check: break the guard (skip its state check, so that it hands every
//! message to the transport at once, like a bare send) and both provers must catch it:
//! the exhaustive explorer with a shortest counterexample, the property test with a
//! history shrunk to the classic race.

#[path = "support/histories.rs"]
mod histories;

use dcsim::check::app::AppKind;
use dcsim::check::explorer::{explore, ExploreOptions};
use dcsim::check::names;
use dcsim::check::world::{World, WorldConfig};
use dcsim::model::Profile;

#[test]
fn a_guard_that_skips_its_state_check_is_caught_by_both_checkers() {
    for profile in [Profile::WEBRTC_RS, Profile::W3C] {
        // The intact guard passes the same worlds (see check_explorer.rs, prop_model.rs).
        let world = World::new(WorldConfig::new(profile, AppKind::BrokenGuard)).unwrap();
        let report = explore(&world, &ExploreOptions::default(), |_| {});
        let cx = report
            .counterexample
            .expect("the explorer catches the broken guard");
        assert_eq!(cx.violation.invariant, names::NO_SEND_ON_NON_OPEN);
        assert!(cx.violation.detail.contains("guard released"), "{cx:?}");

        histories::assert_classic_race(AppKind::BrokenGuard, profile);
    }
}
