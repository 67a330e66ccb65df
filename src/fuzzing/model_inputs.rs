//! `model_inputs`: arbitrary sequences of inputs to two model peers, judged by the
//! [`Monitor`] after every step, exactly as the simulator judges a run.
//!
//! The network is a multiset: every datagram a peer transmits waits in flight until an
//! operation delivers it (any one, in any order), drops it or duplicates it. Timers fire
//! either in time order as the clock advances ([`ModelOp::Advance`]) or one at a time in
//! any order without moving the clock ([`ModelOp::FireTimer`], the exhaustive checker's
//! move).
//!
//! # Raw and guarded sends (the decision)
//!
//! A raw send on a channel that is not open *is* a `no-send-on-non-open` violation by
//! design: it is what dcsim exists to report. So each [`ModelOp::Send`] says whether it
//! is raw or guarded, and the check is:
//!
//! - a guarded send goes through one [`Guard`] per channel, fed the peer's channel, ICE
//!   and peer-connection states the way `sim`'s guarded app feeds them, and every
//!   invariant applies to it;
//! - a raw send is excused from `no-send-on-non-open` only, for the event of that send
//!   only: every other invariant (legal transitions, closed is terminal, derived peer
//!   state, no silent loss, FIFO delivery, bounded queue) still applies to everything the
//!   raw send causes.
//!
//! Raw sends stay in because they reach model paths guarded sends never do (sends on
//! connecting, closed and unknown channels, after `close()`, oversized).
//!
//! Besides the monitor, after every step: every guard conserves its messages and stays
//! within its bounds, and the last state each peer reported for each machine is the state
//! its getters return (no silent state change).

use super::read::read_input;
use super::{tail_jsonl, Options, MAX_OPS};
use crate::check::{names, Monitor, MonitorConfig};
use crate::guard::GuardConfig;
use crate::model::Peer;
use crate::model::{DataChannelState, Input, Packet, PeerConfig, Profile, ProfileName};
use crate::record;
use crate::sim::{Guards, Log};
use crate::stack::{self, AppCall, Reliability, StackEvent, StackOutput};
use crate::trace::{EventKind, Machine, Millis, MsgId, PeerId, TraceEvent, Via};
use arbitrary::Arbitrary;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Most datagrams in flight; a peer's further datagrams are lost (the network is full).
pub const MAX_IN_FLIGHT: usize = 64;

/// Most deliveries of one [`ModelOp::Settle`].
pub const MAX_ROUNDS: usize = 256;

/// Most deadlines one [`ModelOp::Advance`] stops at; after that the clock jumps to the
/// end and every timer still due fires late, at once, in deadline order (a host that was
/// not scheduled for a while). Keeps a long advance while ICE checks every 200 ms cheap.
pub const MAX_TIMER_ROUNDS: usize = 32;

/// One fuzz input: the profile, the guard policy and the operations.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct ModelInput {
    /// The W3C profile instead of webrtc-rs.
    pub w3c: bool,
    /// How the guards behave.
    pub guard: GuardPolicy,
    /// The operations, in order (at most [`MAX_OPS`] are played).
    pub ops: Vec<ModelOp>,
}

/// The guard policy of guarded sends.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardPolicy {
    /// [`GuardConfig::queue_while_connecting`].
    pub queue_while_connecting: bool,
    /// [`GuardConfig::hold_while_disconnected`].
    pub hold_while_disconnected: bool,
    /// A queue of 3 messages instead of 1024 (reaches `queue-full`).
    pub small_queue: bool,
}

impl GuardPolicy {
    /// The guard configuration.
    pub fn config(&self, options: &Options) -> GuardConfig {
        GuardConfig {
            queue_while_connecting: self.queue_while_connecting,
            hold_while_disconnected: self.hold_while_disconnected,
            max_queue_messages: if self.small_queue { 3 } else { 1024 },
            unsafe_skip_state_check: options.plant_skip_state_check,
            ..GuardConfig::default()
        }
    }
}

/// Which peer.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The offerer.
    A,
    /// The answerer.
    B,
}

impl Side {
    fn id(self) -> PeerId {
        match self {
            Side::A => PeerId::A,
            Side::B => PeerId::B,
        }
    }
}

