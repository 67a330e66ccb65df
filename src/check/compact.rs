//! The explorer's form of a [`State`]: a few ids into shared [`Arena`]s ([`Compact`]),
//! and the step on it ([`Stepper`]), which gives the same successors as [`World::step`].
//!
//! A [`Compact`] state is 48 bytes of plain data: the ids of both peers, both
//! applications, the packets in flight to each peer and the monitor, plus the small
//! counters. Nothing in it is reference counted, so copying and dropping it costs
//! nothing and the frontier of a BFS level is one flat vector.
//!
//! A step is three memoized transitions keyed by ids, each exact (ids are equal exactly
//! when values are, so a hit is never a wrong transition):
//!
//! 1. the *local* transition of a peer and its application with one input (or of both,
//!    for connect and ICE restart), computed by the same code as [`World::step`];
//! 2. the update of the packets in flight to each peer the step touched: the delivered
//!    packet leaves, the datagrams sent join, dead packets are forgotten (the rules of
//!    [`crate::check::explorer`], "Reductions"). Those to a peer whose receiver,
//!    generation and budgets did not change, with nothing leaving or joining, stay as
//!    they are, and so do none at all;
//! 3. the monitor judging the step's events.
//!
//! Each [`Stepper`] (one per explorer thread) keeps its own tables of these, filed by
//! the piece a step starts from ([`ById`]); the arenas are shared. The state's
//! fingerprint is built from its pieces' fingerprints, which depend only on their
//! values, so the visited set and the report do not depend on which thread met a piece
//! first.

use super::app::WorldApp;
use super::arena::Arena;
use super::memo::ById;
use super::part::{fingerprint, FpHasher};
use super::sleep::Sleep;
use super::step::{observe_logs, probe, run_both, run_local, Entry, Fate, LocalInput, LocalRun};
use super::world::{
    enabled_actions, timer_class, Action, Bounds, Spent, State, StateView, TimerClass, Violation,
    World, NOW,
};
use crate::model::{Packet, Peer};
use crate::monitor::Monitor;
use crate::trace::PeerId;
use rustc_hash::FxBuildHasher as FpBuild;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A packet in flight to one peer: packet id, copies. The packets in flight to a peer
/// are kept in the order of [`State::net`] (packet value), so actions come in the same
/// order.
type Flight = (u32, u8);

/// The fingerprints of a state's pieces, in the order [`Pieces::piece_fps`] gives them.
pub(crate) type PieceFps = [u64; 7];

/// A state of the world as ids into [`Pieces`].
///
/// The network is kept as two pieces, the packets in flight to each peer: a step
/// changes what is in flight to one peer far more often than to both, and whether a
/// packet is dead depends only on its receiver (and the budgets), so the update of
/// each is remembered by a small key with a high hit rate, and the side a step did not
/// touch is not updated at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Compact {
    peers: [u32; 2],
    apps: [u32; 2],
    /// The packets in flight to each peer ([`Pieces::nets`]).
    nets: [u32; 2],
    monitor: u32,
    ice_generation: [u32; 2],
    spent: Spent,
    connected: bool,
}

impl Compact {
    /// The id of the packets in flight to `to`.
    pub(crate) fn net_to(&self, to: PeerId) -> u32 {
        self.nets[to.index()]
    }
}

/// A frontier state as it waits for its level: the seven piece ids and one id for the
/// small counters (ICE generations, budgets spent, connected) and the sleep set, 32
/// bytes where a [`Compact`] takes 48. The widest level of `--sends 2` holds almost 20
/// million states, and with the level being built beside it the frontier was the
/// largest part of the peak memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Packed {
    ids: [u32; 7],
    counters: u32,
}

/// The small counters of a state and its sleep set ([`super::sleep`]), as [`Packed`]
/// names them by id.
type Counters = ([u32; 2], Spent, bool, Sleep);

/// The distinct [`Counters`] of an exploration (few: each counter is bounded by a
/// budget, and a sleep set names a few actions of one peer), each named by its index.
/// Only the thread that builds the next frontier adds to it, between the phases that
/// read it.
#[derive(Default)]
pub(crate) struct CounterIds {
    values: Vec<Counters>,
    ids: HashMap<Counters, u32, FpBuild>,
    /// The counters packed last and their id (states packed one after another share
    /// them more often than not).
    last: Option<(Counters, u32)>,
}

