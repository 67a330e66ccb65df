//! Two model peers back to back over a trivial in-memory link: fixed one-way latency,
//! optional total partition. The smallest driver, for unit tests and for the first
//! `dcsim` runs; the turmoil simulator is the real one.

use super::{Input, Packet, Peer, PeerConfig, Profile};
use crate::record;
use crate::stack::{self, AppCall, AppResult, StackEvent, StackOutput};
use crate::trace::{EventKind, Millis, MsgId, PeerId, Trace, TraceEvent};
use std::collections::BTreeMap;

/// Two peers, a clock and the datagrams in flight.
#[derive(Clone, Debug)]
pub struct Pair {
    /// The peers, `a` then `b`.
    pub peers: [Peer; 2],
    /// Virtual time.
    pub now: Millis,
    /// One-way latency.
    pub latency: Millis,
    /// While true every datagram is lost.
    pub partitioned: bool,
    in_flight: BTreeMap<(Millis, u64), (PeerId, Packet)>,
    seq: u64,
    /// Everything that happened.
    pub trace: Trace,
}

impl Pair {
    /// Two fresh peers with the same profile and config.
    pub fn new(profile: Profile, config: PeerConfig, latency: Millis) -> Self {
        Pair {
            peers: [
                Peer::new(PeerId::A, profile, config),
                Peer::new(PeerId::B, profile, config),
            ],
            now: 0,
            latency,
            partitioned: false,
            in_flight: BTreeMap::new(),
            seq: 0,
            trace: Trace::new(),
        }
    }

    /// A peer.
    pub fn peer(&self, id: PeerId) -> &Peer {
        &self.peers[id.index()]
    }

    /// Offer/answer exchanged instantly (signaling is out of band).
    pub fn connect(&mut self) -> Result<(), String> {
        let now = self.now;
        let offer = self.peers[0].create_description(now)?;
        self.peers[1].apply_remote_description(now, &offer)?;
        let answer = self.peers[1].create_description(now)?;
        self.peers[0].apply_remote_description(now, &answer)?;
        self.drain();
        Ok(())
    }

    /// An application call on one peer, recorded in the trace when it is a send.
    pub fn app(&mut self, peer: PeerId, call: AppCall) -> AppResult {
        let send = match &call {
            AppCall::Send { channel, msg, .. } => Some((channel.clone(), *msg)),
            _ => None,
        };
        let state = send
            .as_ref()
            .and_then(|(c, _)| self.peers[peer.index()].channel_state(c));
        let stream = send
            .as_ref()
            .and_then(|(c, _)| self.peers[peer.index()].channel_stream(c));
        let result = self.peers[peer.index()].handle_input(self.now, Input::App(call));
        if let Some((channel, msg)) = send {
            self.trace.push(record::raw_send(
                self.now, peer, &channel, msg, state, stream, &result,
            ));
        }
        self.drain();
        result
    }

    /// A raw send of `size` bytes.
    pub fn send(&mut self, peer: PeerId, channel: &str, msg: MsgId, size: usize) -> AppResult {
        self.app(
            peer,
            AppCall::Send {
                channel: channel.to_string(),
                msg,
                size,
            },
        )
    }

    /// Starts or ends a total partition, recorded as a fault.
    pub fn set_partition(&mut self, on: bool) {
        self.partitioned = on;
        let action = if on { "partition" } else { "heal" };
        self.trace.push(TraceEvent::global(
            self.now,
            EventKind::Fault {
                action: action.into(),
                detail: None,
            },
        ));
    }

    /// Runs every delivery and timer up to and including `until`.
    pub fn run_until(&mut self, until: Millis) {
        loop {
            let next_packet = self.in_flight.keys().next().map(|(t, _)| *t);
            let next_timer = self.peers.iter().filter_map(|p| p.poll_timeout()).min();
            let next = match (next_packet, next_timer) {
                (Some(p), Some(t)) => p.min(t),
                (Some(p), None) => p,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                if let Some((_, (to, packet))) = self.in_flight.pop_first() {
                    let _ = self.peers[to.index()].handle_input(self.now, Input::Datagram(packet));
                }
            } else {
                for p in &mut self.peers {
                    let _ = p.handle_input(self.now, Input::Timeout);
                }
            }
            self.drain();
        }
        self.now = self.now.max(until);
    }

    fn drain(&mut self) {
        for id in PeerId::BOTH {
            stack::drain(
                self,
                |pair| pair.peers[id.index()].poll_output().map(StackOutput::from),
                |pair, packet| {
                    if !pair.partitioned {
                        pair.seq += 1;
                        let at = (pair.now + pair.latency, pair.seq);
                        pair.in_flight.insert(at, (id.other(), packet));
                    }
                },
                |pair, event| pair.record(id, &event),
            );
        }
    }

    fn record(&mut self, peer: PeerId, event: &StackEvent) {
        self.trace.push(record::stack_event(self.now, peer, event));
    }

    /// Times at which `peer`'s machine entered state `to`, from the trace.
    pub fn times_of(&self, peer: PeerId, machine: &str, to: &str) -> Vec<Millis> {
        self.trace
            .events
            .iter()
            .filter(|e| e.peer == Some(peer))
            .filter_map(|e| match &e.kind {
                EventKind::State {
                    machine: m, to: t, ..
                } if m.as_str() == machine && t == to => Some(e.t_ms),
                _ => None,
            })
            .collect()
    }
}
