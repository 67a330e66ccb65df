//! Invariants evaluated on every event of every driver.
//!
//! A [`Monitor`] watches a trace as it is written and returns the violations each event
//! causes, so the simulator, the checker and the fuzzer all judge runs the same way.
//! Names and meanings: docs/invariants.md.

use crate::model::legal::Legality;
use crate::model::{
    derive_peer_connection_state, DtlsTransportState, IceConnectionState, PeerConnectionState,
    Profile,
};
use crate::trace::{EventKind, Machine, MsgId, PeerId, SendOutcome, TraceEvent, Via};
use crate::vocab::{Millis, StackEvent};
use std::collections::{BTreeMap, BTreeSet};

/// The invariants, by name.
pub mod names {
    /// No application send (raw) or guard release reaches a channel that is not open.
    pub const NO_SEND_ON_NON_OPEN: &str = "no-send-on-non-open";
    /// Every state change is a legal edge of its machine (per profile).
    pub const LEGAL_TRANSITION: &str = "legal-transition";
    /// Nothing leaves `closed`.
    pub const CLOSED_IS_TERMINAL: &str = "closed-is-terminal";
    /// The peer-connection state equals the function of ICE and DTLS states.
    pub const DERIVED_PEER_STATE: &str = "derived-peer-state";
    /// Every message offered to the guard ends in exactly one reported fate.
    pub const NO_SILENT_LOSS: &str = "no-silent-loss";
    /// Messages are delivered in the order they were handed to the transport.
    pub const FIFO_DELIVERY: &str = "fifo-delivery";
    /// The guard's queue stays within its bounds.
    pub const BOUNDED_QUEUE: &str = "bounded-queue";
    /// Same scenario and seed give a byte-identical trace.
    pub const DETERMINISTIC_REPLAY: &str = "deterministic-replay";
    /// Every name.
    pub const ALL: [&str; 8] = [
        NO_SEND_ON_NON_OPEN,
        LEGAL_TRANSITION,
        CLOSED_IS_TERMINAL,
        DERIVED_PEER_STATE,
        NO_SILENT_LOSS,
        FIFO_DELIVERY,
        BOUNDED_QUEUE,
        DETERMINISTIC_REPLAY,
    ];
}

/// What the monitor needs to know about the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MonitorConfig {
    /// The profile the stack behaves by: which state changes are legal
    /// ([`crate::model::legal`]; `closing` only where it is observable, aiortc's
    /// `completed`, webrtc-rs's SCTP handshake through `closed`, ...).
    pub profile: Profile,
    /// The guard's message bound, if a guard is in use.
    pub guard_max_messages: Option<usize>,
    /// Check derived-peer-state (only for stacks that report ICE and DTLS states).
    pub check_derived_state: bool,
}

impl Default for MonitorConfig {
    /// The webrtc-rs profile, no guard, derived state checked.
    fn default() -> Self {
        MonitorConfig {
            profile: Profile::WEBRTC_RS,
            guard_max_messages: None,
            check_derived_state: true,
        }
    }
}

/// The fate of a guarded message so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fate {
    Queued,
    Resolved,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct PeerView {
    states: BTreeMap<(Machine, Option<String>), String>,
    ice: Option<IceConnectionState>,
    dtls: Option<DtlsTransportState>,
    pc: Option<PeerConnectionState>,
    closed: bool,
    /// Time of an ICE/DTLS/PC change not yet judged against the derivation.
    derived_dirty: Option<u64>,
    /// (channel) -> guard queue length.
    queue_len: BTreeMap<String, usize>,
}

impl PeerView {
    /// Changes the guard queue length of `channel` (0 when first seen, and kept from
    /// then on), copying its label only the first time.
    fn update_queue_len(&mut self, channel: &str, change: impl FnOnce(&mut usize)) {
        match self.queue_len.get_mut(channel) {
            Some(len) => change(len),
            None => change(self.queue_len.entry(channel.to_string()).or_default()),
        }
    }
}

/// The messages of one (sender, channel) in the order they were handed to the transport,
/// and the first position of each, so that a delivery finds its place in O(log n)
/// instead of a scan (a scan per delivery made long runs quadratic).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct HandedOrder {
    ids: Vec<MsgId>,
    /// Derived from `ids` (so equal orders are equal monitors, as before).
    first: BTreeMap<MsgId, usize>,
}

