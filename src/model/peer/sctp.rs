//! The SCTP association: its handshake, reliable chunks with TSNs, retransmission,
//! SACKs, bundling, and the abort.

use super::channels::{dcep_open_size, DCEP_ACK_SIZE};
use super::{Output, Peer};
use crate::model::timer::Timer;
use crate::model::wire::{Chunk, Packet};
use crate::vocab::states::*;
use crate::vocab::{Callback, StackEvent, StateChange};
use crate::vocab::{Millis, Reliability};
use std::collections::{BTreeMap, BTreeSet};

/// Cap of the SCTP retransmission timeout (RFC 4960 RTO.Max).
pub(super) const SCTP_RTO_MAX_MS: Millis = 60_000;

/// SCTP packet size limit for bundling: `rtc-sctp` `config.rs` `INITIAL_MTU` (1191),
/// with a 12-byte common header and 16 bytes of header per DATA chunk.
pub(super) const SCTP_MTU: usize = 1191;

/// Delay of a SACK for a lone DATA packet (RFC 4960 section 6.2; `rtc-sctp`
/// `association/timer.rs` `ACK_INTERVAL`).
pub(super) const SCTP_ACK_DELAY_MS: Millis = 200;

/// Where the association stands. Both variants keep the last handshake chunk this side
/// sent (INIT 1, INIT ACK 2, COOKIE ECHO 3, COOKIE ACK 4; 0 before the first): the one to
/// retransmit, and the one a duplicate handshake chunk answers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Association {
    /// Not established: the handshake, or an association that went down (abort, close).
    Handshake {
        last_sent: u8,
        /// With `sctp_closed_during_handshake`: the DTLS server got the INIT and waits for
        /// the COOKIE ECHO, so its transport reads `closed` while `state` is `connecting`.
        reads_closed: bool,
    },
    /// Established: data flows.
    Established { last_sent: u8 },
}

/// SCTP association: handshake, reliable chunks with TSNs, SACKs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Sctp {
    pub(super) state: SctpTransportState,
    pub(super) association: Association,
    pub(super) next_tsn: u32,
    pub(super) outstanding: BTreeMap<u32, Chunk>,
    pub(super) rto: Millis,
    pub(super) cum_received: u32,
    pub(super) out_of_order: BTreeMap<u32, Chunk>,
    /// A SACK is owed and delayed (the crate's `AckState::Delay`): the next DATA packet,
    /// or [`Timer::SctpAck`], sends it.
    pub(super) ack_delayed: bool,
    /// Partial reliability, sender side: the outstanding chunks of partially reliable
    /// channels and how they were tried (empty while every channel is reliable).
    pub(super) tries: BTreeMap<u32, Tries>,
    /// Partial reliability, sender side: abandoned chunks moved the cumulative TSN the
    /// receiver must skip to this one, and no SACK has reached it yet (FORWARD-TSN is
    /// sent, and re-sent on T3, until one does).
    pub(super) forward_to: Option<u32>,
    /// Unordered delivery, receiver side: chunks above the cumulative TSN already handed
    /// to the application when they arrived (not handed again when the gap closes).
    pub(super) delivered_early: BTreeSet<u32>,
    /// The round-trip estimate, once a round trip was measured.
    pub(super) rtt: Option<RttEstimate>,
    /// The chunk whose acknowledgement measures the next round trip, and when it was
    /// sent (Karn's rule: dropped if it is retransmitted).
    pub(super) rtt_probe: Option<(u32, Millis)>,
    /// The first missing chunk, how many SACKs reported it missing, and the highest
    /// TSN the last of them acknowledged (a report counts only when it acknowledges a
    /// chunk above that one: the crate's HTNA rule); the third report retransmits it.
    pub(super) misses: Option<Misses>,
    /// With SCTP timing: chunks retransmitted at least once, which a fast retransmit
    /// leaves to the T3 timer (the crate's `is_fast_retransmit_candidate`: sent once).
    pub(super) retransmitted: BTreeSet<u32>,
}

