//! The send guard: the gate an application puts in front of a data channel's `send`
//! instead of "check readyState, then send, else log and drop".
//!
//! That usual fix gets three things wrong (docs/guard.md): the check races with
//! the state change (the transport may still refuse), dropping is silent, and the obvious
//! repair, an unbounded queue, leaks. The guard gets all three right:
//!
//! - **racy**: it releases a message only while the last reported channel state is
//!   `open` and the ICE path is usable, and a message the transport still refuses is
//!   given back ([`Guard::on_send_error`]) and requeued at the front or dropped with a
//!   reason, never lost;
//! - **lossy**: every offered message ends in exactly one fate: transmitted, dropped with
//!   a [`DropReason`] the caller is told about, or still queued
//!   (`offered == transmitted + dropped + queued`, [`Guard::conserved`]);
//! - **leaky**: the queue is bounded by messages and bytes and messages expire
//!   ([`GuardConfig`]).
//!
//! It is a pure sans-IO state machine in the quinn-proto / str0m style: no async, no
//! clock, no I/O. Time is an argument; the simulator, the exhaustive checker, the fuzzer
//! and the `webrtc` adapter (`webrtc_adapter`, cargo feature `webrtc-adapter`, on by
//! default) drive the same code.
//!
//! # States
//!
//! The [`Gate`] is derived from the last reported channel and ICE states:
//!
//! ```text
//!                         channel reported open
//!          +------------+ ---------------------> +--------+  ICE disconnected / checking
//! start -> | Connecting |                        |  Open  |  (hold policy), or transport
//!          +------------+ <--------------------- +--------+  refused (buffer-full, other)
//!          queue, or reject   transport refused   release  ^  |
//!          not-open (policy)  "not open yet"               |  v
//!                                                        +--------+
//!                ICE connected, on_writable              |  Held  |  queue
//!                (the queue flushes, FIFO)               +--------+
//!
//! Connecting, Open, Held --- ICE failed ---> +------------+  queue dropped and new
//!                                            | PathFailed |  sends rejected:
//! PathFailed --- ICE checking (restart) ---> +------------+  path-failed
//!            back to Connecting or Held
//!
//! any --- channel closing/closed, ICE closed, ---> +--------+  queue dropped and new
//!         pc closed, transport said closed         | Closed |  sends rejected:
//!                                                  +--------+  channel-closed. Terminal.
//! ```
//!
//! In every gate a message larger than [`GuardConfig::max_message_size`] is rejected
//! `too-large`, a send that does not fit the queue is rejected `queue-full`, and a queued
//! message older than the TTL is dropped `expired`.
//!
//! # Driving it
//!
//! ```text
//! on app send:       match guard.send(now, id, payload) {
//!                        Send(p)     => transport.send(p), on error guard.on_send_error(..)
//!                        Queued      => {}
//!                        Rejected(r) => report r }
//! on channel event:  guard.on_channel_state(now, state)   (open, closing, closed)
//! on ICE change:     guard.on_ice_state(now, state)
//! on pc closed:      guard.on_peer_connection_state(now, state)
//! on timer:          guard.handle_timeout(now)            at guard.poll_timeout()
//! after every call:  while let Some(out) = guard.poll_output() {
//!                        Transmit { id, payload } => transport.send(payload),
//!                                                    on error guard.on_send_error(..)
//!                        Dropped { id, reason }   => report }
//! ```
//!
//! ```
//! use dcsim::guard::{Guard, GuardConfig, GuardOutput, Outcome, SizedMsg};
//! use dcsim::model::DataChannelState;
//!
//! let mut guard = Guard::new(GuardConfig::default());
//! // The race: the app sends before the channel is open.
//! let out = guard.send(5, 0, SizedMsg { id: 0, size: 5 });
//! assert_eq!(out, Outcome::Queued);
//! guard.on_channel_state(610, DataChannelState::Open);
//! assert_eq!(
//!     guard.poll_output(),
//!     Some(GuardOutput::Transmit { id: 0, payload: SizedMsg { id: 0, size: 5 } })
//! );
//! // Open and nothing queued: straight through, no allocation.
//! assert!(matches!(guard.send(611, 1, SizedMsg { id: 1, size: 5 }), Outcome::Send(_)));
//! assert!(guard.conserved());
//! ```

pub mod config;
pub mod gate;
pub mod metrics;
pub mod outcome;
pub mod payload;
mod queue;
#[cfg(feature = "webrtc-adapter")]
pub mod webrtc_adapter;

