//! [`Metrics`]: what the guard did, counted, so that an operator can see the race
//! (time from first send to open, how much was held) and a test can check conservation.

use super::DropReason;
use crate::vocab::Millis;
use serde::{Deserialize, Serialize};

/// Drops by reason (rejections at `send` included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DropCounts {
    /// `not-open`.
    pub not_open: u64,
    /// `expired`.
    pub expired: u64,
    /// `queue-full`.
    pub queue_full: u64,
    /// `channel-closed`.
    pub channel_closed: u64,
    /// `too-large`.
    pub too_large: u64,
    /// `path-failed`.
    pub path_failed: u64,
}

impl DropCounts {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::NotOpen => self.not_open,
            DropReason::Expired => self.expired,
            DropReason::QueueFull => self.queue_full,
            DropReason::ChannelClosed => self.channel_closed,
            DropReason::TooLarge => self.too_large,
            DropReason::PathFailed => self.path_failed,
        }
    }

    pub(crate) fn add(&mut self, reason: DropReason) {
        let slot = match reason {
            DropReason::NotOpen => &mut self.not_open,
            DropReason::Expired => &mut self.expired,
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::ChannelClosed => &mut self.channel_closed,
            DropReason::TooLarge => &mut self.too_large,
            DropReason::PathFailed => &mut self.path_failed,
        };
        *slot += 1;
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        // Field by field rather than over `DropReason::ALL`: the fuzz harness asks for it
        // after every operation (conservation).
        let DropCounts {
            not_open,
            expired,
            queue_full,
            channel_closed,
            too_large,
            path_failed,
        } = *self;
        not_open + expired + queue_full + channel_closed + too_large + path_failed
    }
}

/// Counters of one guard. Conservation, which holds after every call:
/// `offered == transmitted() + dropped.total() + queued_len` (see
/// [`Guard::conserved`](super::Guard::conserved)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Metrics {
    /// Calls to `send`.
    pub offered: u64,
    /// `send` answered `Send` (open channel, empty queue: no queueing at all).
    pub sent_direct: u64,
    /// `send` answered `Queued`.
    pub queued: u64,
    /// Queued messages released by `poll_output` as `Transmit`.
    pub flushed: u64,
    /// Messages the transport refused and gave back through `on_send_error`.
    pub send_errors: u64,
    /// Of those, how many went back into the queue (the rest were dropped).
    pub requeued: u64,
    /// Drops by reason, rejections at `send` included.
    pub dropped: DropCounts,
    /// Of the drops, how many were rejections at `send` (the rest were accepted first and
    /// reported through `poll_output`, or refused by the transport).
    pub rejected: u64,
    /// Most messages ever queued at once.
    pub high_water_messages: usize,
    /// Most bytes ever queued at once.
    pub high_water_bytes: usize,
    /// Time of the first `send`.
    pub first_send_at: Option<Millis>,
    /// Time the channel was first reported open.
    pub opened_at: Option<Millis>,
}

impl Metrics {
    /// Messages released and not given back: `sent_direct + flushed - send_errors`.
    pub fn transmitted(&self) -> u64 {
        (self.sent_direct + self.flushed).saturating_sub(self.send_errors)
    }

    /// How long the first message waited for the channel to open: the window of the
    /// send-before-open race. `Some(0)` when the first send came after open; `None` until both
    /// happened.
    pub fn first_send_to_open_ms(&self) -> Option<Millis> {
        Some(self.opened_at?.saturating_sub(self.first_send_at?))
    }
}