/// Miss indications of the first missing chunk (RFC 9260 7.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Misses {
    tsn: u32,
    count: u8,
    highest: u32,
}

/// Smoothed round trip and its variation (RFC 9260 6.3.1), as `rtc-sctp`'s
/// `RtoManager` keeps them: `srtt` in ms, `rttvar` in 1/1024 ms (the crate's is a float).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct RttEstimate {
    srtt: Millis,
    rttvar: u64,
}

impl RttEstimate {
    const SCALE: u64 = 1024;

    fn first(rtt: Millis) -> Self {
        RttEstimate {
            srtt: rtt,
            rttvar: rtt * Self::SCALE / 2,
        }
    }

    /// RTO.Alpha 1/8, RTO.Beta 1/4.
    fn update(self, rtt: Millis) -> Self {
        let delta = self.srtt.abs_diff(rtt) * Self::SCALE;
        RttEstimate {
            rttvar: (6 * self.rttvar + 2 * delta) / 8,
            srtt: (7 * self.srtt + rtt) / 8,
        }
    }

    /// `srtt + 4 rttvar`, at least `min` and at most RTO.Max.
    fn rto(self, min: Millis) -> Millis {
        (self.srtt + 4 * self.rttvar / Self::SCALE).clamp(min, SCTP_RTO_MAX_MS)
    }
}

/// How a partially reliable chunk was tried so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Tries {
    /// Transmissions so far (1 after the first).
    pub(super) sent: u16,
    /// When it was first sent.
    pub(super) first_at: Millis,
    /// Its channel's rule.
    pub(super) rule: Reliability,
    /// Out of tries and given up: never sent again, skipped by FORWARD-TSN, its bytes
    /// out of the buffered amount, and kept outstanding until the receiver's
    /// cumulative ack passes it (so that the point to skip to stops at a chunk still
    /// being tried), as the crate keeps it in its in-flight queue.
    pub(super) abandoned: bool,
}

impl Tries {
    /// Out of tries at `now`, before another transmission (RFC 3758 and the crate's
    /// `MessageReliability`: `maxRetransmits` n allows 1 + n transmissions).
    fn exhausted(&self, now: Millis) -> bool {
        match self.rule {
            Reliability::Reliable => false,
            Reliability::MaxRetransmits(n) => self.sent > n,
            Reliability::MaxPacketLifeTime(ms) => {
                now.saturating_sub(self.first_at) >= Millis::from(ms)
            }
        }
    }

    /// To be abandoned now.
    fn due_to_abandon(&self, now: Millis) -> bool {
        !self.abandoned && self.exhausted(now)
    }
}

impl Sctp {
    /// The association is established.
    pub(super) fn established(&self) -> bool {
        matches!(self.association, Association::Established { .. })
    }

    /// The last handshake chunk this side sent (0 = none).
    pub(super) fn last_handshake(&self) -> u8 {
        match self.association {
            Association::Handshake { last_sent, .. } | Association::Established { last_sent } => {
                last_sent
            }
        }
    }

    fn set_last_handshake(&mut self, step: u8) {
        match &mut self.association {
            Association::Handshake { last_sent, .. } | Association::Established { last_sent } => {
                *last_sent = step
            }
        }
    }

    /// The DTLS server's transport reads `closed` during the handshake.
    pub(super) fn reads_closed(&self) -> bool {
        matches!(
            self.association,
            Association::Handshake {
                reads_closed: true,
                ..
            }
        )
    }

    fn set_reads_closed(&mut self, on: bool) {
        if let Association::Handshake { reads_closed, .. } = &mut self.association {
            *reads_closed = on;
        }
    }

    fn establish(&mut self) {
        self.association = Association::Established {
            last_sent: self.last_handshake(),
        };
    }

    /// A chunk given up on (see [`Tries::abandoned`]).
    fn is_abandoned(&self, tsn: u32) -> bool {
        self.tries.get(&tsn).is_some_and(|t| t.abandoned)
    }

