//! Sleep sets: successors the breadth-first search would only meet again, not computed.
//!
//! Some actions of different peers commute: a send, a delivery, a `channel.close()` or
//! a `pc.close()` changes its own peer and application, and adds to what is in flight
//! to the other peer. Two of them, `t` of one peer and `a` of the other, lead to the
//! same state in either order unless one took in a packet the other sent (a copy sent
//! while the bound on copies in flight is reached is not added, so the order would
//! matter), or `t` changed which packets in flight are dead (by spending the last
//! timeout or closing peer `a`'s connection, which can make the packet `a` takes in
//! vanish); [`Moves::sleep_of`] checks both. A timer firing that the monitor judged
//! (never a stutter) may also lead to a state with a sleep set, but never sleeps
//! itself.
//!
//! Say the state `s` was first reached from `p` by `a`, and `t`, such an action of the
//! other peer, commutes with `a` at `p` and either comes before `a` in `p`'s action
//! list or sleeps at `p` itself. Then `s·t = p·a·t = p·t·a`, and the state `p·t` is
//! first reached before `s` is (from `p` by an earlier action, or, if `t` sleeps at
//! `p`, from a state before `p`), so the search computes `p·t·a` before it would
//! compute `s·t`: `s·t` is never the first time its state is met. Leaving it out
//! changes nothing the search keeps: the same states, found first from the same
//! parents by the same actions, in the same order (node ids, counterexamples and every
//! count but the states generated are those of the search without it). Only
//! [`super::explorer::ExploreReport::visited`] is smaller.
//!
//! These are the sleep sets of partial-order reduction (Godefroid, 1996, chapter 5),
//! here on a breadth-first search with a visited set, where they leave its result as
//! it is. Each frontier state carries its set as a [`Sleep`] mask. A test explores with
//! the skipped successors computed anyway and checks that each was already visited.

use super::step::LocalInput;
use super::world::Action;
use crate::trace::PeerId;

/// The actions a frontier state skips, all of one peer: bit 31 names the peer (set for
/// `b`); then, by [`slot`], its sends, its channel closes, its `pc.close()` and its
/// deliveries in the order the state lists them. Actions past bit 30 are never skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Sleep(u32);

/// The bit that names the peer whose actions sleep.
const PEER_B: u32 = 1 << 31;

/// The bit of an action of the sleeping peer: a send on channel `c` is bit `c`, a
/// close of `c` bit `channels + c`, `pc.close()` bit `2 * channels`, and the delivery
/// of the `i`-th packet in flight to it bit `2 * channels + 1 + i`.
fn slot(kind: Kind, channels: u32, delivery: u32) -> u32 {
    match kind {
        Kind::Send(c) => u32::from(c),
        Kind::CloseChannel(c) => channels + u32::from(c),
        Kind::ClosePeer => 2 * channels,
        Kind::Deliver(_) => 2 * channels + 1 + delivery,
        // Never asleep (see `Kind::Fire`).
        Kind::Fire => 31,
    }
}

impl Sleep {
    /// Nothing skipped.
    pub(crate) const NONE: Sleep = Sleep(0);

    /// A reader of this set over one state's actions, taken in order.
    pub(crate) fn reader(self, channels: u8) -> SleepReader {
        SleepReader {
            bits: self.0 & !PEER_B,
            peer: if self.0 & PEER_B != 0 {
                PeerId::B
            } else {
                PeerId::A
            },
            channels: u32::from(channels),
            deliveries: 0,
        }
    }
}

/// Tells, action by action in a state's list order, which of them sleep.
pub(crate) struct SleepReader {
    bits: u32,
    peer: PeerId,
    channels: u32,
    deliveries: u32,
}

