//! The guard's invariants, checked after every step of scripted scenarios and of random
//! interleavings (proptest) of sends, channel and ICE state changes, transport refusals
//! and time:
//!
//! - no message is released (`Send` or `Transmit`) unless the last reported channel
//!   state is open, the guard was never closed, the ICE path is usable and the transport
//!   has not refused since it last said it could take data (`no-send-on-non-open`);
//! - every offered message has exactly one fate: transmitted, dropped with a reason, or
//!   queued; `offered == transmitted + dropped + queued` (`no-silent-loss`);
//! - messages that get through get through in the order they were offered
//!   (`fifo-delivery`);
//! - the queue never exceeds its message and byte bounds (`bounded-queue`);
//! - a drop's reason is true (expired only after the TTL, path-failed only on a failed
//!   path, ...), and an open gate never sits on queued messages.

use dcsim::guard::{
    DropReason, Gate, Guard, GuardConfig, GuardOutput, Outcome, SendErrorKind, SizedMsg,
};
use dcsim::model::{DataChannelState as C, IceConnectionState as I, PeerConnectionState as P};
use dcsim::trace::{Millis, MsgId};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One step of a scenario.
#[derive(Clone, Debug)]
enum Op {
    /// The app sends a message of this many bytes.
    Send(usize),
    /// The channel reports a state.
    Channel(C),
    /// ICE reports a state.
    Ice(I),
    /// The peer connection reports a state.
    Pc(P),
    /// Time passes (the guard is not told: a lazy driver that skips timers).
    Advance(Millis),
    /// Time passes to the guard's timer, which fires (if armed).
    Timeout,
    /// The transport says it can take data again.
    Writable,
    /// The transport will refuse the next message released to it.
    RefuseNext(SendErrorKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Transmitted,
    Dropped(DropReason),
}

/// The guard plus an independent record of what it was told and what it did.
struct Harness {
    guard: Guard<SizedMsg>,
    cfg: GuardConfig,
    now: Millis,
    next_id: MsgId,
    // What the guard was told, tracked independently of the guard.
    channel: C,
    ice: I,
    /// The peer connection was reported failed and no new attempt since.
    pc_failed: bool,
    closed: bool,
    blocked: bool,
    refuse_next: Option<SendErrorKind>,
    // What happened to each message.
    offered_at: BTreeMap<MsgId, Millis>,
    size: BTreeMap<MsgId, usize>,
    fate: BTreeMap<MsgId, Fate>,
    /// Offered messages without a fate yet (must be exactly the queued ones).
    pending: BTreeSet<MsgId>,
    last_transmitted: Option<MsgId>,
    transmitted: u64,
    dropped: u64,
    transport_errors: u64,
    /// Messages the transport refused as too large.
    refused_too_large: BTreeSet<MsgId>,
    /// Run the O(queue) checks every this many steps (the O(1) ones run every step).
    deep_every: u64,
    steps: u64,
    /// Released in order, refusals included (for the FIFO assertions of scenarios).
    delivered: Vec<MsgId>,
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

impl Harness {
    fn new(cfg: GuardConfig) -> Self {
        Harness {
            guard: Guard::new(cfg),
            cfg,
            now: 0,
            next_id: 0,
            channel: C::Unspecified,
            ice: I::Unspecified,
            pc_failed: false,
            closed: false,
            blocked: false,
            refuse_next: None,
            offered_at: BTreeMap::new(),
            size: BTreeMap::new(),
            fate: BTreeMap::new(),
            pending: BTreeSet::new(),
            last_transmitted: None,
            transmitted: 0,
            dropped: 0,
            transport_errors: 0,
            refused_too_large: BTreeSet::new(),
            deep_every: 1,
            steps: 0,
            delivered: Vec::new(),
        }
    }

    fn path_usable(&self) -> bool {
        if self.pc_failed {
            return false;
        }
        match self.ice {
            I::Unspecified | I::Connected | I::Completed => true,
            I::Failed | I::Closed => false,
            _ => !self.cfg.hold_while_disconnected,
        }
    }

