//! The model's timers: a named, ordered set, so that the simulator fires the earliest and
//! the exhaustive checker may fire any armed one.

use crate::vocab::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every timer a model peer can arm. The order is the firing order for equal deadlines:
/// ICE failure is evaluated before disconnection, as the crate does at a contact tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// ICE failed: idle (or checking) longer than disconnected + failed timeouts.
    IceFailed,
    /// ICE disconnected: idle longer than the disconnected timeout.
    IceDisconnected,
    /// ICE back to connected: a packet arrived while disconnected (next contact tick).
    IceRecover,
    /// Send the next connectivity check while checking.
    IceCheck,
    /// Send a consent (keepalive) binding request.
    IceKeepalive,
    /// Retransmit the last DTLS flight.
    DtlsRetransmit,
    /// Retransmit the SCTP INIT / COOKIE ECHO.
    SctpT1,
    /// Retransmit outstanding SCTP chunks.
    SctpT3,
    /// Send the delayed SACK (RFC 4960 section 6.2: 200 ms, or at once on every second
    /// packet; `rtc-sctp` `Timer::Ack`, `ACK_INTERVAL`).
    SctpAck,
    /// DCEP handshake deadline of the in-band channel on this stream.
    DcepHandshake(u16),
    /// `late_inband_opens_async`: the in-band channel on this stream is announced open.
    AnnounceOpen(u16),
}

/// Armed timers and their deadlines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timers {
    armed: BTreeMap<Timer, Millis>,
}

impl Timers {
    /// Arms (or re-arms) a timer.
    pub fn arm(&mut self, timer: Timer, at: Millis) {
        self.armed.insert(timer, at);
    }

    /// Disarms a timer.
    pub fn cancel(&mut self, timer: Timer) {
        self.armed.remove(&timer);
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// The deadline of a timer, if armed.
    pub fn deadline(&self, timer: Timer) -> Option<Millis> {
        self.armed.get(&timer).copied()
    }

    /// The earliest deadline.
    pub fn earliest(&self) -> Option<Millis> {
        self.armed.values().copied().min()
    }

    /// The armed timer due first at or before `now` (earliest deadline, then timer order).
    pub fn next_due(&self, now: Millis) -> Option<Timer> {
        self.armed
            .iter()
            .filter(|(_, &at)| at <= now)
            .min_by_key(|(t, &at)| (at, **t))
            .map(|(t, _)| *t)
    }

    /// Every armed timer, in timer order.
    pub fn armed(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.armed.iter().map(|(t, at)| (*t, *at))
    }
}
