//! Snapshot review of transition traces: the review text of every built-in scenario
//! under each model profile and under the real `rtc` 0.21.1 stack (`@rtc-webrtc-rs`,
//! the same simulator and faults), stored in the top-level `snapshots/` directory. A model change
//! that moves a transition shows up as a small, readable diff in `cargo insta review`
//! (`scripts/review-snapshots.sh`). One test per scenario and profile, so a change shows
//! every snapshot it moves, not just the first.

use dcsim::model::ProfileName;
use dcsim::scenario::builtin;
use dcsim::sim::{self, Engine, RunOptions, StackKind};
use dcsim::trace::{EventKind, Trace, TraceEvent};

fn review_text(name: &str, profile: ProfileName) {
    snapshot(name, profile, StackKind::Model);
}

/// The real stack's trace of `name`, so a change in the rtc driver or a crate upgrade
/// shows as a diff too.
fn review_rtc(name: &str) {
    snapshot(name, ProfileName::WebrtcRs, StackKind::Rtc);
}

fn channel_of(event: &TraceEvent) -> Option<&str> {
    match &event.kind {
        EventKind::State { channel, .. } => channel.as_deref(),
        EventKind::Send { channel, .. }
        | EventKind::Deliver { channel, .. }
        | EventKind::Drop { channel, .. }
        | EventKind::Callback { channel, .. } => Some(channel),
        _ => None,
    }
}

/// The crate dials a peer's pending channels in `HashMap` order
/// (`rtc/src/peer_connection/handler/datachannel.rs:414`, `values_mut()` of a std
/// `HashMap` with a per-process random seed), so with two channels their events within
/// one millisecond come in either order from run to run. This puts the channel events
/// of each (millisecond, peer) in label order, each channel's own order kept, every other
/// event in its place: the snapshot shows what the crate does, not the hash seed.
fn canonical_channel_order(trace: &mut Trace) {
    let events = &mut trace.events;
    let mut start = 0;
    while start < events.len() {
        let (t, peer) = (events[start].t_ms, events[start].peer);
        let end = start
            + events[start..]
                .iter()
                .take_while(|e| e.t_ms == t && e.peer == peer)
                .count();
        let slots: Vec<usize> = (start..end)
            .filter(|&i| channel_of(&events[i]).is_some())
            .collect();
        let mut channel_events: Vec<TraceEvent> =
            slots.iter().map(|&i| events[i].clone()).collect();
        channel_events.sort_by(|a, b| channel_of(a).cmp(&channel_of(b)));
        for (slot, event) in slots.into_iter().zip(channel_events) {
            events[slot] = event;
        }
        start = end;
    }
}

fn snapshot(name: &str, profile: ProfileName, stack: StackKind) {
    let scenario = builtin::get(name).expect("built-in");
    let description = builtin::names()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .unwrap_or_default();
    let options = RunOptions {
        profile: Some(profile),
        stack,
        // Byte-identical to turmoil (tests/engines.rs), and fast.
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    let mut trace = sim::run(&scenario, &options).expect("runs").trace;
    if stack == StackKind::Rtc {
        canonical_channel_order(&mut trace);
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(description);
    settings.bind(|| {
        let side = match stack {
            StackKind::Model => "model",
            StackKind::Rtc => "rtc",
        };
        insta::assert_snapshot!(format!("{name}@{side}-{profile}"), trace.render_text());
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
                #[test]
                fn aiortc() {
                    super::review_text($name, dcsim::model::ProfileName::Aiortc);
                }
                #[test]
                fn rtc() {
                    super::review_rtc($name);
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
    pc_close_check_then_send => "pc-close-check-then-send",
    pc_close_with_open_channels => "pc-close-with-open-channels",
    remote_close => "remote-close",
    send_before_open => "send-before-open",
    transient_disconnect => "transient-disconnect",
}
