//! The deterministic fault simulator: two peers as turmoil hosts, real (simulated) UDP
//! between them, virtual time, faults on the scenario's schedule. A scenario plus a seed
//! fixes the run.

mod app;
mod direct;
mod driver;
mod guarded;
mod host;
mod link;
mod recorder;

pub use app::{App, AppRequest, ScriptApp};
pub use direct::run_direct;
pub use guarded::Guards;
pub use host::{StackFactory, PORT};
pub use recorder::{Log, Recorder};

use crate::check::MonitorConfig;
use crate::model::{Peer, PeerConfig, Profile, ProfileName};
#[cfg(feature = "rtc-stack")]
use crate::rtc_stack::{RtcConfig, RtcStack};
use crate::scenario::{Action, Scenario};
use crate::stack::Stack;
use crate::trace::{EventKind, Millis, PeerId, Trace, TraceEvent};
use host::{HostContext, Released};
use link::Link;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Which protocol stack the peers run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StackKind {
    /// The dcsim model.
    #[default]
    Model,
    /// The real `rtc` 0.21.1 peer connection.
    Rtc,
}

/// Choices of one run that are not in the scenario (or override it).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Seed (default: the scenario's, else 0).
    pub seed: Option<u64>,
    /// Profile (default: the scenario's, else webrtc-rs).
    pub profile: Option<ProfileName>,
    /// Stack.
    pub stack: StackKind,
    /// Engine.
    pub engine: Engine,
}

/// Which event loop plays the scenario. Both write the same trace for the same scenario
/// and seed (tests/engines.rs); the direct loop is the default because it is hundreds of
/// times faster, and turmoil stays as the cross-check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Peers as turmoil hosts over simulated UDP, stepped every millisecond.
    Turmoil,
    /// A discrete-event loop that jumps between events (same rules, much faster).
    #[default]
    Direct,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The trace, violations included.
    pub trace: Trace,
    /// Seed used.
    pub seed: u64,
    /// Profile used.
    pub profile: ProfileName,
}

/// The model peer config a scenario asks for in a profile: the profile's timeouts and
/// limits ([`Profile::peer_config`]), with each `[ice]` timeout the scenario sets in
/// place of the profile's (a key it leaves out keeps the profile's value).
pub fn peer_config(scenario: &Scenario, profile: Profile) -> PeerConfig {
    let base = profile.peer_config();
    PeerConfig {
        ice: scenario.ice.over(base.ice),
        ..base
    }
}

/// The stack factory of a stack kind.
pub fn stack_factory(kind: StackKind, profile: Profile, config: PeerConfig) -> StackFactory {
    match kind {
        StackKind::Model => Rc::new(move |peer, _local, _remote| {
            Ok(Box::new(Peer::new(peer, profile, config)) as Box<dyn Stack>)
        }),
        #[cfg(not(feature = "rtc-stack"))]
        StackKind::Rtc => Rc::new(|_, _, _| {
            Err("dcsim was built without the real stack (feature `rtc-stack`)".to_string())
        }),
        #[cfg(feature = "rtc-stack")]
        StackKind::Rtc => {
            // The virtual-time origin: the only clock read, and only as an origin; every
            // instant the crate sees is this plus the simulator's virtual milliseconds.
            let base = std::time::Instant::now();
            Rc::new(move |peer, local, remote| {
                let mut rtc = RtcConfig::new(base);
                rtc.ice = config.ice;
                rtc.dcep_handshake_timeout_ms = Some(config.dcep_handshake_timeout_ms);
                Ok(Box::new(RtcStack::new(peer, local, remote, rtc)?) as Box<dyn Stack>)
            })
        }
    }
}

/// Builds the application of each peer of a run: the engines take one, so a user's own
/// application runs under the same simulator as the scenario script.
pub type AppFactory = Rc<dyn Fn(PeerId, &Scenario) -> Rc<RefCell<dyn App>>>;

/// The scenario script alone on each peer (what `dcsim run` plays).
pub fn script_apps() -> AppFactory {
    Rc::new(|peer, scenario| Rc::new(RefCell::new(ScriptApp::new(peer, scenario))))
}

/// Runs a scenario under the simulator with the scenario script as the application.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport, String> {
    run_apps(scenario, options, &script_apps())
}