impl CounterIds {
    /// The packed form of `c` with its sleep set.
    pub(crate) fn pack(&mut self, c: &Compact, sleep: Sleep) -> Packed {
        let key = (c.ice_generation, c.spent, c.connected, sleep);
        let counters = match self.last {
            Some((last, id)) if last == key => id,
            _ => match self.ids.get(&key) {
                Some(&id) => id,
                None => {
                    let id = u32::try_from(self.values.len())
                        .expect("fewer than 2^32 distinct counters");
                    self.values.push(key);
                    self.ids.insert(key, id);
                    id
                }
            },
        };
        self.last = Some((key, counters));
        let [p0, p1] = c.peers;
        let [a0, a1] = c.apps;
        let [n0, n1] = c.nets;
        Packed {
            ids: [p0, p1, a0, a1, n0, n1, c.monitor],
            counters,
        }
    }

    /// The sleep set `p` was packed with.
    #[inline]
    pub(crate) fn sleep(&self, p: &Packed) -> Sleep {
        self.values[p.counters as usize].3
    }

    /// The state `p` names (a `p` this table packed).
    #[inline]
    pub(crate) fn unpack(&self, p: &Packed) -> Compact {
        let [p0, p1, a0, a1, n0, n1, monitor] = p.ids;
        let (ice_generation, spent, connected, _) = self.values[p.counters as usize];
        Compact {
            peers: [p0, p1],
            apps: [a0, a1],
            nets: [n0, n1],
            monitor,
            ice_generation,
            spent,
            connected,
        }
    }
}

/// Every distinct piece an exploration met, shared by its threads.
pub(crate) struct Pieces<A> {
    peers: Arena<Peer>,
    apps: Arena<A>,
    monitors: Arena<Monitor>,
    packets: Arena<Packet>,
    /// The packets in flight to one peer.
    nets: Arena<Vec<Flight>>,
    /// What a peer sent in one local transition, as packet ids.
    sent: Arena<Vec<u32>>,
    /// The events of one local transition that the monitor judges.
    logs: Arena<Vec<Entry>>,
}

/// The id of no packet in flight (the first network interned).
const EMPTY_NET: u32 = 0;

impl<A> Default for Pieces<A> {
    fn default() -> Self {
        let pieces = Pieces {
            peers: Arena::default(),
            apps: Arena::default(),
            monitors: Arena::default(),
            packets: Arena::default(),
            nets: Arena::default(),
            sent: Arena::default(),
            logs: Arena::default(),
        };
        let empty = pieces.net(Vec::new());
        debug_assert_eq!(empty, EMPTY_NET);
        pieces
    }
}

impl<A> Pieces<A> {
    fn net(&self, net: Vec<Flight>) -> u32 {
        let mut h = FpHasher::default();
        net.len().hash(&mut h);
        for (p, n) in &net {
            (self.packets.fp(*p), n).hash(&mut h);
        }
        self.nets.intern(h.finish(), net)
    }
}

impl<A: WorldApp> Pieces<A> {
    fn peer(&self, peer: Peer) -> u32 {
        self.peers.intern(fingerprint(&peer), peer)
    }

    fn app(&self, app: A) -> u32 {
        self.apps.intern(fingerprint(&app), app)
    }

    fn monitor(&self, monitor: Monitor) -> u32 {
        self.monitors.intern(fingerprint(&monitor), monitor)
    }

    fn packet(&self, packet: &Packet) -> u32 {
        self.packets.intern(fingerprint(packet), packet.clone())
    }

    fn sent(&self, packets: &[Packet]) -> u32 {
        let ids: Vec<u32> = packets.iter().map(|p| self.packet(p)).collect();
        let fps: Vec<u64> = ids.iter().map(|&p| self.packets.fp(p)).collect();
        self.sent.intern(fingerprint(&fps), ids)
    }

    fn log(&self, log: Vec<Entry>) -> u32 {
        self.logs.intern(fingerprint(&log), log)
    }

