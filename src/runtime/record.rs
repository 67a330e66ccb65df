//! The record of a run of real webrtc 0.21.1 peers: a recording handler in front of the
//! application's own, channels whose every send and event is written down, and the guard's
//! decisions, all into one trace judged by the monitor. Used by the deterministic harness
//! ([`super::harness`]) on the virtual clock and by the live probe on the wall clock.
//!
//! Sends and deliveries carry no stream id here: webrtc 0.21.1's async `DataChannel`
//! exposes a connection-local handle (`id()`), not the SCTP stream id. A delivery is
//! paired with the send on the same label whose bytes it carries.

use crate::check::MonitorConfig;
use crate::guard::webrtc_adapter::{ChannelObserver, DroppedMessage, GuardedChannel};
use crate::guard::{DropReason, GuardConfig};
use crate::sim::Recorder;
use crate::trace::{
    EventKind, Machine, Millis, MsgId, PeerId, SendOutcome, Trace, TraceEvent, Via,
};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceConnectionState, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSignalingState,
};
use webrtc::runtime::Runtime;

/// A boxed future, as the crate's handler trait returns them.
pub type Done<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The clock events are stamped with, in milliseconds since the start of the run.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// One run's record: every part that writes to it holds a clone.
#[derive(Clone)]
pub struct Record {
    log: Arc<Mutex<RunLog>>,
    clock: Clock,
    /// The other end is not recorded (a live service): a message received that carries
    /// what this side sent is its echo, the proof that the other end got it.
    echoes: bool,
}

impl Record {
    /// An empty record judged with `config`, stamped by `clock`.
    pub fn new(config: MonitorConfig, clock: Clock) -> Self {
        Record {
            log: Arc::new(Mutex::new(RunLog::new(config))),
            clock,
            echoes: false,
        }
    }

    /// A record of one side of a connection whose other end is a live service that is
    /// not recorded: a message received with the payload of one this side sent is
    /// recorded as that message delivered to the other end (its echo proves it); any
    /// other message received is a `message` callback.
    pub fn one_sided(config: MonitorConfig, clock: Clock) -> Self {
        Record {
            echoes: true,
            ..Record::new(config, clock)
        }
    }

    /// Milliseconds since the start, by this record's clock.
    pub fn now_ms(&self) -> Millis {
        (self.clock)()
    }

    fn log(&self) -> MutexGuard<'_, RunLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `kind` for `peer` (or for the network, `None`) now.
    pub fn event(&self, peer: Option<PeerId>, kind: EventKind) {
        let t = self.now_ms();
        let event = match peer {
            Some(p) => TraceEvent::on(t, p, kind),
            None => TraceEvent::global(t, kind),
        };
        self.log().rec.record(event);
    }

    /// The last state `peer` reported for `machine` (`channel` for a data channel).
    pub fn last_state(
        &self,
        peer: PeerId,
        machine: Machine,
        channel: Option<&str>,
    ) -> Option<String> {
        let key = (peer, machine, channel.unwrap_or_default().to_string());
        self.log().last.get(&key).cloned()
    }

    /// How many times `peer`'s `machine` entered state `to` so far.
    pub fn event_count(&self, peer: PeerId, machine: Machine, to: &str) -> usize {
        self.log()
            .rec
            .trace()
            .events
            .iter()
            .filter(|e| {
                e.peer == Some(peer)
                    && matches!(&e.kind, EventKind::State { machine: m, to: t, .. } if m.as_str() == machine.as_str() && t == to)
            })
            .count()
    }

    /// The handler to give `PeerConnectionBuilder::with_handler` for `peer`: it writes
    /// every state change and `ondatachannel`, then calls `user` unchanged.
    pub fn handler(
        &self,
        peer: PeerId,
        user: Arc<dyn PeerConnectionEventHandler>,
    ) -> Arc<dyn PeerConnectionEventHandler> {
        Arc::new(Recording {
            peer,
            record: self.clone(),
            user,
        })
    }

    /// A handle that wraps channels as [`RecordedChannel`]s for this record.
    pub fn channels(&self) -> Channels {
        Channels {
            record: self.clone(),
        }
    }

    /// Ends the record at `end`: messages a guard still holds are `end-of-run` drops,
    /// messages handed to a transport and never delivered are `undelivered`, then the
    /// monitor's final judgement. The record is empty afterwards.
    pub fn finish(&self, end: Millis) -> Trace {
        let mut log = std::mem::replace(&mut *self.log(), RunLog::new(MonitorConfig::default()));
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
        log.rec.finish(end)
    }
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
    fn new(config: MonitorConfig) -> Self {
        RunLog {
            rec: Recorder::new(config),
            last: BTreeMap::new(),
            wire: BTreeMap::new(),
            held: BTreeMap::new(),
        }
    }

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

/// Wraps channels as [`RecordedChannel`]s for one run ([`Record::channels`]).
#[derive(Clone)]
pub struct Channels {
    record: Record,
}

impl Channels {
    /// `dc` of `peer` as a [`RecordedChannel`].
    pub async fn wrap(&self, peer: PeerId, dc: Arc<dyn DataChannel>) -> RecordedChannel {
        let label = dc.label().await.unwrap_or_default();
        RecordedChannel {
            inner: dc,
            peer,
            label,
            record: self.record.clone(),
        }
    }
}

/// The handler the harness puts in front of the application's: records, then forwards.
struct Recording {
    peer: PeerId,
    record: Record,
    user: Arc<dyn PeerConnectionEventHandler>,
}

impl Recording {
    fn state(&self, machine: Machine, to: &str) {
        let t = self.record.now_ms();
        let mut log = self.record.log();
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
                let t = self.record.now_ms();
                let mut log = self.record.log();
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
    record: Record,
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
            let mut log = self.record.log();
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
        let t = self.record.now_ms();
        let mut log = self.record.log();
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
                stream: None,
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
            let t = self.record.now_ms();
            let mut log = self.record.log();
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
        let t = self.record.now_ms();
        let mut log = self.record.log();
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
            DataChannelEvent::OnMessage(m) if self.record.echoes => {
                let queue = log
                    .wire
                    .entry((peer.other(), label.to_string()))
                    .or_default();
                match queue.iter().position(|(bytes, _)| bytes[..] == m.data[..]) {
                    Some(i) => {
                        let msg = queue.remove(i).map_or(MsgId::MAX, |(_, id)| id);
                        log.record(
                            t,
                            peer.other(),
                            EventKind::Deliver {
                                channel: label.to_string(),
                                stream: None,
                                msg,
                                unordered: false,
                            },
                        );
                    }
                    None => callback(&mut log, "message"),
                }
            }
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
                        stream: None,
                        msg,
                        unordered: false,
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
        let mut log = self.channel.record.log();
        let msg = log.rec.next_msg_id();
        ids.insert(id, msg);
        (msg, false)
    }

    /// The message has an end (sent or dropped): the run no longer holds it.
    fn ended(&self, msg: MsgId) {
        let mut log = self.channel.record.log();
        log.held.remove(&msg);
    }

    fn record(&self, kind: EventKind) {
        let t = self.channel.record.now_ms();
        let mut log = self.channel.record.log();
        log.record(t, self.channel.peer, kind);
    }

    fn state(&self) -> String {
        let log = self.channel.record.log();
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
            let mut log = self.channel.record.log();
            log.held
                .insert(msg, (self.channel.peer, self.channel.label.clone()));
        }
        self.record(EventKind::Send {
            channel: self.channel.label.clone(),
            stream: None,
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
                stream: None,
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
