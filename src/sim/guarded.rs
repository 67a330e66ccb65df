//! Guarded sends of the scenario script: one [`Guard`] per channel of the peer, fed with
//! the stack's channel, ICE and peer-connection states, its releases handed to the
//! stack and every fate written to the trace.

use super::recorder::Log;
use crate::drive::guarded as glue;
use crate::guard::{Guard, GuardConfig, SizedMsg};
use crate::model::{IceConnectionState, PeerConnectionState};
use crate::scenario::{GuardSpec, Scenario};
use crate::stack::{AppCall, AppResult, Reliability, Stack, StackEvent, StateChange};
use crate::trace::{EventKind, Millis, MsgId, PeerId, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};

/// How the application creates a channel: the scenario's `[[channel]]` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Creation {
    /// `Some(id)`: negotiated out of band with this stream id.
    pub negotiated: Option<u16>,
    /// Ordered delivery.
    pub ordered: bool,
    /// Reliable or partially reliable.
    pub reliability: Reliability,
}

impl Default for Creation {
    /// In-band, ordered, reliable: `createDataChannel(label)`.
    fn default() -> Self {
        Creation {
            negotiated: None,
            ordered: true,
            reliability: Reliability::Reliable,
        }
    }
}
/// The guard configuration a scenario asks for (its `[guard]` table over the defaults).
pub fn guard_config(spec: &GuardSpec) -> GuardConfig {
    let mut config = GuardConfig::default();
    if let Some(v) = spec.max_queue_messages {
        config.max_queue_messages = v;
    }
    if let Some(v) = spec.max_queue_bytes {
        config.max_queue_bytes = v;
    }
    if spec.ttl_ms.is_some() {
        config.ttl_ms = spec.ttl_ms;
    }
    if let Some(v) = spec.hold_while_disconnected {
        config.hold_while_disconnected = v;
    }
    if let Some(v) = spec.queue_while_connecting {
        config.queue_while_connecting = v;
    }
    config
}

/// The guards of one peer, one per channel label. Plain data (`Clone + Eq + Hash`), so
/// the exhaustive checker can keep it in its states.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Guards {
    peer: PeerId,
    config: GuardConfig,
    /// label -> (negotiated id, ordered)
    specs: BTreeMap<String, Creation>,
    guards: BTreeMap<String, Guard<SizedMsg>>,
    /// Labels of the guards that may have something to hand out or a timer armed: those
    /// that held messages after the last settle and those given an input of their own
    /// since. Every other guard has an empty queue and nothing pending (nothing a state
    /// change or the clock could drop or release), so settle, handle_timeout and
    /// poll_timeout pass it by: visiting every guard on every event made runs with many
    /// channels quadratic.
    busy: BTreeSet<String>,
    /// The peer's last reported ICE and peer-connection states, given to a guard created
    /// later (a first guarded send after ICE failed must not be released; found by
    /// reading the fuzz harness against this glue).
    ice: Option<IceConnectionState>,
    pc: Option<PeerConnectionState>,
    now: Millis,
}

impl Guards {
    /// Guards for the scenario's channels, configured by its `[guard]` table.
    pub fn new(peer: PeerId, scenario: &Scenario) -> Self {
        Self::with_config(peer, scenario, guard_config(&scenario.guard))
    }

    /// Guards with an explicit configuration (mutation tests plant bugs here).
    pub fn with_config(peer: PeerId, scenario: &Scenario, config: GuardConfig) -> Self {
        let specs = scenario.channels.iter().map(|c| {
            let id = if c.negotiated { c.id } else { None };
            let creation = Creation {
                negotiated: id,
                ordered: c.ordered,
                reliability: c.reliability,
            };
            (c.label.clone(), creation)
        });
        Self::with_specs(peer, config, specs.collect())
    }