    /// The compact form of `s` (its violation aside).
    pub(crate) fn compress(&self, s: &State<A>) -> Compact {
        let nets = PeerId::BOTH.map(|peer| {
            let flights: Vec<Flight> = s
                .net
                .iter()
                .filter(|((to, _), _)| *to == peer)
                .map(|((_, p), n)| (self.packet(p), *n))
                .collect();
            self.net(flights)
        });
        Compact {
            peers: [
                self.peer((*s.peers[0]).clone()),
                self.peer((*s.peers[1]).clone()),
            ],
            apps: [
                self.app((*s.apps[0]).clone()),
                self.app((*s.apps[1]).clone()),
            ],
            nets,
            monitor: self.monitor((*s.monitor).clone()),
            ice_generation: s.ice_generation,
            spent: s.spent,
            connected: s.connected,
        }
    }

    /// The [`State`] that `c` names (with `violation`), for checking the explorer against
    /// [`World::step`].
    #[cfg(test)]
    pub(crate) fn expand(&self, c: &Compact, violation: Option<Violation>) -> State<A> {
        use super::part::Part;
        let net: super::world::Net = PeerId::BOTH
            .into_iter()
            .flat_map(|to| {
                self.nets
                    .get(c.nets[to.index()])
                    .iter()
                    .map(move |(p, n)| ((to, self.packets.get(*p).clone()), *n))
            })
            .collect();
        State {
            peers: c.peers.map(|p| Part::new(self.peers.get(p).clone())),
            net: Part::new(net),
            apps: c.apps.map(|a| Part::new(self.apps.get(a).clone())),
            connected: c.connected,
            ice_generation: c.ice_generation,
            spent: c.spent,
            monitor: Part::new(self.monitors.get(c.monitor).clone()),
            violation: violation.map(Box::new),
        }
    }

    /// The fingerprint of a state: of its pieces' fingerprints (which depend only on
    /// their values) and its counters.
    pub(crate) fn fingerprint(&self, c: &Compact, violated: bool) -> u64 {
        self.fingerprint_from(c, violated, &self.piece_fps(c), c)
    }

    /// The fingerprints of the pieces of `c`: peers, applications, the packets in flight
    /// to each peer, monitor.
    pub(crate) fn piece_fps(&self, c: &Compact) -> PieceFps {
        [
            self.peers.fp(c.peers[0]),
            self.peers.fp(c.peers[1]),
            self.apps.fp(c.apps[0]),
            self.apps.fp(c.apps[1]),
            self.nets.fp(c.nets[0]),
            self.nets.fp(c.nets[1]),
            self.monitors.fp(c.monitor),
        ]
    }

    /// [`Pieces::fingerprint`] of `c`, a successor of `parent` whose pieces'
    /// fingerprints are `fps`: the pieces `c` shares with its parent are not looked up
    /// again (a step changes one peer and application, the network and sometimes the
    /// monitor, and each lookup in an arena is a likely cache miss).
    pub(crate) fn fingerprint_from(
        &self,
        c: &Compact,
        violated: bool,
        fps: &PieceFps,
        parent: &Compact,
    ) -> u64 {
        let mut h = FpHasher::default();
        for ((p, was), fp) in c.peers.iter().zip(parent.peers).zip(&fps[..2]) {
            h.write_u64(if *p == was { *fp } else { self.peers.fp(*p) });
        }
        for ((a, was), fp) in c.apps.iter().zip(parent.apps).zip(&fps[2..4]) {
            h.write_u64(if *a == was { *fp } else { self.apps.fp(*a) });
        }
        for ((n, was), fp) in c.nets.iter().zip(parent.nets).zip(&fps[4..6]) {
            h.write_u64(if *n == was { *fp } else { self.nets.fp(*n) });
        }
        h.write_u64(if c.monitor == parent.monitor {
            fps[6]
        } else {
            self.monitors.fp(c.monitor)
        });
        // The counters in three words (each word written is a step of the hash's
        // dependency chain, and this runs for every successor).
        let [g0, g1] = c.ice_generation;
        h.write_u64(u64::from(g0) | u64::from(g1) << 32);
        h.write_u64(c.spent.word());
        h.write_u64(u64::from(c.connected) | u64::from(violated) << 1);
        h.finish()
    }

    /// The packets of a sent id ([`Stepper::last_sent`]).
    pub(crate) fn sent_packets(&self, sent: u32) -> &[u32] {
        self.sent.get(sent)
    }

