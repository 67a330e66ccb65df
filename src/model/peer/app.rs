//! The application's calls: createDataChannel, send, channel close and pc.close().

use super::channels::Channel;
use super::{Peer, ERR_PEER_CLOSED};
use crate::model::timer::Timer;
use crate::model::wire::{Chunk, Packet};
use crate::vocab::states::*;
use crate::vocab::{AppCall, AppResult, CallError, Callback, ErrorKind, StackEvent, StateChange};
use crate::vocab::{MsgId, PeerId, Reliability};

impl Peer {
    // ----- application calls ---------------------------------------------------------

    pub(super) fn handle_app_call(&mut self, call: AppCall) -> AppResult {
        match call {
            AppCall::CreateChannel {
                label,
                negotiated,
                ordered,
                reliability,
            } => self.create_channel(label, negotiated, ordered, reliability),
            AppCall::Send { channel, msg, size } => self.send(&channel, msg, size),
            AppCall::CloseChannel { channel } => {
                self.close_channel(&channel);
                Ok(())
            }
            AppCall::ClosePeer => {
                self.close();
                Ok(())
            }
            AppCall::IceRestart => {
                if let Some(error) = self.profile.ice_restart_error {
                    return Err(CallError::other(error));
                }
                if self.closed {
                    return Err(CallError::new(ErrorKind::Closed, ERR_PEER_CLOSED));
                }
                self.restart_ice();
                Ok(())
            }
        }
    }

    pub(super) fn create_channel(
        &mut self,
        label: String,
        negotiated: Option<u16>,
        ordered: bool,
        reliability: Reliability,
    ) -> AppResult {
        if self.closed {
            return Err(CallError::new(ErrorKind::Closed, ERR_PEER_CLOSED));
        }
        if self.channels.contains_key(&label) {
            return Err(CallError::other(format!(
                "a channel labelled {label:?} already exists on this peer"
            )));
        }
        self.channels.insert(
            label.clone(),
            Channel {
                negotiated,
                ordered,
                reliability,
                stream: None,
                state: DataChannelState::Connecting,
                dialed: false,
                reset_sent: false,
                closed_at: None,
                buffered: 0,
                low_at: None,
                held: Vec::new(),
            },
        );
        if self.sctp.established() {
            // Dialed at once; a negotiated channel is then open, with an open event or not.
            self.dial(
                &label,
                self.profile.late_negotiated_fires_open,
                &mut None,
                true,
            );
        }
        Ok(())
    }

    /// `send()`: the profile's checks, in the crate's (or the spec's) order.
    pub(super) fn send(&mut self, label: &str, msg: MsgId, size: usize) -> AppResult {
        let errors = self.profile.errors;
        let not_open = || CallError::new(ErrorKind::NotOpen, errors.not_open);
        let closed = || CallError::new(errors.closed_kind, errors.closed);
        let Some(ch) = self.channels.get(label) else {
            return Err(CallError::new(errors.unknown_kind, errors.unknown));
        };
        if self.closed && self.profile.pc_close_leaves_channels {
            // The channel still reads `open` (or `connecting`), but the peer connection
            // is closed: the async wrapper's `closing` flag refuses every send.
            return Err(closed());
        }
        if self.profile.send_checks_stream {
            // rtc `ensure_sendable`: the stream's existence, not readyState.
            let dropped = ch.closed_at.is_some_and(|t| t < self.now);
            if !ch.dialed || dropped {
                return Err(if ch.state == DataChannelState::Connecting {
                    not_open()
                } else {
                    closed()
                });
            }
        } else if ch.state != DataChannelState::Open {
            return Err(if ch.state == DataChannelState::Connecting {
                not_open()
            } else {
                closed()
            });
        }
        if size > self.config.max_message_size {
            return Err(CallError::new(errors.too_large_kind, errors.too_large));
        }
        if ch.state == DataChannelState::Closed {
            // The stream still exists until the reset completes: accepted, never sent.
            return Ok(());
        }
        let Some(stream) = ch.stream else {
            return Err(not_open());
        };
        let rule = ch.reliability;
        let high = self.config.buffered_amount_high_threshold;
        let mut crossed_high = false;
        if let Some(ch) = self.channels.get_mut(label) {
            crossed_high = ch.buffered < high && ch.buffered + size >= high;
            ch.buffered += size;
        }
        if crossed_high {
            self.callback(label, Callback::BufferedAmountHigh);
        }
        self.send_chunk_by(
            Chunk::Data {
                stream,
                msg,
                size: size as u32,
            },
            rule,
        );
        if self.profile.buffered_amount_on_transmit {
            // Handed to the association at once. aiortc's flush task hands over
            // everything sent in one instant together, so the event fires once per
            // instant and channel.
            let (now, threshold) = (self.now, self.config.buffered_amount_low_threshold);
            let mut fire = false;
            if let Some(ch) = self.channels.get_mut(label) {
                let before = ch.buffered;
                ch.buffered = ch.buffered.saturating_sub(size);
                fire = before > threshold && ch.buffered <= threshold && ch.low_at != Some(now);
                if fire {
                    ch.low_at = Some(now);
                }
            }
            if fire {
                self.callback(label, Callback::BufferedAmountLow);
            }
        }
        Ok(())
    }