impl SleepReader {
    /// Whether `a`, the next action of the state's list, is skipped. Every action of
    /// the list must be passed, skipped or not (deliveries are counted).
    #[inline]
    pub(crate) fn asleep(&mut self, a: &Action<u32>) -> bool {
        if self.bits == 0 {
            return false;
        }
        let Some((peer, kind)) = Kind::of(a) else {
            return false;
        };
        if peer != self.peer {
            return false;
        }
        let bit = slot(kind, self.channels, self.deliveries);
        if let Kind::Deliver(_) = kind {
            self.deliveries += 1;
        }
        bit < 31 && self.bits & (1 << bit) != 0
    }
}

/// An action that may sleep, without its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Send(u8),
    CloseChannel(u8),
    ClosePeer,
    /// The delivery of a packet (by id).
    Deliver(u32),
    /// A timer firing the monitor judged (so never a stutter). It may lead to a state
    /// with a sleep set, but never sleeps itself: a timeout spends a budget that decides
    /// which packets are dead, and a firing that is a stutter in one state may not be
    /// in another.
    Fire,
}

impl Kind {
    /// What the moving peer's stack is given; `None` for a firing (which never sleeps,
    /// so what it sends is never looked up).
    fn input(self) -> Option<LocalInput<u32>> {
        Some(match self {
            Kind::Send(channel) => LocalInput::Send(channel),
            Kind::CloseChannel(channel) => LocalInput::CloseChannel(channel),
            Kind::ClosePeer => LocalInput::ClosePeer,
            Kind::Deliver(packet) => LocalInput::Deliver(packet),
            Kind::Fire => return None,
        })
    }

    /// The peer and kind of `a`, if it is an action that may sleep.
    fn of(a: &Action<u32>) -> Option<(PeerId, Kind)> {
        Some(match *a {
            Action::Send { peer, channel } => (peer, Kind::Send(channel)),
            Action::CloseChannel { peer, channel } => (peer, Kind::CloseChannel(channel)),
            Action::ClosePeer { peer } => (peer, Kind::ClosePeer),
            Action::Deliver { to, packet } => (to, Kind::Deliver(packet)),
            Action::Fire { peer, .. } => (peer, Kind::Fire),
            _ => return None,
        })
    }
}

/// One step of the parent by an action that may sleep.
#[derive(Clone, Copy, Debug)]
struct Move {
    kind: Kind,
    /// Its place among the recorded moves of the parent (both peers').
    order: u32,
    /// For a delivery: its place among the deliveries to its peer in the parent's list.
    delivery: u32,
    /// The packets it sent to the other peer (an id of `Pieces::sent`; `u32::MAX` for
    /// none; `UNKNOWN` for an action asleep at the parent, until it is needed).
    sent: u32,
    /// Its candidate, by place in the parent's list of candidates; `None` for an
    /// action asleep at the parent (not taken, but its successor's state is met before).
    candidate: Option<usize>,
    /// It left which packets are dead as they were (see [`Moves::record`]).
    clean: bool,
}

/// [`Move::sent`] not looked up yet.
const UNKNOWN: u32 = u32::MAX - 1;

/// The moves of one parent that may put its successors' siblings to sleep.
#[derive(Default)]
pub(crate) struct Moves {
    /// By peer, in the parent's list order.
    moves: [Vec<Move>; 2],
    /// Moves recorded so far.
    recorded: u32,
    /// Deliveries to each peer seen so far in the parent's list.
    deliveries: [u32; 2],
    /// The sleep sets [`Moves::sleep_of`] found, by candidate.
    sleeps: Vec<(usize, Sleep)>,
}

impl Moves {
    /// Forgets the previous parent's moves.
    pub(crate) fn clear(&mut self) {
        self.moves.iter_mut().for_each(Vec::clear);
        self.recorded = 0;
        self.deliveries = [0; 2];
    }

