//! Draining the crate after an input, and turning what comes out into [`StackEvent`]s.

use super::payload;
use super::RtcStack;
use crate::model::{
    DataChannelState, DtlsTransportState, IceConnectionState, IceGatheringState,
    PeerConnectionState, SctpTransportState, SignalingState,
};
use crate::stack::{Callback, StackEvent, StateChange};
use crate::trace::Millis;
use rtc::data_channel::RTCDataChannelId;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::sansio::Protocol;

/// Drain rounds per input; a round that produces nothing ends the drain sooner.
const MAX_ROUNDS: usize = 64;

/// Converts a crate state into the model's; `Err` names a variant dcsim does not know.
fn convert<C: std::fmt::Debug + Copy, M: TryFrom<C>>(state: C) -> Result<M, String> {
    M::try_from(state).map_err(|_| format!("unknown crate state {state:?}"))
}

impl RtcStack {
    /// Drains the crate at `now` until it has nothing more to say (see the module docs for
    /// the order), then reads its next deadline.
    pub(super) fn pump(&mut self, now: Millis) {
        let at = self.clock.instant(now);
        for _ in 0..MAX_ROUNDS {
            let mut closes = Vec::new();
            let mut events = 0usize;
            while let Some(event) = self.pc.poll_event() {
                events += 1;
                self.on_event(event, &mut closes);
            }
            let mut reads = 0usize;
            while let Some(message) = self.pc.poll_read() {
                reads += 1;
                self.on_read(message);
            }
            for id in closes {
                self.on_channel_callback(id, Callback::Close);
            }
            let mut writes = 0usize;
            while let Some(packet) = self.pc.poll_write() {
                writes += 1;
                if packet.transport.peer_addr != self.remote {
                    let to = packet.transport.peer_addr;
                    self.problem(format!("datagram addressed to {to}, not to the other peer"));
                }
                if !self.closed {
                    // After ClosePeer nothing reaches the wire (the driver has stopped).
                    self.transmits.push_back(packet.message.to_vec());
                }
            }
            self.sync();
            if events > 0 && self.wake_after_events {
                // The DTLS stall: see RtcConfig::wake_after_events.
                if let Err(e) = self.pc.handle_timeout(at) {
                    self.problem(format!("handle_timeout: {e}"));
                }
            } else if events + reads + writes == 0 {
                break;
            }
        }
        self.next_timeout = if self.closed {
            None
        } else {
            self.pc
                .poll_timeout()
                .map(|deadline| self.clock.millis_ceil(deadline).max(now))
        };
    }

    fn emit(&mut self, change: StateChange) {
        self.events.push_back(StackEvent::State(change));
    }

    fn emit_if(&mut self, change: Option<StateChange>) {
        if let Some(change) = change {
            self.emit(change);
        }
    }

    /// Reads the states that have getters but no events (DTLS, SCTP, readyState) and
    /// reports any change.
    pub(super) fn sync(&mut self) {
        self.sync_transports();
        self.sync_channels();
    }

    fn sync_transports(&mut self) {
        let Some(sctp) = self.pc.sctp() else {
            return;
        };
        let (dtls, sctp) = (sctp.transport().state(), sctp.state());
        match convert::<_, DtlsTransportState>(dtls) {
            Ok(to) => {
                let change = self.machines.dtls(to);
                self.emit_if(change);
            }
            Err(e) => self.problem(format!("dtls: {e}")),
        }
        match convert::<_, SctpTransportState>(sctp) {
            Ok(to) => {
                let change = self.machines.sctp(to);
                self.emit_if(change);
            }
            Err(e) => self.problem(format!("sctp: {e}")),
        }
    }

    fn sync_channels(&mut self) {
        for (label, id) in self.channels.handles() {
            let stream = self.pc.data_channel(id).and_then(|c| c.stream_id());
            self.channels.set_stream(&label, stream);
            let read = self.pc.data_channel(id).map(|c| c.ready_state());
            let to = match read.map(convert::<_, DataChannelState>) {
                Some(Ok(state)) => state,
                // The crate removes a channel once its stream has closed.
                None => DataChannelState::Closed,
                Some(Err(e)) => {
                    self.problem(format!("channel {label:?}: {e}"));
                    continue;
                }
            };
            if let Some(from) = self.channels.set_state(&label, to) {
                self.emit(StateChange::DataChannel(label, from, to));
            }
        }
    }