    /// Forgets every chunk in flight (the association is gone).
    pub(super) fn drop_outstanding(&mut self) {
        self.outstanding.clear();
        self.tries.clear();
        self.forward_to = None;
        self.rtt_probe = None;
        self.misses = None;
        self.retransmitted.clear();
    }

    /// The association went down (abort, close): what was last sent stays.
    pub(super) fn go_down(&mut self) {
        if let Association::Established { last_sent } = self.association {
            self.association = Association::Handshake {
                last_sent,
                reads_closed: false,
            };
        }
    }
}

impl Peer {
    pub(super) fn retransmit_now(&mut self) {
        // Karn's rule: the probe is retransmitted (or abandoned) now, and measures
        // nothing.
        if self
            .sctp
            .rtt_probe
            .is_some_and(|(probe, _)| self.sctp.outstanding.contains_key(&probe))
        {
            self.sctp.rtt_probe = None;
        }
        self.abandon_exhausted();
        let chunks: Vec<(u32, Chunk)> = self
            .sctp
            .outstanding
            .iter()
            .filter(|(t, _)| !self.sctp.is_abandoned(**t))
            .map(|(t, c)| (*t, c.clone()))
            .collect();
        for (tsn, chunk) in chunks {
            self.resend(tsn, chunk);
        }
        self.send_forward_tsn();
    }

    /// Sends an outstanding chunk again (T3 or fast retransmit): one more try, and with
    /// SCTP timing, no longer a fast-retransmit candidate.
    fn resend(&mut self, tsn: u32, chunk: Chunk) {
        if let Some(tries) = self.sctp.tries.get_mut(&tsn) {
            tries.sent = tries.sent.saturating_add(1);
        }
        if self.config.sctp_timing {
            self.sctp.retransmitted.insert(tsn);
        }
        self.transmit_chunk(tsn, chunk);
    }

    /// FORWARD-TSN to the point the receiver may skip to, if abandoned chunks moved it.
    fn send_forward_tsn(&mut self) {
        if let Some(to) = self.sctp.forward_to {
            self.transmit(Packet::SctpForwardTsn { new_cum_tsn: to });
        }
    }

    /// A SACK acknowledged up to `cum` and reported `highest` arrived: the chunks in
    /// between are missing (the model's SACK carries no gap blocks, so every chunk
    /// still outstanding there counts as missing; they gain their indications
    /// together, as they do in the crate when one packet was lost). A report counts
    /// only when it acknowledges a chunk above the last one's (the crate's HTNA rule);
    /// the third retransmits at once (RFC 9260 7.2.4, fast retransmit) every missing
    /// chunk sent only once, or abandons it if it is out of tries (the crate's
    /// `abandon_retransmit_candidate` on the same path). A chunk already retransmitted
    /// is left to the T3 timer (`is_fast_retransmit_candidate`: sent once).
    fn miss_indication(&mut self, cum: u32, highest: u32) {
        let count = match self.sctp.misses {
            Some(m) if m.tsn == cum && highest <= m.highest => return,
            Some(m) if m.tsn == cum => m.count.saturating_add(1),
            _ => 1,
        };
        self.sctp.misses = Some(Misses {
            tsn: cum,
            count,
            highest,
        });
        if count != 3 {
            return;
        }
        let missing: Vec<u32> = self
            .sctp
            .outstanding
            .range(cum + 1..highest)
            .map(|(t, _)| *t)
            .filter(|t| !self.sctp.retransmitted.contains(t) && !self.sctp.is_abandoned(*t))
            .collect();
        if missing.is_empty() {
            return;
        }
        if self
            .sctp
            .rtt_probe
            .is_some_and(|(probe, _)| missing.contains(&probe))
        {
            self.sctp.rtt_probe = None; // Karn
        }
        let now = self.now;
        if missing.iter().any(|t| {
            self.sctp
                .tries
                .get(t)
                .is_some_and(|tr| tr.due_to_abandon(now))
        }) {
            self.abandon_exhausted();
            self.send_forward_tsn();
        }
        for tsn in missing {
            if self.sctp.is_abandoned(tsn) {
                continue; // abandoned just now
            }
            if let Some(chunk) = self.sctp.outstanding.get(&tsn).cloned() {
                self.resend(tsn, chunk);
            }
        }
    }

