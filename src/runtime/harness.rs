//! The test harness for async code written against the `webrtc` 0.21.1 crate: two real
//! peer connections on the dcsim runtime, a scenario's network faults played on the
//! virtual clock, and everything both peers report written to the usual trace and judged
//! by the usual monitor.
//!
//! What is recorded without trusting the application:
//!
//! - every signaling, ICE gathering, ICE connection and peer-connection state change and
//!   every `ondatachannel`, by the recording handler the harness puts in front of the
//!   application's own ([`AsyncRun::builder`]), which forwards every call to it;
//! - every send, with the channel's readyState at the call and the crate's result, and
//!   every event of a channel (open, closing, close, error, each message delivered), by
//!   [`RecordedChannel`], the channel type the application sends on and polls.
//!
//! The seam the application sees: it builds its peer connection from
//! [`AsyncRun::builder`] (a `PeerConnectionBuilder` with this run's runtime, a loopback
//! address and mDNS off) instead of `PeerConnectionBuilder::new()`, and it wraps each
//! channel in a [`RecordedChannel`] (`send`, `send_text`, `poll`, `ready_state`, `close`,
//! as the crate's channel). The rest of its code is unchanged.

use super::net::Fault;
pub use super::record::{Channels, Done, Record, RecordedChannel};
use super::Sim;
use crate::check::MonitorConfig;
use crate::model::Profile;
use crate::scenario::{Action, Scenario};
use crate::trace::{EventKind, Machine, Millis, PeerId, Trace};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, SettingEngineBuilder,
};
use webrtc::runtime::Runtime;

/// One run: the world, the record, the scenario.
pub struct AsyncRun {
    sim: Arc<Sim>,
    record: Record,
    scenario: Scenario,
    seed: u64,
}