impl HandedOrder {
    fn push(&mut self, msg: MsgId) {
        self.first.entry(msg).or_insert(self.ids.len());
        self.ids.push(msg);
    }

    /// Where `msg` was first handed over.
    fn position(&self, msg: MsgId) -> Option<usize> {
        self.first.get(&msg).copied()
    }
}

/// What a send is paired with its delivery by: the channel's label and its SCTP stream
/// id, the identity on the wire, when the stack reports it (the label alone only for
/// traces that carry no stream ids: real peers' recordings, old traces). Labels need not
/// be unique, and a stream id can be taken by a new channel after an old one closed, so
/// neither alone tells which channel a message really arrived on. (Negotiated channels
/// are paired when both sides give them the same label, as scenario files do.)
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ChannelKey {
    label: String,
    stream: Option<u16>,
}

impl ChannelKey {
    fn of(channel: &str, stream: Option<u16>) -> ChannelKey {
        ChannelKey {
            label: channel.to_string(),
            stream,
        }
    }
}

/// Where a message was handed over, as a violation's detail says it.
fn shown(channel: &str, stream: Option<u16>) -> String {
    match stream {
        Some(id) => format!("{channel} (stream {id})"),
        None => channel.to_string(),
    }
}

/// An event as the monitor reads it, borrowed from a [`TraceEvent`] or straight from a
/// stack's [`StackEvent`] (what [`crate::record::stack_event`] would make of it), so that
/// a driver can have a stack event judged without building its trace event first.
enum Seen<'a> {
    State {
        machine: Machine,
        channel: Option<&'a str>,
        from: &'a str,
        to: &'a str,
    },
    Send {
        channel: &'a str,
        stream: Option<u16>,
        msg: MsgId,
        via: Via,
        state: &'a str,
        outcome: SendOutcome,
        flushed: bool,
    },
    Drop {
        channel: &'a str,
        msg: MsgId,
    },
    Deliver {
        channel: &'a str,
        stream: Option<u16>,
        msg: MsgId,
        unordered: bool,
    },
    /// Anything no invariant reads (callbacks, app calls, faults, ...).
    Other,
}

impl<'a> Seen<'a> {
    fn of(kind: &'a EventKind) -> Self {
        match kind {
            EventKind::State {
                machine,
                channel,
                from,
                to,
            } => Seen::State {
                machine: *machine,
                channel: channel.as_deref(),
                from,
                to,
            },
            EventKind::Send {
                channel,
                stream,
                msg,
                via,
                state,
                outcome,
                flushed,
                ..
            } => Seen::Send {
                channel,
                stream: *stream,
                msg: *msg,
                via: *via,
                state,
                outcome: *outcome,
                flushed: *flushed,
            },
            EventKind::Drop { channel, msg, .. } => Seen::Drop { channel, msg: *msg },
            EventKind::Deliver {
                channel,
                stream,
                msg,
                unordered,
            } => Seen::Deliver {
                channel,
                stream: *stream,
                msg: *msg,
                unordered: *unordered,
            },
            _ => Seen::Other,
        }
    }

    /// The event `record::stack_event` writes for `event`, as the monitor reads it.
    fn of_stack(event: &'a StackEvent) -> Self {
        match event {
            StackEvent::State(change) => {
                let (from, to) = change.strings();
                Seen::State {
                    machine: change.machine(),
                    channel: change.channel(),
                    from,
                    to,
                }
            }
            StackEvent::Callback { .. } => Seen::Other,
            StackEvent::Message {
                channel,
                msg,
                stream,
                unordered,
            } => Seen::Deliver {
                channel,
                stream: *stream,
                msg: *msg,
                unordered: *unordered,
            },
        }
    }
}

/// Watches events and reports invariant violations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Monitor {
    /// The profile's legal edges (what the monitor reads of [`MonitorConfig::profile`]:
    /// small to copy and hash, as the checker does with every state).
    legal: Legality,
    guard_max_messages: Option<usize>,
    check_derived_state: bool,
    peers: [PeerView; 2],
    guarded: BTreeMap<MsgId, (Fate, u32)>,
    /// (sender, channel) -> message ids in the order they were handed to the transport.
    handed: BTreeMap<(PeerId, ChannelKey), HandedOrder>,
    /// (sender, channel) -> index in `handed` of the last delivered message.
    last_delivered: BTreeMap<(PeerId, ChannelKey), usize>,
    delivered: BTreeSet<MsgId>,
}

