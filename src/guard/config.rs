//! [`GuardConfig`]: the guard's policies and bounds, all explicit.
//!
//! Every bound is a number the caller can read in one place, because an unbounded queue
//! in front of a channel that may never open is a memory leak waiting for a bad network
//! (docs/guard.md).

use crate::vocab::Millis;

/// The default `max_message_size`: what webrtc 0.21.1 advertises
/// (`a=max-message-size:65536`) and enforces (65537 bytes are refused; docs/guard.md).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65_536;

/// Policies and bounds of a [`Guard`](super::Guard).
///
/// The [`Default`] is what an application that wants "no send ever fails, nothing is
/// ever silently lost, memory stays bounded" should start from:
///
/// | field | default | why |
/// |---|---|---|
/// | `queue_while_connecting` | `true` | sends made before the channel opens are kept and flushed on open |
/// | `hold_while_disconnected` | `true` | an open channel on a disconnected ICE path accepts data and loses it (docs/guard.md); hold instead |
/// | `max_queue_messages` | 1024 | bounded by count ... |
/// | `max_queue_bytes` | 1 MiB | ... and by bytes, whichever is hit first |
/// | `ttl_ms` | `Some(30_000)` | ICE needs about 30 s to declare a dead path failed; a message older than that is stale |
/// | `max_message_size` | 65536 | the crate's limit; larger messages can never be sent |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuardConfig {
    /// Queue sends made while the channel is still connecting (`true`), or reject them
    /// with [`DropReason::NotOpen`](super::DropReason::NotOpen) (`false`, the "check
    /// readyState, else drop" behaviour, but reported instead of logged).
    pub queue_while_connecting: bool,
    /// While the channel is open but the ICE path is not usable (disconnected, or
    /// checking again after an ICE restart), hold sends in the queue and flush them when
    /// ICE is connected again (`true`). With `false` the guard releases them like the raw
    /// channel would, and they may vanish into the dead path.
    pub hold_while_disconnected: bool,
    /// Most messages the queue holds. A send that would exceed it is rejected with
    /// [`DropReason::QueueFull`](super::DropReason::QueueFull). `0` disables queueing.
    pub max_queue_messages: usize,
    /// Most payload bytes the queue holds (sum of [`Payload::byte_len`](super::Payload)).
    pub max_queue_bytes: usize,
    /// How long a message may wait in the queue, measured from the `send` that offered
    /// it; at `now >= offered + ttl` it is dropped as
    /// [`DropReason::Expired`](super::DropReason::Expired). `Some(0)`: send now or never
    /// (a send that would wait is rejected `expired`). `None`: never expires (the queue
    /// is still bounded).
    pub ttl_ms: Option<Millis>,
    /// Largest message the transport accepts; larger ones are rejected at once with
    /// [`DropReason::TooLarge`](super::DropReason::TooLarge) rather than queued forever.
    pub max_message_size: usize,
    /// Mutation switch for the test suite: skip the state check in
    /// [`Guard::send`](super::Guard::send) and always answer `Send`, i.e. behave like the
    /// naive check-less send. Exists only so the checkers can prove they catch a broken
    /// guard. Never set it in an application.
    #[doc(hidden)]
    pub unsafe_skip_state_check: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            queue_while_connecting: true,
            hold_while_disconnected: true,
            max_queue_messages: 1024,
            max_queue_bytes: 1 << 20,
            ttl_ms: Some(30_000),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            unsafe_skip_state_check: false,
        }
    }
}

impl GuardConfig {
    /// The usual readyState check made honest: a send made while the channel is still
    /// connecting is rejected with [`DropReason::NotOpen`](super::DropReason::NotOpen)
    /// (a reported reason instead of a log line) instead of queued. Everything else is
    /// the default.
    pub fn reject_when_not_open() -> Self {
        GuardConfig {
            queue_while_connecting: false,
            ..GuardConfig::default()
        }
    }
}
