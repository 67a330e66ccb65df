//! Real-peer times measured from the run's own anchor events, not from its start.
//!
//! A real peer runs on the wall clock of a shared machine. A browser that takes a second
//! longer to make its first offer, or a vanish that the player times on the peer's own
//! ICE report, moves every later event of that run by the same amount, although the
//! intervals that carry meaning (ICE `disconnected` 5 s after the path died, `failed` 10
//! s after that) are the same. Comparing absolute times would call such a run divergent;
//! comparing intervals keeps the tolerance tight where it means something.
//!
//! An *anchor* is an event whose time each run sets for itself and that both traces have:
//!
//! - every scenario step the trace records (`app` and `fault` events: the application
//!   steps and the network faults, matched by peer, action and occurrence);
//! - every signaling state a peer enters (matched by peer, state and occurrence): the
//!   offer and answer travel through the player's own signaling (an HTTP mailbox for
//!   Chromium), whose delays are the player's, not the lifecycle's;
//! - each peer's ICE `checking` (by occurrence): the moment it has its own candidates
//!   and the remote's, after the player has carried them.
//!
//! [`rebase`] moves each of the real trace's compared values onto the model's clock: a
//! value at real time `t` whose latest preceding anchor (in the real trace, and present
//! in the model's) is at real time `r` and model time `m` is compared at `m + (t - r)`.
//! From ICE `checking` on, everything crosses the simulated network (the relay, with the
//! scenario's latency and faults), so the intervals compared are the handshakes' round
//! trips and the timeouts, which is what the model claims to know. Send outcomes the
//! script times itself (`sent`, `queued`, `error`, `rejected`: the page calls `send` at
//! the step's time) are measured from the latest step or fault only (a player moves the
//! steps after a fault it placed on an event by that fault's lateness, so they keep
//! their distance to it); a guard's flush, a delivery, a drop and every state and
//! callback follow a cause and are measured from the latest anchor of any kind, and an
//! anchor reads the model's time. ICE gathering states are compared in value and order only: their time
//! is how long the host takes to list its addresses (20-240 ms for Chromium on a shared
//! machine), which the model does not model (it gathers at once). Values before the
//! first anchor keep their time. Divergences and shifts of a real peer are therefore
//! shown on the model's clock.

use crate::conform::normalize::{Key, Normalized};
use crate::trace::{EventKind, Machine, Millis, PeerId, Trace};
use std::collections::BTreeMap;

/// What identifies one anchor in both traces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum AnchorId {
    /// The `nth` step `action` of `peer` (`None`: a network-wide fault).
    Step {
        peer: Option<PeerId>,
        action: String,
        nth: usize,
    },
    /// The `nth` time `peer`'s `machine` entered `to`.
    State {
        peer: PeerId,
        machine: Machine,
        to: String,
        nth: usize,
    },
}

/// The anchors of a trace, in time order.
fn anchors(trace: &Trace) -> Vec<(Millis, AnchorId)> {
    let mut seen: BTreeMap<AnchorId, usize> = BTreeMap::new();
    let mut next = |id: AnchorId| {
        let n = seen.entry(id.clone()).or_insert(0);
        *n += 1;
        match id {
            AnchorId::Step { peer, action, .. } => AnchorId::Step {
                peer,
                action,
                nth: *n,
            },
            AnchorId::State {
                peer, machine, to, ..
            } => AnchorId::State {
                peer,
                machine,
                to,
                nth: *n,
            },
        }
    };
    let mut out = Vec::new();
    for e in &trace.events {
        let id = match &e.kind {
            EventKind::Fault { action, .. } | EventKind::App { action, .. } => AnchorId::Step {
                peer: e.peer,
                action: action.clone(),
                nth: 0,
            },
            EventKind::State {
                machine,
                to,
                channel: None,
                ..
            } if is_anchor_state(*machine, to) => match e.peer {
                Some(peer) => AnchorId::State {
                    peer,
                    machine: *machine,
                    to: to.clone(),
                    nth: 0,
                },
                None => continue,
            },
            _ => continue,
        };
        out.push((e.t_ms, next(id)));
    }
    out
}

/// The states that are anchors (module docs).
fn is_anchor_state(machine: Machine, to: &str) -> bool {
    machine == Machine::Signaling || (machine == Machine::IceConnection && to == "checking")
}

/// True for values the script times itself (measured from the latest step or fault only).
fn script_timed(key: &Key, value: &str) -> bool {
    matches!(key, Key::Send { .. }) && value != "flushed"
}

