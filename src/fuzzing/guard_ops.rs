//! `guard_ops`: arbitrary interleavings of sends, channel / ICE / peer-connection state
//! reports, transport refusals and time for one [`Guard`], judged from the outside.
//!
//! The harness plays the application and the transport. It keeps its own ledger of every
//! message it offered (held by the guard, in the transport's hands, or done) and its own
//! view of what was reported, and after every operation checks:
//!
//! - **release only when open**: a message comes out (`Outcome::Send` or
//!   `GuardOutput::Transmit`) only while the last channel report is `open`, nothing
//!   closed the guard (a `closing`/`closed` channel, ICE or peer connection `closed`, a
//!   transport `closed` refusal), the last ICE report leaves the path usable (never
//!   reported, `connected` or `completed`; also `new`, `checking` and `disconnected` when
//!   the policy does not hold), and no refusal is still unanswered (a `not open` refusal
//!   until the next report of `open`, back-pressure until `on_writable` or the next
//!   report of `open`);
//! - **FIFO**: what comes out is always the oldest message the guard holds;
//! - **conservation**: every message has exactly one fate; the guard's counters and its
//!   queue equal the ledger (`offered == transmitted + dropped + queued`);
//! - **bounds**: the queue stays within its message and byte bounds; nothing larger than
//!   the maximum message size is released or queued;
//! - **TTL**: no held message is older than the TTL, an `expired` drop is not early,
//!   `poll_timeout` is the earliest expiry;
//! - **reasons**: each rejection and drop reason is true of the reported state;
//! - **liveness**: when the gate is open the queue is empty (it flushed).

use super::read::read_input;
use super::{pick, Options, MAX_OPS};
use crate::guard::{DropReason, Guard, GuardConfig, GuardOutput, Outcome, SendErrorKind, SizedMsg};
use crate::model::{DataChannelState, IceConnectionState, PeerConnectionState};
use crate::trace::{Millis, MsgId};
use arbitrary::Arbitrary;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// One fuzz input: the guard's configuration and what happens to it.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct GuardInput {
    /// Policies and (small) bounds.
    pub config: ConfigInput,
    /// The operations, in order (at most [`MAX_OPS`] are played).
    pub ops: Vec<GuardOp>,
}

/// A [`GuardConfig`] with bounds small enough for a fuzzer to reach.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigInput {
    /// [`GuardConfig::queue_while_connecting`].
    pub queue_while_connecting: bool,
    /// [`GuardConfig::hold_while_disconnected`].
    pub hold_while_disconnected: bool,
    /// [`GuardConfig::max_queue_messages`], taken modulo 9.
    pub max_queue_messages: u8,
    /// [`GuardConfig::max_queue_bytes`].
    pub max_queue_bytes: u16,
    /// [`GuardConfig::ttl_ms`].
    pub ttl_ms: Option<u16>,
    /// [`GuardConfig::max_message_size`].
    pub max_message_size: u16,
}

impl ConfigInput {
    /// The guard configuration.
    pub fn config(&self, options: &Options) -> GuardConfig {
        GuardConfig {
            queue_while_connecting: self.queue_while_connecting,
            hold_while_disconnected: self.hold_while_disconnected,
            max_queue_messages: usize::from(self.max_queue_messages % 9),
            max_queue_bytes: usize::from(self.max_queue_bytes),
            ttl_ms: self.ttl_ms.map(Millis::from),
            max_message_size: usize::from(self.max_message_size),
            unsafe_skip_state_check: options.plant_skip_state_check,
        }
    }
}

/// One thing that happens to the guard.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardOp {
    /// The application sends a message of this many bytes.
    Send {
        /// Payload size.
        size: u16,
    },
    /// The channel reports a readyState (index into `DataChannelState::ALL`).
    ChannelState(u8),
    /// ICE reports a connection state (index into `IceConnectionState::ALL`).
    IceState(u8),
    /// The peer connection reports a state (index into `PeerConnectionState::ALL`).
    PeerConnectionState(u8),
    /// From now on the transport answers released messages this way.
    Transport(TransportMode),
    /// The transport can take data again (`on_writable`).
    Writable,
    /// Time passes by this many milliseconds (`handle_timeout`).
    Advance {
        /// Milliseconds.
        ms: u16,
    },
    /// Time jumps to the guard's `poll_timeout`, if any (`handle_timeout`).
    Timeout,
}

/// How the transport answers a released message.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportMode {
    /// Takes it.
    Accept,
    /// Refuses it with this error.
    Refuse(RefusalInput),
}