    /// The retransmission timeout now: the estimate from measured round trips, or the
    /// initial one before the first.
    fn sctp_rto(&self) -> Millis {
        let min = self.config.sctp_rto_initial_ms;
        self.sctp.rtt.map_or(min, |e| e.rto(min))
    }

    /// Abandons the partially reliable chunks that are out of tries (RFC 3758 section
    /// 3.5 A1-A3): they are never sent again, and the point the receiver is told to skip
    /// to advances over them.
    fn abandon_exhausted(&mut self) {
        let now = self.now;
        let mut released = Vec::new();
        for (tsn, tries) in self.sctp.tries.iter_mut() {
            if tries.due_to_abandon(now) {
                tries.abandoned = true;
                released.push(*tsn);
            }
        }
        if released.is_empty() {
            return;
        }
        for tsn in released {
            if let Some(Chunk::Data { stream, size, .. }) = self.sctp.outstanding.get(&tsn) {
                let (stream, size) = (*stream, *size as usize);
                if !self.profile.buffered_amount_on_transmit {
                    self.release_buffered(stream, size);
                }
            }
        }
        self.advance_forward_point();
    }

    /// RFC 3758 3.5 C2, the crate's `advance_peer_ack_point`: the receiver may skip to
    /// the last of the abandoned chunks that lead the retransmission queue (a chunk
    /// still being tried stops it; it moves on once that one is acknowledged).
    fn advance_forward_point(&mut self) {
        let to = self
            .sctp
            .outstanding
            .keys()
            .take_while(|t| self.sctp.is_abandoned(**t))
            .last()
            .copied();
        if let Some(to) = to {
            if self.sctp.forward_to.is_none_or(|f| f < to) {
                self.sctp.forward_to = Some(to);
            }
        }
    }

    /// FORWARD-TSN in: every chunk up to `to` is taken as received (those that did
    /// arrive are handed over in TSN order, the abandoned ones are skipped), then a SACK
    /// at once (the crate sets `AckState::Immediate`).
    pub(super) fn handle_forward_tsn(&mut self, to: u32) {
        if !self.sctp.established() {
            return;
        }
        while self.sctp.cum_received < to {
            self.sctp.cum_received += 1;
            let tsn = self.sctp.cum_received;
            if let Some(chunk) = self.sctp.out_of_order.remove(&tsn) {
                if !self.sctp.delivered_early.remove(&tsn) {
                    self.handle_chunk(chunk);
                }
            }
        }
        self.take_in_order();
        self.send_sack();
    }

    /// Hands over the chunks that now follow the cumulative TSN without a gap.
    fn take_in_order(&mut self) {
        while let Some(next) = self.sctp.out_of_order.remove(&(self.sctp.cum_received + 1)) {
            self.sctp.cum_received += 1;
            if !self.sctp.delivered_early.remove(&self.sctp.cum_received) {
                self.handle_chunk(next);
            }
        }
    }

    /// An unordered channel's message is handed over as it arrives, gap or not.
    fn unordered(&self, chunk: &Chunk) -> bool {
        let Chunk::Data { stream, .. } = chunk else {
            return false;
        };
        self.streams
            .get(stream)
            .and_then(|label| self.channels.get(label))
            .is_some_and(|c| !c.ordered)
    }

