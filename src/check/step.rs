//! One step of the [`World`]: an action applied to one peer and its application (or to
//! both, for connect and ICE restart), their datagrams put in flight, their events
//! judged by the monitor.
//!
//! What a peer and its application do with an input depends only on that peer, that
//! application and the input: the monitor only watches, the network only carries. So a
//! step is computed in two parts:
//!
//! 1. the *local* transition `(peer, app, input) -> (peer', app', datagrams, events)`
//!    (`run_local`, `run_both`);
//! 2. the *global* update: the network loses the delivered packet and gains the
//!    datagrams (`Fate` says which packets are dead), the monitor observes the events
//!    (`observe_logs`).
//!
//! This module is the reference step, on [`State`]: [`World::step`], the traces of
//! [`World::replay`] and the stateright model use it. The explorer runs the same parts on
//! interned states and memoizes each (`src/check/compact.rs`); a test holds the two to the
//! same successors.

use super::app::WorldApp;
use super::part::Part;
use super::world::{
    describe_packet, timer_class, Action, Net, State, TimerClass, Violation, World, NOW,
};
use crate::model::{IceConnectionState, Input, Packet, Peer, SctpTransportState, Timer};
use crate::monitor::Monitor;
use crate::record;
use crate::stack::{self, AppCall, StackOutput};
use crate::trace::{EventKind, Millis, PeerId, Trace, TraceEvent};

/// One line of a step's log: an event, and whether the monitor judges it (stack events,
/// sends, drops) or only the trace shows it (`fault` lines naming the action).
pub(crate) type Entry = (TraceEvent, bool);

/// An input to one peer and its application; `P` is `&Packet` to look one up, `Packet`
/// to keep it (both hash alike).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum LocalInput<P> {
    Start,
    AppTimer,
    Send(u8),
    CloseChannel(u8),
    ClosePeer,
    Fire(Timer),
    GuardExpiry(u8),
    Deliver(P),
}

/// What one peer and its application did with one input.
#[derive(Debug)]
pub(crate) struct LocalOut<A> {
    peer: Part<Peer>,
    app: Part<A>,
    transmits: Vec<Packet>,
    log: Vec<Entry>,
    /// Some event of `log` is one the monitor judges.
    any_observed: bool,
}

/// What an application works with while its peer handles one input: the peer's stack
/// and the step's log.
pub struct Local<'a, A> {
    pub(crate) id: PeerId,
    pub(crate) peer: &'a mut Peer,
    pub(crate) app: &'a mut A,
    pub(crate) t: Millis,
    tracing: bool,
    /// Fire the delayed SACK as soon as it is armed ([`super::world::Bounds::delayed_sack`]
    /// is 0).
    eager_sack: bool,
    pub(crate) log: &'a mut Vec<Entry>,
    transmits: &'a mut Vec<Packet>,
}

impl<A: WorldApp> Local<'_, A> {
    /// An event the monitor judges.
    pub(crate) fn record(&mut self, event: TraceEvent) {
        self.log.push((event, true));
    }

    /// An application call the world makes (a close): a refusal is a line for the
    /// trace only, named `name`.
    pub(crate) fn call(&mut self, name: &str, call: AppCall) {
        if let Err(e) = self.peer.handle_input(NOW, Input::App(call)) {
            self.fault(name, Some(e.text));
        }
    }

    /// A `fault` line for the trace only (nothing is built when no trace is kept).
    pub(crate) fn fault(&mut self, action: &str, detail: Option<String>) {
        if self.tracing {
            let kind = EventKind::step(action, detail);
            self.log
                .push((TraceEvent::on(self.t, self.id, kind), false));
        }
    }

    /// Drains the peer until it is quiet: datagrams out, events logged and handed to the
    /// application (which may send, producing more output).
    ///
    /// With `eager_sack`, a delayed SACK armed on the way is then sent at once (it
    /// carries no event, so the application sees nothing of it).
    pub(crate) fn drain(&mut self) {
        loop {
            stack::drain(
                self,
                |cx| cx.peer.poll_output().map(StackOutput::from),
                |cx, packet| cx.transmits.push(packet),
                |cx, event| {
                    cx.record(record::stack_event(cx.t, cx.id, &event));
                    A::handle_event(cx, &event);
                },
            );
            if !(self.eager_sack && sack_armed(self.peer)) {
                break;
            }
            self.peer.fire_timer(Timer::SctpAck);
        }
    }
}

