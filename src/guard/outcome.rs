//! What the guard answers: [`Outcome`] of a send, [`GuardOutput`] drained later,
//! [`DropReason`] for every message that will never be sent, and [`SendErrorKind`] for
//! what the transport said when it refused a message the guard released.

use crate::trace::MsgId;
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
    /// The trace word (`sent`, `queued`, `rejected`) of DESIGN.md's `send` event.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Send(_) => "sent",
            Outcome::Queued => "queued",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// Why a message will never be sent. The Display strings are the `reason` field of the
/// trace's `drop` and `send` events (DESIGN.md) and never change.
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

/// What the transport said when it refused a message the guard had released: the
/// check-then-send race, seen from the other side. Maps the `webrtc` 0.21.1 errors of
/// lifecycle.md section 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// `ErrDataChannelNotOpen` ("data channel is not open yet"): the channel may still
    /// open. The message goes back to the front of the queue and the guard treats the
    /// channel as connecting until it is reported open again.
    NotOpen,
    /// `ErrDataChannelClosed` ("data channel closed"): closed is terminal. The message
    /// and everything queued are dropped as `channel-closed`.
    Closed,
    /// `ErrOutboundPacketTooLarge`: the transport's limit is below the guard's. This
    /// message is dropped as `too-large`; the rest carry on.
    TooLarge,
    /// `ErrSendBufferFull`: back-pressure. The message goes back to the front and the
    /// guard holds until [`Guard::on_writable`](super::Guard::on_writable).
    BufferFull,
    /// Any other error. Treated like `BufferFull`: kept (never silently lost), held until
    /// `on_writable`, and subject to the TTL and close like any queued message.
    Other,
}

impl SendErrorKind {
    /// Classifies the error text of a send, as the simulator's `Stack` returns it, for
    /// both profiles:
    ///
    /// | text | kind |
    /// |---|---|
    /// | `data channel is not open yet` (webrtc-rs) | `NotOpen` |
    /// | anything with `closed` (`data channel closed`, `InvalidStateError: peer connection is closed`) | `Closed` |
    /// | `outbound packet larger than maximum message size`, `TypeError: ...` | `TooLarge` |
    /// | `data channel send buffer full`, `OperationError: ...` | `BufferFull` |
    /// | other `InvalidStateError` (W3C: readyState is not 'open', connecting or closed alike), `DataChannel is not opened` (0.17) | `NotOpen` |
    /// | anything else | `Other` |
    ///
    /// The ambiguous "not open" texts map to `NotOpen` (hold), which is safe: if the
    /// channel is in fact closed, its close report drops the message as channel-closed.
    pub fn from_error_text(text: &str) -> SendErrorKind {
        if text == "data channel is not open yet" {
            SendErrorKind::NotOpen
        } else if text.contains("closed") {
            SendErrorKind::Closed
        } else if text.contains("larger than maximum message size") || text.starts_with("TypeError")
        {
            SendErrorKind::TooLarge
        } else if text.contains("send buffer full") || text.starts_with("OperationError") {
            SendErrorKind::BufferFull
        } else if text.starts_with("InvalidStateError") || text == "DataChannel is not opened" {
            SendErrorKind::NotOpen
        } else {
            SendErrorKind::Other
        }
    }
}

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