    /// The packets in flight to `to` in `c`, in the order its actions list them.
    pub(crate) fn in_flight_to(&self, c: &Compact, to: PeerId) -> &[Flight] {
        self.nets.get(c.nets[to.index()])
    }

    /// Every action enabled in `c`, in the order of [`World::actions`], packets named by
    /// id.
    pub(crate) fn actions(&self, world: &World<A>, c: &Compact, out: &mut Vec<Action<u32>>) {
        let view = StateView {
            connected: c.connected,
            violated: false,
            spent: &c.spent,
            peers: c.peers.map(|p| self.peers.get(p)),
            apps: c.apps.map(|a| self.apps.get(a)),
        };
        let net = PeerId::BOTH.into_iter().flat_map(|to| {
            self.nets
                .get(c.nets[to.index()])
                .iter()
                .map(move |(p, _)| (to, *p))
        });
        enabled_actions(&world.config().bounds, &view, net, |p| *p, out);
    }

    /// Whether a timeout and an ICE restart are left in `c`: with the receiver and its
    /// ICE generation, what decides which packets in flight to a peer are dead.
    pub(crate) fn left(&self, b: &Bounds, c: &Compact) -> (bool, bool) {
        (
            c.spent.timeouts < b.timeouts,
            // As `World::actions` enables `IceRestart` (before connecting, anything
            // goes).
            !c.connected
                || (!self.apps.get(c.apps[0]).peer_closed()
                    && c.spent.ice_restarts < b.ice_restarts),
        )
    }

    /// The action `a` with its packet named by value.
    #[cfg(test)]
    pub(crate) fn named(&self, a: &Action<u32>) -> Action {
        match *a {
            Action::Connect => Action::Connect,
            Action::Send { peer, channel } => Action::Send { peer, channel },
            Action::CloseChannel { peer, channel } => Action::CloseChannel { peer, channel },
            Action::ClosePeer { peer } => Action::ClosePeer { peer },
            Action::IceRestart => Action::IceRestart,
            Action::Fire { peer, timer } => Action::Fire { peer, timer },
            Action::AppTimer { peer } => Action::AppTimer { peer },
            Action::Start => Action::Start,
            Action::GuardExpiry { peer, channel } => Action::GuardExpiry { peer, channel },
            Action::Deliver { to, packet } => Action::Deliver {
                to,
                packet: self.packets.get(packet).clone(),
            },
            Action::Drop { to, packet } => Action::Drop {
                to,
                packet: self.packets.get(packet).clone(),
            },
            Action::Duplicate { to, packet } => Action::Duplicate {
                to,
                packet: self.packets.get(packet).clone(),
            },
        }
    }
}

/// A local transition, as ids.
#[derive(Clone, Copy, Debug)]
struct Local {
    peer: u32,
    app: u32,
    /// What the peer sent ([`Pieces::sent`]; `u32::MAX` for nothing).
    sent: u32,
    /// The judged events ([`Pieces::logs`]); `judged` is false when there are none.
    log: u32,
    judged: bool,
}

/// The key of a connect or ICE restart: both peers and applications, the generations,
/// and whether it is a restart.
type BothKey = ([u32; 2], [u32; 2], [u32; 2], bool);

/// The key of an update of the packets in flight to one peer: those packets, the copy
/// that leaves (`u32::MAX` for none), what the other peer sent ([`Pieces::sent`] id;
/// `u32::MAX` for nothing), the receiver after the step, its generation, whether a
/// timeout and an ICE restart are left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct NetKey {
    remove: u32,
    sent: u32,
    peer: u32,
    generation: u32,
    timeouts_left: bool,
    restarts_left: bool,
}

/// Most entries a [`Stepper`] table holds before it is emptied, unless it has its own
/// limit (a bound on its memory): hashbrown's capacity at 2^21 buckets, so that a hash
/// table is emptied before it would double to 2^22. (The tables of the default world
/// stay well under it: 136 000 local transitions.)
const TABLE_LIMIT: usize = (1 << 21) / 8 * 7;

/// The limit of each thread's memo of the networks it built (their distinct values are
/// few: 3 100 for the default world, 19 000 for `--sends 2`).
const NET_MEMO_LIMIT: usize = 1 << 16;