    /// Sends a reliable chunk, in the same packet as the chunks sent before it in this
    /// input if nothing else went out in between and it fits the MTU.
    pub(super) fn transmit_chunk(&mut self, tsn: u32, chunk: Chunk) {
        if !self.ice.selected() {
            return;
        }
        if let Some(i) = self.open_bundle {
            let last = self
                .outputs
                .iter()
                .skip(i + 1)
                .all(|o| matches!(o, Output::Event(_)));
            let fits = match self.outputs.get(i) {
                Some(Output::Transmit(p)) => {
                    last && chunk_bytes(p)
                        .is_some_and(|size| 12 + size + chunk_wire_size(&chunk) <= SCTP_MTU)
                }
                _ => false,
            };
            if fits {
                if let Some(Output::Transmit(p)) = self.outputs.get_mut(i) {
                    let old = std::mem::replace(p, Packet::SctpBundle(Vec::new()));
                    *p = bundled(old, tsn, chunk);
                }
                return;
            }
        }
        self.outputs
            .push_back(Output::Transmit(Packet::SctpData { tsn, chunk }));
        self.open_bundle = Some(self.outputs.len() - 1);
    }

    pub(super) fn start_sctp(&mut self) {
        if self.is_dtls_client() {
            self.send_handshake(1);
        }
    }

