//! The guard in front of a real `webrtc` 0.21.1 data channel.
//!
//! [`GuardedChannel`] wraps an `Arc<dyn DataChannel>` and owns its [`Guard`]:
//!
//! - sends go through the guard ([`GuardedChannel::send`], [`GuardedChannel::send_text`]);
//!   what the guard releases is handed to the channel at once, under one lock, so that
//!   releases reach the transport in order, and a refusal goes straight back to the
//!   guard ([`Guard::on_send_error`]);
//! - the channel's events feed the guard: call [`GuardedChannel::poll`] instead of
//!   `DataChannel::poll` (it returns every event unchanged, after telling the guard
//!   about open, closing and close, and it fires the guard's TTL timer while it waits);
//! - the peer connection's ICE state feeds the guard: forward
//!   `PeerConnectionEventHandler::on_ice_connection_state_change` to
//!   [`GuardedChannel::on_ice_connection_state_change`], or to an [`IceFeed`] when the
//!   handler is built before the channels (it always is);
//! - every dropped message (rejected at send, or dropped from the queue later) is
//!   reported to the drop handler given to [`GuardedChannel::new`], exactly once;
//! - [`GuardedChannel::stats`] returns the guard's [`Metrics`] plus the number of
//!   transport send errors (the races the guard lost; zero in a correct run).
//!
//! Only the adapter reads a clock: the runtime's (`Runtime::now`, so a virtual-clock
//! runtime works too), as milliseconds since the channel was wrapped.
//!
//! Caveats:
//!
//! - the channel's lock is held while a released message is handed to
//!   `DataChannel::send`, which keeps releases in order; with a send-buffer limit
//!   (`PeerConnectionBuilder::with_data_channel_send_buffer_limit`) that call may wait
//!   for the driver, so then do not call into the adapter from the event handler
//!   itself (spawn the [`IceFeed::publish`] instead; its sequence numbers keep the
//!   order);
//! - what the guard cannot see, it cannot stop: between the remote end closing and this
//!   side's OnClose (about 1 ms on loopback), webrtc 0.21.1 may accept a send and lose
//!   it. Only an application-level acknowledgement closes that window.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use webrtc::data_channel::{DataChannel, DataChannelEvent};
//! # use webrtc::runtime::Runtime;
//! use dcsim::guard::webrtc_adapter::GuardedChannel;
//! use dcsim::guard::GuardConfig;
//! # async fn demo(dc: Arc<dyn DataChannel>, runtime: Arc<dyn Runtime>) {
//! let chat = Arc::new(
//!     GuardedChannel::new(dc, runtime.clone(), GuardConfig::default(), |dropped| {
//!         eprintln!("message {} dropped: {}", dropped.id, dropped.reason)
//!     })
//!     .await,
//! );
//! // Safe before open: queued, flushed in order on open.
//! let report = chat.send_text("hello").await;
//! let events = chat.clone();
//! runtime.spawn(Box::pin(async move {
//!     while let Some(event) = events.poll().await {
//!         if let DataChannelEvent::OnMessage(msg) = event { /* ... */ }
//!     }
//! }));
//! # }
//! ```

use super::{
    DropReason, Gate, Guard, GuardConfig, GuardOutput, Metrics, Outcome, Payload, SendErrorKind,
};
use crate::model::{DataChannelState, IceConnectionState};
use crate::trace::{Millis, MsgId};
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};
use webrtc::error::Error as RtcError;
use webrtc::peer_connection::RTCIceConnectionState;
use webrtc::runtime::{Mutex, Notify, Runtime};

/// A message as the guard holds it: text or binary, as `send_text` or `send` would
/// take it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DcMessage {
    /// Sent with `DataChannel::send_text`.
    Text(String),
    /// Sent with `DataChannel::send`.
    Binary(Bytes),
}

impl Payload for DcMessage {
    fn byte_len(&self) -> usize {
        match self {
            DcMessage::Text(text) => text.len(),
            DcMessage::Binary(bytes) => bytes.len(),
        }
    }
}

