//! Data channels: DCEP (OPEN, ACK, the handshake deadline), stream ids, delivery to
//! the application, stream resets and bufferedAmount.

use super::Peer;
use crate::model::timer::Timer;
use crate::model::wire::Chunk;
use crate::vocab::states::*;
use crate::vocab::{Callback, StackEvent, StateChange};
use crate::vocab::{Millis, MsgId, Reliability};
use std::collections::{BTreeMap, BTreeSet};

/// One data channel as the model tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Channel {
    pub(super) negotiated: Option<u16>,
    pub(super) ordered: bool,
    /// Reliable, or how a message is abandoned.
    pub(super) reliability: Reliability,
    /// SCTP stream id, once assigned.
    pub(super) stream: Option<u16>,
    pub(super) state: DataChannelState,
    /// The SCTP stream exists (webrtc-rs `data_channel.is_some()`).
    pub(super) dialed: bool,
    /// We sent a stream reset and wait for the remote's.
    pub(super) reset_sent: bool,
    /// When `close()` was called, with `close_event_at_once`: the close event has fired,
    /// and the stream lives on only until the end of that instant (a send in the same
    /// instant is accepted and lost, a later one fails). Also set when the DCEP handshake
    /// timed out (the close event has fired; the stream is no longer dialed).
    pub(super) closed_at: Option<Millis>,
    pub(super) buffered: usize,
    /// With `buffered_amount_on_transmit`: the instant of the last `bufferedamountlow`
    /// (one per instant).
    pub(super) low_at: Option<Millis>,
    /// Messages that arrived before the channel opened (delivered on open).
    pub(super) held: Vec<MsgId>,
}

impl Peer {
    // ----- data channels -------------------------------------------------------------

    /// Opens the channel's stream: a negotiated channel is open at once (with an open
    /// event if `announce_open`), an in-band one sends DATA_CHANNEL_OPEN. An in-band
    /// channel takes its stream id from `ids` (started on first use; pass the same one
    /// to dials between which no stream is freed).
    /// `late`: created after the association came up (`late_inband_opens_async`).
    pub(super) fn dial(
        &mut self,
        label: &str,
        announce_open: bool,
        ids: &mut Option<StreamIds>,
        late: bool,
    ) {
        let Some(ch) = self.channels.get(label) else {
            return;
        };
        let (negotiated, ordered, reliability) = (ch.negotiated, ch.ordered, ch.reliability);
        let stream = match negotiated {
            Some(id) => id,
            None => ids
                .get_or_insert_with(|| StreamIds::new(self))
                .take(&self.streams),
        };
        self.streams.insert(stream, label.to_string());
        if let Some(ch) = self.channels.get_mut(label) {
            ch.stream = Some(stream);
            ch.dialed = true;
        }
        if negotiated.is_some() {
            if announce_open {
                self.open_channel(label);
            } else {
                self.set_channel_state(label, DataChannelState::Open);
            }
            return;
        }
        self.add_dcep_buffered(label, dcep_open_size(label));
        self.send_chunk(Chunk::DcepOpen {
            stream,
            label: label.to_string(),
            ordered,
            reliability,
        });
        if self.profile.open_on_dcep_ack {
            if self.config.dcep_handshake_timeout_ms != 0 {
                let at = self.now + self.config.dcep_handshake_timeout_ms;
                self.timers.arm(Timer::DcepHandshake(stream), at);
            }
        } else if late && self.profile.late_inband_opens_async {
            self.timers.arm(Timer::AnnounceOpen(stream), self.now + 1);
        } else {
            self.open_channel(label);
        }
    }

    pub(super) fn open_channel(&mut self, label: &str) {
        self.set_channel_state(label, DataChannelState::Open);
        self.callback(label, Callback::Open);
        let (held, stream, ordered) = self
            .channels
            .get_mut(label)
            .map(|c| (std::mem::take(&mut c.held), c.stream, c.ordered))
            .unwrap_or((Vec::new(), None, true));
        for msg in held {
            self.event(StackEvent::Message {
                channel: label.to_string(),
                msg,
                stream,
                unordered: !ordered,
            });
        }
    }