impl Monitor {
    /// A monitor for one run.
    pub fn new(config: MonitorConfig) -> Self {
        Monitor {
            legal: Legality::of(&config.profile),
            guard_max_messages: config.guard_max_messages,
            check_derived_state: config.check_derived_state,
            peers: Default::default(),
            guarded: BTreeMap::new(),
            handed: BTreeMap::new(),
            last_delivered: BTreeMap::new(),
            delivered: BTreeSet::new(),
        }
    }

    /// The label and stream `sender` handed `msg` over on, if it did (a scan: only a
    /// violation's detail needs it).
    fn handed_on(&self, sender: PeerId, msg: MsgId) -> Option<(String, Option<u16>)> {
        self.handed.iter().find_map(|((p, key), order)| {
            (*p == sender && order.position(msg).is_some()).then(|| (key.label.clone(), key.stream))
        })
    }

    /// Observes one event; returns the violations it causes (as trace events).
    pub fn observe(&mut self, event: &TraceEvent) -> Vec<TraceEvent> {
        match event.peer {
            Some(peer) => self.judge(event.t_ms, peer, Seen::of(&event.kind)),
            None => Vec::new(),
        }
    }

    /// [`Monitor::observe`] of the event [`crate::record::stack_event`] writes for what
    /// `peer`'s stack reported at `t_ms`, without building that event: a driver that
    /// keeps the stack's events (the fuzz harness) pays for no strings while nothing is
    /// wrong.
    pub fn observe_stack(
        &mut self,
        t_ms: Millis,
        peer: PeerId,
        event: &StackEvent,
    ) -> Vec<TraceEvent> {
        self.judge(t_ms, peer, Seen::of_stack(event))
    }