    pub(super) fn send_handshake(&mut self, step: u8) {
        self.sctp.set_last_handshake(step);
        self.transmit(Packet::SctpHandshake(step));
        if step == 1 || step == 3 {
            self.sctp.rto = self.config.sctp_rto_initial_ms;
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT1, at);
        }
    }

    pub(super) fn handle_sctp_handshake(&mut self, step: u8) {
        // An aborted association stays closed: a late COOKIE ECHO must not bring it back
        // (closed is terminal; found by `dcsim check`).
        if self.dtls.state != DtlsTransportState::Connected
            || self.sctp.state == SctpTransportState::Closed
        {
            return;
        }
        match (self.is_dtls_client(), step) {
            (false, 1) => {
                if self.profile.sctp_closed_during_handshake
                    && !self.sctp.established()
                    && !self.sctp.reads_closed()
                {
                    // The crate's server association reads `Closed` until the COOKIE
                    // ECHO, and its getter tests that first.
                    self.sctp.set_reads_closed(true);
                    self.event(StackEvent::State(StateChange::Sctp(
                        SctpTransportState::Connecting,
                        SctpTransportState::Closed,
                    )));
                }
                self.send_handshake(2)
            }
            (true, 2) if self.sctp.last_handshake() == 1 => self.send_handshake(3),
            (false, 3) => {
                self.send_handshake(4);
                self.association_up();
            }
            (true, 4) if !self.sctp.established() => {
                self.timers.cancel(Timer::SctpT1);
                self.association_up();
            }
            _ => {}
        }
    }

    pub(super) fn association_up(&mut self) {
        if self.sctp.established() {
            return;
        }
        self.sctp.rto = self.config.sctp_rto_initial_ms;
        // Reported first: the DTLS server's transport may read `closed` until now.
        self.set_sctp(SctpTransportState::Connected);
        self.sctp.establish();
        let undialed: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.dialed && c.state == DataChannelState::Connecting)
            .map(|(l, _)| l.clone())
            .collect();
        // One stream-id search for the whole batch (see `StreamIds`).
        let mut ids = None;
        for label in undialed {
            self.dial(&label, true, &mut ids, false);
        }
    }

    pub(super) fn handle_abort(&mut self) {
        if !self.sctp.established() {
            return;
        }
        self.sctp.go_down();
        self.sctp.drop_outstanding();
        self.timers.cancel(Timer::SctpT3);
        self.set_sctp(SctpTransportState::Closed);
        let open: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| c.state != DataChannelState::Closed)
            .map(|(l, _)| l.clone())
            .collect();
        self.streams.clear();
        for label in open {
            if let Some(ch) = self.channels.get_mut(&label) {
                ch.dialed = false;
                if let Some(s) = ch.stream {
                    self.timers.cancel(Timer::DcepHandshake(s));
                }
            }
            if self.profile.abort_fires_error {
                self.callback(&label, Callback::Error);
            }
            self.set_channel_state(&label, DataChannelState::Closed);
            self.callback(&label, Callback::Close);
        }
    }

    // ----- SCTP reliability ----------------------------------------------------------

    /// Sends a control chunk (DCEP, stream reset): always reliable.
    pub(super) fn send_chunk(&mut self, chunk: Chunk) {
        self.send_chunk_by(chunk, Reliability::Reliable);
    }

    /// Sends a chunk under its channel's `rule` (the caller has the channel at hand; a
    /// lookup by stream on every message cost the model about 6 % of its throughput).
    pub(super) fn send_chunk_by(&mut self, chunk: Chunk, rule: Reliability) {
        let tsn = self.sctp.next_tsn;
        self.sctp.next_tsn += 1;
        if rule.is_partial() {
            let tries = Tries {
                sent: 1,
                first_at: self.now,
                rule,
                abandoned: false,
            };
            self.sctp.tries.insert(tsn, tries);
        }
        if self.config.sctp_timing && self.sctp.rtt_probe.is_none() {
            self.sctp.rtt_probe = Some((tsn, self.now));
        }
        self.sctp.outstanding.insert(tsn, chunk.clone());
        self.transmit_chunk(tsn, chunk);
        if self.timers.deadline(Timer::SctpT3).is_none() {
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT3, at);
        }
    }

    /// One SCTP packet of reliable chunks: each is taken in, then one ack decision.
    pub(super) fn handle_sctp_data(&mut self, chunks: Vec<(u32, Chunk)>) {
        if !self.sctp.established() {
            return; // not yet (or no longer) associated: the sender retransmits
        }
        let mut duplicate = false;
        for (tsn, chunk) in chunks {
            if tsn <= self.sctp.cum_received {
                duplicate = true;
                continue;
            }
            if self.sctp.out_of_order.contains_key(&tsn) {
                duplicate = true;
                continue;
            }
            if tsn > self.sctp.cum_received + 1 && self.unordered(&chunk) {
                self.sctp.delivered_early.insert(tsn);
                self.handle_chunk(chunk.clone());
            }
            self.sctp.out_of_order.insert(tsn, chunk);
            self.take_in_order();
        }
        // Delayed ack, as the crate does it (`handle_peer_last_tsn_and_acknowledgement`):
        // a lone packet is acknowledged 200 ms later, the second one at once; a gap (or a
        // duplicate) at once.
        let gap = !self.sctp.out_of_order.is_empty();
        if duplicate || gap || self.sctp.ack_delayed {
            self.send_sack();
        } else if self.sctp.established() {
            self.sctp.ack_delayed = true;
            let at = self.now + SCTP_ACK_DELAY_MS;
            self.timers.arm(Timer::SctpAck, at);
        }
    }

    pub(super) fn send_sack(&mut self) {
        self.sctp.ack_delayed = false;
        self.timers.cancel(Timer::SctpAck);
        let cum_tsn = self.sctp.cum_received;
        let highest_tsn = match self.sctp.out_of_order.keys().next_back() {
            Some(&top) if self.config.sctp_timing => top,
            _ => cum_tsn,
        };
        self.transmit(Packet::SctpSack {
            cum_tsn,
            highest_tsn,
        });
    }

    pub(super) fn handle_sack(&mut self, cum_tsn: u32, highest_tsn: u32) {
        // Fast retransmit is this side's timing refinement, whatever the remote's SACK
        // carries.
        if self.config.sctp_timing && highest_tsn > cum_tsn {
            self.miss_indication(cum_tsn, highest_tsn);
        }
        let acked: Vec<u32> = self
            .sctp
            .outstanding
            .range(..=cum_tsn)
            .map(|(t, _)| *t)
            .collect();
        for tsn in &acked {
            // An abandoned chunk's bytes left the buffered amount when it was abandoned.
            let abandoned = self.sctp.tries.remove(tsn).is_some_and(|t| t.abandoned);
            self.sctp.retransmitted.remove(tsn);
            match self.sctp.outstanding.remove(tsn) {
                Some(Chunk::Data { stream, size, .. })
                    if !self.profile.buffered_amount_on_transmit && !abandoned =>
                {
                    self.release_buffered(stream, size as usize)
                }
                Some(Chunk::DcepOpen { stream, label, .. })
                    if self.profile.dcep_in_buffered_amount =>
                {
                    self.release_buffered(stream, dcep_open_size(&label))
                }
                Some(Chunk::DcepAck { stream }) if self.profile.dcep_in_buffered_amount => {
                    self.release_buffered(stream, DCEP_ACK_SIZE)
                }
                _ => {}
            }
        }
        if !acked.is_empty() {
            // Abandoned chunks that now lead the queue move the point further.
            self.advance_forward_point();
        }
        match self.sctp.forward_to {
            Some(f) if cum_tsn >= f => {
                self.sctp.forward_to = None;
                if self.sctp.outstanding.is_empty() {
                    self.timers.cancel(Timer::SctpT3);
                }
            }
            // RFC 3758 3.5 C3, as the crate does it (`advance_peer_ack_point` on every
            // SACK): the receiver still waits below the abandoned chunks, so the
            // FORWARD-TSN goes out again at once rather than at the next T3.
            Some(f) => self.transmit(Packet::SctpForwardTsn { new_cum_tsn: f }),
            None => {}
        }
        if acked.is_empty() {
            return;
        }
        if let Some((probe, sent_at)) = self.sctp.rtt_probe {
            if probe <= cum_tsn {
                let rtt = self.now.saturating_sub(sent_at);
                self.sctp.rtt = Some(match self.sctp.rtt {
                    None => RttEstimate::first(rtt),
                    Some(e) => e.update(rtt),
                });
                self.sctp.rtt_probe = None;
            }
        }
        self.sctp.rto = self.sctp_rto();
        if self.sctp.outstanding.is_empty() && self.sctp.forward_to.is_none() {
            self.timers.cancel(Timer::SctpT3);
        } else {
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT3, at);
        }
    }

    pub(super) fn set_sctp(&mut self, to: SctpTransportState) {
        let from = self.sctp_transport_state();
        self.sctp.state = to;
        self.sctp.set_reads_closed(false);
        if from != to {
            self.event(StackEvent::State(StateChange::Sctp(from, to)));
        }
    }
}