    /// The DCEP handshake timed out: the channel closes, as rtc's data-channel handler
    /// does it (`handle_timeout` in `rtc-0.21.1/src/peer_connection/handler/datachannel.rs`
    /// calls `data_channel.close()`, which resets the outgoing stream). The reset goes out
    /// behind the DATA_CHANNEL_OPEN still in flight, so a remote that opens the channel
    /// late closes it again; and the stream id stays taken until the remote answers the
    /// reset (RFC 8831 section 6.7: streams are reusable once the reset is performed).
    /// Freeing the id at once, with no reset, let the next in-band channel take it while
    /// the remote still had (or was about to open) the timed-out one on that stream: the
    /// new channel opened on the old one's ACK and its messages arrived on the old one.
    pub(super) fn dcep_deadline(&mut self, stream: u16) {
        let Some(label) = self.streams.get(&stream).cloned() else {
            return;
        };
        if self.channel_state(&label) != Some(DataChannelState::Connecting) {
            return;
        }
        let now = self.now;
        if let Some(ch) = self.channels.get_mut(&label) {
            ch.dialed = false;
            ch.held.clear();
            ch.reset_sent = true;
            // Its close event fires now: the answer to the reset must not fire another.
            ch.closed_at = Some(now);
        }
        self.set_channel_state(&label, DataChannelState::Closed);
        self.callback(&label, Callback::Close);
        self.send_chunk(Chunk::StreamReset { stream });
    }

    pub(super) fn handle_chunk(&mut self, chunk: Chunk) {
        match chunk {
            Chunk::DcepOpen {
                stream,
                label,
                ordered,
                reliability,
            } => {
                if self.streams.contains_key(&stream) || self.channels.contains_key(&label) {
                    return;
                }
                self.channels.insert(
                    label.clone(),
                    Channel {
                        negotiated: None,
                        ordered,
                        reliability,
                        stream: Some(stream),
                        state: DataChannelState::Connecting,
                        dialed: true,
                        reset_sent: false,
                        closed_at: None,
                        buffered: 0,
                        low_at: None,
                        held: Vec::new(),
                    },
                );
                self.streams.insert(stream, label.clone());
                self.add_dcep_buffered(&label, DCEP_ACK_SIZE);
                self.send_chunk(Chunk::DcepAck { stream });
                // Opened at once; the app learns of it already open.
                self.set_channel_state(&label, DataChannelState::Open);
                self.callback(&label, Callback::DataChannel);
                if self.profile.announced_channel_fires_open {
                    self.callback(&label, Callback::Open);
                }
            }
            Chunk::DcepAck { stream } => {
                let Some(label) = self.streams.get(&stream).cloned() else {
                    return;
                };
                self.timers.cancel(Timer::DcepHandshake(stream));
                if self.channel_state(&label) == Some(DataChannelState::Connecting) {
                    self.open_channel(&label);
                }
            }
            Chunk::Data { stream, msg, .. } => {
                let Some(label) = self.streams.get(&stream).cloned() else {
                    return;
                };
                let unordered = self.channels.get(&label).is_some_and(|c| !c.ordered);
                match self.channel_state(&label) {
                    Some(DataChannelState::Open) => self.event(StackEvent::Message {
                        channel: label,
                        msg,
                        stream: Some(stream),
                        unordered,
                    }),
                    Some(DataChannelState::Connecting) if self.profile.open_on_dcep_ack => {
                        if let Some(ch) = self.channels.get_mut(&label) {
                            ch.held.push(msg);
                        }
                    }
                    _ => {} // not open: discarded
                }
            }
            Chunk::StreamReset { stream } => self.handle_stream_reset(stream),
        }
    }