    /// Judges one event of `peer` at `t`.
    fn judge(&mut self, t: Millis, peer: PeerId, event: Seen<'_>) -> Vec<TraceEvent> {
        let mut out = Vec::new();
        let mut violation = |name: &str, detail: String| {
            out.push(TraceEvent::global(
                t,
                EventKind::Violation {
                    invariant: name.to_string(),
                    detail,
                },
            ))
        };
        // Derived state is judged once the instant of an ICE/DTLS/PC change is over:
        // within one instant the stack reports the cause before the derived change.
        for p in PeerId::BOTH {
            if let Some(detail) = self.take_derived_mismatch(p, Some(t)) {
                violation(names::DERIVED_PEER_STATE, detail);
            }
        }
        match event {
            Seen::State {
                machine,
                channel,
                from,
                to,
            } => {
                let view = &mut self.peers[peer.index()];
                let key = (machine, channel.map(str::to_string));
                let prev = view.states.get_mut(&key);
                if let Some(prev) = &prev {
                    if prev.as_str() != from {
                        violation(
                            names::LEGAL_TRANSITION,
                            format!(
                                "{peer}: {} reported {from} -> {to} but was {prev}",
                                label(machine, channel)
                            ),
                        );
                    }
                }
                let legal = self.legal.allows_in(machine, from, to);
                if !legal && from == "closed" {
                    violation(
                        names::CLOSED_IS_TERMINAL,
                        format!("{peer}: {} left closed for {to}", label(machine, channel)),
                    );
                } else if !legal {
                    violation(
                        names::LEGAL_TRANSITION,
                        format!(
                            "{peer}: {} {from} -> {to} is not a legal transition",
                            label(machine, channel)
                        ),
                    );
                }
                // Overwritten in place: a state change allocates nothing once its
                // machine was seen.
                match prev {
                    Some(prev) => {
                        prev.clear();
                        prev.push_str(to);
                    }
                    None => {
                        view.states.insert(key, to.to_string());
                    }
                }
                match machine {
                    Machine::IceConnection => {
                        view.ice = IceConnectionState::parse(to);
                        view.derived_dirty = Some(t);
                    }
                    Machine::Dtls => {
                        view.dtls = DtlsTransportState::parse(to);
                        view.derived_dirty = Some(t);
                    }
                    Machine::PeerConnection => {
                        view.pc = PeerConnectionState::parse(to);
                        if to == "closed" {
                            view.closed = true;
                        }
                        view.derived_dirty = Some(t);
                    }
                    _ => {}
                }
            }
            Seen::Send {
                channel,
                stream,
                msg,
                via,
                state,
                outcome,
                flushed,
            } => {
                // A raw call reaches the channel whatever it returns; a guarded message
                // reaches it when the guard releases it (sent, or refused by the stack).
                let reaches_transport = match via {
                    Via::Raw => true,
                    Via::Guarded => matches!(outcome, SendOutcome::Sent | SendOutcome::Error),
                };
                // Judged on what the stack can carry: a channel that reads `open` on a
                // closed peer connection carries nothing (webrtc-rs leaves it reading
                // `open` after the local pc.close(), see docs/invariants.md).
                let pc_closed = self.peers[peer.index()].closed;
                if reaches_transport && (state != "open" || pc_closed) {
                    let what = match (via, flushed) {
                        (Via::Raw, _) => "send called",
                        (Via::Guarded, true) => "guard flushed",
                        (Via::Guarded, false) => "guard released",
                    };
                    let why = if state == "open" { " (pc closed)" } else { "" };
                    violation(
                        names::NO_SEND_ON_NON_OPEN,
                        format!("{peer}: {what} on {channel} #{msg} while {state}{why}"),
                    );
                }
                if outcome == SendOutcome::Sent && state != "unknown" {
                    self.handed
                        .entry((peer, ChannelKey::of(channel, stream)))
                        .or_default()
                        .push(msg);
                }
                if via == Via::Guarded {
                    self.guarded_send(peer, channel, msg, outcome, flushed, &mut violation);
                }
            }
            Seen::Drop { channel, msg } => {
                if let Some((fate, _)) = self.guarded.get(&msg).copied() {
                    if fate == Fate::Queued {
                        self.peers[peer.index()]
                            .update_queue_len(channel, |len| *len = len.saturating_sub(1));
                    }
                    self.resolve(msg, &mut violation);
                }
            }
            Seen::Deliver {
                channel,
                stream,
                msg,
                unordered,
            } => {
                let sender = peer.other();
                let mut key = (sender, ChannelKey::of(channel, stream));
                let mut position = self.handed.get(&key).and_then(|h| h.position(msg));
                if position.is_none() && stream.is_some() {
                    // Handed over before the sender's channel had a stream id: only the
                    // label can pair it.
                    let unnumbered = (sender, ChannelKey::of(channel, None));
                    position = self.handed.get(&unnumbered).and_then(|h| h.position(msg));
                    if position.is_some() {
                        key = unnumbered;
                    }
                }
                match position {
                    Some(pos) => {
                        if let Some(&last) = self.last_delivered.get(&key) {
                            if pos < last && !unordered {
                                violation(
                                    names::FIFO_DELIVERY,
                                    format!("{peer}: #{msg} on {channel} delivered after a message sent later"),
                                );
                            }
                        }
                        self.last_delivered.insert(key, pos);
                    }
                    None => match self.handed_on(sender, msg) {
                        Some((label, sent_stream)) => violation(
                            names::NO_SILENT_LOSS,
                            format!(
                                "{peer}: #{msg} handed to the transport on {} but delivered on {}",
                                shown(&label, sent_stream),
                                shown(channel, stream)
                            ),
                        ),
                        None => violation(
                            names::NO_SILENT_LOSS,
                            format!("{peer}: #{msg} delivered on {channel} but never handed to the transport"),
                        ),
                    },
                }
                if !self.delivered.insert(msg) {
                    violation(
                        names::FIFO_DELIVERY,
                        format!("{peer}: #{msg} on {channel} delivered twice"),
                    );
                }
            }
            Seen::Other => {}
        }
        out
    }