    /// Records the parent's action `a`, taken without a violation: what it sent to the
    /// other peer, its successor's place among the parent's candidates, whether the
    /// monitor judged an event of it, and (asked only of an action that may sleep)
    /// whether it is clean. Every delivery of the parent's list must be recorded,
    /// taken or [asleep](Moves::record_asleep), or [skipped](Moves::skip), in list
    /// order.
    ///
    /// A move is clean if it left what decides which packets in flight to the other
    /// peer are dead as it was (whether a timeout and an ICE restart are left): only a
    /// clean move may sleep, since an unclean one could make the packet the other peer
    /// takes in vanish, so that the two do not commute. (Taking in a packet or sending
    /// changes nothing of that but through the application, the same at every state
    /// the move's peer and application are the same in, so an action asleep at the
    /// parent was clean where it was first put to sleep and is clean here.) A firing
    /// counts only if judged (never a stutter), and is never clean.
    pub(crate) fn record_taken(
        &mut self,
        a: &Action<u32>,
        sent: u32,
        candidate: usize,
        judged: bool,
        clean: impl FnOnce() -> bool,
    ) {
        let Some((peer, kind)) = Kind::of(a) else {
            return;
        };
        let clean = match kind {
            Kind::Fire if !judged => return,
            Kind::Fire => false,
            _ => clean(),
        };
        self.push(peer, kind, sent, Some(candidate), clean);
    }

    /// Records the parent's action `a`, asleep there (what it sends is looked up only
    /// if needed).
    pub(crate) fn record_asleep(&mut self, a: &Action<u32>) {
        if let Some((peer, kind)) = Kind::of(a) {
            self.push(peer, kind, UNKNOWN, None, true);
        }
    }

    fn push(&mut self, peer: PeerId, kind: Kind, sent: u32, candidate: Option<usize>, clean: bool) {
        let delivery = self.deliveries[peer.index()];
        if let Kind::Deliver(_) = kind {
            self.deliveries[peer.index()] += 1;
        }
        self.moves[peer.index()].push(Move {
            kind,
            order: self.recorded,
            delivery,
            sent,
            candidate,
            clean,
        });
        self.recorded += 1;
    }

    /// Counts an action of the parent's list that is not recorded (its step found a
    /// violation, which ends the search at this level, or was not one).
    pub(crate) fn skip(&mut self, a: &Action<u32>) {
        if let Action::Deliver { to, .. } = a {
            self.deliveries[to.index()] += 1;
        }
    }

