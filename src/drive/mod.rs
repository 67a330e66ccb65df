//! The seam for a user's own application: write it once as an [`App`], then run it under
//! a scenario and seed on either engine ([`run`]), sweep seeds ([`explore()`]), check it
//! exhaustively within bounds ([`check`]) and fuzz it ([`fuzz`]) from your own tests, and
//! snapshot its trace (`render_text`).
//!
//! The application reaches the stack only through [`Calls`], which records every call and
//! its result itself: no application can hide a send from the monitor (the
//! `no-send-on-non-open` invariant sees every raw send).
//!
//! The scenario still decides the world: its `connect`, `close_peer`, `close_channel`,
//! `create_channel` and `ice_restart` steps and its network faults are played as usual.
//! Its `send` steps are left out: the user's application does the sending.

pub(crate) mod guarded;

pub use crate::check::explorer::ExploreReport as CheckReport;

use crate::check::app::AppKind;
use crate::check::explorer::{self, ExploreOptions};
use crate::check::user::UserApp;
use crate::check::world::{Bounds, World, WorldConfig};
use crate::explore::{self, ExploreReport};
use crate::model::DataChannelState;
use crate::model::Profile;
use crate::record;
use crate::scenario::{Action, Scenario};
use crate::sim::ScriptApp;
use crate::sim::{
    self, AppFactory, AppRequest, Engine, Guards, Log, Recorder, RunOptions, RunReport,
};
use crate::stack::{AppCall, AppResult, Stack, StackEvent};
use crate::trace::{Millis, PeerId, Trace};
use std::cell::RefCell;
use std::fmt::Debug;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;