/// A message the guard dropped, as reported to the drop handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DroppedMessage {
    /// The id [`GuardedChannel::send`] returned for it.
    pub id: MsgId,
    /// Why it will never be sent.
    pub reason: DropReason,
    /// When, in ms since the channel was wrapped.
    pub at: Millis,
}

/// What happened to one guarded send by the time the call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendStatus {
    /// Handed to the channel, which took it.
    Sent,
    /// Held; it will be sent in order, or reported to the drop handler.
    Queued,
    /// Dropped (also reported to the drop handler).
    Rejected(DropReason),
}

/// The answer to [`GuardedChannel::send`].
#[must_use = "a send may be queued or rejected; look at the status"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SendReport {
    /// The message's id, as it will appear in a [`DroppedMessage`].
    pub id: MsgId,
    /// What happened to it.
    pub status: SendStatus,
}

/// The guard's counters plus what only the adapter sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardedStats {
    /// The guard's metrics.
    pub metrics: Metrics,
    /// Messages the channel refused after the guard released them. Zero unless the
    /// guard lost a check-then-send race (each refused message is still accounted for:
    /// requeued or reported dropped).
    pub transport_send_errors: u64,
    /// The text of the last refusal, for diagnosis.
    pub last_transport_error: Option<String>,
    /// Messages held now.
    pub queued_len: usize,
    /// Bytes held now.
    pub queued_bytes: usize,
    /// The guard's gate now.
    pub gate: Gate,
}

/// Receives every dropped message.
type DropHandler = Box<dyn FnMut(DroppedMessage) + Send>;

struct Inner {
    guard: Guard<DcMessage>,
    next_id: MsgId,
    on_drop: DropHandler,
    transport_send_errors: u64,
    last_transport_error: Option<String>,
    /// The transport refused a message it may take later (buffer full, other): the
    /// guard holds; the next call into the adapter lets it retry once. (After a
    /// not-open refusal the guard waits for the channel's OnOpen instead.)
    retry_pending: bool,
    /// Sequence number of the last ICE state applied from an [`IceFeed`].
    ice_seq: u64,
}

/// Sees what a [`GuardedChannel`] does with its data channel: every message it hands to
/// the transport (the channel's readyState just before, the crate's result) and every
/// event it takes from the channel. The dcsim runtime's harness records through it, so
/// the guard's own sends are judged like any other (`GuardedChannel::observed`).
pub trait ChannelObserver: Send + Sync + 'static {
    /// Message `id` was handed to `DataChannel::send` or `send_text` with readyState
    /// `state`, at once (`flushed` false) or released from the queue (true).
    fn sent(
        &self,
        id: MsgId,
        flushed: bool,
        state: &str,
        data: &[u8],
        result: &webrtc::error::Result<()>,
    );
    /// Message `id` was offered and the guard queued it.
    fn queued(&self, id: MsgId);
    /// Message `id` will never be sent: refused at the offer, or dropped from the queue.
    fn dropped(&self, id: MsgId, reason: DropReason);
    /// The channel reported `event` (before the guard acts on it).
    fn event(&self, event: &DataChannelEvent);
}

/// A `webrtc` data channel behind a [`Guard`]. See the [module docs](self).
pub struct GuardedChannel {
    dc: Arc<dyn DataChannel>,
    observer: Option<Arc<dyn ChannelObserver>>,
    runtime: Arc<dyn Runtime>,
    epoch: Instant,
    inner: Mutex<Inner>,
    /// Wakes a waiting [`GuardedChannel::poll`] when the guard's next deadline moved
    /// (a message was queued while it waited), so that its TTL timer is re-armed.
    rearm: Notify,
}

impl fmt::Debug for GuardedChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedChannel")
            .field("id", &self.dc.id())
            .finish_non_exhaustive()
    }
}