    fn may_release(&self) -> bool {
        self.channel == C::Open && !self.closed && self.path_usable() && !self.blocked
    }

    /// Runs one step, drains the outputs, checks every invariant.
    fn step(&mut self, op: &Op) -> Check {
        match *op {
            Op::Send(size) => {
                let id = self.next_id;
                self.next_id += 1;
                self.offered_at.insert(id, self.now);
                self.size.insert(id, size);
                self.pending.insert(id);
                let (len, bytes) = (self.guard.queued_len(), self.guard.queued_bytes());
                match self.guard.send(self.now, id, SizedMsg { id, size }) {
                    Outcome::Send(p) => self.on_release(p, false)?,
                    Outcome::Queued => {}
                    Outcome::Rejected(reason) => {
                        self.check_reason(id, reason)?;
                        if reason == DropReason::QueueFull {
                            ensure!(
                                len >= self.cfg.max_queue_messages
                                    || bytes + size > self.cfg.max_queue_bytes,
                                "queue-full with room: {len} msgs {bytes} bytes + {size}"
                            );
                        }
                        self.record_drop(id, reason)?;
                    }
                    other => return Err(format!("unknown outcome {other:?}")),
                }
            }
            Op::Channel(state) => {
                self.guard.on_channel_state(self.now, state);
                let was = std::mem::replace(&mut self.channel, state);
                match state {
                    C::Open if was != C::Open => self.blocked = false,
                    C::Closing | C::Closed => self.closed = true,
                    _ => {}
                }
            }
            Op::Ice(state) => {
                self.guard.on_ice_state(self.now, state);
                self.ice = state;
                if state == I::Closed {
                    self.closed = true;
                }
            }
            Op::Pc(state) => {
                self.guard.on_peer_connection_state(self.now, state);
                match state {
                    P::Closed => self.closed = true,
                    P::Failed => self.pc_failed = true,
                    P::New | P::Connecting | P::Connected => self.pc_failed = false,
                    _ => {}
                }
            }
            Op::Advance(dt) => self.now += dt,
            Op::Timeout => {
                if let Some(at) = self.guard.poll_timeout() {
                    let told = self.guard.now();
                    ensure!(at > told, "timer {at} overdue at {told}");
                    // A late timer (time already passed unreported) fires late.
                    self.now = self.now.max(at);
                    self.guard.handle_timeout(self.now);
                }
            }
            Op::Writable => {
                self.guard.on_writable(self.now);
                self.blocked = false;
            }
            Op::RefuseNext(kind) => self.refuse_next = Some(kind),
        }
        self.drain()?;
        self.steps += 1;
        self.check_invariants()
    }

    fn drain(&mut self) -> Check {
        while let Some(out) = self.guard.poll_output() {
            match out {
                GuardOutput::Transmit { payload, .. } => self.on_release(payload, true)?,
                GuardOutput::Dropped { id, reason } => {
                    self.check_reason(id, reason)?;
                    self.record_drop(id, reason)?;
                }
                other => return Err(format!("unknown output {other:?}")),
            }
        }
        Ok(())
    }

    /// The transport got a message: either it takes it, or it refuses (as armed).
    fn on_release(&mut self, msg: SizedMsg, flushed: bool) -> Check {
        let id = msg.id;
        ensure!(
            self.may_release(),
            "no-send-on-non-open: msg {id} released with channel {} ice {} closed={} \
             blocked={}",
            self.channel,
            self.ice,
            self.closed,
            self.blocked
        );
        ensure!(
            !self.fate.contains_key(&id),
            "msg {id} released after its fate"
        );
        if flushed {
            if let Some(ttl) = self.cfg.ttl_ms {
                ensure!(
                    self.now < self.offered_at[&id] + ttl,
                    "msg {id} released after its TTL"
                );
            }
        }
        self.delivered.push(id);
        if let Some(kind) = self.refuse_next.take() {
            self.transport_errors += 1;
            self.guard.on_send_error(self.now, id, msg, kind);
            match kind {
                SendErrorKind::Closed => self.closed = true,
                SendErrorKind::TooLarge => {
                    self.refused_too_large.insert(id);
                }
                // The transport says the channel is not open yet: the guard believes it.
                SendErrorKind::NotOpen => self.channel = C::Connecting,
                _ => self.blocked = true,
            }
            return Ok(());
        }
        ensure!(
            self.last_transmitted.is_none_or(|last| id > last),
            "fifo-delivery: msg {id} after {:?}",
            self.last_transmitted
        );
        self.last_transmitted = Some(id);
        self.fate.insert(id, Fate::Transmitted);
        self.pending.remove(&id);
        self.transmitted += 1;
        Ok(())
    }