/// What the monitor became after a step's judged events, and the violation they showed.
type Judged = (u32, Option<Arc<Violation>>);

/// One thread's memo of transitions by ids (see the module documentation). Its tables
/// hold only ids, so it is the same type whatever the application.
pub(crate) struct Stepper {
    /// By peer: (which peer, application, input).
    local: ById<(PeerId, u32, LocalInput<u32>), Local>,
    both: HashMap<BothKey, ([Local; 2], [u32; 2]), FpBuild>,
    /// By the packets in flight to the receiver.
    net: ById<NetKey, (u32, bool)>,
    /// By monitor: the judged logs.
    monitor: ById<[u32; 2], Judged>,
    /// Whether a peer ignores a SACK or a STUN response now: by peer, the packet.
    ignored: ById<u32, bool>,
    /// The ids of the networks this thread built (interning one in the shared arena
    /// hashes its packets' values and takes a lock).
    nets: HashMap<Vec<Flight>, u32, FpBuild>,
    /// What the last step's moving peer sent to the other ([`Stepper::last_sent`]).
    last_sent: u32,
    /// Whether the monitor judged an event of the last step's moving peer.
    last_judged: bool,
}

impl Default for Stepper {
    fn default() -> Self {
        Stepper {
            local: ById::with_limit(TABLE_LIMIT),
            both: HashMap::default(),
            net: ById::with_limit(TABLE_LIMIT),
            monitor: ById::with_limit(TABLE_LIMIT),
            ignored: ById::with_limit(TABLE_LIMIT),
            nets: HashMap::default(),
            last_sent: u32::MAX,
            last_judged: false,
        }
    }
}

/// Empties `table` once it holds `limit` entries (a bound on its memory).
fn bound<K, V>(table: &mut HashMap<K, V, FpBuild>, limit: usize) {
    if table.len() >= limit {
        table.clear();
    }
}