/// A transport error ([`SendErrorKind`]).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalInput {
    /// [`SendErrorKind::NotOpen`].
    NotOpen,
    /// [`SendErrorKind::Closed`].
    Closed,
    /// [`SendErrorKind::TooLarge`].
    TooLarge,
    /// [`SendErrorKind::BufferFull`].
    BufferFull,
    /// [`SendErrorKind::Other`].
    Other,
}

impl RefusalInput {
    fn kind(self) -> SendErrorKind {
        match self {
            RefusalInput::NotOpen => SendErrorKind::NotOpen,
            RefusalInput::Closed => SendErrorKind::Closed,
            RefusalInput::TooLarge => SendErrorKind::TooLarge,
            RefusalInput::BufferFull => SendErrorKind::BufferFull,
            RefusalInput::Other => SendErrorKind::Other,
        }
    }
}

/// Decodes fuzz bytes into a [`GuardInput`] and checks it.
pub fn check_guard_ops(data: &[u8]) -> Result<(), String> {
    check_guard_ops_with(data, &Options::default())
}

/// [`check_guard_ops`] with harness options (the planted bug).
///
/// Reads the bytes as [`decode`](super::decode) does (see `read.rs`), into a buffer
/// kept from one call to the next, and names nothing the run reached: an execution of
/// the fuzzer allocates nothing for its input and only the verdict is wanted.
pub fn check_guard_ops_with(data: &[u8], options: &Options) -> Result<(), String> {
    thread_local! {
        static OPS: RefCell<Vec<GuardOp>> = const { RefCell::new(Vec::new()) };
    }
    OPS.with(|buffer| {
        let mut ops = buffer.take();
        let config: ConfigInput = read_input(data, &mut ops, MAX_OPS);
        let verdict = play(&config, &ops, options).map(|_| ());
        buffer.replace(ops);
        verdict
    })
}

/// Plays a [`GuardInput`] and checks every property after every operation. On success
/// returns the outcomes the run reached (`send`, `queued`, `rejected:<reason>`,
/// `transmit`, `refused:<kind>`, `dropped:<reason>`), for picking seed corpus files.
pub fn run_guard_ops(input: &GuardInput, options: &Options) -> Result<BTreeSet<String>, String> {
    play(&input.config, &input.ops, options).map(reached_names)
}

/// Plays the first [`MAX_OPS`] operations; on success returns the bits of what the run
/// reached (see [`reached_names`]).
fn play(input: &ConfigInput, ops: &[GuardOp], options: &Options) -> Result<u32, String> {
    let config = input.config(options);
    let ops = &ops[..ops.len().min(MAX_OPS)];
    let mut h = Harness::new(config, ops.len());
    for (i, op) in ops.iter().enumerate() {
        h.step(*op).and_then(|()| h.check_after()).map_err(|e| {
            format!(
                "guard_ops: {e}\n  at op #{i} {op:?}, t = {} ms\n  config: {config:?}\n  ops: {:?}",
                h.now,
                &ops[..=i]
            )
        })?;
    }
    Ok(h.reached)
}

fn reason_index(reason: DropReason) -> u32 {
    DropReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(0) as u32
}

/// The names of the bits of `Harness::reached`: `sent`, `queued`, `rejected:<reason>`
/// (bits 2..8), `transmit` (8), `refused:<kind>` (9..14), `dropped:<reason>` (14..20).
fn reached_names(bits: u32) -> BTreeSet<String> {
    let refusals = ["NotOpen", "Closed", "TooLarge", "BufferFull", "Other"];
    let mut names = vec!["sent".to_string(), "queued".to_string()];
    names.extend(DropReason::ALL.iter().map(|r| format!("rejected:{r}")));
    names.push("transmit".into());
    names.extend(refusals.iter().map(|k| format!("refused:{k}")));
    names.extend(DropReason::ALL.iter().map(|r| format!("dropped:{r}")));
    names
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, name)| name)
        .collect()
}

/// Where one offered message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// In the guard's queue (or about to be reported dropped).
    Held,
    /// Released to the transport, which has not answered yet.
    InTransport,
    /// Transmitted, rejected or dropped.
    Done,
}

#[derive(Clone, Copy, Debug)]
struct Msg {
    size: usize,
    /// Offer time + TTL (kept when the transport gives the message back).
    expires_at: Option<Millis>,
    fate: Fate,
}

/// What the harness was told, judged independently of the guard's own `Gate`.
#[derive(Clone, Copy, Debug)]
struct Reported {
    /// Last channel report; a `not open` refusal turns `open` into `connecting`.
    channel: DataChannelState,
    ice: IceConnectionState,
    /// The peer connection reported `failed`, and no new attempt since.
    pc_failed: bool,
    /// Channel closing/closed, ICE closed, pc closed, or a `closed` refusal.
    closed: bool,
    /// A buffer-full / other refusal not yet answered by `on_writable` or a new open.
    blocked: bool,
}