/// The delayed SACK timer is armed.
fn sack_armed(peer: &Peer) -> bool {
    peer.armed_timers().any(|(t, _)| t == Timer::SctpAck)
}

/// A local transition's results as the parts of a [`State`] (the old part kept where the
/// value did not change, so that the states share it).
fn finish_local<A: WorldApp>(before: (&Part<Peer>, &Part<A>), run: LocalRun<A>) -> LocalOut<A> {
    let LocalRun {
        peer,
        app,
        transmits,
        log,
    } = run;
    fn reuse<T: Clone + Eq + std::hash::Hash>(old: &Part<T>, new: T) -> Part<T> {
        let new = Part::new(new);
        if new == *old {
            old.clone()
        } else {
            new
        }
    }
    LocalOut {
        peer: reuse(before.0, peer),
        app: reuse(before.1, app),
        transmits,
        any_observed: log.iter().any(|e| e.1),
        log,
    }
}

/// What one peer and its application became and did with one input, as plain values.
pub(crate) struct LocalRun<A> {
    pub(crate) peer: Peer,
    pub(crate) app: A,
    pub(crate) transmits: Vec<Packet>,
    pub(crate) log: Vec<Entry>,
}

/// The local transition of `peer` and `app` (taken by value: the caller's copies).
pub(crate) fn run_local<A: WorldApp>(
    id: PeerId,
    mut peer: Peer,
    mut app: A,
    input: &LocalInput<&Packet>,
    t: Millis,
    tracing: bool,
    eager_sack: bool,
) -> LocalRun<A> {
    let mut log = Vec::new();
    let mut transmits = Vec::new();
    {
        let mut cx = Local {
            id,
            peer: &mut peer,
            app: &mut app,
            t,
            tracing,
            eager_sack,
            log: &mut log,
            transmits: &mut transmits,
        };
        match input {
            LocalInput::Start => A::start(&mut cx),
            LocalInput::AppTimer => A::on_timer(&mut cx),
            LocalInput::Send(ch) => A::send(&mut cx, *ch),
            LocalInput::CloseChannel(ch) => A::close_channel(&mut cx, *ch),
            LocalInput::ClosePeer => A::close_peer(&mut cx),
            LocalInput::Fire(timer) => cx.peer.fire_timer(*timer),
            LocalInput::GuardExpiry(ch) => A::expire(&mut cx, *ch),
            LocalInput::Deliver(packet) => {
                let _ = cx
                    .peer
                    .handle_input(NOW, Input::Datagram((*packet).clone()));
            }
        }
        cx.drain();
    }
    LocalRun {
        peer,
        app,
        transmits,
        log,
    }
}

/// The local transition, computed.
fn local<A: WorldApp>(
    id: PeerId,
    peer: &Part<Peer>,
    app: &Part<A>,
    input: &LocalInput<&Packet>,
    t: Millis,
    tracing: bool,
    eager_sack: bool,
) -> LocalOut<A> {
    let run = run_local(
        id,
        (**peer).clone(),
        (**app).clone(),
        input,
        t,
        tracing,
        eager_sack,
    );
    finish_local((peer, app), run)
}

/// Whether `peer` ignores `packet` now, found by delivering it to a copy.
pub(crate) fn probe(peer: &Peer, packet: &Packet) -> bool {
    let mut probe: Peer = peer.clone();
    let _ = probe.handle_input(NOW, Input::Datagram(packet.clone()));
    probe.poll_output().is_none() && probe == *peer
}

