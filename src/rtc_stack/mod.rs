//! [`RtcStack`]: the real `rtc` 0.21.1 peer connection behind the [`Stack`] trait.
//!
//! The groundwork of differential conformance: the same scenario runs on the model peer
//! and on this one, and their traces are compared. Everything here is in-process and
//! sans-IO: the caller supplies virtual time ([`Millis`] since the run began, turned into
//! `config.base + now`), carries datagrams between the two peers, and drains events. No
//! clock is read and no socket is opened; the addresses are labels.
//!
//! # Driving it
//!
//! ```text
//! a = RtcStack::new(PeerId::A, addr_a, addr_b, RtcConfig::new(base))? // offerer, controlling
//! b = RtcStack::new(PeerId::B, addr_b, addr_a, RtcConfig::new(base))? // answerer
//! a.handle_app(0, CreateChannel { .. })
//! offer = a.create_description(0)?;  b.apply_remote_description(0, &offer)?
//! answer = b.create_description(0)?; a.apply_remote_description(0, &answer)?
//! then the run loop of crate::stack
//! ```
//!
//! Every input (`create_description`, `apply_remote_description`, `handle_app`,
//! `handle_datagram`, `handle_timeout`) drains the crate at once, at the input's time,
//! until `poll_write`, `poll_event` and `poll_read` are all empty, and queues the results;
//! `poll_transmit` and `poll_event` only hand them out, and `poll_timeout` reports the
//! deadline read after the drain.
//!
//! # Timing mirrored
//!
//! With [`RtcConfig::wake_after_events`] (the default) the crate's `handle_timeout(now)` is
//! called again, at the same instant, after every drain round in which `poll_event` produced
//! something, then the crate is drained again (the "DTLS stall" of
//! docs/conformance.md: the ClientHello queued while ICE selects its pair otherwise
//! waits for the next timer wake-up). **This is the timing mirrored: the protocol's own,
//! prompt timing**, every packet sent as soon as the crate has it. With 10 ms one-way
//! latency (`tests/rtc_stack.rs`):
//!
//! | milestone (ms)            | A (offerer) | B (answerer) |
//! |---------------------------|-------------|--------------|
//! | ICE connected             | 40          | 30           |
//! | DTLS, peer conn. connected| 80          | 90           |
//! | SCTP connected            | 120         | 130          |
//! | in-band channel open      | 140 (ACK)   | 130 (OPEN)   |
//!
//! With the flag off, the wake-up pattern of the async `webrtc` 0.21.1 driver is
//! approximated instead (it calls `handle_timeout` only when `poll_timeout` is due,
//! `webrtc/src/peer_connection/driver.rs:864`): DTLS then waits for the next 200 ms ICE
//! tick, and DTLS/peer connection connect at 250/260 ms, SCTP at 290/300 ms, the channel
//! opens at 310 (A) / 300 (B) ms.
//!
//! # Deadlines
//!
//! `poll_timeout` is the crate's deadline rounded **up** to a whole millisecond and never
//! earlier than the last time handled (the crate can report a deadline in the past: it is
//! clamped to now). `handle_timeout(now)` fires everything due by `now`, calling the crate
//! again while it still reports a deadline at or before `now` (bounded); a deadline still
//! due after that is reported as `now + 1`, so a driver never spins at one instant.
//!
//! # What is observed, and how
//!
//! - signaling, ICE gathering, ICE connection and peer connection states: from the crate's
//!   events (it has no getters for them);
//! - DTLS and SCTP states: the crate emits no events for them; they are read from
//!   `pc.sctp()` (`RTCSctpTransport::state`, `RTCDtlsTransport::state`) after every drain
//!   round and before every crate event is reported, so that a change is reported before
//!   the event it caused (DTLS `connected` before peer connection `connected`). They are
//!   unreadable until the SCTP transport starts (when both descriptions are applied);
//! - data-channel readyState: read from the channel handle (`RTCDataChannel::ready_state`)
//!   at the same points; a channel whose handle is gone (removed by the crate after its
//!   stream closed) reads `closed`;
//! - callbacks: the crate's `OnOpen`, `OnClose`, `OnError`, `OnClosing`,
//!   `OnBufferedAmountLow/High`. The crate has no `ondatachannel`: a remote in-band channel
//!   is announced by an `OnOpen` for a handle this peer did not create, reported here as
//!   `connecting -> open`, then `Callback::DataChannel`, then `Callback::Open`. Neither
//!   `OnClosing` nor `OnError` is ever raised for a data channel by 0.21.1;
//! - messages: in each drain round, events other than `OnClose` are reported first, then
//!   received messages, then `OnClose`, so that a channel is announced before its first
//!   message and a message that arrived with the close is delivered before it.
//!
//! After [`AppCall::ClosePeer`] the peer is inert, as the async wrapper's stopped driver
//! is: the packets `close()` queued (SCTP ABORT, DTLS close_notify) and its events are
//! handed out, later datagrams are dropped, no timer is armed, and every send returns
//! "data channel closed" (the wrapper's `closing` check,
//! `webrtc/src/data_channel/mod.rs:473,508`; `rtc` alone would return `Ok` and drop the
//! message).
//!
//! # Crate behaviour a model must know (rtc 0.21.1, pinned by `tests/rtc_stack.rs`)
//!
//! - Events come in the crate's order: a peer-connection change is queued *before* the ICE
//!   change that caused it (`rtc/src/peer_connection/handler/mod.rs:379-393`).
//! - ICE gathering: only `complete` is reported, when the end-of-candidates marker is
//!   added; `gathering` is set without an event by `set_local_description`
//!   (`rtc/src/peer_connection/mod.rs:1244`).
//! - ICE `new` is never reported (first change: `checking`); on `close()` signaling goes
//!   `closed` without an event and ICE never goes `closed` (its transport is not
//!   stopped: the ICE transport's getter keeps the agent's state); DTLS `failed` is never
//!   entered.
//! - The offerer's SCTP transport reads `closed` while its (server-side) association waits
//!   for the COOKIE ECHO (`rtc/src/peer_connection/transport/sctp/mod.rs:106-112` tests
//!   `is_closed` first; the association state is `Closed` until then): `connecting ->
//!   closed -> connected`.
//! - After `close()`, the closing peer's channels still read `open` (or `connecting`),
//!   and an SCTP transport that never had an association still reads `connecting`.
//! - An in-band channel accepts sends between DATA_CHANNEL_OPEN and ACK while it reads
//!   `connecting` (`ensure_sendable` checks the stream, `rtc/src/data_channel/mod.rs:302`).
//! - `bufferedamountlow` fires when the DCEP OPEN/ACK is acknowledged, with no application
//!   data sent (the DCEP message counts in the SCTP stream's buffered amount).
//! - A negotiated channel created after SCTP is up is open at once with no open callback.
//! - ICE ticks every 200 ms in every state (`rtc-ice/src/agent/mod.rs:591`), so after the
//!   last STUN received at `t`, `disconnected` comes in `(t + 5.0, t + 5.2]` s and `failed`
//!   in `(t + 30.0, t + 30.2]` s.