    pub(super) fn close_channel(&mut self, label: &str) {
        let Some(ch) = self.channels.get(label) else {
            return;
        };
        if matches!(
            ch.state,
            DataChannelState::Closing | DataChannelState::Closed
        ) {
            return;
        }
        if !ch.dialed {
            self.set_channel_state(label, DataChannelState::Closed);
            self.callback(label, Callback::Close);
            return;
        }
        let stream = ch.stream;
        let next = if self.profile.observable_closing {
            DataChannelState::Closing
        } else {
            DataChannelState::Closed
        };
        self.set_channel_state(label, next);
        if self.profile.close_event_at_once {
            let now = self.now;
            if let Some(ch) = self.channels.get_mut(label) {
                ch.closed_at = Some(now);
            }
            self.callback(label, Callback::Close);
        }
        if let Some(stream) = stream {
            if let Some(ch) = self.channels.get_mut(label) {
                ch.reset_sent = true;
            }
            self.timers.cancel(Timer::DcepHandshake(stream));
            self.send_chunk(Chunk::StreamReset { stream });
        }
    }

    /// `pc.close()`: ABORT and close_notify out, every local channel closed with no
    /// callbacks, every machine closed.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        if self.sctp.established() {
            self.transmit(Packet::SctpAbort);
        }
        if self.dtls.state == DtlsTransportState::Connected {
            self.transmit(Packet::DtlsCloseNotify);
        }
        if self.profile.pc_close_leaves_channels {
            self.close_as_webrtc_rs();
            return;
        }
        self.closed = true;
        self.timers.clear();
        let labels: Vec<String> = self.channels.keys().cloned().collect();
        for label in labels {
            if self.profile.pc_close_via_sctp_streams {
                // Only the channels the association knows are closed, each with its
                // event; one never dialed keeps reading `connecting`.
                match self.channels.get(&label) {
                    Some(ch) if ch.dialed && ch.state != DataChannelState::Closed => {
                        self.set_channel_state(&label, DataChannelState::Closed);
                        self.callback(&label, Callback::Close);
                    }
                    _ => {}
                }
            } else {
                self.set_channel_state(&label, DataChannelState::Closed);
            }
            if let Some(ch) = self.channels.get_mut(&label) {
                ch.dialed = false;
            }
        }
        self.sctp.drop_outstanding();
        self.sctp.go_down();
        self.set_sctp(SctpTransportState::Closed);
        if self.dtls.state != DtlsTransportState::Failed {
            // A failed transport stays failed (failed is final for DTLS).
            self.set_dtls(DtlsTransportState::Closed);
        }
        self.ice.lose_pair(self.id == PeerId::A);
        self.set_ice(IceConnectionState::Closed);
        self.set_signaling(SignalingState::Closed);
        self.update_pc_state();
    }

    /// `pc.close()` as webrtc-rs does it (`rtc/src/peer_connection/handler/mod.rs`
    /// `close()`: every handler closes, the rest of the W3C steps are TODOs), in the
    /// order its getters change: the DTLS transport reads `closed`, the SCTP transport
    /// `closed` if it had an association (`connecting` otherwise, with
    /// `sctp_connecting_without_association`), then the peer connection `closed`. The
    /// channels keep their readyState with no event and lose their stream, so every send
    /// fails ([`Profile::pc_close_leaves_channels`]); ICE keeps its state
    /// ([`Profile::pc_close_leaves_ice`]); signaling is left as it is (the crate sets it
    /// `closed` without an event, and no getter shows it).
    pub(super) fn close_as_webrtc_rs(&mut self) {
        self.timers.clear();
        for ch in self.channels.values_mut() {
            ch.dialed = false;
        }
        // A server association waiting for the COOKIE ECHO exists (and reads `closed`).
        let had_association = self.sctp.established() || self.sctp.reads_closed();
        self.sctp.drop_outstanding();
        self.sctp.go_down();
        if self.dtls.state != DtlsTransportState::Failed {
            let from = std::mem::replace(&mut self.dtls.state, DtlsTransportState::Closed);
            if from != DtlsTransportState::Closed {
                self.event(StackEvent::State(StateChange::Dtls(
                    from,
                    DtlsTransportState::Closed,
                )));
            }
        }
        if had_association || !self.profile.sctp_connecting_without_association {
            self.set_sctp(SctpTransportState::Closed);
        }
        self.closed = true;
        self.ice.lose_pair(self.id == PeerId::A);
        if !self.profile.pc_close_leaves_ice {
            self.set_ice(IceConnectionState::Closed);
        }
        // Signaling: the crate sets `closed` without an event, and neither `rtc` nor the
        // async wrapper has a signaling getter, so no application sees it; the model
        // leaves it as it was (later description calls fail on `closed` anyway).
        self.update_pc_state();
    }
}