impl GuardedChannel {
    /// Wraps `dc`. The guard starts from the channel's current readyState (a channel
    /// from `on_data_channel` is already open), and the ICE state is unknown (usable)
    /// until reported. `on_drop` is called, under the channel's lock, for every message
    /// that will never be sent; keep it short (count, log, or `try_send` to a channel).
    pub async fn new(
        dc: Arc<dyn DataChannel>,
        runtime: Arc<dyn Runtime>,
        config: GuardConfig,
        on_drop: impl FnMut(DroppedMessage) + Send + 'static,
    ) -> Self {
        let epoch = runtime.now();
        let mut guard = Guard::new(config);
        // An error here means the channel or its connection is already gone.
        let state = match dc.ready_state().await {
            Ok(state) => to_model(state),
            Err(_) => DataChannelState::Closed,
        };
        guard.on_channel_state(0, state);
        GuardedChannel {
            dc,
            observer: None,
            runtime,
            epoch,
            inner: Mutex::new(Inner {
                guard,
                next_id: 0,
                on_drop: Box::new(on_drop),
                transport_send_errors: 0,
                last_transport_error: None,
                retry_pending: false,
                ice_seq: 0,
            }),
            rearm: Notify::new(),
        }
    }

    /// The same channel with `observer` told of every transport send and channel event.
    pub fn observed(mut self, observer: Arc<dyn ChannelObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The wrapped channel (for reading its label, thresholds, ...). Sending on it
    /// directly bypasses the guard.
    pub fn data_channel(&self) -> &Arc<dyn DataChannel> {
        &self.dc
    }

    /// Sends binary data through the guard.
    pub async fn send(&self, data: impl Into<Bytes>) -> SendReport {
        self.offer(DcMessage::Binary(data.into())).await
    }

    /// Sends text through the guard.
    pub async fn send_text(&self, text: impl Into<String>) -> SendReport {
        self.offer(DcMessage::Text(text.into())).await
    }

    /// Offers one message to the guard and carries out its answer.
    async fn offer(&self, msg: DcMessage) -> SendReport {
        let mut inner = self.inner.lock().await;
        let deadline = inner.guard.poll_timeout();
        let now = self.now_ms();
        self.retry(&mut inner, now);
        let id = inner.next_id;
        inner.next_id += 1;
        let status = match inner.guard.send(now, id, msg) {
            Outcome::Send(msg) => match self.transmit(&mut inner, id, msg, false).await {
                None => SendStatus::Sent,
                // Refused: requeued, or dropped (the pump below reports it and says why).
                Some(_) => SendStatus::Queued,
            },
            Outcome::Queued => {
                if let Some(observer) = &self.observer {
                    observer.queued(id);
                }
                SendStatus::Queued
            }
            Outcome::Rejected(reason) => {
                if let Some(observer) = &self.observer {
                    observer.dropped(id, reason);
                }
                (inner.on_drop)(DroppedMessage {
                    id,
                    reason,
                    at: now,
                });
                SendStatus::Rejected(reason)
            }
        };
        // The pump may send it (queued behind a flush) or drop it (refused) right away.
        let status = self.pump(&mut inner, Some(id)).await.unwrap_or(status);
        self.rearm_if_moved(&inner, deadline);
        SendReport { id, status }
    }

    /// Waits for the channel's next event, feeds open/closing/close to the guard (which
    /// flushes or drops its queue), and returns the event unchanged. Use it instead of
    /// `DataChannel::poll`. While it waits it also fires the guard's TTL timer. `None`
    /// (the event stream ended: the channel or its peer connection was closed, and
    /// webrtc-rs discards a local channel's OnClose on `pc.close()`) closes the guard.
    pub async fn poll(&self) -> Option<DataChannelEvent> {
        let mut next_event = self.dc.poll();
        let event = loop {
            // Listen before reading the deadline, so that a message queued in between
            // is not missed.
            let mut rearmed = Box::pin(self.rearm.listen());
            let deadline = self.inner.lock().await.guard.poll_timeout();
            let mut timer = match deadline {
                Some(at) => {
                    let wait = Duration::from_millis(at.saturating_sub(self.now_ms()));
                    self.runtime.sleep(wait)
                }
                None => Box::pin(std::future::pending()),
            };
            match race(&mut next_event, &mut timer, &mut rearmed).await {
                Wake::Event(event) => break event,
                Wake::Timer => self.handle_timeout().await,
                Wake::Rearm => {}
            }
        };
        if let (Some(observer), Some(event)) = (&self.observer, &event) {
            observer.event(event);
        }
        let state = match &event {
            Some(DataChannelEvent::OnOpen) => Some(DataChannelState::Open),
            Some(DataChannelEvent::OnClosing) => Some(DataChannelState::Closing),
            Some(DataChannelEvent::OnClose) | None => Some(DataChannelState::Closed),
            Some(_) => None,
        };
        let mut inner = self.inner.lock().await;
        let now = self.now_ms();
        self.retry(&mut inner, now);
        if let Some(state) = state {
            inner.guard.on_channel_state(now, state);
        }
        self.pump(&mut inner, None).await;
        event
    }

    /// Feeds the peer connection's ICE connection state to the guard: disconnected
    /// holds, connected flushes, failed drops the queue as path-failed, closed closes the
    /// guard. Call it from `PeerConnectionEventHandler::on_ice_connection_state_change`
    /// (or use an [`IceFeed`]; not both for one channel).
    pub async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let mut inner = self.inner.lock().await;
        self.apply_ice(&mut inner, state).await;
    }

