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
use super::Sim;
use crate::check::MonitorConfig;
use crate::guard::webrtc_adapter::{ChannelObserver, DroppedMessage, GuardedChannel};
use crate::guard::{DropReason, GuardConfig};
use crate::model::Profile;
use crate::scenario::{Action, Scenario};
use crate::sim::Recorder;
use crate::trace::{
    EventKind, Machine, Millis, MsgId, PeerId, SendOutcome, Trace, TraceEvent, Via,
};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSignalingState, SettingEngineBuilder,
};
use webrtc::runtime::Runtime;

/// A boxed future, as the crate's handler trait returns them.
pub type Done<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One run: the world, the record, the scenario.
pub struct AsyncRun {
    sim: Arc<Sim>,
    log: Arc<Mutex<RunLog>>,
    scenario: Scenario,
    seed: u64,
}

/// A message a channel accepted: its payload and id.
type Carried = (Vec<u8>, MsgId);

/// The record of a run, shared by the recording handler and the channels.
struct RunLog {
    rec: Recorder,
    /// Last reported state of each machine (the `from` of the next change).
    last: BTreeMap<(PeerId, Machine, String), String>,
    /// Messages handed to a channel and not yet delivered: (receiver, label) -> their
    /// payloads and ids, in send order.
    wire: BTreeMap<(PeerId, String), VecDeque<Carried>>,
    /// Messages a guard holds: id -> (peer, label); reported as `end-of-run` drops if
    /// the run ends first.
    held: BTreeMap<MsgId, (PeerId, String)>,
}

impl RunLog {
    fn record(&mut self, t: Millis, peer: PeerId, kind: EventKind) {
        self.rec.record(TraceEvent::on(t, peer, kind));
    }

    fn state(
        &mut self,
        t: Millis,
        peer: PeerId,
        machine: Machine,
        channel: Option<&str>,
        to: &str,
    ) {
        let initial = match machine {
            Machine::Signaling => "stable",
            Machine::DataChannel => "connecting",
            _ => "new",
        };
        let key = (peer, machine, channel.unwrap_or_default().to_string());
        let from = self
            .last
            .insert(key, to.to_string())
            .unwrap_or_else(|| initial.to_string());
        if from == to {
            return;
        }
        self.record(
            t,
            peer,
            EventKind::State {
                machine,
                channel: channel.map(str::to_string),
                from,
                to: to.to_string(),
            },
        );
    }
}