    /// Guards of the default configuration for in-band, ordered channels (the checker's
    /// worlds, which have no scenario).
    pub fn for_channels<'a>(peer: PeerId, labels: impl IntoIterator<Item = &'a str>) -> Self {
        Self::configured(peer, GuardConfig::default(), labels)
    }

    /// Guards of `config` for in-band, ordered channels (the fuzz harnesses).
    pub fn configured<'a>(
        peer: PeerId,
        config: GuardConfig,
        labels: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let specs = labels
            .into_iter()
            .map(|l| (l.to_string(), Creation::default()));
        Self::with_specs(peer, config, specs.collect())
    }

    /// Every guard made so far, by label.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Guard<SizedMsg>)> {
        self.guards.iter().map(|(l, g)| (l.as_str(), g))
    }

    fn with_specs(peer: PeerId, config: GuardConfig, specs: BTreeMap<String, Creation>) -> Self {
        Guards {
            peer,
            config,
            specs,
            guards: BTreeMap::new(),
            busy: BTreeSet::new(),
            ice: None,
            pc: None,
            now: 0,
        }
    }

    /// The configuration every guard of this peer gets.
    pub fn config(&self) -> GuardConfig {
        self.config
    }

    /// Labels of the guards holding a message that may expire, in label order.
    pub fn expiring(&self) -> impl Iterator<Item = &str> {
        self.busy
            .iter()
            .filter(|l| self.guards.get(*l).and_then(Guard::poll_timeout).is_some())
            .map(String::as_str)
    }

    /// The earliest held message of the guard of `label` reaches its expiry: that guard's
    /// clock jumps to the deadline (the checker's untimed worlds), then every guard
    /// settles.
    pub fn expire(&mut self, label: &str, stack: &mut dyn Stack, rec: &mut dyn Log) {
        let now = self.now;
        if let Some(guard) = self.guards.get_mut(label) {
            if let Some(at) = guard.poll_timeout() {
                guard.handle_timeout(at);
            }
        }
        self.settle(now, stack, rec);
    }

    /// (negotiated id, ordered) of a channel.
    pub fn channel_spec(&self, label: &str) -> Creation {
        self.specs.get(label).copied().unwrap_or_default()
    }

    /// Runs `act` on the guard of `label` (made now if it is the first use) and marks it
    /// busy. The label is copied only when it is new to a set: this runs for every
    /// guarded send and channel state change.
    fn with_guard<R>(&mut self, label: &str, act: impl FnOnce(&mut Guard<SizedMsg>) -> R) -> R {
        if !self.busy.contains(label) {
            self.busy.insert(label.to_string());
        }
        let (config, ice, pc, now) = (self.config, self.ice, self.pc, self.now);
        match self.guards.get_mut(label) {
            Some(guard) => act(guard),
            None => act(self.guards.entry(label.to_string()).or_insert_with(|| {
                let mut guard = Guard::new(config);
                if let Some(ice) = ice {
                    guard.on_ice_state(now, ice);
                }
                if let Some(pc) = pc {
                    guard.on_peer_connection_state(now, pc);
                }
                guard
            })),
        }
    }

    /// The earliest guard timer (TTL expiry).
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.busy
            .iter()
            .filter_map(|label| self.guards.get(label))
            .filter_map(Guard::poll_timeout)
            .min()
    }

    /// Fires guard timers and hands out whatever they released or dropped.
    pub fn handle_timeout(&mut self, now: Millis, stack: &mut dyn Stack, rec: &mut dyn Log) {
        for label in &self.busy {
            if let Some(guard) = self.guards.get_mut(label) {
                guard.handle_timeout(now);
            }
        }
        self.settle(now, stack, rec);
    }

    /// A guarded send of message `msg` of `size` bytes.
    pub fn send(
        &mut self,
        now: Millis,
        channel: &str,
        msg: MsgId,
        size: usize,
        stack: &mut dyn Stack,
        rec: &mut dyn Log,
    ) {
        self.now = now;
        let seen = glue::Seen::of(stack, channel);
        let event = self.with_guard(channel, |guard| {
            glue::send(guard, now, seen, msg, size, |m| {
                transmit(now, stack, channel, m)
            })
        });
        rec.record(TraceEvent::on(now, self.peer, event));
        self.settle(now, stack, rec);
    }

    /// Feeds the stack's state changes to the guards.
    pub fn handle_event(
        &mut self,
        now: Millis,
        event: &StackEvent,
        stack: &mut dyn Stack,
        rec: &mut dyn Log,
    ) {
        match event {
            StackEvent::State(StateChange::DataChannel(label, _, to)) => {
                self.with_guard(label, |guard| guard.on_channel_state(now, *to));
            }
            StackEvent::State(StateChange::IceConnection(_, to)) => {
                self.ice = Some(*to);
                for guard in self.guards.values_mut() {
                    guard.on_ice_state(now, *to);
                }
            }
            StackEvent::State(StateChange::PeerConnection(_, to)) => {
                self.pc = Some(*to);
                for guard in self.guards.values_mut() {
                    guard.on_peer_connection_state(now, *to);
                }
            }
            _ => return,
        }
        self.settle(now, stack, rec);
    }

    /// Keeps each guard's view of readyState equal to the stack's (a stack may change it
    /// without an event), then drains every guard's releases and drops.
    ///
    /// Only a guard that holds messages is brought up to date here: for an empty queue
    /// the update changes nothing observable (no drop, no release; the state latches only
    /// towards closed, which the stack's state also keeps), and `send` brings the guard
    /// up to date before it takes a message. Reading every channel's state on every
    /// event made runs with many channels quadratic. Only busy guards are visited (see
    /// `busy`); a guard stays busy while it holds messages.
    fn settle(&mut self, now: Millis, stack: &mut dyn Stack, rec: &mut dyn Log) {
        let peer = self.peer;
        let guards = &mut self.guards;
        // In label order.
        self.busy.retain(|label| {
            let Some(guard) = guards.get_mut(label) else {
                return false;
            };
            if guard.queued_len() > 0 {
                glue::sync_state(guard, now, stack.channel_state(label));
            }
            while let Some(output) = guard.poll_output() {
                let seen = glue::Seen::of(stack, label);
                let event =
                    glue::carry_out(guard, now, seen, output, |m| transmit(now, stack, label, m));
                rec.record(TraceEvent::on(now, peer, event));
            }
            guard.queued_len() > 0
        });
    }

    /// The run ends: what the guards still hold is reported, not silently forgotten.
    pub fn finish(&mut self, now: Millis, rec: &mut dyn Log) {
        for (label, guard) in &self.guards {
            for (id, _) in guard.queued() {
                rec.record(TraceEvent::on(
                    now,
                    self.peer,
                    EventKind::Drop {
                        channel: label.clone(),
                        msg: id,
                        reason: "end-of-run".into(),
                    },
                ));
            }
        }
    }
}

fn transmit(now: Millis, stack: &mut dyn Stack, channel: &str, msg: &SizedMsg) -> AppResult {
    stack.handle_app(
        now,
        AppCall::Send {
            channel: channel.to_string(),
            msg: msg.id,
            size: msg.size,
        },
    )
}