/// Channel labels: three are enough for every interaction between channels.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// `c0`.
    C0,
    /// `c1`.
    C1,
    /// `c2`.
    C2,
}

impl Label {
    /// The stream id of the label's negotiated channel: one id per label, above every
    /// id an in-band channel of this harness gets. The monitor matches a channel across
    /// the two peers by its label, so the harness keeps "same label, same stream": two
    /// negotiated channels that share an id under different labels (legal in WebRTC,
    /// a pairing by id) would read as messages delivered on a channel nobody sent on.
    pub fn negotiated_id(self) -> u16 {
        100 + self as u16
    }

    fn as_str(self) -> &'static str {
        match self {
            Label::C0 => "c0",
            Label::C1 => "c1",
            Label::C2 => "c2",
        }
    }
}

/// Every label's text.
const LABELS: [&str; 3] = ["c0", "c1", "c2"];

/// One thing that happens to the two peers.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelOp {
    /// Offer/answer: `a`'s offer applied on `b`, `b`'s answer on `a` (stops at the first
    /// call that fails).
    Negotiate,
    /// `createDataChannel`, in-band or negotiated (with the label's fixed id, see
    /// [`Label::negotiated_id`]).
    CreateChannel {
        /// On which peer.
        peer: Side,
        /// Label.
        label: Label,
        /// Negotiated out of band instead of announced by DCEP.
        negotiated: bool,
        /// Ordered delivery.
        ordered: bool,
    },
    /// A send of `size` bytes (70 000 with `oversize`), raw or through the guard.
    Send {
        /// On which peer.
        peer: Side,
        /// Channel label.
        label: Label,
        /// Through the channel's guard.
        guarded: bool,
        /// Payload size.
        size: u16,
        /// Above the maximum message size.
        oversize: bool,
    },
    /// `channel.close()`.
    CloseChannel {
        /// On which peer.
        peer: Side,
        /// Channel label.
        label: Label,
    },
    /// `pc.close()`.
    ClosePeer {
        /// Which peer.
        peer: Side,
    },
    /// `restartIce()` (a new offer/answer is a separate [`ModelOp::Negotiate`]).
    IceRestart {
        /// Which peer.
        peer: Side,
    },
    /// Delivers the in-flight datagram at `index % len`.
    Deliver {
        /// Which datagram.
        index: u8,
    },
    /// Loses the in-flight datagram at `index % len`.
    Drop {
        /// Which datagram.
        index: u8,
    },
    /// Duplicates the in-flight datagram at `index % len`.
    Duplicate {
        /// Which datagram.
        index: u8,
    },
    /// Delivers every datagram in flight, oldest first, and what they cause, until the
    /// network is quiet (at most [`MAX_ROUNDS`] deliveries).
    Settle,
    /// Fires the armed timer at `index % len` of a peer without moving the clock.
    FireTimer {
        /// Which peer.
        peer: Side,
        /// Which timer (in timer order).
        index: u8,
    },
    /// The clock moves forward `ms` milliseconds; timers (peers' and guards') fire in
    /// deadline order as it passes them (at most [`MAX_TIMER_ROUNDS`] stops, then late).
    Advance {
        /// Milliseconds.
        ms: u16,
    },
}

/// Decodes fuzz bytes into a [`ModelInput`] and checks it.
pub fn check_model_inputs(data: &[u8]) -> Result<(), String> {
    check_model_inputs_with(data, &Options::default())
}

/// [`check_model_inputs`] with harness options (the planted bug).
///
/// Reads the bytes as [`decode`](super::decode) does (see `read.rs`), into a buffer
/// kept from one call to the next, and names nothing the run reached: an execution of
/// the fuzzer allocates nothing for its input and only the verdict is wanted.
pub fn check_model_inputs_with(data: &[u8], options: &Options) -> Result<(), String> {
    thread_local! {
        static OPS: RefCell<Vec<ModelOp>> = const { RefCell::new(Vec::new()) };
    }
    OPS.with(|buffer| {
        let mut ops = buffer.take();
        let (w3c, guard): (bool, GuardPolicy) = read_input(data, &mut ops, MAX_OPS);
        let verdict = play(w3c, guard, &ops, options, false).map(|_| ());
        buffer.replace(ops);
        verdict
    })
}