pub use config::{GuardConfig, DEFAULT_MAX_MESSAGE_SIZE};
pub use gate::Gate;
pub use metrics::{DropCounts, Metrics};
pub use outcome::{DropReason, GuardOutput, Outcome, SendErrorKind};
pub use payload::{Payload, SizedMsg};

use crate::vocab::{DataChannelState, IceConnectionState, PeerConnectionState};
use crate::vocab::{Millis, MsgId};
use queue::{Entry, Queue};
use std::collections::VecDeque;

/// The send guard of one data channel. See the [module docs](self) for its states and
/// the run loop.
///
/// Methods, in the quinn-proto order: getters; `send` and the `on_*` / `handle_*`
/// inputs; `poll_*` for what the caller must do next. Every input takes `now`; time never
/// goes back (an earlier `now` is read as the latest seen).
///
/// Derives `Clone, Eq, Hash` so that the exhaustive checker can keep it in its state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Guard<P> {
    config: GuardConfig,
    channel: DataChannelState,
    ice: IceConnectionState,
    /// The peer connection was reported `failed` and has not reported a new attempt
    /// since. Chrome never reports ICE `failed` (its ICE stays `disconnected`; only the
    /// connection state goes `failed`, 10 s later: `conformance/browser/README.md`), so
    /// this is the only sign of a dead path there.
    pc_failed: bool,
    /// Latched: the channel was reported closing or closed, ICE closed, or the transport
    /// said closed. Nothing reopens a closed channel.
    closed: bool,
    /// The transport refused a message (buffer full, other) and has not said it can take
    /// more (`on_writable`, or the channel reported open after not being open).
    blocked: bool,
    now: Millis,
    queue: Queue<P>,
    /// Drops not yet handed out by `poll_output`.
    drops: VecDeque<(MsgId, DropReason)>,
    /// The last message released (id, expiry), so a message given back keeps its TTL.
    last_release: Option<(MsgId, Option<Millis>)>,
    metrics: Metrics,
}

impl<P: Payload> Guard<P> {
    /// A guard for a channel that has not reported any state yet (treated as
    /// connecting), with an ICE state that has not been reported (treated as usable, so
    /// that a caller who feeds only channel states still gets its messages out).
    pub fn new(config: GuardConfig) -> Self {
        Guard {
            config,
            channel: DataChannelState::Unspecified,
            ice: IceConnectionState::Unspecified,
            pc_failed: false,
            closed: false,
            blocked: false,
            now: 0,
            queue: Queue::new(config.max_queue_messages, config.max_queue_bytes),
            drops: VecDeque::new(),
            last_release: None,
            metrics: Metrics::default(),
        }
    }

    // ---- getters -------------------------------------------------------------------

    /// The policies this guard was built with.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// What a send would meet right now.
    pub fn gate(&self) -> Gate {
        // A failed peer connection is a failed path, whatever ICE last said.
        let ice = match self.ice {
            IceConnectionState::Closed => IceConnectionState::Closed,
            _ if self.pc_failed => IceConnectionState::Failed,
            ice => ice,
        };
        Gate::derive(&self.config, self.channel, ice, self.closed, self.blocked)
    }

    /// The last reported channel state (`Unspecified` before the first report).
    pub fn channel_state(&self) -> DataChannelState {
        self.channel
    }

    /// The last reported ICE connection state (`Unspecified` before the first report).
    pub fn ice_state(&self) -> IceConnectionState {
        self.ice
    }

