//! Random histories of the untimed world for the property tests: a proptest strategy
//! of steps (application calls, deliveries in any order, drops, duplicates, timer
//! firings), their replay with every invariant judged at every step, and the shrinking
//! check that a failing history comes down to the classic race.
#![allow(dead_code)] // each test file uses its part

use dcsim::check::app::AppKind;
use dcsim::check::names;
use dcsim::check::world::{
    timer_class, Action, Bounds, State, TimerClass, Violation, World, WorldConfig,
};
use dcsim::model::Profile;
use dcsim::trace::PeerId;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

/// One step of a random history. Index-valued steps pick among what is possible at
/// that moment (the n-th packet in flight, the n-th armed timer), so every history is
/// meaningful and shrinks well; a step that is not possible is skipped.
#[derive(Clone, Debug)]
pub enum Step {
    Connect,
    Send(PeerId, u8),
    CloseChannel(PeerId, u8),
    ClosePeer(PeerId),
    IceRestart,
    Deliver(Index),
    Drop(Index),
    Duplicate(Index),
    Timer(Index),
    /// Deliver whatever is in flight, oldest packet first, and fire delayed SACKs, until
    /// the network is quiet (at most 64 steps): "time passes on a good network".
    Flush,
}

pub const CHANNELS: u8 = 3;

pub fn peer() -> impl Strategy<Value = PeerId> {
    prop_oneof![Just(PeerId::A), Just(PeerId::B)]
}

pub fn step() -> impl Strategy<Value = Step> {
    // Weighted so that histories make progress (connect, deliver) more often than they
    // tear things down; a history of 100 steps closes a peer connection about half of
    // the time.
    prop_oneof![
        4 => Just(Step::Connect),
        8 => (peer(), 0..CHANNELS).prop_map(|(p, c)| Step::Send(p, c)),
        2 => (peer(), 0..CHANNELS).prop_map(|(p, c)| Step::CloseChannel(p, c)),
        1 => peer().prop_map(Step::ClosePeer),
        2 => Just(Step::IceRestart),
        30 => any::<Index>().prop_map(Step::Deliver),
        2 => any::<Index>().prop_map(Step::Drop),
        2 => any::<Index>().prop_map(Step::Duplicate),
        4 => any::<Index>().prop_map(Step::Timer),
        8 => Just(Step::Flush),
    ]
}

pub fn history(max_len: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 0..max_len)
}

/// A world with room for long histories.
pub fn world(profile: Profile, app: AppKind) -> World {
    let mut config = WorldConfig::new(profile, app);
    config.bounds = Bounds {
        channels: CHANNELS,
        sends_per_channel: 4,
        channel_closes: 3,
        peer_closes: 2,
        ice_restarts: 2,
        timeouts: 8,
        retransmits: 8,
        drops: 6,
        duplications: 4,
        max_copies: 2,
        delayed_sack: 1,
        app_timers: 0,
    };
    World::new(config).expect("valid bounds")
}

/// What a replayed history did.
pub struct Replay {
    /// The actions applied, in order.
    pub actions: Vec<Action>,
    /// The first violation.
    pub violation: Option<Violation>,
}

fn pick(actions: &[Action], index: &Index, keep: impl Fn(&Action) -> bool) -> Option<Action> {
    let matching: Vec<&Action> = actions.iter().filter(|a| keep(a)).collect();
    (!matching.is_empty()).then(|| matching[index.index(matching.len())].clone())
}

/// Applies `a` if the world allows it (showing the state reached to `watch`), and
/// returns the violation the state holds, if any.
fn apply(
    world: &World,
    state: &mut State,
    applied: &mut Vec<Action>,
    watch: &mut impl FnMut(&Action, &State),
    a: Action,
) -> Option<Violation> {
    if let Some(next) = world.step(state, &a) {
        *state = next;
        watch(&a, state);
        applied.push(a);
    }
    state.violation().cloned()
}

/// Replays a history, judging every step; stops at the first violation.
pub fn replay(world: &World, history: &[Step]) -> Replay {
    replay_watching(world, history, |_, _| {})
}