impl AsyncRun {
    /// A run of `scenario`'s world (its latency, loss and network faults) with `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let sim = Sim::new(seed, scenario.network.latency_ms);
        if scenario.network.loss > 0.0 {
            sim.fault(Fault::Loss(scenario.network.loss));
        }
        let config = MonitorConfig {
            observable_closing: Profile::WEBRTC_RS.observable_closing,
            guard_max_messages: None,
            // The async API reports no DTLS state to derive the peer's from.
            check_derived_state: false,
        };
        AsyncRun {
            sim,
            log: Arc::new(Mutex::new(RunLog {
                rec: Recorder::new(config),
                last: BTreeMap::new(),
                wire: BTreeMap::new(),
                held: BTreeMap::new(),
            })),
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

    fn log(&self) -> MutexGuard<'_, RunLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
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
            .with_handler(Arc::new(Recording {
                peer,
                log: Arc::clone(&self.log),
                sim: Arc::clone(&self.sim),
                user: handler,
            }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
    }

    /// `dc` of `peer` as a [`RecordedChannel`].
    pub async fn channel(&self, peer: PeerId, dc: Arc<dyn DataChannel>) -> RecordedChannel {
        self.channels().wrap(peer, dc).await
    }

    /// A handle that wraps channels for this run, for code that outlives a borrow of the
    /// run (an event handler that receives `ondatachannel`).
    pub fn channels(&self) -> Channels {
        Channels {
            log: Arc::clone(&self.log),
            sim: Arc::clone(&self.sim),
        }
    }

    /// Offer from `a`, answer from `b`, each sent once its ICE gathering is complete
    /// (candidates in the description, no trickle), at the scenario's `connect` time.
    pub async fn negotiate(
        &self,
        a: &dyn PeerConnection,
        b: &dyn PeerConnection,
    ) -> Result<(), String> {
        let e = |what: &str, err: webrtc::error::Error| format!("{what}: {err}");
        self.log().record(
            self.sim.now_ms(),
            PeerId::A,
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
        let key = (peer, Machine::IceGathering, String::new());
        while self.log().last.get(&key).map(String::as_str) != Some("complete") {
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
                Action::Latency { ms } => Fault::Latency(Duration::from_millis(*ms)),
                Action::Crash { peer } => Fault::Crash(*peer),
                _ => continue,
            };
            faults.push((s.at_ms, fault, s.step.action.clone()));
        }
        let sim = Arc::clone(&self.sim);
        let log = Arc::clone(&self.log);
        let rt = self.runtime(PeerId::A);
        let rt2 = Arc::clone(&rt);
        rt.spawn(Box::pin(async move {
            for (at, fault, action) in faults {
                let now = sim.now_ms();
                if at > now {
                    rt2.sleep(Duration::from_millis(at - now)).await;
                }
                sim.fault(fault);
                let t = sim.now_ms();
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.rec.record(TraceEvent::global(
                    t,
                    EventKind::Fault {
                        action: action.name().to_string(),
                        detail: None,
                    },
                ));
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
        let mut log = std::mem::replace(
            &mut *self.log(),
            RunLog {
                rec: Recorder::new(MonitorConfig::default()),
                last: BTreeMap::new(),
                wire: BTreeMap::new(),
                held: BTreeMap::new(),
            },
        );
        for (msg, (peer, channel)) in std::mem::take(&mut log.held) {
            log.record(
                end,
                peer,
                EventKind::Drop {
                    channel,
                    msg,
                    reason: "end-of-run".into(),
                },
            );
        }
        Ok(log.rec.finish(end))
    }
}

/// Wraps channels as [`RecordedChannel`]s for one run ([`AsyncRun::channels`]).
#[derive(Clone)]
pub struct Channels {
    log: Arc<Mutex<RunLog>>,
    sim: Arc<Sim>,
}

impl Channels {
    /// `dc` of `peer` as a [`RecordedChannel`].
    pub async fn wrap(&self, peer: PeerId, dc: Arc<dyn DataChannel>) -> RecordedChannel {
        let label = dc.label().await.unwrap_or_default();
        RecordedChannel {
            inner: dc,
            peer,
            label,
            log: Arc::clone(&self.log),
            sim: Arc::clone(&self.sim),
        }
    }
}

/// The handler the harness puts in front of the application's: records, then forwards.
struct Recording {
    peer: PeerId,
    log: Arc<Mutex<RunLog>>,
    sim: Arc<Sim>,
    user: Arc<dyn PeerConnectionEventHandler>,
}

impl Recording {
    fn state(&self, machine: Machine, to: &str) {
        let t = self.sim.now_ms();
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.state(t, self.peer, machine, None, to);
    }
}

impl PeerConnectionEventHandler for Recording {
    fn on_signaling_state_change<'l, 'a>(&'l self, state: RTCSignalingState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        self.state(Machine::Signaling, &state.to_string());
        self.user.on_signaling_state_change(state)
    }

    fn on_ice_gathering_state_change<'l, 'a>(&'l self, state: RTCIceGatheringState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        // The crate sets `gathering` in set_local_description without an event (its getter
        // reads it; rtc/src/peer_connection/mod.rs); the trace shows the state the getter
        // showed, as the rtc stack's adapter does.
        if state == RTCIceGatheringState::Complete {
            self.state(Machine::IceGathering, "gathering");
        }
        self.state(Machine::IceGathering, &state.to_string());
        self.user.on_ice_gathering_state_change(state)
    }

    fn on_ice_connection_state_change<'l, 'a>(&'l self, state: RTCIceConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        self.state(Machine::IceConnection, &state.to_string());
        self.user.on_ice_connection_state_change(state)
    }

    fn on_connection_state_change<'l, 'a>(&'l self, state: RTCPeerConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        self.state(Machine::PeerConnection, &state.to_string());
        self.user.on_connection_state_change(state)
    }

    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let label = dc.label().await.unwrap_or_default();
            {
                let t = self.sim.now_ms();
                let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                log.record(
                    t,
                    self.peer,
                    EventKind::Callback {
                        channel: label,
                        name: "datachannel".into(),
                    },
                );
            }
            self.user.on_data_channel(dc).await;
        })
    }
}

/// A data channel whose every send, result and event is recorded. Use it where the
/// application would use the crate's `Arc<dyn DataChannel>`.
#[derive(Clone)]
pub struct RecordedChannel {
    inner: Arc<dyn DataChannel>,
    peer: PeerId,
    label: String,
    log: Arc<Mutex<RunLog>>,
    sim: Arc<Sim>,
}

impl RecordedChannel {
    /// The crate's channel underneath.
    pub fn inner(&self) -> &Arc<dyn DataChannel> {
        &self.inner
    }

    /// Its label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `readyState`, as the crate reports it.
    pub async fn ready_state(&self) -> String {
        match self.inner.ready_state().await {
            Ok(s) => s.to_string(),
            Err(_) => "unknown".into(),
        }
    }

    /// This channel behind the guard ([`GuardedChannel`]): every message the guard hands
    /// to the transport and every event it takes is recorded as on this channel, so the
    /// guard's sends are judged like the application's own.
    pub async fn guarded(
        &self,
        runtime: Arc<dyn Runtime>,
        config: GuardConfig,
        on_drop: impl FnMut(DroppedMessage) + Send + 'static,
    ) -> GuardedChannel {
        let observer = GuardObserver {
            channel: self.clone(),
            ids: Mutex::new(BTreeMap::new()),
        };
        GuardedChannel::new(Arc::clone(&self.inner), runtime, config, on_drop)
            .await
            .observed(Arc::new(observer))
    }

    /// `send_text`, recorded with the readyState at the call and the crate's result.
    pub async fn send_text(&self, text: impl Into<String>) -> webrtc::error::Result<()> {
        let text = text.into();
        let bytes = text.clone().into_bytes();
        let state = self.ready_state().await;
        let result = self.inner.send_text(&text).await;
        self.sent(state, bytes, &result);
        result
    }

    /// `send` (binary), recorded like [`RecordedChannel::send_text`].
    pub async fn send(&self, data: bytes::BytesMut) -> webrtc::error::Result<()> {
        let bytes = data.to_vec();
        let state = self.ready_state().await;
        let result = self.inner.send(data).await;
        self.sent(state, bytes, &result);
        result
    }

    fn sent(&self, state: String, bytes: Vec<u8>, result: &webrtc::error::Result<()>) {
        let msg = {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.rec.next_msg_id()
        };
        self.record_send(msg, Via::Raw, false, &state, bytes, result);
    }

    fn record_send(
        &self,
        msg: MsgId,
        via: Via,
        flushed: bool,
        state: &str,
        bytes: Vec<u8>,
        result: &webrtc::error::Result<()>,
    ) {
        let t = self.sim.now_ms();
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if result.is_ok() {
            log.wire
                .entry((self.peer.other(), self.label.clone()))
                .or_default()
                .push_back((bytes, msg));
        }
        log.record(
            t,
            self.peer,
            EventKind::Send {
                channel: self.label.clone(),
                msg,
                via,
                state: state.to_string(),
                outcome: if result.is_ok() {
                    SendOutcome::Sent
                } else {
                    SendOutcome::Error
                },
                error: result.as_ref().err().map(|e| e.to_string()),
                reason: None,
                flushed,
            },
        );
    }

    /// `close()`, recorded as an application step.
    pub async fn close(&self) -> webrtc::error::Result<()> {
        {
            let t = self.sim.now_ms();
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.record(
                t,
                self.peer,
                EventKind::App {
                    action: "close_channel".into(),
                    detail: Some(self.label.clone()),
                },
            );
        }
        self.inner.close().await
    }

    /// The channel's next event (as `DataChannel::poll`), recorded: readyState changes,
    /// callbacks and each message delivered (paired with the send that carried it).
    pub async fn poll(&self) -> Option<DataChannelEvent> {
        let event = self.inner.poll().await?;
        self.record_event(&event);
        Some(event)
    }

    fn record_event(&self, event: &DataChannelEvent) {
        let t = self.sim.now_ms();
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let peer = self.peer;
        let label = self.label.as_str();
        let callback = |log: &mut RunLog, name: &str| {
            log.record(
                t,
                peer,
                EventKind::Callback {
                    channel: label.to_string(),
                    name: name.to_string(),
                },
            );
        };
        match event {
            DataChannelEvent::OnOpen => {
                log.state(t, peer, Machine::DataChannel, Some(label), "open");
                callback(&mut log, "open");
            }
            DataChannelEvent::OnClosing => {
                log.state(t, peer, Machine::DataChannel, Some(label), "closing");
                callback(&mut log, "closing");
            }
            DataChannelEvent::OnClose => {
                log.state(t, peer, Machine::DataChannel, Some(label), "closed");
                callback(&mut log, "close");
            }
            DataChannelEvent::OnError => callback(&mut log, "error"),
            DataChannelEvent::OnMessage(m) => {
                let queue = log.wire.entry((peer, label.to_string())).or_default();
                let msg = match queue.front() {
                    Some((bytes, id)) if bytes[..] == m.data[..] => {
                        let id = *id;
                        queue.pop_front();
                        id
                    }
                    // Not what the other side handed to its channel next: the monitor
                    // reports a message delivered that was never sent (or out of order).
                    _ => MsgId::MAX,
                };
                log.record(
                    t,
                    peer,
                    EventKind::Deliver {
                        channel: label.to_string(),
                        msg,
                    },
                );
            }
            _ => {}
        }
    }
}

/// Records a [`GuardedChannel`]'s decisions and transport sends on its channel: each
/// offer as a guarded `send` (sent, queued or rejected with the guard's reason), each
/// release as a flushed `send`, each drop from the queue as a `drop` with its reason.
struct GuardObserver {
    channel: RecordedChannel,
    /// The guard's message id -> the run's (handed out on first sight, so ids stay
    /// apart from other channels' and follow the order of the sends).
    ids: Mutex<BTreeMap<MsgId, MsgId>>,
}

impl GuardObserver {
    /// The run's id of the guard's message `id`, and whether it was seen before.
    fn id(&self, id: MsgId) -> (MsgId, bool) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(msg) = ids.get(&id) {
            return (*msg, true);
        }
        let mut log = self.channel.log.lock().unwrap_or_else(|e| e.into_inner());
        let msg = log.rec.next_msg_id();
        ids.insert(id, msg);
        (msg, false)
    }

    /// The message has an end (sent or dropped): the run no longer holds it.
    fn ended(&self, msg: MsgId) {
        let mut log = self.channel.log.lock().unwrap_or_else(|e| e.into_inner());
        log.held.remove(&msg);
    }

    fn record(&self, kind: EventKind) {
        let t = self.channel.sim.now_ms();
        let mut log = self.channel.log.lock().unwrap_or_else(|e| e.into_inner());
        log.record(t, self.channel.peer, kind);
    }

    fn state(&self) -> String {
        let log = self.channel.log.lock().unwrap_or_else(|e| e.into_inner());
        let key = (
            self.channel.peer,
            Machine::DataChannel,
            self.channel.label.clone(),
        );
        log.last
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "connecting".into())
    }
}

impl ChannelObserver for GuardObserver {
    fn sent(
        &self,
        id: MsgId,
        flushed: bool,
        state: &str,
        data: &[u8],
        result: &webrtc::error::Result<()>,
    ) {
        let (msg, _) = self.id(id);
        if result.is_ok() {
            self.ended(msg);
        }
        self.channel
            .record_send(msg, Via::Guarded, flushed, state, data.to_vec(), result);
    }

    fn queued(&self, id: MsgId) {
        let (msg, _) = self.id(id);
        {
            let mut log = self.channel.log.lock().unwrap_or_else(|e| e.into_inner());
            log.held
                .insert(msg, (self.channel.peer, self.channel.label.clone()));
        }
        self.record(EventKind::Send {
            channel: self.channel.label.clone(),
            msg,
            via: Via::Guarded,
            state: self.state(),
            outcome: SendOutcome::Queued,
            error: None,
            reason: None,
            flushed: false,
        });
    }

    fn dropped(&self, id: MsgId, reason: DropReason) {
        let (msg, seen) = self.id(id);
        self.ended(msg);
        let kind = if seen {
            EventKind::Drop {
                channel: self.channel.label.clone(),
                msg,
                reason: reason.as_str().to_string(),
            }
        } else {
            EventKind::Send {
                channel: self.channel.label.clone(),
                msg,
                via: Via::Guarded,
                state: self.state(),
                outcome: SendOutcome::Rejected,
                error: None,
                reason: Some(reason.as_str().to_string()),
                flushed: false,
            }
        };
        self.record(kind);
    }

    fn event(&self, event: &DataChannelEvent) {
        self.channel.record_event(event);
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