mod channels;
mod clock;
mod config;
mod payload;
mod pump;
mod setup;
mod states;

pub use config::RtcConfig;

use crate::model::{DataChannelState, SignalingState};
use crate::stack::{AppCall, AppResult, CallError, ErrorKind, Reliability, Stack, StackEvent};
use crate::trace::{Millis, MsgId, PeerId};
use channels::Channels;
use clock::Clock;
use rtc::data_channel::RTCDataChannelInit;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::RTCPeerConnection;
use rtc::sansio::Protocol;
use rtc::shared::error::Error as RtcError;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use states::Machines;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// How often `handle_timeout` calls the crate at one instant while it reports a deadline
/// that is still due.
const MAX_FIRINGS: usize = 16;

/// One real `rtc` 0.21.1 peer connection, driven in virtual time (see the module docs).
pub struct RtcStack {
    peer: PeerId,
    local: SocketAddr,
    host: RTCIceCandidateInit,
    remote: SocketAddr,
    clock: Clock,
    wake_after_events: bool,
    pc: RTCPeerConnection,
    machines: Machines,
    channels: Channels,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<StackEvent>,
    next_timeout: Option<Millis>,
    now: Millis,
    closed: bool,
    problems: Vec<String>,
    /// The ICE gathering events of the candidates added at construction, held until the
    /// first local description is set (see [`RtcStack::new`]).
    held_gathering: Vec<StackEvent>,
}