impl AsyncRun {
    /// A run of `scenario`'s world (its latency, loss and network faults) with `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let sim = Sim::new(seed, scenario.network.path_ms(scenario.network.latency_ms));
        if scenario.network.loss > 0.0 {
            sim.fault(Fault::Loss(scenario.network.loss));
        }
        let config = MonitorConfig {
            profile: Profile::WEBRTC_RS,
            guard_max_messages: None,
            // The async API reports no DTLS state to derive the peer's from.
            check_derived_state: false,
        };
        let clock_sim = Arc::clone(&sim);
        AsyncRun {
            sim,
            record: Record::new(config, Arc::new(move || clock_sim.now_ms())),
            scenario: scenario.clone(),
            seed,
        }
    }

    /// The scenario this run plays.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The world (clock, network, faults).
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// The runtime of `peer`.
    pub fn runtime(&self, peer: PeerId) -> Arc<dyn Runtime> {
        self.sim.runtime(peer)
    }

    /// The run's record (what the peers, the channels and the faults wrote so far).
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The builder of `peer`'s connection: this run's runtime, a loopback UDP address,
    /// mDNS off, and `handler` behind the recorder (it sees every call unchanged).
    pub fn builder(
        &self,
        peer: PeerId,
        handler: Arc<dyn PeerConnectionEventHandler>,
    ) -> PeerConnectionBuilder<String> {
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        PeerConnectionBuilder::new()
            .with_setting_engine(setting_engine)
            .with_runtime(self.runtime(peer))
            .with_handler(self.record.handler(peer, handler))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
    }

    /// `dc` of `peer` as a [`RecordedChannel`].
    pub async fn channel(&self, peer: PeerId, dc: Arc<dyn DataChannel>) -> RecordedChannel {
        self.channels().wrap(peer, dc).await
    }

    /// A handle that wraps channels for this run, for code that outlives a borrow of the
    /// run (an event handler that receives `ondatachannel`).
    pub fn channels(&self) -> Channels {
        self.record.channels()
    }

    /// Offer from `a`, answer from `b`, each sent once its ICE gathering is complete
    /// (candidates in the description, no trickle), at the scenario's `connect` time.
    pub async fn negotiate(
        &self,
        a: &dyn PeerConnection,
        b: &dyn PeerConnection,
    ) -> Result<(), String> {
        let e = |what: &str, err: webrtc::error::Error| format!("{what}: {err}");
        self.record.event(
            Some(PeerId::A),
            EventKind::App {
                action: "connect".into(),
                detail: None,
            },
        );
        let offer = a
            .create_offer(None)
            .await
            .map_err(|x| e("a: create_offer", x))?;
        a.set_local_description(offer)
            .await
            .map_err(|x| e("a: set_local_description", x))?;
        self.gathered(PeerId::A).await;
        let offer = a
            .local_description()
            .await
            .ok_or("a: no local description")?;
        b.set_remote_description(offer)
            .await
            .map_err(|x| e("b: set_remote_description", x))?;
        let answer = b
            .create_answer(None)
            .await
            .map_err(|x| e("b: create_answer", x))?;
        b.set_local_description(answer)
            .await
            .map_err(|x| e("b: set_local_description", x))?;
        self.gathered(PeerId::B).await;
        let answer = b
            .local_description()
            .await
            .ok_or("b: no local description")?;
        a.set_remote_description(answer)
            .await
            .map_err(|x| e("a: set_remote_description", x))
    }

    async fn gathered(&self, peer: PeerId) {
        let rt = self.runtime(peer);
        while self
            .record
            .last_state(peer, Machine::IceGathering, None)
            .as_deref()
            != Some("complete")
        {
            rt.sleep(Duration::from_millis(1)).await;
        }
    }

    /// Plays the scenario's network faults (partition, heal, hold, release, loss,
    /// latency, crash) at their times, each written to the trace as a `fault`.
    pub fn play_faults(&self) {
        let mut faults: Vec<(Millis, Fault, Action)> = Vec::new();
        for s in self.scenario.timeline() {
            let fault = match &s.step.action {
                Action::Partition => Fault::Partition,
                Action::Heal => Fault::Heal,
                Action::Hold => Fault::Hold,
                Action::Release => Fault::Release,
                Action::Loss { value } => Fault::Loss(*value),
                Action::Latency { ms } => {
                    let path = self.scenario.network.path_ms(*ms);
                    Fault::Latency(Duration::from_millis(path))
                }
                Action::Crash { peer } => Fault::Crash(*peer),
                _ => continue,
            };
            faults.push((s.at_ms, fault, s.step.action.clone()));
        }
        let sim = Arc::clone(&self.sim);
        let record = self.record.clone();
        let rt = self.runtime(PeerId::A);
        let rt2 = Arc::clone(&rt);
        rt.spawn(Box::pin(async move {
            for (at, fault, action) in faults {
                let now = sim.now_ms();
                if at > now {
                    rt2.sleep(Duration::from_millis(at - now)).await;
                }
                sim.fault(fault);
                record.event(
                    None,
                    EventKind::Fault {
                        action: action.name().to_string(),
                        detail: None,
                    },
                );
            }
        }))
        .detach();
    }

    /// Sleeps on `peer`'s runtime until virtual time `at_ms`.
    pub async fn until(&self, at_ms: Millis) {
        let now = self.sim.now_ms();
        if at_ms > now {
            self.runtime(PeerId::A)
                .sleep(Duration::from_millis(at_ms - now))
                .await;
        }
    }

    /// Runs `main` (the application's code, which builds the peers from
    /// [`AsyncRun::builder`]) to its end, then ends the run: what the channels accepted
    /// and never delivered is reported as `undelivered`, and the monitor's final
    /// judgement is added. The error says why the run could not finish.
    pub fn run(&self, main: impl Future<Output = ()>) -> Result<Trace, String> {
        let finished = self.sim.block_on(Box::pin(main));
        let end = self.sim.now_ms();
        self.sim.shutdown();
        if !finished {
            return Err(format!(
                "the run stalled at {end} ms: no task could make progress (seed {})",
                self.seed
            ));
        }
        Ok(self.record.finish(end))
    }
}