/// The reliable chunks' bytes in an SCTP data packet (`None` for other packets).
pub(super) fn chunk_bytes(packet: &Packet) -> Option<usize> {
    match packet {
        Packet::SctpData { chunk, .. } => Some(chunk_wire_size(chunk)),
        Packet::SctpBundle(chunks) => Some(chunks.iter().map(|(_, c)| chunk_wire_size(c)).sum()),
        _ => None,
    }
}

/// `packet` (a data packet) with one more chunk.
pub(super) fn bundled(packet: Packet, tsn: u32, chunk: Chunk) -> Packet {
    let mut chunks = match packet {
        Packet::SctpData { tsn, chunk } => vec![(tsn, chunk)],
        Packet::SctpBundle(chunks) => chunks,
        other => return other,
    };
    chunks.push((tsn, chunk));
    Packet::SctpBundle(chunks)
}

/// Bytes a chunk takes in an SCTP packet: 16 bytes of DATA chunk header and the
/// payload, padded to 4 bytes.
pub(super) fn chunk_wire_size(chunk: &Chunk) -> usize {
    let payload = match chunk {
        Chunk::DcepOpen { label, .. } => dcep_open_size(label),
        Chunk::DcepAck { .. } => DCEP_ACK_SIZE,
        Chunk::Data { size, .. } => *size as usize,
        Chunk::StreamReset { .. } => 4, // a RE-CONFIG parameter, roughly
    };
    16 + payload.div_ceil(4) * 4
}