    fn record_drop(&mut self, id: MsgId, reason: DropReason) -> Check {
        ensure!(
            self.fate.insert(id, Fate::Dropped(reason)).is_none(),
            "msg {id} got a second fate {reason}"
        );
        self.pending.remove(&id);
        self.dropped += 1;
        Ok(())
    }

    /// A drop's reason must be true of the world as the guard was told it.
    fn check_reason(&self, id: MsgId, reason: DropReason) -> Check {
        let size = self.size[&id];
        let ok = match reason {
            DropReason::NotOpen => self.channel != C::Open && !self.cfg.queue_while_connecting,
            DropReason::Expired => self
                .cfg
                .ttl_ms
                .is_some_and(|ttl| self.now >= self.offered_at[&id] + ttl),
            DropReason::QueueFull => true, // checked at the send (needs the sizes before)
            DropReason::ChannelClosed => self.closed,
            DropReason::TooLarge => {
                size > self.cfg.max_message_size || self.refused_too_large.contains(&id)
            }
            DropReason::PathFailed => self.ice == I::Failed || self.pc_failed,
            _ => false,
        };
        ensure!(
            ok,
            "msg {id} dropped {reason} untruly (channel {} ice {} closed={} t={} offered at {})",
            self.channel,
            self.ice,
            self.closed,
            self.now,
            self.offered_at[&id]
        );
        Ok(())
    }

    fn check_invariants(&self) -> Check {
        let g = &self.guard;
        let offered = self.next_id;
        ensure!(
            g.offered() == offered,
            "offered {} != {offered}",
            g.offered()
        );
        ensure!(
            offered == self.transmitted + self.dropped + g.queued_len() as u64,
            "no-silent-loss: offered {offered} != transmitted {} + dropped {} + queued {}",
            self.transmitted,
            self.dropped,
            g.queued_len()
        );
        ensure!(
            g.conserved(),
            "guard's own conservation fails: {:?}",
            g.metrics()
        );
        ensure!(
            g.transmitted() == self.transmitted && g.dropped() == self.dropped,
            "metrics disagree: {:?}",
            g.metrics()
        );
        ensure!(
            g.gate() != Gate::Open || g.queued_len() == 0,
            "open gate sitting on {} queued messages",
            g.queued_len()
        );
        ensure!(
            g.queued_len() <= self.cfg.max_queue_messages
                && g.queued_bytes() <= self.cfg.max_queue_bytes,
            "bounded-queue: {} msgs {} bytes",
            g.queued_len(),
            g.queued_bytes()
        );
        if self.steps % self.deep_every != 0 {
            return Ok(());
        }
        // Exactly the messages without a fate are queued, in offer order.
        let queued: Vec<MsgId> = g.queued().map(|(id, _)| id).collect();
        let open: Vec<MsgId> = self.pending.iter().copied().collect();
        ensure!(queued == open, "queued {queued:?} but fateless {open:?}");
        let bytes: usize = g.queued().map(|(_, m)| m.size).sum();
        ensure!(bytes == g.queued_bytes(), "byte count drifted");
        ensure!(
            self.fate.len() + self.pending.len() == offered as usize,
            "fates lost"
        );
        ensure!(
            (g.gate() == Gate::Open) == self.may_release(),
            "gate {} disagrees with the reported states",
            g.gate()
        );
        if let Some(at) = g.poll_timeout() {
            // Time the guard has not been told about yet (a lazy driver) is not its fault.
            ensure!(at > g.now(), "expired message still queued at {}", g.now());
        }
        ensure!(
            g.metrics().high_water_messages <= self.cfg.max_queue_messages
                && g.metrics().high_water_bytes <= self.cfg.max_queue_bytes,
            "high-water over the bounds"
        );
        Ok(())
    }

