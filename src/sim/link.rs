//! What the scenario's network faults do to a datagram as it is sent: one set of rules
//! that both engines apply at the sender, so that `partition`, `hold`, `loss` and
//! `crash` mean the same on the direct loop and on turmoil (docs/scenarios.md).
//!
//! A fault acts on datagrams sent from the fault on; datagrams already in flight arrive
//! (turmoil 0.7's own `hold` and `partition` would catch those too, which is why the
//! turmoil engine does not use them).

use crate::scenario::Action;
use crate::trace::PeerId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The link between the two peers: fault flags, the loss generator and the datagrams a
/// `hold` keeps. Every datagram and description that goes on the wire gets the next
/// sequence number, which orders deliveries due at the same millisecond.
pub(crate) struct Link {
    loss: f64,
    partitioned: bool,
    holding: bool,
    crashed: [bool; 2],
    rng: SmallRng,
    seq: u64,
    held: Vec<(PeerId, Vec<u8>)>,
}

/// A datagram on the wire: its sequence number, receiver and bytes.
pub(crate) type Wire = (u64, PeerId, Vec<u8>);

impl Link {
    /// A healthy link losing `loss` of its datagrams, drawn from `seed`.
    pub(crate) fn new(loss: f64, seed: u64) -> Self {
        Link {
            loss,
            partitioned: false,
            holding: false,
            crashed: [false; 2],
            rng: SmallRng::seed_from_u64(seed),
            seq: 0,
            held: Vec::new(),
        }
    }

    /// The next sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Whether `peer` has crashed.
    pub(crate) fn crashed(&self, peer: PeerId) -> bool {
        self.crashed[peer.index()]
    }

    /// A datagram sent to `to`: on the wire (with its sequence number), or `None` when
    /// the link is partitioned, the receiver has crashed, loss takes it or a hold keeps
    /// it. The loss is drawn only for a datagram that could arrive.
    pub(crate) fn send(&mut self, to: PeerId, datagram: Vec<u8>) -> Option<Wire> {
        if self.partitioned || self.crashed(to) {
            return None;
        }
        if self.loss > 0.0 && self.rng.gen_bool(self.loss.min(1.0)) {
            return None;
        }
        if self.holding {
            self.held.push((to, datagram));
            return None;
        }
        Some((self.next_seq(), to, datagram))
    }

    /// Applies a network fault; a `release` returns the held datagrams, in the order
    /// they were sent, each with a new sequence number (they arrive one millisecond
    /// after the release, after what was already due then). A `latency` fault is the
    /// engine's to apply.
    pub(crate) fn apply(&mut self, action: &Action) -> Vec<Wire> {
        match action {
            Action::Partition => self.partitioned = true,
            Action::Heal => self.partitioned = false,
            Action::Hold => self.holding = true,
            Action::Release => {
                self.holding = false;
                return std::mem::take(&mut self.held)
                    .into_iter()
                    .map(|(to, datagram)| (self.next_seq(), to, datagram))
                    .collect();
            }
            Action::Loss { value } => self.loss = *value,
            Action::Crash { peer } => self.crashed[peer.index()] = true,
            _ => {}
        }
        Vec::new()
    }
}