/// What happens to the network in one step.
#[derive(Debug)]
struct Delta<'a> {
    /// One copy leaves (delivered or dropped).
    remove: Option<(PeerId, &'a Packet)>,
    /// Datagrams sent: (receiver, packets), in order.
    adds: Vec<(PeerId, &'a [Packet])>,
    /// Which peers are closed after the step (nothing stays in flight to them).
    closed: [bool; 2],
    /// Each peer's ICE credentials generation after the step (STUN of an older one is
    /// ignored for good).
    generation: [u32; 2],
    /// The peers after the step (a SACK that acknowledges nothing they still wait for is
    /// ignored for good).
    peers: [&'a Part<Peer>; 2],
    /// A timer of class [`TimerClass::Timeout`] may still fire (ICE may still leave
    /// `connected` without a restart).
    timeouts_left: bool,
    /// An ICE restart may still happen (the only way out of ICE `failed`).
    restarts_left: bool,
    max_copies: u8,
}

impl Delta<'_> {
    /// The network after the step, and whether a datagram put a new copy in flight.
    fn apply(&self, net: &Net) -> (Net, bool) {
        let mut n = net.clone();
        let mut grew = false;
        if let Some((to, packet)) = self.remove {
            take(&mut n, to, packet);
        }
        for (to, packets) in &self.adds {
            if self.closed[to.index()] {
                continue;
            }
            for packet in packets.iter() {
                if self.dead(*to, packet) {
                    continue;
                }
                let c = n.entry((*to, packet.clone())).or_insert(0);
                if *c < self.max_copies {
                    *c += 1;
                    grew = true;
                }
            }
        }
        n.retain(|(to, p), _| !self.dead(*to, p));
        (n, grew)
    }

    /// A packet its receiver will ignore whatever happens: the receiver is closed (it
    /// ignores everything for good), or it is STUN of an ICE generation older than the
    /// receiver's (generations only grow; `Peer` ignores STUN of another generation).
    ///
    /// Or it is a SACK that changes nothing at its receiver now: it acknowledges no chunk
    /// the receiver still waits for, and every chunk the receiver sends later has a
    /// higher TSN than any the other side has seen, so it never will.
    ///
    /// Or it is a STUN response of the receiver's generation that changes nothing at the
    /// receiver now, which is `connected`, and no timeout is left: a response matters
    /// only while checking (which the receiver enters again only with a new generation)
    /// or disconnected (which only the `IceDisconnected` timeout leads to); while
    /// connected it re-arms the liveness timers, which stay armed as they are until
    /// one fires (a timeout) or ICE leaves `connected`.
    ///
    /// Or its receiver's ICE has failed and no ICE restart is left: a failed agent
    /// ignores every packet (STUN and all the rest, which needs a usable path), and only
    /// a restart (`enter_checking`, reached only through a renegotiation with a new
    /// generation, i.e. the `IceRestart` action) or a close leads out of `failed`.
    ///
    /// Or it is an SCTP packet other than a SACK (DATA, a bundle, a handshake chunk,
    /// ABORT) to a peer whose SCTP transport is closed. Closed is terminal there: the
    /// association comes up only through the handshake, which a closed transport
    /// ignores, and `Peer` drops DATA and ABORT when no association is up, without
    /// changing anything.
    fn dead(&self, to: PeerId, packet: &Packet) -> bool {
        let peer = self.peers[to.index()];
        let fate = Fate {
            closed: self.closed[to.index()],
            generation: self.generation[to.index()],
            timeouts_left: self.timeouts_left,
            restarts_left: self.restarts_left,
        };
        fate.dead(peer, packet, || probe(peer, packet))
    }
}

/// What decides, besides the receiver itself, whether a packet in flight is dead (see
/// `Delta::dead`): the receiver is closed, its ICE generation, and whether a timeout and
/// an ICE restart may still happen.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fate {
    pub(crate) closed: bool,
    pub(crate) generation: u32,
    pub(crate) timeouts_left: bool,
    pub(crate) restarts_left: bool,
}

impl Fate {
    /// The receiver `peer` will ignore `packet` whatever happens (the rules of
    /// `Delta::dead`); `ignored` says whether `peer` ignores it now (asked only for SACKs
    /// and STUN responses).
    pub(crate) fn dead(
        &self,
        peer: &Peer,
        packet: &Packet,
        ignored: impl FnOnce() -> bool,
    ) -> bool {
        if self.closed {
            return true;
        }
        if peer.ice_state() == IceConnectionState::Failed && !self.restarts_left {
            return true;
        }
        match packet {
            Packet::StunRequest { generation, .. } => *generation < self.generation,
            Packet::StunResponse { generation, .. } => {
                *generation < self.generation
                    || (*generation == self.generation
                        && !self.timeouts_left
                        && peer.ice_state() == IceConnectionState::Connected
                        && ignored())
            }
            Packet::SctpSack { .. } => ignored(),
            Packet::SctpData { .. }
            | Packet::SctpBundle(_)
            | Packet::SctpHandshake(_)
            | Packet::SctpAbort
            | Packet::SctpForwardTsn { .. } => peer.sctp_state() == SctpTransportState::Closed,
            Packet::DtlsFlight(_) | Packet::DtlsCloseNotify => false,
        }
    }
}

/// What the monitor became after a step's events, and the first violation among them.
type MonitorOut = (Part<Monitor>, Option<Violation>);