    /// Tracks a guarded message's fate and the guard's queue length: queued and refused
    /// (error) messages wait in the queue; sent and rejected ones have their fate.
    fn guarded_send(
        &mut self,
        peer: PeerId,
        channel: &str,
        msg: MsgId,
        outcome: SendOutcome,
        flushed: bool,
        violation: &mut impl FnMut(&str, String),
    ) {
        self.peers[peer.index()].update_queue_len(channel, |len| match (flushed, outcome) {
            (true, SendOutcome::Sent) => *len = len.saturating_sub(1),
            (false, SendOutcome::Queued | SendOutcome::Error) => *len += 1,
            _ => {}
        });
        match (flushed, outcome) {
            (true, SendOutcome::Sent) => self.resolve(msg, violation),
            (true, _) => {} // refused by the stack: back in the queue
            (false, SendOutcome::Queued | SendOutcome::Error) => {
                self.guarded.entry(msg).or_insert((Fate::Queued, 0)).0 = Fate::Queued;
            }
            (false, _) => self.resolve(msg, violation),
        }
        if let Some(max) = self.guard_max_messages {
            let len = self.peers[peer.index()]
                .queue_len
                .get(channel)
                .copied()
                .unwrap_or(0);
            if len > max {
                violation(
                    names::BOUNDED_QUEUE,
                    format!("{peer}: guard queue on {channel} holds {len} > {max}"),
                );
            }
        }
    }

    fn resolve(&mut self, msg: MsgId, violation: &mut impl FnMut(&str, String)) {
        let entry = self.guarded.entry(msg).or_insert((Fate::Queued, 0));
        entry.0 = Fate::Resolved;
        entry.1 += 1;
        if entry.1 > 1 {
            violation(
                names::NO_SILENT_LOSS,
                format!("guarded #{msg} was given {} fates", entry.1),
            );
        }
    }

    /// The mismatch of a change made before `now` (`None`: at the end of the run).
    fn take_derived_mismatch(&mut self, peer: PeerId, now: Option<u64>) -> Option<String> {
        if !self.check_derived_state {
            return None;
        }
        let view = &mut self.peers[peer.index()];
        match (view.derived_dirty, now) {
            (None, _) => return None,
            (Some(at), Some(now)) if at >= now => return None,
            _ => view.derived_dirty = None,
        }
        let ice = view.ice.unwrap_or(IceConnectionState::New);
        let dtls = view.dtls.unwrap_or(DtlsTransportState::New);
        let pc = view.pc.unwrap_or(PeerConnectionState::New);
        let expected = derive_peer_connection_state(view.closed, ice, dtls);
        (expected != pc).then(|| {
            format!("{peer}: peer connection {pc} but ICE {ice} and DTLS {dtls} give {expected}")
        })
    }

    /// Ends one step of a driver that steps atomically (the exhaustive checker): judges
    /// the derived peer-connection state of the ICE/DTLS/PC burst the step produced now,
    /// instead of at the next event, so that a violation is charged to the step that
    /// caused it and a state carries no pending judgement (equal states hash equal).
    pub fn end_step(&mut self, t_ms: u64) -> Vec<TraceEvent> {
        PeerId::BOTH
            .into_iter()
            .filter_map(|p| self.take_derived_mismatch(p, None))
            .map(|detail| violation_event(t_ms, names::DERIVED_PEER_STATE, detail))
            .collect()
    }

    /// Ends the run: judges what is still pending (derived state, guarded messages with
    /// no fate). `t_ms` is the end time.
    pub fn finish(&mut self, t_ms: u64) -> Vec<TraceEvent> {
        let mut out = Vec::new();
        for p in PeerId::BOTH {
            if let Some(detail) = self.take_derived_mismatch(p, None) {
                out.push(violation_event(t_ms, names::DERIVED_PEER_STATE, detail));
            }
        }
        for (msg, (fate, _)) in &self.guarded {
            if *fate == Fate::Queued {
                out.push(violation_event(
                    t_ms,
                    names::NO_SILENT_LOSS,
                    format!("guarded #{msg} was queued and never sent nor reported dropped"),
                ));
            }
        }
        out
    }
}

fn violation_event(t_ms: u64, name: &str, detail: String) -> TraceEvent {
    TraceEvent::global(
        t_ms,
        EventKind::Violation {
            invariant: name.to_string(),
            detail,
        },
    )
}

fn label(machine: Machine, channel: Option<&str>) -> String {
    match channel {
        Some(c) => format!("{machine}[{c}]"),
        None => machine.to_string(),
    }
}