    pub(super) fn handle_stream_reset(&mut self, stream: u16) {
        let Some(label) = self.streams.remove(&stream) else {
            return;
        };
        self.timers.cancel(Timer::DcepHandshake(stream));
        let Some(ch) = self.channels.get_mut(&label) else {
            return;
        };
        ch.dialed = false;
        let we_started = ch.reset_sent;
        if ch.closed_at.is_some() {
            return; // closed, and its close event fired, when close() was called
        }
        if !we_started {
            // The remote closed: answer with our own reset.
            if self.profile.observable_closing {
                self.set_channel_state(&label, DataChannelState::Closing);
                self.callback(&label, Callback::Closing);
            }
            self.send_chunk(Chunk::StreamReset { stream });
        }
        self.set_channel_state(&label, DataChannelState::Closed);
        self.callback(&label, Callback::Close);
    }

    pub(super) fn release_buffered(&mut self, stream: u16, size: usize) {
        let Some(label) = self.streams.get(&stream).cloned() else {
            return;
        };
        let threshold = self.config.buffered_amount_low_threshold;
        let Some(ch) = self.channels.get_mut(&label) else {
            return;
        };
        let before = ch.buffered;
        ch.buffered = ch.buffered.saturating_sub(size);
        // webrtc-rs raises the event for any channel still registered (its DCEP OPEN can be
        // acknowledged before the ACK opens it); w3c counts only data sent while open.
        let announced = match ch.state {
            DataChannelState::Open => true,
            DataChannelState::Connecting => self.profile.dcep_in_buffered_amount,
            _ => false,
        };
        if before > threshold && ch.buffered <= threshold && announced {
            self.callback(&label, Callback::BufferedAmountLow);
        }
    }

    /// With `dcep_in_buffered_amount`, a DCEP message adds its size to the channel's
    /// buffered amount until it is acknowledged.
    pub(super) fn add_dcep_buffered(&mut self, label: &str, size: usize) {
        if self.profile.dcep_in_buffered_amount {
            if let Some(ch) = self.channels.get_mut(label) {
                ch.buffered += size;
            }
        }
    }

    pub(super) fn set_channel_state(&mut self, label: &str, to: DataChannelState) {
        let Some(ch) = self.channels.get_mut(label) else {
            return;
        };
        let from = std::mem::replace(&mut ch.state, to);
        if from != to {
            self.event(StackEvent::State(StateChange::DataChannel(
                label.to_string(),
                from,
                to,
            )));
        }
    }
}

/// Size of a DATA_CHANNEL_ACK (RFC 8832 section 5.2: the message type alone).
pub(super) const DCEP_ACK_SIZE: usize = 1;

/// Size of a DATA_CHANNEL_OPEN with an empty protocol (RFC 8832 section 5.1: 12 bytes of
/// header, then the label).
pub(super) fn dcep_open_size(label: &str) -> usize {
    12 + label.len()
}

/// The search for a free stream id (RFC 8832: the DTLS client uses even ids, the
/// server odd ones): the lowest id of our parity that no stream uses and no negotiated
/// channel reserves. One search serves a batch of dials between which no id is freed
/// (the channels dialed when the association comes up) and resumes where it stopped:
/// searching from 0 for every dial, and rescanning every channel for every candidate,
/// made opening n channels quadratic (cubic before the scan was hoisted).
pub(super) struct StreamIds {
    negotiated: BTreeSet<u16>,
    next: u16,
}

impl StreamIds {
    pub(super) fn new(peer: &Peer) -> Self {
        StreamIds {
            negotiated: peer
                .channels
                .values()
                .filter_map(|c| c.negotiated)
                .collect(),
            next: if peer.is_dtls_client() { 0 } else { 1 },
        }
    }

    /// The next free id; the caller puts it in `streams` before asking again.
    pub(super) fn take(&mut self, streams: &BTreeMap<u16, String>) -> u16 {
        let mut id = self.next;
        let mut used = streams.range(id..).map(|(s, _)| *s).peekable();
        loop {
            while used.next_if(|&s| s < id).is_some() {}
            if used.peek() == Some(&id) || self.negotiated.contains(&id) {
                id = id.saturating_add(2);
            } else {
                self.next = id;
                return id;
            }
        }
    }
}
