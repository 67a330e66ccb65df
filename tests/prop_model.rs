//! Property tests over the pure model: random histories of application calls, network
//! events (deliver in any order, drop, duplicate) and timer firings on two model peers
//! with three channels, every invariant judged at every step by the monitor.
//!
//! - the guarded application never violates an invariant;
//! - the raw application violates `no-send-on-non-open`, and proptest shrinks the
//!   failing history to the classic race: one send while the channel is connecting;
//!
//! The mutation check (a broken guard caught by this and by the explorer) is in
//! `check_mutation.rs`.

#[path = "support/histories.rs"]
mod histories;

use dcsim::check::app::AppKind;
use dcsim::check::world::Action;
use dcsim::model::{DataChannelState, IceConnectionState, Profile};
use dcsim::trace::PeerId;
use histories::{assert_classic_race, history, profiles, replay, replay_watching, world};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

proptest! {
    #![proptest_config(Config { cases: 96, ..Config::default() })]

    /// The guarded application never violates an invariant, whatever the network and
    /// the timers do and whatever the application calls in between.
    #[test]
    fn guarded_app_never_violates_an_invariant(profile in profiles(), h in history(150)) {
        let w = world(profile, AppKind::Guarded);
        let r = replay(&w, &h);
        if let Some(v) = &r.violation {
            let (trace, _) = w.replay(&r.actions);
            prop_assert!(false, "{} violated {}: {}\n{}", profile.name, v.invariant, v.detail,
                trace.render_text());
        }
    }
}

#[test]
fn raw_app_shrinks_to_a_send_while_connecting() {
    for profile in [Profile::WEBRTC_RS, Profile::W3C] {
        assert_classic_race(AppKind::Raw, profile);
    }
}

/// The random histories are not all stuck at the start: with a fixed seed, some open a
/// channel on both peers, some see ICE fail, some close a peer connection, and some
/// restart ICE and reconnect.
#[test]
fn random_histories_reach_every_phase() {
    let w = world(Profile::WEBRTC_RS, AppKind::Guarded);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = history(150);
    let (mut open, mut failed, mut closed, mut restarted) = (0, 0, 0, 0);
    for _ in 0..64 {
        let h = strategy.new_tree(&mut runner).expect("a history").current();
        let mut seen = [false; 4];
        let mut restart_seen = false;
        let r = replay_watching(&w, &h, |a, s| {
            let (pa, pb) = (s.peer(PeerId::A), s.peer(PeerId::B));
            let open = |p: &dcsim::model::Peer, label: &str| {
                p.channel_state(label) == Some(DataChannelState::Open)
            };
            seen[0] |= ["c0", "c1", "c2"]
                .iter()
                .any(|c| open(pa, c) && open(pb, c));
            seen[1] |= [pa, pb]
                .iter()
                .any(|p| p.ice_state() == IceConnectionState::Failed);
            seen[2] |= pa.is_closed() || pb.is_closed();
            restart_seen |= *a == Action::IceRestart;
            seen[3] |= restart_seen && pa.ice_state() == IceConnectionState::Connected;
        });
        assert!(r.violation.is_none());
        open += usize::from(seen[0]);
        failed += usize::from(seen[1]);
        closed += usize::from(seen[2]);
        restarted += usize::from(seen[3]);
    }
    println!(
        "of 64 histories: open {open}, ICE failed {failed}, closed {closed}, restarted {restarted}"
    );
    assert!(
        open >= 8 && failed >= 4 && closed >= 4 && restarted >= 4,
        "of 64 histories: open {open}, ICE failed {failed}, closed {closed}, restarted {restarted}"
    );
}
