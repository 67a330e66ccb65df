//! What the guard answers: [`Outcome`] of a send, [`GuardOutput`] drained later,
//! [`DropReason`] for every message that will never be sent, and [`SendErrorKind`] for
//! what the transport said when it refused a message the guard released.

use crate::vocab::MsgId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The answer to [`Guard::send`](super::Guard::send). Every variant is a fate the caller
/// must act on, hence `#[must_use]`.
#[must_use = "Outcome::Send carries a message that must be handed to the transport now"]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome<P> {
    /// The channel is open, the path usable and nothing is queued ahead: hand the payload
    /// to the transport now. If the transport refuses it, give it back with
    /// [`Guard::on_send_error`](super::Guard::on_send_error).
    Send(P),
    /// Held in the queue; it will come out of
    /// [`Guard::poll_output`](super::Guard::poll_output) as a `Transmit` or a `Dropped`.
    Queued,
    /// Refused now, with the reason; the payload is dropped. Counted in the metrics as a
    /// drop.
    Rejected(DropReason),
}

impl<P> Outcome<P> {
    /// The trace word (`sent`, `queued`, `rejected`) of the trace's `send` event (docs/invariants.md).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Send(_) => "sent",
            Outcome::Queued => "queued",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// Why a message will never be sent. The Display strings are the `reason` field of the
/// trace's `drop` and `send` events (docs/invariants.md) and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DropReason {
    /// `not-open`: sent while the channel was connecting, and the policy says reject
    /// ([`GuardConfig::queue_while_connecting`](super::GuardConfig) is false).
    NotOpen,
    /// `expired`: waited in the queue longer than the TTL.
    Expired,
    /// `queue-full`: the queue was at its message or byte bound.
    QueueFull,
    /// `channel-closed`: the channel is closing or closed (or the peer connection is).
    ChannelClosed,
    /// `too-large`: larger than the maximum message size.
    TooLarge,
    /// `path-failed`: ICE failed; the channel still reads open but nothing can arrive.
    PathFailed,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [DropReason; 6] = [
        DropReason::NotOpen,
        DropReason::Expired,
        DropReason::QueueFull,
        DropReason::ChannelClosed,
        DropReason::TooLarge,
        DropReason::PathFailed,
    ];

    /// The trace string.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotOpen => "not-open",
            DropReason::Expired => "expired",
            DropReason::QueueFull => "queue-full",
            DropReason::ChannelClosed => "channel-closed",
            DropReason::TooLarge => "too-large",
            DropReason::PathFailed => "path-failed",
        }
    }

    /// Parses a trace string; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::vocab::calls::SendErrorKind;

/// What [`Guard::poll_output`](super::Guard::poll_output) hands out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuardOutput<P> {
    /// A queued message, released in FIFO order while the channel is open and the path
    /// usable: hand it to the transport now (and give it back with
    /// [`Guard::on_send_error`](super::Guard::on_send_error) if refused).
    Transmit {
        /// The id given to `send`.
        id: MsgId,
        /// The payload given to `send`.
        payload: P,
    },
    /// A message accepted earlier (queued or given back) that will never be sent.
    Dropped {
        /// The id given to `send`.
        id: MsgId,
        /// Why.
        reason: DropReason,
    },
}
