//! Snapshot review of transition traces: the review text of every built-in scenario
//! under both profiles, stored in the top-level `snapshots/` directory. A model change
//! that moves a transition shows up as a small, readable diff in `cargo insta review`.

use dcsim::model::ProfileName;
use dcsim::scenario::builtin;
use dcsim::sim::{self, Engine, RunOptions};

#[test]
fn builtin_scenarios_review_text() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (name, description) in builtin::names() {
            let scenario = builtin::get(name).expect("built-in");
            for profile in ProfileName::ALL {
                let options = RunOptions {
                    profile: Some(profile),
                    // Byte-identical to turmoil (tests/engines.rs), and fast.
                    engine: Engine::Direct,
                    ..RunOptions::default()
                };
                let trace = sim::run(&scenario, &options).expect("runs").trace;
                insta::with_settings!({ description => description.to_string() }, {
                    insta::assert_snapshot!(format!("{name}@model-{profile}"), trace.render_text());
                });
            }
        }
    });
}
