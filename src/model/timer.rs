//! The model's timers: a named, ordered set, so that the simulator fires the earliest and
//! the exhaustive checker may fire any armed one.

use crate::vocab::Millis;
use serde::{Deserialize, Serialize};

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
///
/// A slice sorted by timer, each timer at most once, rather than a map: a peer arms a
/// handful of timers, and scanning them in a slice is several times cheaper than walking
/// a tree, which mattered under the fuzzer (every clock tick asks each peer for its next
/// due timer). Equal, hashed, printed and (de)serialized as the `BTreeMap<Timer, Millis>`
/// it was.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timers {
    #[serde(with = "as_map")]
    armed: Vec<(Timer, Millis)>,
}

impl Timers {
    /// Where `timer` is, or would go, in `armed`.
    fn find(&self, timer: Timer) -> Result<usize, usize> {
        self.armed.binary_search_by(|(t, _)| t.cmp(&timer))
    }

    /// Arms (or re-arms) a timer.
    pub fn arm(&mut self, timer: Timer, at: Millis) {
        match self.find(timer) {
            Ok(i) => self.armed[i].1 = at,
            Err(i) => self.armed.insert(i, (timer, at)),
        }
    }

    /// Disarms a timer.
    pub fn cancel(&mut self, timer: Timer) {
        if let Ok(i) = self.find(timer) {
            self.armed.remove(i);
        }
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// The deadline of a timer, if armed.
    pub fn deadline(&self, timer: Timer) -> Option<Millis> {
        self.find(timer).ok().map(|i| self.armed[i].1)
    }

    /// The earliest deadline.
    pub fn earliest(&self) -> Option<Millis> {
        self.armed.iter().map(|&(_, at)| at).min()
    }

    /// The armed timer due first at or before `now` (earliest deadline, then timer order).
    pub fn next_due(&self, now: Millis) -> Option<Timer> {
        self.armed
            .iter()
            .filter(|&&(_, at)| at <= now)
            .min_by_key(|&&(t, at)| (at, t))
            .map(|&(t, _)| t)
    }

    /// Every armed timer, in timer order.
    pub fn armed(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.armed.iter().copied()
    }
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("armed", &Map(&self.armed))
            .finish()
    }
}

/// Timers printed as a map, as `BTreeMap` prints.
struct Map<'a>(&'a [(Timer, Millis)]);

impl std::fmt::Debug for Map<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(t, at)| (t, at)))
            .finish()
    }
}

/// The armed timers (de)serialized as the map they are.
mod as_map {
    use super::{Millis, Timer};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub(super) fn serialize<S: Serializer>(
        armed: &[(Timer, Millis)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(armed.iter().map(|(t, at)| (t, at)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(Timer, Millis)>, D::Error> {
        Ok(BTreeMap::<Timer, Millis>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    use std::hash::{BuildHasher, RandomState};

    fn any_timer(rng: &mut SmallRng) -> Timer {
        match rng.gen_range(0..11) {
            0 => Timer::IceFailed,
            1 => Timer::IceDisconnected,
            2 => Timer::IceRecover,
            3 => Timer::IceCheck,
            4 => Timer::IceKeepalive,
            5 => Timer::DtlsRetransmit,
            6 => Timer::SctpT1,
            7 => Timer::SctpT3,
            8 => Timer::SctpAck,
            9 => Timer::DcepHandshake(rng.gen_range(0..4)),
            _ => Timer::AnnounceOpen(rng.gen_range(0..4)),
        }
    }

    /// The slice answers every question as the map it replaced, and hashes, prints and
    /// serializes the same.
    #[test]
    fn timers_behave_as_the_map_they_were() {
        let mut rng = SmallRng::seed_from_u64(5);
        let hasher = RandomState::new();
        for _ in 0..200 {
            let (mut timers, mut map) = (Timers::default(), BTreeMap::<Timer, Millis>::new());
            for _ in 0..40 {
                let timer = any_timer(&mut rng);
                match rng.gen_range(0..4) {
                    0 | 1 => {
                        let at = rng.gen_range(0..50);
                        timers.arm(timer, at);
                        map.insert(timer, at);
                    }
                    2 => {
                        timers.cancel(timer);
                        map.remove(&timer);
                    }
                    _ if rng.gen_bool(0.1) => {
                        timers.clear();
                        map.clear();
                    }
                    _ => {}
                }
                let now = rng.gen_range(0..50);
                let next_due = map
                    .iter()
                    .filter(|(_, &at)| at <= now)
                    .min_by_key(|(t, &at)| (at, **t))
                    .map(|(t, _)| *t);
                assert_eq!(timers.next_due(now), next_due);
                assert_eq!(timers.earliest(), map.values().copied().min());
                assert_eq!(timers.deadline(timer), map.get(&timer).copied());
                assert!(timers.armed().eq(map.iter().map(|(t, at)| (*t, *at))));
                assert_eq!(hasher.hash_one(&timers.armed), hasher.hash_one(&map));
                assert_eq!(
                    format!("{timers:?}"),
                    format!("Timers {{ armed: {map:?} }}")
                );
                #[derive(Serialize)]
                struct Was<'a> {
                    armed: &'a BTreeMap<Timer, Millis>,
                }
                // JSON takes unit variants as keys only: both fail alike on the others.
                let json = serde_json::to_string(&timers).map_err(|e| e.to_string());
                let was = serde_json::to_string(&Was { armed: &map }).map_err(|e| e.to_string());
                assert_eq!(json, was);
                let Ok(json) = json else {
                    continue;
                };
                let back: Timers = serde_json::from_str(&json).expect("deserialize");
                assert_eq!(back, timers);
            }
        }
    }
}