impl Stepper {
    /// The successor of `s` by `a`, written to `next`, and the violation its step found;
    /// `None` for a stutter: exactly [`World::step`] on the state `s` names.
    pub(crate) fn step<A: WorldApp>(
        &mut self,
        world: &World<A>,
        pieces: &Pieces<A>,
        s: &Compact,
        a: &Action<u32>,
        next: &mut Compact,
    ) -> Option<Option<Arc<Violation>>> {
        let b = world.config().bounds;
        let eager_sack = b.delayed_sack == 0;
        *next = *s;
        let mut outs: [Option<(PeerId, Local)>; 2] = [None, None];
        let mut remove = None;
        let one = |me: &mut Self, id: PeerId, input: LocalInput<u32>| {
            Some((id, me.local(pieces, s, id, input, eager_sack)))
        };
        match *a {
            Action::Connect => {
                next.connected = true;
                outs = self.both(pieces, next, false, eager_sack);
            }
            Action::IceRestart => {
                next.spent.ice_restarts += 1;
                outs = self.both(pieces, next, true, eager_sack);
            }
            Action::Send { peer, channel } => outs[0] = one(self, peer, LocalInput::Send(channel)),
            Action::Start => {
                outs[0] = one(self, PeerId::A, LocalInput::Start);
                outs[1] = one(self, PeerId::B, LocalInput::Start);
            }
            Action::AppTimer { peer } => {
                next.spent.app_timers += 1;
                outs[0] = one(self, peer, LocalInput::AppTimer);
            }
            Action::CloseChannel { peer, channel } => {
                next.spent.channel_closes += 1;
                outs[0] = one(self, peer, LocalInput::CloseChannel(channel));
            }
            Action::ClosePeer { peer } => {
                next.spent.peer_closes += 1;
                outs[0] = one(self, peer, LocalInput::ClosePeer);
            }
            Action::Fire { peer, timer } => {
                match timer_class(timer) {
                    TimerClass::Progress => {}
                    TimerClass::Timeout => next.spent.timeouts += 1,
                    TimerClass::Retransmission => next.spent.retransmits += 1,
                }
                outs[0] = one(self, peer, LocalInput::Fire(timer));
            }
            Action::GuardExpiry { peer, channel } => {
                next.spent.timeouts += 1;
                outs[0] = one(self, peer, LocalInput::GuardExpiry(channel));
            }
            Action::Deliver { to, packet } => {
                if in_flight(pieces, s, to, packet) {
                    remove = Some((to, packet));
                    outs[0] = one(self, to, LocalInput::Deliver(packet));
                }
            }
            Action::Drop { to, packet } => {
                next.spent.drops += 1;
                remove = Some((to, packet));
            }
            Action::Duplicate { to, packet } => {
                next.spent.duplications += 1;
                if in_flight(pieces, s, to, packet) {
                    outs[0] = one(self, to, LocalInput::Deliver(packet));
                }
            }
        }
        let mut sent = [u32::MAX; 2];
        self.last_sent = outs[0].map_or(u32::MAX, |(_, o)| o.sent);
        self.last_judged = outs[0].is_some_and(|(_, o)| o.judged);
        for (id, out) in outs.iter().flatten() {
            next.peers[id.index()] = out.peer;
            next.apps[id.index()] = out.app;
            sent[id.other().index()] = out.sent;
        }
        // The network, the packets in flight to each peer in turn. Those to a peer that
        // the step did not touch (nothing left or joined, the same receiver, generation
        // and budgets) stay as they are: they were kept at the step that made them, by
        // the same rules on the same values.
        let left = |c: &Compact| pieces.left(&b, c);
        let (timeouts_left, restarts_left) = left(next);
        let budgets_same = (next.spent.timeouts == s.spent.timeouts
            && next.spent.ice_restarts == s.spent.ice_restarts
            && next.connected == s.connected
            && next.apps[0] == s.apps[0])
            || left(s) == (timeouts_left, restarts_left);
        let mut grew = false;
        for to in PeerId::BOTH {
            let i = to.index();
            let remove = match remove {
                Some((r, p)) if r == to => p,
                _ => u32::MAX,
            };
            if remove == u32::MAX
                && sent[i] == u32::MAX
                && (s.nets[i] == EMPTY_NET
                    || (next.peers[i] == s.peers[i]
                        && next.ice_generation[i] == s.ice_generation[i]
                        && budgets_same))
            {
                continue;
            }
            if sent[i] == u32::MAX && *pieces.nets.get(s.nets[i]) == [(remove, 1)] {
                // The last packet in flight to the peer is delivered or dropped.
                next.nets[i] = EMPTY_NET;
                continue;
            }
            let key = NetKey {
                remove,
                sent: sent[i],
                peer: next.peers[i],
                generation: next.ice_generation[i],
                timeouts_left,
                restarts_left,
            };
            let (net, g) = match self.net.get(s.nets[i], &key) {
                Some(hit) => *hit,
                None => {
                    let out = self.net_update(pieces, s.nets[i], &key, b.max_copies);
                    self.net.insert(s.nets[i], key, out);
                    out
                }
            };
            next.nets[i] = net;
            grew |= g;
        }
        // The monitor.
        let judged = outs.iter().flatten().any(|(_, o)| o.judged);
        let mut violation = None;
        if judged {
            let logs = outs.map(|o| match o {
                Some((_, out)) if out.judged => out.log,
                _ => u32::MAX,
            });
            let (m, v) = match self.monitor.get(s.monitor, &logs) {
                Some(hit) => hit.clone(),
                None => {
                    let entries: Vec<&[Entry]> = logs
                        .iter()
                        .filter(|&&l| l != u32::MAX)
                        .map(|&l| pieces.logs.get(l).as_slice())
                        .collect();
                    let (m, v) = observe_logs(pieces.monitors.get(s.monitor), &entries, None, NOW);
                    let out = (pieces.monitor(m), v.map(Arc::new));
                    self.monitor.insert(s.monitor, logs, out.clone());
                    out
                }
            };
            next.monitor = m;
            violation = v;
        }
        let quiet = !judged && !grew;
        let stutter = match a {
            Action::Fire { .. } | Action::GuardExpiry { .. } => quiet,
            Action::AppTimer { .. } => {
                quiet
                    && outs
                        .iter()
                        .flatten()
                        .all(|(id, o)| o.app == s.apps[id.index()])
            }
            _ => false,
        };
        (!stutter).then_some(violation)
    }