    /// The sleep set of each taken successor that has one, by candidate: the actions
    /// of the other peer that commute with its own and come before it or sleep at the
    /// parent. `sent` gives a sent id's packets; `sent_on(peer, input)` what the
    /// parent's `peer` would send on `input`; `in_flight(c, peer)` the packets in
    /// flight to `peer` in candidate `c`, in list order, or `None` if they are those of
    /// the parent.
    pub(crate) fn sleep_of<'a>(
        &mut self,
        channels: u8,
        sent: impl Fn(u32) -> &'a [u32],
        mut sent_on: impl FnMut(PeerId, LocalInput<u32>) -> u32,
        in_flight: impl Fn(usize, PeerId) -> Option<&'a [(u32, u8)]>,
    ) -> &[(usize, Sleep)] {
        let Moves { moves, sleeps, .. } = self;
        sleeps.clear();
        let channels = u32::from(channels);
        for peer in PeerId::BOTH {
            let [on_a, on_b] = &mut *moves;
            let (mine, theirs) = match peer {
                PeerId::A => (&*on_a, on_b),
                PeerId::B => (&*on_b, on_a),
            };
            if theirs.is_empty() {
                continue;
            }
            let other = peer.other();
            for a in mine {
                let Some(candidate) = a.candidate else {
                    continue;
                };
                // Neither may have sent the packet the other took in (with a bound on
                // the copies of a packet in flight, a copy sent while the bound is
                // reached is not added, so the order would matter). Budgets need no
                // check: if `a` spent the last of one, `t` is not in the successor's
                // list at all and its bit names nothing.
                let took = match a.kind {
                    Kind::Deliver(k) => Some(k),
                    _ => None,
                };
                let a_sent = if a.sent < UNKNOWN { sent(a.sent) } else { &[] };
                let mut flight = None;
                let mut bits = 0u32;
                for t in theirs.iter_mut() {
                    if !t.clean || (t.order > a.order && t.candidate.is_some()) {
                        continue;
                    }
                    if let Some(k) = took {
                        if t.sent == UNKNOWN {
                            t.sent = t.kind.input().map_or(u32::MAX, |i| sent_on(other, i));
                        }
                        if t.sent < UNKNOWN && sent(t.sent).contains(&k) {
                            continue;
                        }
                    }
                    let delivery = match t.kind {
                        Kind::Deliver(j) => {
                            if a_sent.contains(&j) {
                                continue;
                            }
                            match *flight.get_or_insert_with(|| in_flight(candidate, other)) {
                                None => t.delivery,
                                Some(f) => match f.iter().position(|(q, _)| *q == j) {
                                    Some(at) => at as u32,
                                    None => continue,
                                },
                            }
                        }
                        _ => 0,
                    };
                    let bit = slot(t.kind, channels, delivery);
                    if bit < 31 {
                        bits |= 1 << bit;
                    }
                }
                if bits != 0 {
                    let peer_bit = if other == PeerId::B { PEER_B } else { 0 };
                    sleeps.push((candidate, Sleep(bits | peer_bit)));
                }
            }
        }
        sleeps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parent whose peer `a` sends on `c1` and takes in packet 5, then whose peer `b`
    /// takes in packet 7: `b`'s successor sleeps on both of `a`'s moves (they came
    /// before it and commute with it), found in the successor's own action list at
    /// the places the mask names; `a`'s successors sleep on nothing of `b` (it came
    /// after them). With packet 7 among what `a`'s send sent, the send does not
    /// commute with the delivery of 7 and stays awake.
    #[test]
    fn a_sleep_set_names_the_actions_of_the_successors_list() {
        let parent = |send_sent: u32| {
            let mut moves = Moves::default();
            moves.record_taken(
                &Action::Send {
                    peer: PeerId::A,
                    channel: 1,
                },
                send_sent,
                0,
                false,
                || true,
            );
            moves.record_taken(
                &Action::Deliver {
                    to: PeerId::A,
                    packet: 5,
                },
                u32::MAX,
                1,
                false,
                || true,
            );
            moves.record_taken(
                &Action::Deliver {
                    to: PeerId::B,
                    packet: 7,
                },
                u32::MAX,
                2,
                false,
                || true,
            );
            moves
        };
        let sent_packets: [&[u32]; 1] = [&[7]];
        // In the successor by `b`'s delivery, packet 5 is the second in flight to `a`.
        let flight: &[(u32, u8)] = &[(3, 1), (5, 1)];
        let successor = [
            Action::Send {
                peer: PeerId::A,
                channel: 0,
            },
            Action::Send {
                peer: PeerId::A,
                channel: 1,
            },
            Action::Deliver {
                to: PeerId::A,
                packet: 3,
            },
            Action::Deliver {
                to: PeerId::A,
                packet: 5,
            },
            Action::Deliver {
                to: PeerId::B,
                packet: 9,
            },
        ];
        let asleep = |send_sent: u32| {
            let mut moves = parent(send_sent);
            let sleeps = moves
                .sleep_of(
                    2,
                    |s| sent_packets[s as usize],
                    |_, _| u32::MAX,
                    |_, _| Some(flight),
                )
                .to_vec();
            assert!(sleeps.iter().all(|(c, _)| *c == 2), "{sleeps:?}");
            let sleep = sleeps.first().map_or(Sleep::NONE, |s| s.1);
            let mut reader = sleep.reader(2);
            successor
                .iter()
                .map(|a| reader.asleep(a))
                .collect::<Vec<_>>()
        };
        assert_eq!(asleep(u32::MAX), [false, true, false, true, false]);
        assert_eq!(asleep(0), [false, false, false, true, false]);
    }
}