/// A user's application on one peer: it reacts to what the stack reports and to its own
/// timer, and acts only through [`Calls`].
pub trait App {
    /// Called once, at the first instant the peer runs (time 0).
    fn start(&mut self, _calls: &mut Calls<'_>) {}
    /// The stack reported a state change, a callback or a message.
    fn on_event(&mut self, event: &StackEvent, calls: &mut Calls<'_>);
    /// When the application next wants [`App::on_timer`] (virtual ms since the start).
    fn next_timer(&self) -> Option<Millis> {
        None
    }
    /// Its timer is due.
    fn on_timer(&mut self, _calls: &mut Calls<'_>) {}
}

/// The application's only handle on the stack: every call goes to the trace and the
/// monitor with its result, so what the application did is always judged.
pub struct Calls<'a> {
    now: Millis,
    peer: PeerId,
    stack: &'a mut dyn Stack,
    rec: &'a mut dyn Log,
    guards: &'a mut Guards,
}

impl<'a> Calls<'a> {
    /// The handle of `peer` at `now` (the drivers build it; an application only gets one).
    pub(crate) fn new(
        now: Millis,
        peer: PeerId,
        stack: &'a mut dyn Stack,
        rec: &'a mut dyn Log,
        guards: &'a mut Guards,
    ) -> Self {
        Calls {
            now,
            peer,
            stack,
            rec,
            guards,
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The peer this application runs on.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// A channel's readyState, `None` if the peer has no such channel.
    pub fn channel_state(&self, label: &str) -> Option<DataChannelState> {
        self.stack.channel_state(label)
    }

    /// The bare `send` of the stack (what an unguarded application does): recorded with
    /// the channel's state at the call and the crate's result.
    pub fn send(&mut self, channel: &str, size: usize) -> AppResult {
        let msg = self.rec.next_msg_id();
        let state = self.stack.channel_state(channel);
        let stream = self.stack.channel_stream(channel);
        let result = self.stack.handle_app(
            self.now,
            AppCall::Send {
                channel: channel.to_string(),
                msg,
                size,
            },
        );
        self.rec.record(record::raw_send(
            self.now, self.peer, channel, msg, state, stream, &result,
        ));
        result
    }

    /// Feeds a stack event to the guards (before the application sees it).
    pub(crate) fn feed_guards(&mut self, event: &StackEvent) {
        self.guards
            .handle_event(self.now, event, self.stack, self.rec);
    }

    /// The earliest message the guard of `channel` holds reaches its expiry.
    pub(crate) fn expire_guard(&mut self, channel: &str) {
        self.guards.expire(channel, self.stack, self.rec);
    }

    /// A send through [`crate::guard`]: queued, sent, or dropped with a reason, each fate
    /// recorded.
    pub fn send_guarded(&mut self, channel: &str, size: usize) {
        let msg = self.rec.next_msg_id();
        self.guards
            .send(self.now, channel, msg, size, self.stack, self.rec);
    }
}

/// A user's application beside the scenario's own steps, as the engines drive it.
struct Hosted<U> {
    peer: PeerId,
    script: ScriptApp,
    guards: Guards,
    user: U,
    started: bool,
    /// The instant the user's timer last fired: it fires at most once an instant, so a
    /// timer that does not move on cannot stall the run.
    fired_at: Option<Millis>,
}

impl<U: App> Hosted<U> {
    fn new(peer: PeerId, scenario: &Scenario, user: U) -> Self {
        let mut world = scenario.clone();
        world
            .steps
            .retain(|s| !matches!(s.action, Action::Send { .. }));
        Hosted {
            peer,
            script: ScriptApp::new(peer, &world),
            guards: Guards::new(peer, scenario),
            user,
            started: false,
            fired_at: None,
        }
    }

    /// Hands the user's application its [`Calls`] for this instant.
    fn with_calls(
        &mut self,
        now: Millis,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
        act: impl FnOnce(&mut U, &mut Calls<'_>),
    ) {
        let mut calls = Calls {
            now,
            peer: self.peer,
            stack,
            rec,
            guards: &mut self.guards,
        };
        act(&mut self.user, &mut calls);
    }

    fn timer(&self) -> Option<Millis> {
        let t = self.user.next_timer()?;
        Some(match self.fired_at {
            Some(f) if t <= f => f + 1,
            _ => t,
        })
    }
}

impl<U: App> sim::App for Hosted<U> {
    fn poll_timeout(&self) -> Option<Millis> {
        let start = if self.started { None } else { Some(0) };
        [
            self.script.poll_timeout(),
            self.guards.poll_timeout(),
            self.timer(),
            start,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(
        &mut self,
        now: Millis,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    ) -> Vec<AppRequest> {
        let requests = self.script.handle_timeout(now, stack, rec);
        self.guards.handle_timeout(now, stack, rec);
        let start = !std::mem::replace(&mut self.started, true);
        let due = self.timer().is_some_and(|t| t <= now);
        if due {
            self.fired_at = Some(now);
        }
        self.with_calls(now, stack, rec, |user, calls| {
            if start {
                user.start(calls);
            }
            if due {
                user.on_timer(calls);
            }
        });
        requests
    }

    fn handle_event(
        &mut self,
        now: Millis,
        event: &StackEvent,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    ) {
        self.script.handle_event(now, event, stack, rec);
        self.guards.handle_event(now, event, stack, rec);
        self.with_calls(now, stack, rec, |user, calls| user.on_event(event, calls));
    }

    fn finish(&mut self, now: Millis, rec: &mut Recorder) {
        self.script.finish(now, rec);
        self.guards.finish(now, rec);
    }
}

/// The engines' application factory for a user's application: `make` builds the
/// application of each peer.
pub fn apps<U, F>(make: F) -> AppFactory
where
    U: App + 'static,
    F: Fn(PeerId) -> U + 'static,
{
    Rc::new(move |peer, scenario| {
        let hosted: Rc<RefCell<dyn sim::App>> =
            Rc::new(RefCell::new(Hosted::new(peer, scenario, make(peer))));
        hosted
    })
}

/// Runs the application `make` builds under `scenario` (seed, profile, stack and engine
/// from `options`); the trace holds every violation the monitor found.
pub fn run<U, F>(scenario: &Scenario, options: &RunOptions, make: F) -> Result<RunReport, String>
where
    U: App + 'static,
    F: Fn(PeerId) -> U + 'static,
{
    sim::run_apps(scenario, options, &apps(make))
}

/// Sweeps `runs` seeds from `seed` around `scenario` (random latency, loss and fault
/// timing, as `dcsim explore`) with the application `make` builds.
pub fn explore<U, F>(
    scenario: &Scenario,
    runs: u64,
    seed: u64,
    options: &RunOptions,
    make: F,
) -> Result<ExploreReport, String>
where
    U: App + 'static,
    F: Fn(PeerId) -> U + 'static,
{
    explore::explore_apps(scenario, runs, seed, options, &apps(make), |_| {})
}

/// One fuzz input as a run: the first eight bytes (zero-padded) are the seed of the
/// perturbation and the network, the rest is ignored; the direct engine plays it.
pub fn fuzz_trace<U, F>(data: &[u8], scenario: &Scenario, make: F) -> Result<Trace, String>
where
    U: App + 'static,
    F: Fn(PeerId) -> U + 'static,
{
    let mut seed_bytes = [0u8; 8];
    for (slot, byte) in seed_bytes.iter_mut().zip(data) {
        *slot = *byte;
    }
    let seed = u64::from_le_bytes(seed_bytes);
    let perturbed = explore::perturb(scenario, seed);
    let options = RunOptions {
        seed: Some(seed),
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    Ok(sim::run_apps(&perturbed, &options, &apps(make))?.trace)
}

/// The body of a user's `fuzz_target!`: plays one input ([`fuzz_trace`]) and panics with
/// the review text of the trace if the run violated an invariant or could not run.
pub fn fuzz<U, F>(data: &[u8], scenario: &Scenario, make: F)
where
    U: App + 'static,
    F: Fn(PeerId) -> U + 'static,
{
    match fuzz_trace(data, scenario, make) {
        Ok(trace) => {
            if trace.violations().next().is_some() {
                panic!("invariant violated:\n{}", trace.render_text());
            }
        }
        Err(e) => panic!("the run failed: {e}"),
    }
}

/// How [`check`] explores a user's application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Which lifecycle the peers follow.
    pub profile: Profile,
    /// How much the world may do (see [`Bounds`]; its `channels` is taken from
    /// [`CheckOptions::channels`], its `sends` is not used: the application sends when it
    /// likes).
    pub bounds: Bounds,
    /// Labels of the in-band channels peer `a` creates at the start (peer `b` learns each
    /// through `ondatachannel`).
    pub channels: Vec<String>,
    /// Depth, threads and the state limit.
    pub explore: ExploreOptions,
}

impl Default for CheckOptions {
    /// The webrtc-rs profile, the default bounds of `dcsim check` with one firing of the
    /// application's timer, and one channel, `chat` (the built-in scenarios' channel).
    fn default() -> Self {
        CheckOptions {
            profile: Profile::WEBRTC_RS,
            bounds: Bounds::default(),
            channels: vec!["chat".to_string()],
            explore: ExploreOptions::default(),
        }
    }
}

/// The checker's world with the application `make` builds on each peer (for
/// [`crate::check::explorer::explore`] or [`crate::check::stateright_model::WorldModel`]).
pub fn check_world<U, F>(options: &CheckOptions, make: F) -> Result<World<UserApp<U>>, String>
where
    U: App + Clone + Eq + Hash + Debug + Send + Sync + 'static,
    F: Fn(PeerId) -> U + Send + Sync + 'static,
{
    let n = options.channels.len();
    let mut bounds = options.bounds;
    bounds.channels = u8::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("channels: must name 1 to 9 channels, got {n}"))?;
    for (i, label) in options.channels.iter().enumerate() {
        if options.channels[..i].contains(label) {
            return Err(format!("channels: {label:?} is named twice"));
        }
    }
    let config = WorldConfig {
        profile: options.profile,
        // Not used: the world runs `make`'s application.
        app: AppKind::Raw,
        bounds,
        peer: options.profile.peer_config(),
    };
    let labels: Arc<[String]> = options.channels.clone().into();
    World::with_app(config, move |_, peer| {
        UserApp::new(peer, labels.clone(), make(peer))
    })
}

/// Explores every history of the application `make` builds within `options`' bounds
/// (see [`crate::check::user`] for the world it runs in): the report's counterexample, if
/// any, is a shortest history that violates an invariant, with its trace.
pub fn check<U, F>(options: &CheckOptions, make: F) -> Result<CheckReport, String>
where
    U: App + Clone + Eq + Hash + Debug + Send + Sync + 'static,
    F: Fn(PeerId) -> U + Send + Sync + 'static,
{
    let world = check_world(options, make)?;
    Ok(explorer::explore(&world, &options.explore, |_| {}))
}