    /// What the moving peer of the last [`Stepper::step`] sent to the other peer (an id
    /// for [`Pieces::sent_packets`]; `u32::MAX` for nothing). For connect and ICE
    /// restart, what `a` sent.
    pub(crate) fn last_sent(&self) -> u32 {
        self.last_sent
    }

    /// Whether the monitor judged an event of the last [`Stepper::step`]'s moving peer
    /// (a step with one is never a stutter).
    pub(crate) fn last_judged(&self) -> bool {
        self.last_judged
    }

    /// What `peer` would send to the other peer in `s` on `input` (an id for
    /// [`Pieces::sent_packets`]; `u32::MAX` for nothing), without stepping `s`.
    pub(crate) fn sent_on<A: WorldApp>(
        &mut self,
        world: &World<A>,
        pieces: &Pieces<A>,
        s: &Compact,
        peer: PeerId,
        input: LocalInput<u32>,
    ) -> u32 {
        let eager_sack = world.config().bounds.delayed_sack == 0;
        self.local(pieces, s, peer, input, eager_sack).sent
    }

    fn local<A: WorldApp>(
        &mut self,
        pieces: &Pieces<A>,
        s: &Compact,
        id: PeerId,
        input: LocalInput<u32>,
        eager_sack: bool,
    ) -> Local {
        let (peer, app) = (s.peers[id.index()], s.apps[id.index()]);
        let key = (id, app, input);
        if let Some(hit) = self.local.get(peer, &key) {
            return *hit;
        }
        let input_named = match &key.2 {
            LocalInput::Start => LocalInput::Start,
            LocalInput::AppTimer => LocalInput::AppTimer,
            LocalInput::Send(c) => LocalInput::Send(*c),
            LocalInput::CloseChannel(c) => LocalInput::CloseChannel(*c),
            LocalInput::ClosePeer => LocalInput::ClosePeer,
            LocalInput::Fire(t) => LocalInput::Fire(*t),
            LocalInput::GuardExpiry(c) => LocalInput::GuardExpiry(*c),
            LocalInput::Deliver(p) => LocalInput::Deliver(pieces.packets.get(*p)),
        };
        let run = run_local(
            id,
            pieces.peers.get(peer).clone(),
            pieces.apps.get(app).clone(),
            &input_named,
            NOW,
            false,
            eager_sack,
        );
        let out = local_ids(pieces, run);
        self.local.insert(peer, key, out);
        out
    }

    /// Connect or ICE restart on `next` (whose generations it updates).
    fn both<A: WorldApp>(
        &mut self,
        pieces: &Pieces<A>,
        next: &mut Compact,
        restart: bool,
        eager_sack: bool,
    ) -> [Option<(PeerId, Local)>; 2] {
        let key = (next.peers, next.apps, next.ice_generation, restart);
        let (outs, generation) = match self.both.get(&key) {
            Some(hit) => *hit,
            None => {
                let mut generation = next.ice_generation;
                let runs = run_both(
                    next.peers.map(|p| pieces.peers.get(p).clone()),
                    next.apps.map(|a| pieces.apps.get(a).clone()),
                    &mut generation,
                    NOW,
                    false,
                    eager_sack,
                    restart,
                    &mut |_, _, _| {},
                );
                let out = (runs.map(|run| local_ids(pieces, run)), generation);
                bound(&mut self.both, TABLE_LIMIT);
                self.both.insert(key, out);
                out
            }
        };
        next.ice_generation = generation;
        [Some((PeerId::A, outs[0])), Some((PeerId::B, outs[1]))]
    }