/// The application's code for one run, given the run (build the peers from it).
pub type Play<'r> = Pin<Box<dyn Future<Output = ()> + 'r>>;

/// What a clean [`sweep`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepReport {
    /// The seeds, each run twice with identical traces and no violation.
    pub seeds: Vec<u64>,
}

/// The seeds a sweep runs: `DCSIM_SEED` pins one, `DCSIM_RUNS` sets how many (from
/// `DCSIM_SEED`, or 0), else `runs` seeds from 0. A malformed value is an error that
/// names the variable.
pub fn seeds(runs: u64) -> Result<Vec<u64>, String> {
    let var = |name: &str| -> Result<Option<u64>, String> {
        match std::env::var(name) {
            Ok(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: expected a whole number, got {v:?}")),
            Err(_) => Ok(None),
        }
    };
    let first = var("DCSIM_SEED")?;
    let count = match (var("DCSIM_RUNS")?, first) {
        (Some(n), _) => n,
        (None, Some(_)) => 1,
        (None, None) => runs,
    };
    let first = first.unwrap_or(0);
    Ok((first..first.saturating_add(count)).collect())
}

/// Runs `play` on each seed of [`seeds`]`(runs)`, twice per seed, under the seed's
/// perturbation of `scenario` (latency 1-50 ms, loss up to 5 %, every fault moved by up to
/// ±50 %: [`crate::explore::perturb`], as `dcsim explore`); `play` reads the scenario of
/// its run from [`AsyncRun::scenario`]. The two traces of a seed must be identical and
/// free of violations. The first failure is an error
/// naming the seed and the first violation (or the first differing line), with the
/// trace written as JSON lines and HTML under `target/dcsim/` (the paths are in the
/// message); rerun it alone with `DCSIM_SEED=<seed>`.
pub fn sweep(
    scenario: &Scenario,
    runs: u64,
    play: impl for<'r> Fn(&'r AsyncRun) -> Play<'r>,
) -> Result<SweepReport, String> {
    let seeds = seeds(runs)?;
    for &seed in &seeds {
        let world = crate::explore::perturb(scenario, seed);
        let once = || -> Result<Trace, String> {
            let run = AsyncRun::new(&world, seed);
            run.run(play(&run))
        };
        let first = once()?;
        let second = once()?;
        let (a, b) = (first.to_jsonl(), second.to_jsonl());
        if a != b {
            let line = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            let paths = write_trace(scenario, seed, &first)?;
            return Err(format!(
                "{}: seed {seed}: the same seed gave two different traces (line {}); trace: {paths}",
                scenario.name,
                line + 1
            ));
        }
        let violation = first.violations().next().map(|v| {
            let what = match &v.kind {
                EventKind::Violation { invariant, detail } => format!("{invariant}: {detail}"),
                _ => String::new(),
            };
            (what, v.t_ms)
        });
        if let Some((what, at)) = violation {
            let paths = write_trace(scenario, seed, &first)?;
            return Err(format!(
                "{}: seed {seed}: {what} (at {at} ms); trace: {paths}; rerun with DCSIM_SEED={seed}",
                scenario.name
            ));
        }
    }
    Ok(SweepReport { seeds })
}

/// Writes `trace` as `target/dcsim/<scenario>-seed<seed>.{jsonl,html}`; the two paths.
fn write_trace(scenario: &Scenario, seed: u64, trace: &Trace) -> Result<String, String> {
    let dir = std::path::Path::new("target").join("dcsim");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stem = format!("{}-seed{seed}", scenario.name);
    let jsonl = dir.join(format!("{stem}.jsonl"));
    let html = dir.join(format!("{stem}.html"));
    std::fs::write(&jsonl, trace.to_jsonl()).map_err(|e| format!("{}: {e}", jsonl.display()))?;
    std::fs::write(&html, trace.render_html(&stem))
        .map_err(|e| format!("{}: {e}", html.display()))?;
    Ok(format!("{} and {}", jsonl.display(), html.display()))
}