    fn run(&mut self, ops: &[Op]) -> Check {
        for (i, op) in ops.iter().enumerate() {
            self.step(op).map_err(|e| format!("step {i} {op:?}: {e}"))?;
        }
        Ok(())
    }

    fn fates(&self, fate: Fate) -> usize {
        self.fate.values().filter(|f| **f == fate).count()
    }
}

// ---- scenarios ---------------------------------------------------------------------

#[test]
fn sends_before_open_arrive_in_order_after_open() {
    let mut h = Harness::new(GuardConfig::default());
    let mut ops = vec![Op::Ice(I::Checking)];
    ops.extend((0..10).map(|_| Op::Send(10)));
    ops.extend([
        Op::Advance(7),
        Op::Ice(I::Connected),
        Op::Advance(600),
        Op::Channel(C::Open),
    ]);
    ops.extend((0..5).map(|_| Op::Send(10)));
    h.run(&ops).unwrap();
    assert_eq!(h.delivered, (0..15).collect::<Vec<_>>());
    let m = h.guard.metrics();
    assert_eq!((m.queued, m.flushed, m.sent_direct), (10, 10, 5));
    assert_eq!(m.first_send_to_open_ms(), Some(607));
}

#[test]
fn flood_while_connecting_stays_bounded_and_reports_queue_full() {
    const N: usize = 100_000;
    let cfg = GuardConfig::default();
    let mut h = Harness::new(cfg);
    h.deep_every = 997;
    for _ in 0..N {
        h.step(&Op::Send(100)).unwrap();
    }
    assert_eq!(h.guard.queued_len(), cfg.max_queue_messages);
    assert_eq!(
        h.guard.metrics().dropped.queue_full as usize,
        N - cfg.max_queue_messages
    );
    assert_eq!(h.fates(Fate::Dropped(DropReason::QueueFull)), N - 1024);
    h.step(&Op::Channel(C::Open)).unwrap();
    assert_eq!(h.delivered, (0..1024).collect::<Vec<_>>());
    assert_eq!(h.guard.queued_len(), 0);
}

#[test]
fn flood_of_large_messages_is_bounded_by_bytes() {
    let cfg = GuardConfig::default();
    let mut h = Harness::new(cfg);
    h.deep_every = 997;
    for _ in 0..100_000 {
        h.step(&Op::Send(4096)).unwrap();
    }
    // 1 MiB / 4 KiB
    assert_eq!(h.guard.queued_len(), 256);
    assert_eq!(h.guard.queued_bytes(), 1 << 20);
    assert_eq!(h.guard.metrics().high_water_bytes, 1 << 20);
    assert_eq!(h.guard.metrics().dropped.queue_full, 100_000 - 256);
}

#[test]
fn queued_messages_expire_after_the_ttl() {
    let mut h = Harness::new(GuardConfig::default());
    let ops = [
        Op::Send(1),
        Op::Advance(10_000),
        Op::Send(1),
        Op::Timeout,
        Op::Send(1),
        Op::Advance(5_000),
        Op::Channel(C::Open),
    ];
    h.run(&ops).unwrap();
    assert_eq!(h.fate[&0], Fate::Dropped(DropReason::Expired));
    assert_eq!(h.offered_at[&2], 30_000);
    assert_eq!(h.delivered, [1, 2]);
}

#[test]
fn failed_path_drops_held_messages_and_rejects_new_ones() {
    let mut h = Harness::new(GuardConfig::default());
    let ops = [
        Op::Ice(I::Checking),
        Op::Ice(I::Connected),
        Op::Channel(C::Open),
        Op::Send(1),
        Op::Advance(5_000),
        Op::Ice(I::Disconnected),
        Op::Send(1),
        Op::Send(1),
        Op::Advance(25_000),
        Op::Ice(I::Failed),
        Op::Send(1),
    ];
    h.run(&ops).unwrap();
    assert_eq!(h.delivered, [0]);
    for id in 1..4 {
        assert_eq!(h.fate[&id], Fate::Dropped(DropReason::PathFailed));
    }
}

#[test]
fn refused_message_is_requeued_at_the_front_and_not_lost() {
    let mut h = Harness::new(GuardConfig::default());
    let ops = [
        Op::Send(1),
        Op::Send(1),
        Op::RefuseNext(SendErrorKind::NotOpen),
        Op::Channel(C::Open),
        Op::Send(1),
        Op::Channel(C::Open),
    ];
    h.run(&ops).unwrap();
    // 0 was refused once, then everything went out in order.
    assert_eq!(h.delivered, [0, 0, 1, 2]);
    assert_eq!(h.guard.metrics().requeued, 1);
    assert_eq!(h.transmitted, 3);
}

#[test]
fn raced_close_drops_with_channel_closed() {
    let mut h = Harness::new(GuardConfig::default());
    let ops = [
        Op::Channel(C::Open),
        Op::RefuseNext(SendErrorKind::Closed),
        Op::Send(1),
        Op::Send(1),
    ];
    h.run(&ops).unwrap();
    assert_eq!(h.fate[&0], Fate::Dropped(DropReason::ChannelClosed));
    assert_eq!(h.fate[&1], Fate::Dropped(DropReason::ChannelClosed));
}

#[test]
fn the_checks_catch_a_guard_that_skips_the_state_check() {
    let cfg = GuardConfig {
        unsafe_skip_state_check: true,
        ..GuardConfig::default()
    };
    let err = Harness::new(cfg).run(&[Op::Send(1)]).unwrap_err();
    assert!(err.contains("no-send-on-non-open"), "{err}");
}

// ---- random interleavings ----------------------------------------------------------

fn channel_state() -> impl Strategy<Value = C> {
    prop::sample::select(C::ALL.to_vec())
}

fn ice_state() -> impl Strategy<Value = I> {
    prop::sample::select(I::ALL.to_vec())
}

fn send_error() -> impl Strategy<Value = SendErrorKind> {
    prop::sample::select(vec![
        SendErrorKind::NotOpen,
        SendErrorKind::Closed,
        SendErrorKind::TooLarge,
        SendErrorKind::BufferFull,
        SendErrorKind::Other,
    ])
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..250).prop_map(Op::Send),
        // Mostly the lifecycle's own states, with the odd illegal report.
        2 => prop::sample::select(vec![C::Connecting, C::Open, C::Open, C::Closed])
            .prop_map(Op::Channel),
        1 => channel_state().prop_map(Op::Channel),
        2 => prop::sample::select(vec![I::Checking, I::Connected, I::Disconnected, I::Failed])
            .prop_map(Op::Ice),
        1 => ice_state().prop_map(Op::Ice),
        1 => prop::sample::select(P::ALL.to_vec()).prop_map(Op::Pc),
        3 => (0u64..150).prop_map(Op::Advance),
        1 => Just(Op::Timeout),
        1 => Just(Op::Writable),
        1 => send_error().prop_map(Op::RefuseNext),
    ]
}

fn config() -> impl Strategy<Value = GuardConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        0usize..6,
        0usize..400,
        prop::option::of(0u64..300),
        50usize..200,
    )
        .prop_map(|(queue, hold, msgs, bytes, ttl, max)| GuardConfig {
            queue_while_connecting: queue,
            hold_while_disconnected: hold,
            max_queue_messages: msgs,
            max_queue_bytes: bytes,
            ttl_ms: ttl,
            max_message_size: max,
            ..GuardConfig::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Small bounds and short TTLs, so that every limit is hit often.
    #[test]
    fn invariants_hold_at_every_step(cfg in config(), ops in prop::collection::vec(op(), 1..200)) {
        let mut h = Harness::new(cfg);
        if let Err(e) = h.run(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }

    /// The default policy.
    #[test]
    fn invariants_hold_with_defaults(ops in prop::collection::vec(op(), 1..300)) {
        let mut h = Harness::new(GuardConfig::default());
        if let Err(e) = h.run(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}