    /// The packets in flight to one peer after a step (`Delta::apply` in step.rs, on
    /// ids and for one receiver) and whether a datagram put a new copy in flight.
    fn net_update<A: WorldApp>(
        &mut self,
        pieces: &Pieces<A>,
        net: u32,
        key: &NetKey,
        max_copies: u8,
    ) -> (u32, bool) {
        let mut net = pieces.nets.get(net).clone();
        let mut grew = false;
        if key.remove != u32::MAX {
            if let Some(i) = net.iter().position(|(q, _)| *q == key.remove) {
                if net[i].1 > 1 {
                    net[i].1 -= 1;
                } else {
                    net.remove(i);
                }
            }
        }
        let peer = pieces.peers.get(key.peer);
        let fate = Fate {
            closed: peer.is_closed(),
            generation: key.generation,
            timeouts_left: key.timeouts_left,
            restarts_left: key.restarts_left,
        };
        let ignored = &mut self.ignored;
        let mut dead = |p: u32| {
            let packet = pieces.packets.get(p);
            fate.dead(peer, packet, || match ignored.get(key.peer, &p) {
                Some(hit) => *hit,
                None => {
                    let out = probe(peer, packet);
                    ignored.insert(key.peer, p, out);
                    out
                }
            })
        };
        if key.sent != u32::MAX && !peer.is_closed() {
            for &p in pieces.sent.get(key.sent) {
                if dead(p) {
                    continue;
                }
                let packet = pieces.packets.get(p);
                let at = net.binary_search_by(|(q, _)| pieces.packets.get(*q).cmp(packet));
                let i = match at {
                    Ok(i) => i,
                    Err(i) => {
                        net.insert(i, (p, 0));
                        i
                    }
                };
                if net[i].1 < max_copies {
                    net[i].1 += 1;
                    grew = true;
                }
            }
        }
        net.retain(|(p, _)| !dead(*p));
        bound(&mut self.nets, NET_MEMO_LIMIT);
        let id = match self.nets.get(&net) {
            Some(id) => *id,
            None => {
                let id = pieces.net(net.clone());
                self.nets.insert(net, id);
                id
            }
        };
        (id, grew)
    }
}

/// A local transition's results, interned.
fn local_ids<A: WorldApp>(pieces: &Pieces<A>, run: LocalRun<A>) -> Local {
    let judged = run.log.iter().any(|e| e.1);
    Local {
        peer: pieces.peer(run.peer),
        app: pieces.app(run.app),
        sent: if run.transmits.is_empty() {
            u32::MAX
        } else {
            pieces.sent(&run.transmits)
        },
        log: pieces.log(run.log),
        judged,
    }
}

/// A copy of packet `p` to `to` is in flight in `s`.
fn in_flight<A>(pieces: &Pieces<A>, s: &Compact, to: PeerId, p: u32) -> bool {
    pieces
        .nets
        .get(s.nets[to.index()])
        .iter()
        .any(|(q, _)| *q == p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::app::AppKind;
    use crate::check::world::WorldConfig;
    use crate::model::Profile;

    /// Walks the default guarded world breadth first for a few levels and checks that
    /// every compact step names the state [`World::step`] computes, with the same
    /// actions in the same order.
    #[test]
    fn compact_steps_are_world_steps() {
        let world = World::new(WorldConfig::new(Profile::WEBRTC_RS, AppKind::Guarded)).unwrap();
        let pieces = Pieces::default();
        let mut stepper = Stepper::default();
        let mut level = vec![world.init()];
        let (mut full, mut ids) = (Vec::new(), Vec::new());
        let mut checked = 0;
        for _ in 0..7 {
            let mut next_level = Vec::new();
            for s in &level {
                let c = pieces.compress(s);
                world.actions(s, &mut full);
                pieces.actions(&world, &c, &mut ids);
                let named: Vec<Action> = ids.iter().map(|a| pieces.named(a)).collect();
                assert_eq!(named, full);
                for (a, ia) in full.iter().zip(&ids) {
                    let want = world.step(s, a);
                    let mut g = c;
                    let got = stepper.step(&world, &pieces, &c, ia, &mut g);
                    match (want, got) {
                        (None, None) => {}
                        (Some(w), Some(v)) => {
                            let g = pieces.expand(&g, v.map(|v| (*v).clone()));
                            assert_eq!(g, w, "after {a}");
                            assert_eq!(
                                pieces.fingerprint(&pieces.compress(&w), w.violation.is_some()),
                                pieces.fingerprint(&pieces.compress(&g), g.violation.is_some())
                            );
                            checked += 1;
                            if w.violation.is_none() && next_level.len() < 400 {
                                next_level.push(w);
                            }
                        }
                        (w, g) => panic!(
                            "after {a}: world {:?}, compact {:?}",
                            w.is_some(),
                            g.is_some()
                        ),
                    }
                }
            }
            level = next_level;
        }
        assert!(checked > 1000, "only {checked} steps checked");
    }
}