    /// Applies an ICE state from an [`IceFeed`], unless a newer one was applied already.
    async fn apply_ice_seq(&self, seq: u64, state: RTCIceConnectionState) {
        let mut inner = self.inner.lock().await;
        if seq > inner.ice_seq {
            inner.ice_seq = seq;
            self.apply_ice(&mut inner, state).await;
        }
    }

    async fn apply_ice(&self, inner: &mut Inner, state: RTCIceConnectionState) {
        let deadline = inner.guard.poll_timeout();
        let now = self.now_ms();
        let state = IceConnectionState::try_from(state).unwrap_or(IceConnectionState::Unspecified);
        inner.guard.on_ice_state(now, state);
        // A flush may be refused and requeued, which can move the deadline.
        self.pump(inner, None).await;
        self.rearm_if_moved(inner, deadline);
    }

    /// Wakes a waiting `poll` if the guard's next deadline is no longer `before`.
    fn rearm_if_moved(&self, inner: &Inner, before: Option<Millis>) {
        if inner.guard.poll_timeout() != before {
            self.rearm.notify_waiters();
        }
    }

    /// Closes the channel. The guard is closed first, so that a send racing with the
    /// close is rejected as channel-closed instead of being accepted by the channel and
    /// silently lost (docs/guard.md: a `send_text` right after `close()` returns
    /// `Ok` and never arrives); the queue is reported dropped as channel-closed.
    pub async fn close(&self) -> webrtc::error::Result<()> {
        let mut inner = self.inner.lock().await;
        let now = self.now_ms();
        inner.guard.on_channel_state(now, DataChannelState::Closed);
        self.pump(&mut inner, None).await;
        self.dc.close().await
    }

    /// Expires queued messages whose TTL ran out. [`GuardedChannel::poll`] calls it
    /// while it waits; call it yourself if you do not poll.
    pub async fn handle_timeout(&self) {
        let mut inner = self.inner.lock().await;
        let now = self.now_ms();
        inner.guard.handle_timeout(now);
        self.pump(&mut inner, None).await;
    }

    /// The counters, the queue and the gate, now.
    pub async fn stats(&self) -> GuardedStats {
        let inner = self.inner.lock().await;
        GuardedStats {
            metrics: inner.guard.metrics().clone(),
            transport_send_errors: inner.transport_send_errors,
            last_transport_error: inner.last_transport_error.clone(),
            queued_len: inner.guard.queued_len(),
            queued_bytes: inner.guard.queued_bytes(),
            gate: inner.guard.gate(),
        }
    }