    /// The latest time seen.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Messages held now.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Payload bytes held now.
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// The held messages, front (next out) first.
    pub fn queued(&self) -> impl Iterator<Item = (MsgId, &P)> + '_ {
        self.queue.iter().map(|e| (e.id, &e.payload))
    }

    /// Calls to `send` so far.
    pub fn offered(&self) -> u64 {
        self.metrics.offered
    }

    /// Messages released to the transport and not given back.
    pub fn transmitted(&self) -> u64 {
        self.metrics.transmitted()
    }

    /// Messages dropped (rejections included), whether or not `poll_output` has handed
    /// the drop out yet.
    pub fn dropped(&self) -> u64 {
        self.metrics.dropped.total()
    }

    /// `offered == transmitted + dropped + queued`: no message unaccounted for.
    pub fn conserved(&self) -> bool {
        self.offered() == self.transmitted() + self.dropped() + self.queued_len() as u64
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    // ---- inputs --------------------------------------------------------------------

    /// Offers a message. See [`Outcome`]. On the open path (channel open, path usable,
    /// nothing queued) this allocates nothing and hands the payload straight back.
    ///
    /// `id` is the caller's; the guard only echoes it in outputs and never relies on it
    /// being unique or ordered.
    pub fn send(&mut self, now: Millis, id: MsgId, payload: P) -> Outcome<P> {
        let now = self.advance(now);
        self.metrics.offered += 1;
        self.metrics.first_send_at.get_or_insert(now);
        let expires_at = self.config.ttl_ms.map(|ttl| now.saturating_add(ttl));
        if self.config.unsafe_skip_state_check {
            return self.release_direct(id, expires_at, payload);
        }
        let bytes = payload.byte_len();
        let gate = self.gate();
        let rejection = match gate {
            Gate::Closed => Some(DropReason::ChannelClosed),
            Gate::PathFailed => Some(DropReason::PathFailed),
            _ if bytes > self.config.max_message_size => Some(DropReason::TooLarge),
            Gate::Connecting if !self.config.queue_while_connecting => Some(DropReason::NotOpen),
            _ => None,
        };
        if let Some(reason) = rejection {
            return self.reject(reason);
        }
        if gate == Gate::Open && self.queue.is_empty() {
            return self.release_direct(id, expires_at, payload);
        }
        if expires_at.is_some_and(|at| now >= at) {
            // `ttl_ms: Some(0)`: send now or never.
            return self.reject(DropReason::Expired);
        }
        if !self.queue.fits(bytes) {
            return self.reject(DropReason::QueueFull);
        }
        self.queue.push_back(Entry {
            id,
            payload,
            bytes,
            expires_at,
        });
        self.metrics.queued += 1;
        self.note_high_water();
        Outcome::Queued
    }

    /// The channel's readyState changed (or was read: reporting the same state again
    /// changes nothing). `open` lets the queue flush; `closing` and `closed` drop it as
    /// `channel-closed` and close the guard for good.
    pub fn on_channel_state(&mut self, now: Millis, state: DataChannelState) {
        let now = self.advance(now);
        let was = std::mem::replace(&mut self.channel, state);
        match state {
            DataChannelState::Open if was != DataChannelState::Open => {
                self.blocked = false;
                self.metrics.opened_at.get_or_insert(now);
            }
            DataChannelState::Closing | DataChannelState::Closed => self.closed = true,
            _ => {}
        }
        self.settle();
    }

    /// The peer connection's ICE connection state changed. `disconnected` holds (by
    /// policy), `connected` flushes, `failed` drops the queue as `path-failed`, `closed`
    /// (the peer connection was closed, which in webrtc-rs discards the local channels'
    /// close events) closes the guard.
    pub fn on_ice_state(&mut self, now: Millis, state: IceConnectionState) {
        self.advance(now);
        self.ice = state;
        if state == IceConnectionState::Closed {
            self.closed = true;
        }
        self.settle();
    }

    /// The peer connection's state changed. `closed`: `pc.close()` closes every channel,
    /// and in webrtc-rs the local channels' close events are discarded (docs/guard.md),
    /// so this may be the only sign; the guard closes. `failed`: the path is
    /// dead, as on ICE `failed` (the queue is dropped as `path-failed`): Chrome reports
    /// it only here, never through ICE. `new`, `connecting`, `connected` (an ICE
    /// restart's new attempt) lift `failed` again.
    pub fn on_peer_connection_state(&mut self, now: Millis, state: PeerConnectionState) {
        self.advance(now);
        match state {
            PeerConnectionState::Closed => self.closed = true,
            PeerConnectionState::Failed => self.pc_failed = true,
            PeerConnectionState::New
            | PeerConnectionState::Connecting
            | PeerConnectionState::Connected => self.pc_failed = false,
            _ => {}
        }
        self.settle();
    }

    /// The transport refused a message this guard released (as `Outcome::Send` or
    /// `GuardOutput::Transmit`): the check-then-send race. The message is never lost:
    ///
    /// - [`SendErrorKind::Closed`]: dropped as `channel-closed`, with the whole queue; the
    ///   guard is closed;
    /// - [`SendErrorKind::TooLarge`]: dropped as `too-large`;
    /// - [`SendErrorKind::NotOpen`]: the guard takes the transport's word and treats the
    ///   channel as connecting until it is reported open again;
    /// - [`SendErrorKind::BufferFull`], [`SendErrorKind::Other`]: the guard holds until
    ///   [`Guard::on_writable`] (or a new open report);
    /// - in those three cases the message goes back to the front of the queue, keeping
    ///   its TTL; if the
    ///   guard is closed or the path failed meanwhile it is dropped with that reason, if
    ///   the queue filled up meanwhile it is dropped as `queue-full`, and if its TTL ran
    ///   out as `expired`.
    ///
    /// Report refusals in the order the messages were released (a transport that sends
    /// one message at a time does), so that a refused batch keeps its order. Call it only
    /// with messages this guard released, once each.
    pub fn on_send_error(&mut self, now: Millis, id: MsgId, payload: P, kind: SendErrorKind) {
        let now = self.advance(now);
        self.metrics.send_errors += 1;
        match kind {
            SendErrorKind::Closed => {
                self.closed = true;
                self.drop_one(id, DropReason::ChannelClosed);
                self.settle();
                return;
            }
            SendErrorKind::TooLarge => {
                self.drop_one(id, DropReason::TooLarge);
                return;
            }
            SendErrorKind::NotOpen => {
                if self.channel == DataChannelState::Open {
                    self.channel = DataChannelState::Connecting;
                }
            }
            SendErrorKind::BufferFull | SendErrorKind::Other => self.blocked = true,
        }
        match self.gate() {
            Gate::Closed => return self.drop_one(id, DropReason::ChannelClosed),
            Gate::PathFailed => return self.drop_one(id, DropReason::PathFailed),
            _ => {}
        }
        let expires_at = match self.last_release {
            Some((released, expires_at)) if released == id => expires_at,
            _ => self.config.ttl_ms.map(|ttl| now.saturating_add(ttl)),
        };
        if expires_at.is_some_and(|at| now >= at) {
            return self.drop_one(id, DropReason::Expired);
        }
        let bytes = payload.byte_len();
        let entry = Entry {
            id,
            payload,
            bytes,
            expires_at,
        };
        match self.queue.insert_returned(entry) {
            Ok(()) => {
                self.metrics.requeued += 1;
                self.note_high_water();
            }
            Err(entry) => self.drop_one(entry.id, DropReason::QueueFull),
        }
    }

    /// The transport can take data again (e.g. `OnBufferedAmountLow` after a
    /// buffer-full refusal): stop holding.
    pub fn on_writable(&mut self, now: Millis) {
        self.advance(now);
        self.blocked = false;
    }

    /// Time passed: drop expired messages. Call it at [`Guard::poll_timeout`]; calling it
    /// at any other time is harmless.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.advance(now);
    }

    // ---- outputs -------------------------------------------------------------------

    /// When [`Guard::handle_timeout`] must be called next: the earliest expiry of a
    /// queued message. `None` when nothing can expire.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.queue.next_deadline()
    }

    /// The next thing the caller must do: report a drop, or transmit a queued message
    /// (only while the gate is open, front first). Drain it after every input.
    pub fn poll_output(&mut self) -> Option<GuardOutput<P>> {
        if let Some((id, reason)) = self.drops.pop_front() {
            return Some(GuardOutput::Dropped { id, reason });
        }
        if self.gate() != Gate::Open {
            return None;
        }
        let entry = self.queue.pop_front()?;
        self.metrics.flushed += 1;
        self.last_release = Some((entry.id, entry.expires_at));
        Some(GuardOutput::Transmit {
            id: entry.id,
            payload: entry.payload,
        })
    }

    // ---- internals -----------------------------------------------------------------

    /// Moves time forward (never back) and expires what is due.
    fn advance(&mut self, now: Millis) -> Millis {
        self.now = self.now.max(now);
        while let Some(entry) = self.queue.pop_expired(self.now) {
            self.drop_one(entry.id, DropReason::Expired);
        }
        self.now
    }

    /// Applies the gate after a state change: a closed or failed gate empties the queue.
    fn settle(&mut self) {
        let reason = match self.gate() {
            Gate::Closed => DropReason::ChannelClosed,
            Gate::PathFailed => DropReason::PathFailed,
            _ => return,
        };
        while let Some(entry) = self.queue.pop_front() {
            self.drop_one(entry.id, reason);
        }
    }

    fn release_direct(&mut self, id: MsgId, expires_at: Option<Millis>, payload: P) -> Outcome<P> {
        self.metrics.sent_direct += 1;
        self.last_release = Some((id, expires_at));
        Outcome::Send(payload)
    }

    fn reject(&mut self, reason: DropReason) -> Outcome<P> {
        self.metrics.dropped.add(reason);
        self.metrics.rejected += 1;
        Outcome::Rejected(reason)
    }

    fn drop_one(&mut self, id: MsgId, reason: DropReason) {
        self.metrics.dropped.add(reason);
        self.drops.push_back((id, reason));
    }

    fn note_high_water(&mut self) {
        let m = &mut self.metrics;
        m.high_water_messages = m.high_water_messages.max(self.queue.len());
        m.high_water_bytes = m.high_water_bytes.max(self.queue.bytes());
    }
}

#[cfg(test)]
mod tests;
