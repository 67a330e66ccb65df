//! The exhaustive checker: the raw app yields the classic race as its shortest
//! counterexample, the guarded app holds every invariant to a bounded depth, and a guard
//! with its state check removed is caught (mutation check).

use dcsim::check::app::AppKind;
use dcsim::check::explorer::{explore, ExploreOptions};
use dcsim::check::world::{World, WorldConfig};
use dcsim::model::Profile;

fn check(profile: Profile, app: AppKind, depth: usize) -> dcsim::check::explorer::ExploreReport {
    let world = World::new(WorldConfig::new(profile, app)).expect("valid bounds");
    let options = ExploreOptions {
        max_depth: depth,
        ..ExploreOptions::default()
    };
    explore(&world, &options, |_| {})
}

#[test]
fn raw_app_fails_with_a_send_while_connecting() {
    for profile in [Profile::WEBRTC_RS, Profile::W3C] {
        let report = check(profile, AppKind::Raw, 8);
        let cx = report.counterexample.expect("the raw app races");
        assert_eq!(
            cx.actions.len(),
            1,
            "shortest: one send before anything else"
        );
        let text = cx.trace.render_text();
        assert!(text.contains("no-send-on-non-open"), "{text}");
        assert!(text.contains("(connecting)"), "{text}");
    }
}

#[test]
fn guarded_app_holds_every_invariant_to_a_bounded_depth() {
    for profile in [Profile::WEBRTC_RS, Profile::W3C] {
        let report = check(profile, AppKind::Guarded, 10);
        assert!(
            report.counterexample.is_none(),
            "{}",
            report
                .counterexample
                .map(|c| c.trace.render_text())
                .unwrap_or_default()
        );
        assert!(report.unique > 1000, "explored {} states", report.unique);
        assert_eq!(report.depth, 10);
    }
}

#[test]
fn a_guard_without_its_state_check_is_caught() {
    let report = check(Profile::WEBRTC_RS, AppKind::BrokenGuard, 10);
    let cx = report
        .counterexample
        .expect("the broken guard releases on a non-open channel");
    assert!(cx.trace.render_text().contains("no-send-on-non-open"));
}