/// Feeds the judged events of `outs` to a copy of the monitor (and every event to the
/// trace, with each violation right after the event that caused it), then ends the step.
fn observe<A>(
    monitor: &Part<Monitor>,
    outs: &[&LocalOut<A>],
    trace: Option<&mut Trace>,
    t: Millis,
) -> MonitorOut {
    let logs: Vec<&[Entry]> = outs.iter().map(|o| o.log.as_slice()).collect();
    let (m, first) = observe_logs(monitor, &logs, trace, t);
    (Part::new(m), first)
}

/// [`observe`] on the step's logs, as plain values: the monitor after them and the first
/// violation among them.
pub(crate) fn observe_logs(
    monitor: &Monitor,
    logs: &[&[Entry]],
    mut trace: Option<&mut Trace>,
    t: Millis,
) -> (Monitor, Option<Violation>) {
    let mut m = monitor.clone();
    let mut first: Option<Violation> = None;
    let mut note = |violations: Vec<TraceEvent>, trace: &mut Option<&mut Trace>| {
        for v in violations {
            if let (None, EventKind::Violation { invariant, detail }) = (&first, &v.kind) {
                first = Some(Violation {
                    invariant: invariant.clone(),
                    detail: detail.clone(),
                });
            }
            if let Some(trace) = trace.as_mut() {
                trace.push(v);
            }
        }
    };
    for log in logs {
        for (event, judged) in log.iter() {
            let violations = if *judged {
                m.observe(event)
            } else {
                Vec::new()
            };
            if let Some(trace) = trace.as_mut() {
                trace.push(event.clone());
            }
            note(violations, &mut trace);
        }
    }
    if logs.iter().any(|l| l.iter().any(|e| e.1)) {
        let violations = m.end_step(t);
        note(violations, &mut trace);
    }
    (m, first)
}

/// How a step is being computed.
struct Mode<'a> {
    trace: Option<&'a mut Trace>,
    t: Millis,
}

/// The successor of `s` by `action`, or `None` for a stutter (see [`World::step`]).
pub(crate) fn step<A: WorldApp>(
    world: &World<A>,
    s: &State<A>,
    action: &Action,
) -> Option<State<A>> {
    let mode = Mode {
        trace: None,
        t: NOW,
    };
    let (next, stutter) = run(world, s, action, mode);
    (!stutter).then_some(next)
}

/// The successor of `s` by `action` with every event written to `trace` at time `t`
/// (stutters included: they are applied like any other step).
pub(crate) fn step_traced<A: WorldApp>(
    world: &World<A>,
    s: &State<A>,
    action: &Action,
    trace: &mut Trace,
    t: Millis,
) -> State<A> {
    let mode = Mode {
        trace: Some(trace),
        t,
    };
    run(world, s, action, mode).0
}