/// [`replay`], showing every state reached (and the action that reached it) to `watch`.
pub fn replay_watching(
    world: &World,
    history: &[Step],
    mut watch: impl FnMut(&Action, &State),
) -> Replay {
    let mut state = world.init();
    let mut applied = Vec::new();
    let mut enabled = Vec::new();
    for step in history {
        let mut todo: Vec<Action> = Vec::new();
        world.actions(&state, &mut enabled);
        let exact = |want: Action| enabled.contains(&want).then_some(want);
        match step {
            Step::Connect => todo.extend(exact(Action::Connect)),
            Step::Send(peer, channel) => todo.extend(exact(Action::Send {
                peer: *peer,
                channel: *channel,
            })),
            Step::CloseChannel(peer, channel) => todo.extend(exact(Action::CloseChannel {
                peer: *peer,
                channel: *channel,
            })),
            Step::ClosePeer(peer) => todo.extend(exact(Action::ClosePeer { peer: *peer })),
            Step::IceRestart => todo.extend(exact(Action::IceRestart)),
            Step::Deliver(i) => {
                todo.extend(pick(&enabled, i, |a| matches!(a, Action::Deliver { .. })))
            }
            Step::Drop(i) => todo.extend(pick(&enabled, i, |a| matches!(a, Action::Drop { .. }))),
            Step::Duplicate(i) => {
                todo.extend(pick(&enabled, i, |a| matches!(a, Action::Duplicate { .. })))
            }
            Step::Timer(i) => todo.extend(pick(&enabled, i, |a| {
                matches!(a, Action::Fire { .. } | Action::GuardExpiry { .. })
            })),
            Step::Flush => {
                for _ in 0..64 {
                    // A packet in flight, else a timer that only sends what is owed
                    // (the delayed SACK): what passing time does on a good network.
                    let a = match state.in_flight().next() {
                        Some((to, packet, _)) => Action::Deliver {
                            to,
                            packet: packet.clone(),
                        },
                        None => {
                            let mut actions = Vec::new();
                            world.actions(&state, &mut actions);
                            let progress = actions.into_iter().find(|a| {
                                matches!(a, Action::Fire { timer, .. }
                                    if timer_class(*timer) == TimerClass::Progress)
                            });
                            match progress {
                                Some(a) => a,
                                None => break,
                            }
                        }
                    };
                    if let Some(violation) = apply(world, &mut state, &mut applied, &mut watch, a) {
                        return Replay {
                            actions: applied,
                            violation: Some(violation),
                        };
                    }
                }
            }
        }
        for a in todo {
            if let Some(violation) = apply(world, &mut state, &mut applied, &mut watch, a) {
                return Replay {
                    actions: applied,
                    violation: Some(violation),
                };
            }
        }
    }
    Replay {
        actions: applied,
        violation: None,
    }
}

pub fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::WEBRTC_RS), Just(Profile::W3C)]
}

/// Runs the property "no invariant is violated" on `app` with a fixed seed and returns
/// proptest's shrunk counterexample.
pub fn shrunk_counterexample(app: AppKind, profile: Profile) -> Vec<Step> {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let w = world(profile, app);
    let result = runner.run(&history(60), |h| {
        let r = replay(&w, &h);
        prop_assert!(r.violation.is_none());
        Ok(())
    });
    match result {
        Err(TestError::Fail(_, minimal)) => minimal,
        other => panic!("{}: expected a violation, got {other:?}", app.as_str()),
    }
}

/// The shrunk history is the classic race: at most three actions, the last a send, on
/// a channel that is still connecting.
pub fn assert_classic_race(app: AppKind, profile: Profile) {
    let minimal = shrunk_counterexample(app, profile);
    let w = world(profile, app);
    let r = replay(&w, &minimal);
    println!(
        "{} {}: shrunk to {minimal:?}, actions {:?}",
        app.as_str(),
        profile.name,
        r.actions
    );
    let v = r.violation.expect("the shrunk history still fails");
    assert_eq!(v.invariant, names::NO_SEND_ON_NON_OPEN, "{minimal:?}");
    assert!(v.detail.ends_with("while connecting"), "{}", v.detail);
    assert!(r.actions.len() <= 3, "shrunk to {:?}", r.actions);
    assert!(
        matches!(r.actions.last(), Some(Action::Send { .. })),
        "{:?}",
        r.actions
    );
    let (trace, _) = w.replay(&r.actions);
    let text = trace.render_text();
    assert!(text.contains("(connecting) -> "), "{text}");
}