impl RtcStack {
    /// A peer connection for `peer` (A offers and is ICE controlling, B answers) whose host
    /// candidate is `local`, talking to the peer at `remote`. The candidate and the
    /// end-of-candidates marker are added here (gathering is the application's job in the
    /// sans-IO crate); the ICE gathering `complete` this raises is held and reported
    /// right after the first local description is set, where the async wrapper's driver
    /// gathers (it starts gathering on `set_local_description`), so that it does not
    /// precede the application's first step.
    pub fn new(
        peer: PeerId,
        local: SocketAddr,
        remote: SocketAddr,
        config: RtcConfig,
    ) -> Result<Self, String> {
        let host = setup::host_candidate(peer, local)?;
        let pc = setup::build_peer_connection(peer, &config, &host)?;
        let mut stack = RtcStack {
            peer,
            local,
            host,
            remote,
            clock: Clock::new(config.base),
            wake_after_events: config.wake_after_events,
            pc,
            machines: Machines::default(),
            channels: Channels::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_timeout: None,
            now: 0,
            closed: false,
            problems: Vec::new(),
            held_gathering: Vec::new(),
        };
        stack.pump(0);
        let (gathering, rest): (Vec<StackEvent>, Vec<StackEvent>) =
            stack.events.drain(..).partition(|e| {
                matches!(
                    e,
                    StackEvent::State(crate::stack::StateChange::IceGathering(..))
                )
            });
        stack.events = rest.into();
        stack.held_gathering = gathering;
        Ok(stack)
    }

    /// Which peer this is.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The local address label (the host candidate).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether [`AppCall::ClosePeer`] has been handled.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Things the [`Stack`] methods cannot return: errors the crate reported from inputs
    /// that return nothing (`handle_datagram`, `handle_timeout`), events for channels this
    /// peer does not know, payloads too short to carry a message id. Empty in a clean run.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Moves virtual time forward (never back) and returns it.
    fn advance(&mut self, now: Millis) -> Millis {
        self.now = self.now.max(now);
        self.now
    }

    fn problem(&mut self, what: String) {
        self.problems
            .push(format!("peer {} at {} ms: {what}", self.peer, self.now));
    }

    /// The crate's "data channel closed", returned for unknown labels and gone handles,
    /// as `RTCDataChannel::send`'s own check does (`rtc/src/data_channel/mod.rs`).
    fn channel_closed() -> CallError {
        call_error(RtcError::ErrDataChannelClosed)
    }

    fn create_channel(
        &mut self,
        label: &str,
        negotiated: Option<u16>,
        ordered: bool,
        reliability: Reliability,
    ) -> AppResult {
        if self.channels.get(label).is_some() {
            return Err(CallError::other(format!(
                "peer {}: a data channel labelled {label:?} already exists",
                self.peer
            )));
        }
        let (max_retransmits, max_packet_life_time) = match reliability {
            Reliability::Reliable => (None, None),
            Reliability::MaxRetransmits(n) => (Some(n), None),
            Reliability::MaxPacketLifeTime(ms) => (None, Some(ms)),
        };
        let init = RTCDataChannelInit {
            ordered,
            negotiated,
            max_retransmits,
            max_packet_life_time,
            ..Default::default()
        };
        let id = self
            .pc
            .create_data_channel(label, Some(init))
            .map_err(call_error)?
            .id();
        self.channels.insert(label, id);
        Ok(())
    }

    fn send(&mut self, now: Millis, label: &str, msg: MsgId, size: usize) -> AppResult {
        if self.closed {
            // The async wrapper's `closing` flag (webrtc/src/data_channel/mod.rs `writable`).
            return Err(Self::channel_closed());
        }
        let id = self
            .channels
            .get(label)
            .map(|c| c.id)
            .ok_or_else(Self::channel_closed)?;
        let at = self.clock.instant(now);
        let mut channel = self.pc.data_channel(id).ok_or_else(Self::channel_closed)?;
        let bytes = payload::encode(msg, size);
        channel
            .send(at, bytes.as_slice().into())
            .map_err(call_error)
    }

    fn close_channel(&mut self, label: &str) -> AppResult {
        let id = self
            .channels
            .get(label)
            .map(|c| c.id)
            .ok_or_else(Self::channel_closed)?;
        let mut channel = self.pc.data_channel(id).ok_or_else(Self::channel_closed)?;
        channel.close().map_err(call_error)
    }

    fn close_peer(&mut self, now: Millis) -> AppResult {
        let result = self.pc.close().map_err(call_error);
        // Hand out what close() queued (ABORT, close_notify) and the events it raised,
        // then stop: the driver of the async wrapper ends here.
        self.pump(now);
        self.closed = true;
        self.next_timeout = None;
        result
    }

    fn ice_restart(&mut self) -> AppResult {
        if self.closed {
            return Err(call_error(RtcError::ErrConnectionClosed));
        }
        // The next create_description makes an ICE-restart offer (fresh credentials); the
        // restart is applied when that offer is set as the local description.
        self.pc.restart_ice();
        Ok(())
    }
}