fn run<A: WorldApp>(
    world: &World<A>,
    s: &State<A>,
    action: &Action,
    mut mode: Mode<'_>,
) -> (State<A>, bool) {
    let mut next = s.clone();
    let tracing = mode.trace.is_some();
    let t = mode.t;
    let b = world.config().bounds;
    let eager_sack = b.delayed_sack == 0;
    // The world's own lines (what the action was), before the peers' events.
    let mut faults: Vec<Entry> = Vec::new();
    let mut fault = |peer: Option<PeerId>, name: &str, detail: Option<String>| {
        if tracing {
            let kind = EventKind::step(name, detail);
            let event = match peer {
                Some(p) => TraceEvent::on(t, p, kind),
                None => TraceEvent::global(t, kind),
            };
            faults.push((event, false));
        }
    };
    let mut outs: Vec<(PeerId, LocalOut<A>)> = Vec::new();
    let one = |id: PeerId, input: LocalInput<&Packet>| {
        let (peer, app) = (&s.peers[id.index()], &s.apps[id.index()]);
        (id, local(id, peer, app, &input, t, tracing, eager_sack))
    };
    let mut remove = None;
    match action {
        Action::Connect => {
            fault(Some(PeerId::A), "connect", None);
            next.connected = true;
            outs = both(&mut next, t, tracing, eager_sack, false, &mut fault);
        }
        Action::IceRestart => {
            next.spent.ice_restarts += 1;
            fault(Some(PeerId::A), "ice_restart", None);
            outs = both(&mut next, t, tracing, eager_sack, true, &mut fault);
        }
        Action::Send { peer, channel } => {
            outs.push(one(*peer, LocalInput::Send(*channel)));
        }
        Action::Start => {
            for peer in PeerId::BOTH {
                outs.push(one(peer, LocalInput::Start));
            }
        }
        Action::AppTimer { peer } => {
            next.spent.app_timers += 1;
            if tracing {
                fault(
                    Some(*peer),
                    "timer",
                    Some("the application's timer fires".into()),
                );
            }
            outs.push(one(*peer, LocalInput::AppTimer));
        }
        Action::CloseChannel { peer, channel } => {
            next.spent.channel_closes += 1;
            let name = s.apps[peer.index()].channel_label(*channel);
            fault(Some(*peer), "close_channel", Some(name));
            outs.push(one(*peer, LocalInput::CloseChannel(*channel)));
        }
        Action::ClosePeer { peer } => {
            next.spent.peer_closes += 1;
            fault(Some(*peer), "close_peer", None);
            outs.push(one(*peer, LocalInput::ClosePeer));
        }
        Action::Fire { peer, timer } => {
            match timer_class(*timer) {
                TimerClass::Progress => {}
                TimerClass::Timeout => next.spent.timeouts += 1,
                TimerClass::Retransmission => next.spent.retransmits += 1,
            }
            if tracing {
                fault(Some(*peer), "timer", Some(format!("{timer:?} fires")));
            }
            outs.push(one(*peer, LocalInput::Fire(*timer)));
        }
        Action::GuardExpiry { peer, channel } => {
            next.spent.timeouts += 1;
            if tracing {
                let name = s.apps[peer.index()].channel_label(*channel);
                let detail = format!("guard of {name} expires");
                fault(Some(*peer), "timer", Some(detail));
            }
            outs.push(one(*peer, LocalInput::GuardExpiry(*channel)));
        }
        Action::Deliver { to, packet } => {
            if tracing {
                let detail = format!("from {}: {}", to.other(), describe_packet(packet));
                fault(Some(*to), "deliver", Some(detail));
            }
            if in_flight(&s.net, *to, packet) {
                remove = Some((*to, packet));
                outs.push(one(*to, LocalInput::Deliver(packet)));
            }
        }
        Action::Drop { to, packet } => {
            if tracing {
                let detail = format!("to {to}: {}", describe_packet(packet));
                fault(None, "drop", Some(detail));
            }
            next.spent.drops += 1;
            remove = Some((*to, packet));
        }
        Action::Duplicate { to, packet } => {
            if tracing {
                let detail = format!(
                    "from {} (duplicate): {}",
                    to.other(),
                    describe_packet(packet)
                );
                fault(Some(*to), "deliver", Some(detail));
            }
            next.spent.duplications += 1;
            if in_flight(&s.net, *to, packet) {
                outs.push(one(*to, LocalInput::Deliver(packet)));
            }
        }
    }
    // Peers and applications.
    for (id, out) in &outs {
        next.peers[id.index()] = out.peer.clone();
        next.apps[id.index()] = out.app.clone();
    }
    // Datagrams in flight; nothing stays in flight to a closed peer, which ignores
    // everything for good (forgetting it merges states that differ only there).
    let delta = Delta {
        remove,
        adds: outs
            .iter()
            .map(|(id, o)| (id.other(), o.transmits.as_slice()))
            .collect(),
        closed: [next.peers[0].is_closed(), next.peers[1].is_closed()],
        generation: next.ice_generation,
        peers: [&next.peers[0], &next.peers[1]],
        timeouts_left: next.spent.timeouts < b.timeouts,
        // As `World::actions` enables `IceRestart` (before connecting, anything goes).
        restarts_left: !next.connected
            || (!next.apps[0].peer_closed() && next.spent.ice_restarts < b.ice_restarts),
        max_copies: b.max_copies,
    };
    let (net, grew) = delta.apply(&s.net);
    if net != *s.net {
        next.net = Part::new(net);
    }
    // The monitor.
    let judged = outs.iter().any(|(_, o)| o.any_observed);
    let refs: Vec<&LocalOut<A>> = outs.iter().map(|(_, o)| o).collect();
    if let Some(trace) = mode.trace.as_mut() {
        for (event, _) in faults {
            trace.push(event);
        }
        let (m, v) = observe(&s.monitor, &refs, Some(trace), t);
        next.monitor = m;
        if next.violation.is_none() {
            next.violation = v.map(Box::new);
        }
    } else if judged {
        let (m, v) = observe(&s.monitor, &refs, None, t);
        next.monitor = m;
        if next.violation.is_none() {
            next.violation = v.map(Box::new);
        }
    }
    let quiet = !judged && !grew;
    let stutter = match action {
        Action::Fire { .. } | Action::GuardExpiry { .. } => quiet,
        // A timer of the application that changed nothing, not even the application.
        Action::AppTimer { .. } => quiet && outs.iter().all(|(id, o)| o.app == s.apps[id.index()]),
        _ => false,
    };
    (next, stutter)
}

