//! Snapshot review of transition traces: the review text of every built-in scenario
//! under both profiles, stored in the top-level `snapshots/` directory. A model change
//! that moves a transition shows up as a small, readable diff in `cargo insta review`
//! (`scripts/review-snapshots.sh`). One test per scenario and profile, so a change shows
//! every snapshot it moves, not just the first.

use dcsim::model::ProfileName;
use dcsim::scenario::builtin;
use dcsim::sim::{self, Engine, RunOptions};

fn review_text(name: &str, profile: ProfileName) {
    let scenario = builtin::get(name).expect("built-in");
    let description = builtin::names()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .unwrap_or_default();
    let options = RunOptions {
        profile: Some(profile),
        // Byte-identical to turmoil (tests/engines.rs), and fast.
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    let trace = sim::run(&scenario, &options).expect("runs").trace;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(description);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{name}@model-{profile}"), trace.render_text());
    });
}

macro_rules! snapshots {
    ($($test:ident => $name:literal),+ $(,)?) => {
        $(
            mod $test {
                #[test]
                fn webrtc_rs() {
                    super::review_text($name, dcsim::model::ProfileName::WebrtcRs);
                }
                #[test]
                fn w3c() {
                    super::review_text($name, dcsim::model::ProfileName::W3c);
                }
            }
        )+

        #[test]
        fn every_builtin_has_snapshots() {
            let listed = [$($name),+];
            for (name, _) in builtin::names() {
                assert!(listed.contains(&name), "add {name} to tests/snapshots.rs");
            }
        }
    };
}

snapshots! {
    checking_disconnected_failed => "checking-disconnected-failed",
    dcep_ack_lost => "dcep-ack-lost",
    happy_path => "happy-path",
    ice_restart => "ice-restart",
    late_channel => "late-channel",
    negotiated_channel => "negotiated-channel",
    oversize_message => "oversize-message",
    pc_close_with_open_channels => "pc-close-with-open-channels",
    remote_close => "remote-close",
    send_before_open => "send-before-open",
    transient_disconnect => "transient-disconnect",
}