    /// Milliseconds since the channel was wrapped, by the runtime's clock.
    fn now_ms(&self) -> Millis {
        let elapsed = self.runtime.now().saturating_duration_since(self.epoch);
        Millis::try_from(elapsed.as_millis()).unwrap_or(Millis::MAX)
    }

    /// After a refusal the transport might take later, let the guard try once more.
    fn retry(&self, inner: &mut Inner, now: Millis) {
        if std::mem::take(&mut inner.retry_pending) {
            inner.guard.on_writable(now);
        }
    }

    /// Carries out the guard's outputs: transmits in order, reports drops. Returns what
    /// became of message `watch`, if it came out.
    async fn pump(&self, inner: &mut Inner, watch: Option<MsgId>) -> Option<SendStatus> {
        let mut watched = None;
        while let Some(out) = inner.guard.poll_output() {
            match out {
                GuardOutput::Transmit { id, payload } => {
                    // A refusal goes back to the guard; the loop carries on with what it
                    // says now (usually: nothing until the channel can take data).
                    let refused = self.transmit(inner, id, payload, true).await;
                    if watch == Some(id) {
                        watched = refused.is_none().then_some(SendStatus::Sent);
                    }
                }
                GuardOutput::Dropped { id, reason } => {
                    if watch == Some(id) {
                        watched = Some(SendStatus::Rejected(reason));
                    }
                    if let Some(observer) = &self.observer {
                        observer.dropped(id, reason);
                    }
                    (inner.on_drop)(DroppedMessage {
                        id,
                        reason,
                        at: self.now_ms(),
                    });
                }
            }
        }
        watched
    }

    /// Hands one released message to the channel; a refusal goes back to the guard.
    async fn transmit(
        &self,
        inner: &mut Inner,
        id: MsgId,
        msg: DcMessage,
        flushed: bool,
    ) -> Option<SendErrorKind> {
        let state = match &self.observer {
            Some(_) => match self.dc.ready_state().await {
                Ok(state) => state.to_string(),
                Err(_) => "unknown".to_string(),
            },
            None => String::new(),
        };
        let result = match &msg {
            DcMessage::Text(text) => self.dc.send_text(text).await,
            // The copy keeps the message, so that a refused one can be requeued.
            DcMessage::Binary(bytes) => self.dc.send(BytesMut::from(&bytes[..])).await,
        };
        if let Some(observer) = &self.observer {
            let data: &[u8] = match &msg {
                DcMessage::Text(text) => text.as_bytes(),
                DcMessage::Binary(bytes) => bytes,
            };
            observer.sent(id, flushed, &state, data, &result);
        }
        let err = result.err()?;
        let kind = classify(&err);
        inner.transport_send_errors += 1;
        inner.last_transport_error = Some(err.to_string());
        if matches!(kind, SendErrorKind::BufferFull | SendErrorKind::Other) {
            inner.retry_pending = true;
        }
        let now = self.now_ms();
        inner.guard.on_send_error(now, id, msg, kind);
        Some(kind)
    }
}

/// The peer connection's ICE state, fanned out to guarded channels. The event handler
/// is built before any channel exists, so give it an `IceFeed` and
/// [`attach`](IceFeed::attach) channels as they are created; a channel attached late
/// gets the latest state at once.
#[derive(Clone, Default)]
pub struct IceFeed {
    state: Arc<std::sync::Mutex<IceFeedState>>,
}

#[derive(Default)]
struct IceFeedState {
    seq: u64,
    latest: Option<RTCIceConnectionState>,
    channels: Vec<Weak<GuardedChannel>>,
}

impl fmt::Debug for IceFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("IceFeed")
            .field("latest", &state.latest)
            .field("channels", &state.channels.len())
            .finish()
    }
}

impl IceFeed {
    /// An empty feed.
    pub fn new() -> Self {
        IceFeed::default()
    }

    /// The latest state published.
    pub fn latest(&self) -> Option<RTCIceConnectionState> {
        self.lock().latest
    }