/// Rebases the real side's normalized values onto the model's clock (module docs).
/// Returns the number of values whose time moved.
pub fn rebase(model: &Trace, model_n: &Normalized, real: &Trace, real_n: &mut Normalized) -> usize {
    let model_at: BTreeMap<AnchorId, Millis> =
        anchors(model).into_iter().map(|(t, id)| (id, t)).collect();
    // (real time, model time) of the anchors both traces have, in real time order, and
    // of the steps and faults among them.
    let shared: Vec<(Millis, Millis, bool)> = anchors(real)
        .into_iter()
        .filter_map(|(t, id)| {
            let step = matches!(id, AnchorId::Step { .. });
            model_at.get(&id).map(|&m| (t, m, step))
        })
        .collect();
    let pairs: Vec<(Millis, Millis)> = shared.iter().map(|&(r, m, _)| (r, m)).collect();
    let steps: Vec<(Millis, Millis)> = shared
        .iter()
        .filter(|a| a.2)
        .map(|&(r, m, _)| (r, m))
        .collect();
    let mut moved = 0;
    for (key, seq) in real_n.seqs.iter_mut() {
        if let Key::State {
            machine: Machine::IceGathering,
            ..
        } = key
        {
            // Compared in value and order only: each value takes the model's time of the
            // same value at the same place.
            let model_seq = model_n.get(key);
            for (i, s) in seq.iter_mut().enumerate() {
                if let Some(m) = model_seq.get(i).filter(|m| m.value == s.value) {
                    if m.t_ms != s.t_ms {
                        s.t_ms = m.t_ms;
                        moved += 1;
                    }
                }
            }
            continue;
        }
        for s in seq.iter_mut() {
            let pairs = if script_timed(key, &s.value) {
                &steps
            } else {
                &pairs
            };
            let latest = pairs.partition_point(|&(r, _)| r <= s.t_ms);
            let Some(&(r, m)) = latest.checked_sub(1).and_then(|i| pairs.get(i)) else {
                continue;
            };
            let t = m.saturating_add(s.t_ms - r);
            if t != s.t_ms {
                s.t_ms = t;
                moved += 1;
            }
        }
        // Each sequence keeps the order it happened in: rebased and script-timed values
        // of one sequence (a send queued by the script, flushed on a cause) may now read
        // out of time order, and the order is what is compared.
    }
    // A step is an anchor: it now reads the model's time, and so does the peer's close.
    for peer in PeerId::BOTH {
        let close = real_n
            .get(&Key::Steps { peer })
            .iter()
            .find(|s| s.value == "close_peer")
            .map(|s| s.t_ms);
        if let Some(t) = close {
            real_n.closed_at[peer.index()] = Some(t);
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::normalize::normalize;
    use crate::trace::{TraceEvent, Via};

    fn state(t: Millis, peer: PeerId, machine: Machine, to: &str) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::State {
                machine,
                channel: None,
                from: String::new(),
                to: to.to_string(),
            },
        )
    }

    fn step(t: Millis, peer: Option<PeerId>, action: &str) -> TraceEvent {
        let kind = if action == "connect" {
            EventKind::App {
                action: action.to_string(),
                detail: None,
            }
        } else {
            EventKind::Fault {
                action: action.to_string(),
                detail: None,
            }
        };
        match peer {
            Some(p) => TraceEvent::on(t, p, kind),
            None => TraceEvent::global(t, kind),
        }
    }

    fn queued(t: Millis, msg: u64) -> TraceEvent {
        TraceEvent::on(
            t,
            PeerId::A,
            EventKind::Send {
                channel: "chat".into(),
                stream: None,
                msg,
                via: Via::Guarded,
                state: "connecting".into(),
                outcome: crate::trace::SendOutcome::Queued,
                error: None,
                reason: None,
                flushed: false,
            },
        )
    }

    fn times(n: &Normalized, key: &Key) -> Vec<Millis> {
        n.get(key).iter().map(|s| s.t_ms).collect()
    }

    /// A run that starts a second late and vanishes later than the model's step is
    /// compared on its intervals; a scripted send is measured from the latest step.
    #[test]
    fn late_run_is_compared_on_its_intervals() {
        let sig = |t, to| state(t, PeerId::A, Machine::Signaling, to);
        let ice = |t, to| state(t, PeerId::A, Machine::IceConnection, to);
        let model = Trace {
            events: vec![
                step(0, Some(PeerId::A), "connect"),
                sig(0, "have-local-offer"),
                ice(40, "connected"),
                step(45, Some(PeerId::B), "crash"),
                queued(1000, 7),
                ice(5245, "disconnected"),
            ],
        };
        let real = Trace {
            events: vec![
                step(3, Some(PeerId::A), "connect"),
                sig(475, "have-local-offer"),
                queued(1000, 7),
                ice(1078, "connected"),
                step(1085, Some(PeerId::B), "crash"),
                ice(6108, "disconnected"),
            ],
        };
        let mut n = normalize(&real);
        // The two steps, the offer, the two ICE states and the send (measured from the
        // connect step) move.
        assert_eq!(rebase(&model, &normalize(&model), &real, &mut n), 6);
        let ice_key = Key::State {
            peer: PeerId::A,
            machine: Machine::IceConnection,
            channel: None,
        };
        // 603 ms after the offer, 5023 ms after the crash.
        assert_eq!(times(&n, &ice_key), vec![603, 5068]);
        assert_eq!(times(&n, &Key::Send { msg: 7 }), vec![997]);
        assert_eq!(times(&n, &Key::Steps { peer: PeerId::B }), vec![45]);
    }

    /// An anchor the model does not have moves nothing; values before every anchor keep
    /// their time.
    #[test]
    fn only_shared_anchors_count() {
        let model = Trace {
            events: vec![state(5, PeerId::B, Machine::Dtls, "connecting")],
        };
        let real = Trace {
            events: vec![
                state(5, PeerId::B, Machine::Dtls, "connecting"),
                step(100, None, "partition"),
                state(200, PeerId::B, Machine::Dtls, "failed"),
            ],
        };
        let mut n = normalize(&real);
        assert_eq!(rebase(&model, &normalize(&model), &real, &mut n), 0);
    }
}