/// Connect or ICE restart: both peers, offer from `a`, answer from `b`, then each peer
/// drained in turn.
fn both<A: WorldApp>(
    s: &mut State<A>,
    t: Millis,
    tracing: bool,
    eager_sack: bool,
    restart: bool,
    fault: &mut impl FnMut(Option<PeerId>, &str, Option<String>),
) -> Vec<(PeerId, LocalOut<A>)> {
    let peers = [(*s.peers[0]).clone(), (*s.peers[1]).clone()];
    let apps = [(*s.apps[0]).clone(), (*s.apps[1]).clone()];
    let runs = run_both(
        peers,
        apps,
        &mut s.ice_generation,
        t,
        tracing,
        eager_sack,
        restart,
        fault,
    );
    let mut outs = Vec::new();
    for (id, run) in PeerId::BOTH.into_iter().zip(runs) {
        let before = (&s.peers[id.index()], &s.apps[id.index()]);
        outs.push((id, finish_local(before, run)));
    }
    outs
}

/// [`both`] on plain values: the ICE restart (if `restart`), the offer/answer (each
/// peer's ICE generation noted in `ice_generation`), then each peer drained in turn.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_both<A: WorldApp>(
    [mut pa, mut pb]: [Peer; 2],
    apps: [A; 2],
    ice_generation: &mut [u32; 2],
    t: Millis,
    tracing: bool,
    eager_sack: bool,
    restart: bool,
    fault: &mut impl FnMut(Option<PeerId>, &str, Option<String>),
) -> [LocalRun<A>; 2] {
    let go = if restart {
        match pa.handle_input(NOW, Input::App(AppCall::IceRestart)) {
            Ok(()) => true,
            Err(e) => {
                fault(Some(PeerId::A), "ice_restart", Some(e.text));
                false
            }
        }
    } else {
        true
    };
    if go {
        let mut seen = |id: PeerId, sdp: &str| {
            if let Some(g) = generation_of(sdp) {
                let slot = &mut ice_generation[id.index()];
                *slot = (*slot).max(g);
            }
        };
        if let Err((peer, e)) = negotiate(&mut pa, &mut pb, &mut seen) {
            fault(Some(peer), "negotiate", Some(e));
        }
    }
    let [app_a, app_b] = apps;
    [(PeerId::A, pa, app_a), (PeerId::B, pb, app_b)].map(|(id, mut peer, mut app)| {
        let mut log = Vec::new();
        let mut transmits = Vec::new();
        Local {
            id,
            peer: &mut peer,
            app: &mut app,
            t,
            tracing,
            eager_sack,
            log: &mut log,
            transmits: &mut transmits,
        }
        .drain();
        LocalRun {
            peer,
            app,
            transmits,
            log,
        }
    })
}

/// Offer from `a`, answer from `b`, applied at once; the error names the peer. Each
/// description is shown to `seen` with the peer that made it (a description carries its
/// maker's ICE generation).
fn negotiate(
    a: &mut Peer,
    b: &mut Peer,
    seen: &mut impl FnMut(PeerId, &str),
) -> Result<(), (PeerId, String)> {
    let offer = a.create_description(NOW).map_err(|e| (PeerId::A, e))?;
    seen(PeerId::A, &offer);
    b.apply_remote_description(NOW, &offer)
        .map_err(|e| (PeerId::B, e))?;
    let answer = b.create_description(NOW).map_err(|e| (PeerId::B, e))?;
    seen(PeerId::B, &answer);
    a.apply_remote_description(NOW, &answer)
        .map_err(|e| (PeerId::A, e))
}

/// The ICE generation a model description states (`ice-generation=N`).
fn generation_of(sdp: &str) -> Option<u32> {
    sdp.split_whitespace()
        .find_map(|w| w.strip_prefix("ice-generation="))
        .and_then(|g| g.parse().ok())
}

/// A copy of `packet` to `to` is in flight (without building a key).
fn in_flight(net: &Net, to: PeerId, packet: &Packet) -> bool {
    net.keys().any(|(t, p)| *t == to && p == packet)
}

/// Removes one copy of a packet; false if none was in flight.
fn take(net: &mut Net, to: PeerId, packet: &Packet) -> bool {
    let key = (to, packet.clone());
    match net.get_mut(&key) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            net.remove(&key);
            true
        }
        None => false,
    }
}