impl Reported {
    /// The path is dead: ICE or the peer connection failed.
    fn path_failed(&self) -> bool {
        self.ice == IceConnectionState::Failed || self.pc_failed
    }
}

/// A set of message ids in id order: a sorted `Vec`, as a `BTreeSet` but without a node
/// allocation per run and with a handful of comparisons per operation (the guard holds
/// at most a few messages). Printed as a set.
#[derive(Clone, Default, PartialEq, Eq)]
struct IdSet(Vec<MsgId>);

impl IdSet {
    /// Adds `id`; false if it was there.
    fn insert(&mut self, id: MsgId) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    /// Removes `id`; false if it was not there.
    fn remove(&mut self, id: MsgId) -> bool {
        match self.0.binary_search(&id) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    fn first(&self) -> Option<&MsgId> {
        self.0.first()
    }

    fn iter(&self) -> std::slice::Iter<'_, MsgId> {
        self.0.iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::fmt::Debug for IdSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

struct Harness {
    config: GuardConfig,
    guard: Guard<SizedMsg>,
    now: Millis,
    msgs: Vec<Msg>,
    reported: Reported,
    transport: TransportMode,
    transmitted: u64,
    dropped: u64,
    /// What the run reached: bits of [`reached_names`].
    reached: u32,
    /// Ids of the messages in the guard's hands, and in the transport's.
    held: IdSet,
    in_transport: IdSet,
}

impl Harness {
    /// A harness for at most `ops` operations (so at most that many messages).
    fn new(config: GuardConfig, ops: usize) -> Self {
        Harness {
            config,
            guard: Guard::new(config),
            now: 0,
            msgs: Vec::with_capacity(ops),
            reported: Reported {
                channel: DataChannelState::Unspecified,
                ice: IceConnectionState::Unspecified,
                pc_failed: false,
                closed: false,
                blocked: false,
            },
            transport: TransportMode::Accept,
            transmitted: 0,
            dropped: 0,
            reached: 0,
            held: IdSet::default(),
            in_transport: IdSet::default(),
        }
    }

    /// The property under test: may a message come out now?
    fn may_release(&self) -> bool {
        use IceConnectionState as I;
        let r = &self.reported;
        let path_usable = match r.ice {
            _ if r.pc_failed => false,
            I::Unspecified | I::Connected | I::Completed => true,
            I::Failed | I::Closed => false,
            _ => !self.config.hold_while_disconnected,
        };
        r.channel == DataChannelState::Open && !r.closed && !r.blocked && path_usable
    }

    /// The messages the guard holds, oldest first.
    fn held(&self) -> impl Iterator<Item = (MsgId, &Msg)> + '_ {
        self.held
            .iter()
            .filter_map(|&id| self.msgs.get(id as usize).map(|m| (id, m)))
    }

    fn msg(&self, id: MsgId) -> Result<Msg, String> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.msgs.get(i))
            .copied()
            .ok_or_else(|| format!("guard reported #{id}, which was never offered"))
    }

    /// Moves a message to its next place in the ledger.
    fn set_fate(&mut self, id: MsgId, fate: Fate) -> Result<(), String> {
        let Some(msg) = usize::try_from(id).ok().and_then(|i| self.msgs.get_mut(i)) else {
            return Err(format!("guard reported #{id}, which was never offered"));
        };
        match msg.fate {
            Fate::Held => self.held.remove(id),
            Fate::InTransport => self.in_transport.remove(id),
            Fate::Done => false,
        };
        msg.fate = fate;
        match fate {
            Fate::Held => self.held.insert(id),
            Fate::InTransport => self.in_transport.insert(id),
            Fate::Done => false,
        };
        Ok(())
    }

    fn step(&mut self, op: GuardOp) -> Result<(), String> {
        match op {
            GuardOp::Send { size } => self.send(usize::from(size))?,
            GuardOp::ChannelState(i) => {
                let state = pick(DataChannelState::ALL, i);
                let r = &mut self.reported;
                if state == DataChannelState::Open && r.channel != DataChannelState::Open {
                    r.blocked = false;
                }
                if matches!(state, DataChannelState::Closing | DataChannelState::Closed) {
                    r.closed = true;
                }
                r.channel = state;
                self.guard.on_channel_state(self.now, state);
            }
            GuardOp::IceState(i) => {
                let state = pick(IceConnectionState::ALL, i);
                self.reported.ice = state;
                if state == IceConnectionState::Closed {
                    self.reported.closed = true;
                }
                self.guard.on_ice_state(self.now, state);
            }
            GuardOp::PeerConnectionState(i) => {
                let state = pick(PeerConnectionState::ALL, i);
                match state {
                    PeerConnectionState::Closed => self.reported.closed = true,
                    PeerConnectionState::Failed => self.reported.pc_failed = true,
                    PeerConnectionState::New
                    | PeerConnectionState::Connecting
                    | PeerConnectionState::Connected => self.reported.pc_failed = false,
                    _ => {}
                }
                self.guard.on_peer_connection_state(self.now, state);
            }
            GuardOp::Transport(mode) => self.transport = mode,
            GuardOp::Writable => {
                self.reported.blocked = false;
                self.guard.on_writable(self.now);
            }
            GuardOp::Advance { ms } => {
                self.now += Millis::from(ms);
                self.guard.handle_timeout(self.now);
            }
            GuardOp::Timeout => {
                if let Some(at) = self.guard.poll_timeout() {
                    self.now = self.now.max(at);
                    self.guard.handle_timeout(self.now);
                }
            }
        }
        self.drain()
    }

    fn send(&mut self, size: usize) -> Result<(), String> {
        let id = self.msgs.len() as MsgId;
        let expires_at = self.config.ttl_ms.map(|ttl| self.now + ttl);
        self.msgs.push(Msg {
            size,
            expires_at,
            fate: Fate::Held,
        });
        self.held.insert(id);
        // What the guard held, as of this instant (expired messages are gone).
        let (mut live, mut live_bytes) = (0, 0);
        for (i, m) in self.held() {
            if i != id && m.expires_at.is_none_or(|at| at > self.now) {
                live += 1;
                live_bytes += m.size;
            }
        }
        let outcome = self.guard.send(self.now, id, SizedMsg { id, size });
        self.reached |= match &outcome {
            Outcome::Send(_) => 1,
            Outcome::Queued => 1 << 1,
            Outcome::Rejected(reason) => 1 << (2 + reason_index(*reason)),
        };
        match outcome {
            Outcome::Send(payload) => {
                self.check_release(id, &payload, "send() answered Send")?;
                self.transport(id, payload)?;
            }
            Outcome::Queued => {
                if size > self.config.max_message_size {
                    return Err(format!("#{id} of {size} bytes queued above the max size"));
                }
                if self.reported.closed || self.reported.path_failed() {
                    return Err(format!("#{id} queued on a closed or failed path"));
                }
            }
            Outcome::Rejected(reason) => {
                self.set_fate(id, Fate::Done)?;
                self.dropped += 1;
                let c = &self.config;
                let truth = match reason {
                    DropReason::TooLarge => size > c.max_message_size,
                    DropReason::ChannelClosed => self.reported.closed,
                    DropReason::PathFailed => self.reported.path_failed(),
                    DropReason::NotOpen => !c.queue_while_connecting,
                    DropReason::Expired => c.ttl_ms == Some(0),
                    DropReason::QueueFull => {
                        live >= c.max_queue_messages || live_bytes + size > c.max_queue_bytes
                    }
                };
                if !truth {
                    return Err(format!(
                        "#{id} of {size} bytes rejected {reason}, which is not true now \
                         (reported {:?}, {} live queued)",
                        self.reported, live
                    ));
                }
            }
        }
        Ok(())
    }

    /// A release (direct or flushed) must be allowed, and must be the oldest held message.
    fn check_release(&mut self, id: MsgId, payload: &SizedMsg, how: &str) -> Result<(), String> {
        if payload.id != id {
            return Err(format!(
                "{how} for #{id} with the payload of #{}",
                payload.id
            ));
        }
        if !self.may_release() {
            return Err(format!(
                "{how} for #{id} although the reports forbid it: {:?}",
                self.reported
            ));
        }
        if payload.size > self.config.max_message_size {
            return Err(format!(
                "{how} for #{id} of {} bytes, above the max message size {}",
                payload.size, self.config.max_message_size
            ));
        }
        // Expired messages still in the ledger are about to be reported dropped (a
        // message offered now with a TTL of 0 may still go out at once).
        let now = self.now;
        let oldest = self
            .held()
            .find(|(i, m)| *i == id || m.expires_at.is_none_or(|at| at > now))
            .map(|(i, _)| i);
        if oldest != Some(id) {
            return Err(format!(
                "{how} for #{id} but the oldest held message is {oldest:?} (FIFO)"
            ));
        }
        self.set_fate(id, Fate::InTransport)?;
        Ok(())
    }

    /// The transport's answer to a released message.
    fn transport(&mut self, id: MsgId, payload: SizedMsg) -> Result<(), String> {
        match self.transport {
            TransportMode::Accept => {
                self.set_fate(id, Fate::Done)?;
                self.transmitted += 1;
            }
            TransportMode::Refuse(refusal) => {
                let kind = refusal.kind();
                self.reached |= 1 << (9 + refusal as u32);
                match kind {
                    SendErrorKind::Closed => self.reported.closed = true,
                    SendErrorKind::NotOpen if self.reported.channel == DataChannelState::Open => {
                        self.reported.channel = DataChannelState::Connecting;
                    }
                    SendErrorKind::BufferFull | SendErrorKind::Other => {
                        self.reported.blocked = true
                    }
                    _ => {}
                }
                self.set_fate(id, Fate::Held)?;
                self.guard.on_send_error(self.now, id, payload, kind);
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), String> {
        while let Some(out) = self.guard.poll_output() {
            match out {
                GuardOutput::Transmit { id, payload } => {
                    self.reached |= 1 << 8;
                    self.check_release(id, &payload, "poll_output gave Transmit")?;
                    self.transport(id, payload)?;
                }
                GuardOutput::Dropped { id, reason } => {
                    let now = self.now;
                    let reported = self.reported;
                    let msg = self.msg(id)?;
                    if msg.fate != Fate::Held {
                        return Err(format!(
                            "#{id} dropped ({reason}) but it was {:?}",
                            msg.fate
                        ));
                    }
                    let truth = match reason {
                        DropReason::Expired => msg.expires_at.is_some_and(|at| now >= at),
                        DropReason::ChannelClosed => reported.closed,
                        DropReason::PathFailed => reported.path_failed(),
                        DropReason::TooLarge => matches!(
                            self.transport,
                            TransportMode::Refuse(RefusalInput::TooLarge)
                        ),
                        DropReason::QueueFull => true,
                        _ => false,
                    };
                    if !truth {
                        return Err(format!(
                            "#{id} dropped {reason}, which is not true now (reported {reported:?})"
                        ));
                    }
                    self.set_fate(id, Fate::Done)?;
                    self.dropped += 1;
                    self.reached |= 1 << (14 + reason_index(reason));
                }
            }
        }
        Ok(())
    }

    fn check_after(&self) -> Result<(), String> {
        let g = &self.guard;
        if let Some(id) = self.in_transport.first() {
            return Err(format!("#{id} left in the transport's hands"));
        }
        if !g.queued().map(|(id, _)| id).eq(self.held.iter().copied()) {
            let queued: Vec<MsgId> = g.queued().map(|(id, _)| id).collect();
            return Err(format!(
                "the guard holds {queued:?}, the ledger says {:?}",
                self.held
            ));
        }
        let (mut bytes, mut earliest, mut stale) = (0, None::<Millis>, None);
        for (id, m) in self.held() {
            bytes += m.size;
            if let Some(at) = m.expires_at {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                if at <= self.now {
                    stale = Some(id);
                }
            }
        }
        if g.queued_bytes() != bytes {
            return Err(format!(
                "the guard counts {} queued bytes, the ledger {bytes}",
                g.queued_bytes()
            ));
        }
        if !g.conserved() {
            return Err(format!(
                "not conserved: offered {} != transmitted {} + dropped {} + queued {}",
                g.offered(),
                g.transmitted(),
                g.dropped(),
                g.queued_len()
            ));
        }
        let counts = (g.offered(), g.transmitted(), g.dropped());
        let ledger = (self.msgs.len() as u64, self.transmitted, self.dropped);
        if counts != ledger {
            return Err(format!(
                "guard counters (offered, transmitted, dropped) {counts:?} != ledger {ledger:?}"
            ));
        }
        let held = self.held.len();
        if held > self.config.max_queue_messages || bytes > self.config.max_queue_bytes {
            return Err(format!(
                "queue of {held} messages / {bytes} bytes exceeds the bounds {} / {}",
                self.config.max_queue_messages, self.config.max_queue_bytes
            ));
        }
        if let Some(id) = stale {
            return Err(format!("#{id} is still held after its TTL"));
        }
        if g.poll_timeout() != earliest {
            return Err(format!(
                "poll_timeout is {:?}, the earliest expiry {earliest:?}",
                g.poll_timeout()
            ));
        }
        if self.may_release() && held > 0 {
            return Err(format!(
                "the reports allow sending but {held} messages stay queued"
            ));
        }
        Ok(())
    }
}