/// Plays a [`ModelInput`], checking after every step. On success returns every
/// `machine:state` (and `send:outcome`, `drop:reason`) the run reached, for picking
/// seed corpus files.
pub fn run_model_inputs(input: &ModelInput, options: &Options) -> Result<BTreeSet<String>, String> {
    play(input.w3c, input.guard, &input.ops, options, true)
}

/// Plays the first [`MAX_OPS`] operations on peers of the W3C profile (`w3c`) or
/// webrtc-rs's; with `track`, names what the run reached.
fn play(
    w3c: bool,
    guard: GuardPolicy,
    ops: &[ModelOp],
    options: &Options,
    track: bool,
) -> Result<BTreeSet<String>, String> {
    let mut world = World::new(w3c, guard.config(options));
    world.reached = track.then(BTreeSet::new);
    let ops = &ops[..ops.len().min(MAX_OPS)];
    for (i, op) in ops.iter().enumerate() {
        world.step(*op);
        if let Err(e) = world.check() {
            return Err(world.report(&e, i, ops));
        }
    }
    world.finish();
    if let Err(e) = world.check() {
        return Err(world.report(&e, ops.len(), ops));
    }
    Ok(world.reached.unwrap_or_default())
}

/// Two model peers, their guarded apps, the network and the judge.
struct World {
    peers: [Peer; 2],
    /// Per peer: the guarded app's guards, one per label (the simulator's guard glue).
    guards: [Guards; 2],
    net: Vec<(PeerId, Packet)>,
    now: Millis,
    next_msg: MsgId,
    monitor: Monitor,
    /// The last [`TRACE_TAIL`] events, for reports (written out only for one).
    events: VecDeque<Logged>,
    /// Violations not excused, with the event that caused them.
    failures: Vec<String>,
    /// Per peer: the last reported state of each machine but data channels (by
    /// `Machine as usize`; `None` until the first report).
    reported: [[Option<&'static str>; Machine::ALL.len()]; 2],
    /// Per peer: the last reported state of each data channel.
    reported_channels: [BTreeMap<String, &'static str>; 2],
    /// What the run reached, when asked (`machine:state`, `send:via:outcome`, ...).
    reached: Option<BTreeSet<String>>,
}

/// How many of the last events a report shows.
const TRACE_TAIL: usize = 25;

impl World {
    fn new(w3c: bool, guard_config: GuardConfig) -> Self {
        let profile = Profile::of(if w3c {
            ProfileName::W3c
        } else {
            ProfileName::WebrtcRs
        });
        let config = PeerConfig::default();
        World {
            peers: [
                Peer::new(PeerId::A, profile, config),
                Peer::new(PeerId::B, profile, config),
            ],
            guards: PeerId::BOTH.map(|p| Guards::configured(p, guard_config, LABELS)),
            net: Vec::new(),
            now: 0,
            next_msg: 0,
            monitor: Monitor::new(MonitorConfig {
                profile,
                guard_max_messages: Some(guard_config.max_queue_messages),
                check_derived_state: true,
            }),
            events: VecDeque::with_capacity(TRACE_TAIL),
            failures: Vec::new(),
            reported: Default::default(),
            reported_channels: Default::default(),
            reached: None,
        }
    }

    // ---- operations ----------------------------------------------------------------

    fn step(&mut self, op: ModelOp) {
        let now = self.now;
        match op {
            ModelOp::Negotiate => {
                let _ = self.negotiate();
                self.pump(PeerId::A);
                self.pump(PeerId::B);
            }
            ModelOp::CreateChannel {
                peer,
                label,
                negotiated,
                ordered,
            } => {
                let call = AppCall::CreateChannel {
                    label: label.as_str().to_string(),
                    negotiated: negotiated.then(|| label.negotiated_id()),
                    ordered,
                    reliability: Reliability::Reliable,
                };
                self.app(peer.id(), call);
            }
            ModelOp::Send {
                peer,
                label,
                guarded,
                size,
                oversize,
            } => {
                let size = if oversize { 70_000 } else { usize::from(size) };
                let msg = self.next_msg;
                self.next_msg += 1;
                if guarded {
                    self.guarded_send(peer.id(), label.as_str(), msg, size);
                } else {
                    self.raw_send(peer.id(), label.as_str(), msg, size);
                }
            }
            ModelOp::CloseChannel { peer, label } => {
                let call = AppCall::CloseChannel {
                    channel: label.as_str().to_string(),
                };
                self.app(peer.id(), call);
            }
            ModelOp::ClosePeer { peer } => self.app(peer.id(), AppCall::ClosePeer),
            ModelOp::IceRestart { peer } => self.app(peer.id(), AppCall::IceRestart),
            ModelOp::Deliver { index } => {
                if !self.net.is_empty() {
                    let i = usize::from(index) % self.net.len();
                    let (to, packet) = self.net.remove(i);
                    self.deliver(to, packet);
                }
            }
            ModelOp::Drop { index } => {
                if !self.net.is_empty() {
                    let i = usize::from(index) % self.net.len();
                    self.net.remove(i);
                }
            }
            ModelOp::Duplicate { index } => {
                if !self.net.is_empty() && self.net.len() < MAX_IN_FLIGHT {
                    let i = usize::from(index) % self.net.len();
                    let copy = self.net[i].clone();
                    self.net.push(copy);
                }
            }
            ModelOp::Settle => {
                for _ in 0..MAX_ROUNDS {
                    if self.net.is_empty() {
                        break;
                    }
                    let (to, packet) = self.net.remove(0);
                    self.deliver(to, packet);
                }
            }
            ModelOp::FireTimer { peer, index } => {
                let p = peer.id();
                let armed = self.peers[p.index()].armed_timers().count();
                let pick = (armed != 0).then(|| usize::from(index) % armed);
                let timer = pick.and_then(|i| self.peers[p.index()].armed_timers().nth(i));
                if let Some((timer, _)) = timer {
                    self.peers[p.index()].fire_timer(timer);
                    self.pump(p);
                }
            }
            ModelOp::Advance { ms } => self.advance(now + Millis::from(ms)),
        }
    }

    fn negotiate(&mut self) -> Result<(), String> {
        let now = self.now;
        let offer = self.peers[0].create_description(now)?;
        self.peers[1].apply_remote_description(now, &offer)?;
        let answer = self.peers[1].create_description(now)?;
        self.peers[0].apply_remote_description(now, &answer)
    }

    fn app(&mut self, peer: PeerId, call: AppCall) {
        let _ = self.peers[peer.index()].handle_input(self.now, Input::App(call));
        self.pump(peer);
    }

    fn raw_send(&mut self, peer: PeerId, label: &str, msg: MsgId, size: usize) {
        let p = &mut self.peers[peer.index()];
        let state = p.channel_state(label);
        let stream = p.channel_stream(label);
        let call = AppCall::Send {
            channel: label.to_string(),
            msg,
            size,
        };
        let result = p.handle_input(self.now, Input::App(call));
        let event = record::raw_send(self.now, peer, label, msg, state, stream, &result);
        self.record(event);
        self.pump(peer);
    }

    fn deliver(&mut self, to: PeerId, packet: Packet) {
        let _ = self.peers[to.index()].handle_input(self.now, Input::Datagram(packet));
        self.pump(to);
    }

    /// Moves the clock to `until`, firing every peer and guard timer due on the way, in
    /// deadline order.
    fn advance(&mut self, until: Millis) {
        for _ in 0..MAX_TIMER_ROUNDS {
            let next = self
                .peers
                .iter()
                .filter_map(Peer::poll_timeout)
                .chain(self.guards.iter().filter_map(Guards::poll_timeout))
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.fire_due();
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        self.fire_due();
    }

    fn fire_due(&mut self) {
        let now = self.now;
        for peer in PeerId::BOTH {
            let _ = self.peers[peer.index()].handle_input(now, Input::Timeout);
            self.pump(peer);
            self.with_guards(peer, |guards, stack, log| {
                guards.handle_timeout(now, stack, log)
            });
        }
    }

    // ---- the guarded app -----------------------------------------------------------

    /// Runs `act` on `peer`'s guards and stack, then records what they wrote and drains
    /// the stack (a release makes output).
    fn with_guards(
        &mut self,
        peer: PeerId,
        act: impl FnOnce(&mut Guards, &mut Peer, &mut EventLog),
    ) {
        let mut log = EventLog::default();
        act(
            &mut self.guards[peer.index()],
            &mut self.peers[peer.index()],
            &mut log,
        );
        for event in log.0 {
            self.record(event);
        }
        self.pump(peer);
    }

    fn guarded_send(&mut self, peer: PeerId, label: &'static str, msg: MsgId, size: usize) {
        let now = self.now;
        self.with_guards(peer, |guards, stack, log| {
            guards.send(now, label, msg, size, stack, log)
        });
    }

    /// Drains a peer's outputs: datagrams into the network, events into the trace and to
    /// the guards (whose releases may make more outputs).
    fn pump(&mut self, peer: PeerId) {
        stack::drain(
            self,
            |w| w.peers[peer.index()].poll_output().map(StackOutput::from),
            |w, packet| {
                if w.net.len() < MAX_IN_FLIGHT {
                    w.net.push((peer.other(), packet));
                }
            },
            |w, event| {
                w.record_stack(peer, &event);
                let now = w.now;
                let mut log = EventLog::default();
                w.guards[peer.index()].handle_event(
                    now,
                    &event,
                    &mut w.peers[peer.index()],
                    &mut log,
                );
                w.keep(Logged::Stack(now, peer, event));
                for event in log.0 {
                    w.record(event);
                }
            },
        );
    }

    // ---- judging -------------------------------------------------------------------

    /// Judges an event the harness or a guard wrote, and keeps it for reports.
    fn record(&mut self, event: TraceEvent) {
        let violations = self.monitor.observe(&event);
        let raw_send = matches!(&event.kind, EventKind::Send { via: Via::Raw, .. });
        self.judge(violations, raw_send);
        // Only the stacks report states (`record_stack`); the harness and the guards
        // write sends and drops.
        debug_assert!(!matches!(event.kind, EventKind::State { .. }));
        if self.reached.is_some() {
            self.note_reached(&event);
        }
        self.keep(Logged::Trace(event));
    }

    /// Judges what `peer`'s stack reported, as [`World::record`] judges the event
    /// `record::stack_event` writes for it, without writing that event (the caller keeps
    /// the stack event, which is written out only for a report).
    fn record_stack(&mut self, peer: PeerId, event: &StackEvent) {
        let violations = self.monitor.observe_stack(self.now, peer, event);
        self.judge(violations, false);
        if let StackEvent::State(change) = event {
            let (_, to) = change.strings();
            match change.channel() {
                Some(label) => {
                    let told = &mut self.reported_channels[peer.index()];
                    match told.get_mut(label) {
                        Some(state) => *state = to,
                        None => {
                            told.insert(label.to_string(), to);
                        }
                    }
                }
                None => self.reported[peer.index()][change.machine() as usize] = Some(to),
            }
        }
        if self.reached.is_some() {
            self.note_reached(&record::stack_event(self.now, peer, event));
        }
    }

    /// Keeps the violations not excused (a raw send is excused from
    /// `no-send-on-non-open` only, see the module docs).
    fn judge(&mut self, violations: Vec<TraceEvent>, raw_send: bool) {
        for v in violations {
            let EventKind::Violation { invariant, detail } = &v.kind else {
                continue;
            };
            if raw_send && invariant == names::NO_SEND_ON_NON_OPEN {
                continue; // by design: see the module docs
            }
            self.failures.push(format!("{invariant}: {detail}"));
        }
    }

    /// Notes what `event` reached (`machine:state`, `send:via:outcome`, ...).
    fn note_reached(&mut self, event: &TraceEvent) {
        let Some(reached) = &mut self.reached else {
            return;
        };
        let what = match &event.kind {
            EventKind::State { machine, to, .. } => Some(format!("{machine}:{to}")),
            EventKind::Send { via, outcome, .. } => {
                Some(format!("send:{}:{}", via.as_str(), outcome.as_str()))
            }
            EventKind::Drop { reason, .. } => Some(format!("drop:{reason}")),
            EventKind::Deliver { .. } => Some("deliver".into()),
            _ => None,
        };
        reached.extend(what);
    }

    /// Keeps an event among the last [`TRACE_TAIL`].
    fn keep(&mut self, event: Logged) {
        if self.events.len() == TRACE_TAIL {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The run ends: what the guards still hold is reported (not silently forgotten),
    /// then the monitor's final judgement.
    fn finish(&mut self) {
        let now = self.now;
        let mut log = EventLog::default();
        for guards in &mut self.guards {
            guards.finish(now, &mut log);
        }
        for event in log.0 {
            self.record(event);
        }
        for v in self.monitor.finish(now) {
            if let EventKind::Violation { invariant, detail } = &v.kind {
                self.failures.push(format!("{invariant}: {detail}"));
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        if let Some(f) = self.failures.first() {
            return Err(f.clone());
        }
        for peer in PeerId::BOTH {
            for (label, guard) in self.guards[peer.index()].iter() {
                if !guard.conserved() {
                    return Err(format!("{peer}: guard of {label} lost count of a message"));
                }
                if guard.queued_len() > guard.config().max_queue_messages
                    || guard.queued_bytes() > guard.config().max_queue_bytes
                {
                    return Err(format!("{peer}: guard of {label} exceeds its bounds"));
                }
            }
            self.check_reported(peer)?;
        }
        Ok(())
    }

    /// Every state a peer's getters show was reported by an event.
    fn check_reported(&self, peer: PeerId) -> Result<(), String> {
        let p = &self.peers[peer.index()];
        let seen = &self.reported[peer.index()];
        let last = |machine: Machine, initial: &'static str| -> &str {
            seen[machine as usize].unwrap_or(initial)
        };
        let machines = [
            (Machine::Signaling, p.signaling_state().as_str(), "stable"),
            (Machine::IceConnection, p.ice_state().as_str(), "new"),
            (
                Machine::PeerConnection,
                p.peer_connection_state().as_str(),
                "new",
            ),
            (Machine::Dtls, p.dtls_state().as_str(), "new"),
            (
                Machine::Sctp,
                p.sctp_transport_state().as_str(),
                "connecting",
            ),
        ];
        for (machine, actual, initial) in machines {
            let told = last(machine, initial);
            if told != actual {
                return Err(format!(
                    "{peer}: {machine} is {actual} but the last report said {told}"
                ));
            }
        }
        for label in p.channel_labels() {
            let actual = record::state_name(p.channel_state(label));
            let told = self.reported_channels[peer.index()]
                .get(label)
                .map_or(DataChannelState::Connecting.as_str(), |s| *s);
            if told != actual {
                return Err(format!(
                    "{peer}: data_channel[{label}] is {actual} but the last report said {told}"
                ));
            }
        }
        Ok(())
    }

    fn report(&self, error: &str, at: usize, ops: &[ModelOp]) -> String {
        let shown = &ops[..(at + 1).min(ops.len())];
        format!(
            "model_inputs: {error}\n  after op #{at} of {}, t = {} ms, {} datagrams in flight\n  ops: {shown:?}\n  trace tail:\n{}",
            ops.len(),
            self.now,
            self.net.len(),
            tail_jsonl(self.events.iter().map(Logged::trace).collect::<Vec<_>>().iter())
        )
    }
}

/// An event kept for reports: a stack's, written out as `record::stack_event` writes it
/// only when a report needs it, or one the harness or a guard wrote.
enum Logged {
    Stack(Millis, PeerId, StackEvent),
    Trace(TraceEvent),
}

impl Logged {
    fn trace(&self) -> TraceEvent {
        match self {
            Logged::Stack(t, peer, event) => record::stack_event(*t, *peer, event),
            Logged::Trace(event) => event.clone(),
        }
    }
}

/// The events the guards write, recorded once they are done (message ids come from the
/// harness, which numbers every send itself).
#[derive(Default)]
struct EventLog(Vec<TraceEvent>);

impl Log for EventLog {
    fn record(&mut self, event: TraceEvent) {
        self.0.push(event);
    }

    fn next_msg_id(&mut self) -> MsgId {
        // Never asked: the harness passes its own ids to `Guards::send`.
        MsgId::MAX
    }
}