    /// One crate event. `OnClose` handles are collected in `closes`, to be reported after
    /// the messages drained in the same round.
    fn on_event(&mut self, event: RTCPeerConnectionEvent, closes: &mut Vec<RTCDataChannelId>) {
        // Transport changes are reported before the ICE, peer-connection and channel
        // events they may have caused (W3C: the transport's statechange fires first), but
        // not before signaling and gathering events, which precede transport start.
        if !matches!(
            event,
            RTCPeerConnectionEvent::OnSignalingStateChangeEvent(_)
                | RTCPeerConnectionEvent::OnIceGatheringStateChangeEvent(_)
        ) {
            self.sync();
        }
        let change = match event {
            RTCPeerConnectionEvent::OnSignalingStateChangeEvent(s) => {
                convert::<_, SignalingState>(s).map(|to| self.machines.signaling(to))
            }
            RTCPeerConnectionEvent::OnIceGatheringStateChangeEvent(s) => {
                convert::<_, IceGatheringState>(s).map(|to| self.machines.ice_gathering(to))
            }
            RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(s) => {
                convert::<_, IceConnectionState>(s).map(|to| self.machines.ice_connection(to))
            }
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                convert::<_, PeerConnectionState>(s).map(|to| self.machines.peer_connection(to))
            }
            RTCPeerConnectionEvent::OnDataChannel(event) => {
                match event {
                    RTCDataChannelEvent::OnOpen(id) => self.on_open(id),
                    RTCDataChannelEvent::OnClose(id) => closes.push(id),
                    RTCDataChannelEvent::OnError(id) => {
                        self.on_channel_callback(id, Callback::Error)
                    }
                    RTCDataChannelEvent::OnClosing(id) => {
                        self.on_channel_callback(id, Callback::Closing)
                    }
                    RTCDataChannelEvent::OnBufferedAmountLow(id) => {
                        self.on_channel_callback(id, Callback::BufferedAmountLow)
                    }
                    RTCDataChannelEvent::OnBufferedAmountHigh(id) => {
                        self.on_channel_callback(id, Callback::BufferedAmountHigh)
                    }
                    other => self.problem(format!("unknown data channel event {other:?}")),
                }
                Ok(None)
            }
            // Negotiation-needed, ICE candidate (we add our own), candidate errors and
            // media tracks are not part of dcsim's event model.
            _ => Ok(None),
        };
        match change {
            Ok(change) => self.emit_if(change),
            Err(e) => self.problem(e),
        }
    }

    /// `OnOpen`: a channel of ours opened, or the first word of a remote in-band channel.
    fn on_open(&mut self, id: RTCDataChannelId) {
        if self.channels.label(id).is_some() {
            self.on_channel_callback(id, Callback::Open);
            return;
        }
        let Some(label) = self.pc.data_channel(id).map(|c| c.label().to_owned()) else {
            self.problem(format!("OnOpen for unknown channel handle {id}"));
            return;
        };
        if !self.channels.insert(&label, id) {
            self.problem(format!(
                "remote channel {label:?} (handle {id}) has the label of a channel of ours; \
                 its events are not reported"
            ));
            return;
        }
        self.sync_channels();
        let channel = label.clone();
        self.events.push_back(StackEvent::Callback {
            channel,
            callback: Callback::DataChannel,
        });
        self.events.push_back(StackEvent::Callback {
            channel: label,
            callback: Callback::Open,
        });
    }

    fn on_channel_callback(&mut self, id: RTCDataChannelId, callback: Callback) {
        self.sync();
        match self.channels.label(id) {
            Some(label) => {
                let channel = label.to_owned();
                self.events
                    .push_back(StackEvent::Callback { channel, callback });
            }
            None => self.problem(format!(
                "{} for unknown channel handle {id}",
                callback.as_str()
            )),
        }
    }

    fn on_read(&mut self, message: TaggedRTCMessage) {
        let RTCMessage::DataChannelMessage(id, message) = message.message else {
            return;
        };
        let Some(channel) = self.channels.label(id).map(str::to_owned) else {
            self.problem(format!("message for unknown channel handle {id}"));
            return;
        };
        let (stream, unordered) = self
            .pc
            .data_channel(id)
            .map_or((None, false), |c| (c.stream_id(), !c.ordered()));
        self.channels.set_stream(&channel, stream);
        let stream = self.channels.get(&channel).and_then(|c| c.stream);
        match payload::decode(&message.data) {
            Some(msg) => self.events.push_back(StackEvent::Message {
                channel,
                msg,
                stream,
                unordered,
            }),
            None => self.problem(format!(
                "message of {} bytes on {channel:?}: too short for a message id",
                message.data.len()
            )),
        }
    }
}