/// Runs a scenario under the simulator with the applications `apps` builds.
pub fn run_apps(
    scenario: &Scenario,
    options: &RunOptions,
    apps: &AppFactory,
) -> Result<RunReport, String> {
    let seed = options.seed.or(scenario.seed).unwrap_or(0);
    let profile_name = options.profile.or(scenario.profile).unwrap_or_default();
    let profile = Profile::of(profile_name);
    let factory = stack_factory(options.stack, profile, peer_config(scenario, profile));
    let monitor = MonitorConfig {
        profile,
        guard_max_messages: Some(guarded::guard_config(&scenario.guard).max_queue_messages),
        // The real stack reports no DTLS states through events (see rtc_stack).
        check_derived_state: options.stack == StackKind::Model,
    };
    let trace = match options.engine {
        Engine::Turmoil => run_with(scenario, seed, factory, apps, monitor)?,
        Engine::Direct => run_direct(scenario, seed, factory, apps, monitor)?,
    };
    Ok(RunReport {
        trace,
        seed,
        profile: profile_name,
    })
}

/// Runs a scenario on the turmoil engine with given stacks, applications and monitor.
///
/// turmoil carries the datagrams with the path's latency; the faults are the rules of
/// `src/sim/link.rs`, which the direct engine applies too (the hosts apply them as they
/// send), so a seed plays the same run, losses included, on both engines.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    factory: StackFactory,
    make_app: &AppFactory,
    monitor: MonitorConfig,
) -> Result<Trace, String> {
    let duration = scenario.duration_ms;
    // A datagram arrives a millisecond after it is sent at the soonest, as on the direct
    // engine (turmoil would hand a 0 ms datagram over within the instant).
    let path = |direct_ms| Duration::from_millis(scenario.network.path_ms(direct_ms).max(1));
    let latency = path(scenario.network.latency_ms);
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_millis(duration + 1000))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(latency)
        .max_message_latency(latency)
        .fail_rate(0.0)
        .rng_seed(seed)
        .build();

    let rec = Rc::new(RefCell::new(Recorder::new(monitor)));
    let link = Rc::new(RefCell::new(Link::new(scenario.network.loss, seed)));
    let released = PeerId::BOTH.map(|_| Rc::new(Released::default()));
    let (to_b, from_a) = tokio::sync::mpsc::unbounded_channel();
    let (to_a, from_b) = tokio::sync::mpsc::unbounded_channel();
    let mut apps: Vec<Rc<RefCell<dyn App>>> = Vec::new();
    for (peer, out, inbox) in [(PeerId::A, to_b, from_b), (PeerId::B, to_a, from_a)] {
        let app = make_app(peer, scenario);
        apps.push(app.clone());
        let ctx = Rc::new(HostContext {
            peer,
            make_stack: factory.clone(),
            app,
            rec: rec.clone(),
            signal_out: out,
            signal_in: Rc::new(RefCell::new(inbox)),
            link: link.clone(),
            released: released[peer.index()].clone(),
        });
        sim.host(peer.as_str(), move || host::run_peer(ctx.clone()));
    }

    let faults = fault_schedule(scenario);
    let mut next_fault = 0;
    // Held datagrams a release let through: (due, seq, to, datagram).
    let mut in_release: Vec<(Millis, link::Wire)> = Vec::new();
    loop {
        let now = sim.elapsed().as_millis() as Millis;
        while let Some((at, action)) = faults.get(next_fault) {
            if *at > now {
                break;
            }
            next_fault += 1;
            match action {
                Action::Latency { ms } => sim.set_link_latency("a", "b", path(*ms)),
                Action::Crash { peer } => sim.crash(peer.as_str()),
                _ => {}
            }
            let let_through = link.borrow_mut().apply(action);
            in_release.extend(let_through.into_iter().map(|wire| (now + 1, wire)));
            rec.borrow_mut().record(fault_event(now, action));
        }
        if now >= duration {
            break;
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut in_release)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        in_release = later;
        for (_, (seq, to, datagram)) in due {
            released[to.index()].push([(seq, datagram)]);
        }
        sim.step().map_err(|e| format!("simulation failed: {e}"))?;
    }
    drop(sim);
    let mut rec = Rc::try_unwrap(rec)
        .map_err(|_| "simulation still holds the record".to_string())?
        .into_inner();
    for app in apps {
        app.borrow_mut().finish(duration, &mut rec);
    }
    Ok(rec.finish(duration))
}

/// The scenario's network faults in the order both engines apply them.
pub(crate) fn fault_schedule(scenario: &Scenario) -> Vec<(Millis, Action)> {
    scenario
        .timeline()
        .into_iter()
        .filter(|s| s.step.action.is_fault())
        .map(|s| (s.at_ms, s.step.action.clone()))
        .collect()
}

pub(crate) fn fault_event(now: Millis, action: &Action) -> TraceEvent {
    let (peer, detail) = match action {
        Action::Loss { value } => (None, Some(format!("{value}"))),
        Action::Latency { ms } => (None, Some(format!("{ms} ms"))),
        Action::Crash { peer } => (Some(*peer), None),
        _ => (None, None),
    };
    TraceEvent {
        t_ms: now,
        peer,
        kind: EventKind::step(action.name(), detail),
    }
}