    /// Feeds `channel` every state published from now on, and the latest one now.
    pub async fn attach(&self, channel: &Arc<GuardedChannel>) {
        let latest = {
            let mut state = self.lock();
            state.channels.push(Arc::downgrade(channel));
            state.latest.map(|latest| (state.seq, latest))
        };
        if let Some((seq, latest)) = latest {
            channel.apply_ice_seq(seq, latest).await;
        }
    }

    /// Publishes a new ICE connection state to every attached channel. Call it from
    /// `PeerConnectionEventHandler::on_ice_connection_state_change`.
    pub async fn publish(&self, ice: RTCIceConnectionState) {
        let (seq, channels) = {
            let mut state = self.lock();
            state.seq += 1;
            state.latest = Some(ice);
            state.channels.retain(|c| c.strong_count() > 0);
            let channels: Vec<_> = state.channels.iter().filter_map(Weak::upgrade).collect();
            (state.seq, channels)
        };
        for channel in channels {
            channel.apply_ice_seq(seq, ice).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IceFeedState> {
        // A panic elsewhere while holding this lock leaves plain data behind; go on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The crate's readyState as the model's; a state added after 0.21.1 counts as not open.
fn to_model(state: RTCDataChannelState) -> DataChannelState {
    DataChannelState::try_from(state).unwrap_or(DataChannelState::Unspecified)
}

/// Maps a `webrtc` 0.21.1 send error to what the guard must do with the message
/// (docs/guard.md).
pub fn classify(err: &RtcError) -> SendErrorKind {
    match err {
        RtcError::ErrDataChannelNotOpen => SendErrorKind::NotOpen,
        RtcError::ErrDataChannelClosed => SendErrorKind::Closed,
        // 0.17's "DataChannel is not opened", for any state but open; unused in 0.21.1.
        // Hold: a close report would drop it as channel-closed.
        RtcError::ErrClosedPipe => SendErrorKind::NotOpen,
        RtcError::ErrOutboundPacketTooLarge => SendErrorKind::TooLarge,
        RtcError::ErrSendBufferFull => SendErrorKind::BufferFull,
        _ => SendErrorKind::Other,
    }
}

/// What woke [`GuardedChannel::poll`].
enum Wake<E> {
    /// The channel's next event.
    Event(E),
    /// The guard's TTL timer.
    Timer,
    /// The guard's deadline moved.
    Rearm,
}

/// The first of three futures to finish, the event first; the others are left as they
/// are (the event future in particular is polled again, never dropped, so no event is
/// lost).
async fn race<E, T, R>(event: &mut E, timer: &mut T, rearm: &mut R) -> Wake<E::Output>
where
    E: Future + Unpin,
    T: Future<Output = ()> + Unpin,
    R: Future<Output = ()> + Unpin,
{
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = Pin::new(&mut *event).poll(cx) {
            return Poll::Ready(Wake::Event(out));
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        if Pin::new(&mut *rearm).poll(cx).is_ready() {
            return Poll::Ready(Wake::Rearm);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_what_the_guard_must_do() {
        assert_eq!(
            classify(&RtcError::ErrDataChannelNotOpen),
            SendErrorKind::NotOpen
        );
        assert_eq!(
            classify(&RtcError::ErrDataChannelClosed),
            SendErrorKind::Closed
        );
        assert_eq!(
            classify(&RtcError::ErrOutboundPacketTooLarge),
            SendErrorKind::TooLarge
        );
        assert_eq!(
            classify(&RtcError::ErrSendBufferFull),
            SendErrorKind::BufferFull
        );
        assert_eq!(classify(&RtcError::Other("x".into())), SendErrorKind::Other);
    }

    #[test]
    fn message_length_is_bytes() {
        assert_eq!(DcMessage::Text("é".into()).byte_len(), 2);
        assert_eq!(DcMessage::Binary(Bytes::from_static(b"abc")).byte_len(), 3);
    }
}