/// The crate's error as a [`CallError`]: the kind from its variant, the text its own.
fn call_error(error: RtcError) -> CallError {
    let kind = match error {
        // ErrClosedPipe is "DataChannel is not opened".
        RtcError::ErrDataChannelNotOpen | RtcError::ErrClosedPipe => ErrorKind::NotOpen,
        RtcError::ErrDataChannelClosed | RtcError::ErrConnectionClosed => ErrorKind::Closed,
        RtcError::ErrOutboundPacketTooLarge => ErrorKind::TooLarge,
        RtcError::ErrSendBufferFull => ErrorKind::BufferFull,
        _ => ErrorKind::Other,
    };
    CallError::new(kind, error.to_string())
}

impl Stack for RtcStack {
    /// An answer if a remote offer is pending (signaling `have-remote-offer`), otherwise an
    /// offer; set as the local description at once. Returns the SDP (with the host
    /// candidate and end-of-candidates).
    fn create_description(&mut self, now: Millis) -> Result<String, String> {
        let now = self.advance(now);
        let at = self.clock.instant(now);
        let answering = self.machines.signaling == SignalingState::HaveRemoteOffer;
        if setup::lost_candidates(&self.pc) {
            // After ICE failed (which deletes the candidates), an ICE restart gathers again,
            // as the async wrapper's driver does.
            if let Err(e) = setup::add_candidates(self.peer, &mut self.pc, &self.host) {
                self.pump(now);
                return Err(e);
            }
        }
        let result = if answering {
            self.pc.create_answer(None)
        } else {
            self.pc.create_offer(None)
        }
        .and_then(|description| {
            let sdp = description.sdp.clone();
            self.pc.set_local_description(at, description).map(|()| sdp)
        })
        .map_err(|e| e.to_string());
        self.pump(now);
        if result.is_ok() {
            self.events.extend(self.held_gathering.drain(..));
        }
        result
    }

    /// Applied as an answer if this peer has a local offer pending (signaling
    /// `have-local-offer`), otherwise as an offer.
    fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String> {
        let now = self.advance(now);
        let at = self.clock.instant(now);
        let is_answer = self.machines.signaling == SignalingState::HaveLocalOffer;
        let description = if is_answer {
            RTCSessionDescription::answer(sdp.to_owned())
        } else {
            RTCSessionDescription::offer(sdp.to_owned())
        };
        let result = description
            .and_then(|d| self.pc.set_remote_description(at, d))
            .map_err(|e| e.to_string());
        self.pump(now);
        result
    }

    /// `Send` puts `[msg as u64 LE][zeros]` (`max(size, 8)` bytes) on the channel with the
    /// binary `RTCDataChannel::send`; errors are the crate's Display strings.
    /// `IceRestart` only requests the restart: the caller then exchanges a new
    /// offer/answer with `create_description` / `apply_remote_description`.
    fn handle_app(&mut self, now: Millis, call: AppCall) -> AppResult {
        let now = self.advance(now);
        let result = match call {
            AppCall::CreateChannel {
                label,
                negotiated,
                ordered,
                reliability,
            } => self.create_channel(&label, negotiated, ordered, reliability),
            AppCall::Send { channel, msg, size } => self.send(now, &channel, msg, size),
            AppCall::CloseChannel { channel } => self.close_channel(&channel),
            AppCall::ClosePeer => return self.close_peer(now),
            AppCall::IceRestart => self.ice_restart(),
        };
        self.pump(now);
        result
    }

    fn handle_datagram(&mut self, now: Millis, datagram: &[u8]) {
        let now = self.advance(now);
        if self.closed {
            return;
        }
        let packet = TaggedBytesMut {
            now: self.clock.instant(now),
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: self.remote,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: datagram.into(),
        };
        if let Err(e) = self.pc.handle_read(packet) {
            self.problem(format!("handle_read: {e}"));
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Millis) {
        let now = self.advance(now);
        if self.closed {
            return;
        }
        let at = self.clock.instant(now);
        for _ in 0..MAX_FIRINGS {
            if let Err(e) = self.pc.handle_timeout(at) {
                self.problem(format!("handle_timeout: {e}"));
            }
            self.pump(now);
            if !matches!(self.pc.poll_timeout(), Some(next) if next <= at) {
                break;
            }
        }
        if self.next_timeout == Some(now) {
            self.next_timeout = Some(now + 1);
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<StackEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        self.next_timeout
    }

    fn channel_state(&self, label: &str) -> Option<DataChannelState> {
        self.channels.get(label).map(|c| c.state)
    }

    fn channel_stream(&self, label: &str) -> Option<u16> {
        self.channels.get(label).and_then(|c| c.stream)
    }
}
