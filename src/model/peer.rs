//! One model peer connection: signaling, the ICE agent, DTLS, the SCTP association and
//! its data channels, as a pure state machine.
//!
//! Inputs go in through [`Peer::handle_input`] (or the [`Stack`] methods), with the
//! current time as an argument; datagrams and events come out of [`Peer::poll_output`];
//! [`Peer::poll_timeout`] says when to call again. The rules and their sources are in
//! `reference/lifecycle.md`; each profile difference is a switch of [`Profile`].

use super::config::PeerConfig;
use super::profile::Profile;
use super::states::*;
use super::timer::{Timer, Timers};
use super::wire::{Chunk, Packet};
use crate::stack::{AppCall, AppResult, Callback, Stack, StackEvent, StateChange};
use crate::trace::{Millis, MsgId, PeerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Cap of the SCTP retransmission timeout (RFC 4960 RTO.Max).
const SCTP_RTO_MAX_MS: Millis = 60_000;

/// Error of `createDataChannel` / `restartIce` on a closed peer connection.
pub const ERR_PEER_CLOSED: &str = "connection closed";

/// An input to a model peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// An application call.
    App(AppCall),
    /// A datagram from the other peer.
    Datagram(Packet),
    /// Time has advanced: fire every timer due.
    Timeout,
}

/// An output of a model peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// Send this datagram to the other peer.
    Transmit(Packet),
    /// Tell the application.
    Event(StackEvent),
}

/// One data channel as the model tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Channel {
    negotiated: Option<u16>,
    ordered: bool,
    /// SCTP stream id, once assigned.
    stream: Option<u16>,
    state: DataChannelState,
    /// The SCTP stream exists (webrtc-rs `data_channel.is_some()`).
    dialed: bool,
    /// We sent a stream reset and wait for the remote's.
    reset_sent: bool,
    buffered: usize,
    /// Messages that arrived before the channel opened (delivered on open).
    held: Vec<MsgId>,
}

/// DTLS handshake progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Dtls {
    state: DtlsTransportState,
    /// Last flight this side sent (0 = none).
    last_flight: u8,
    rto: Millis,
}

/// SCTP association: handshake, reliable chunks with TSNs, SACKs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Sctp {
    state: SctpTransportState,
    established: bool,
    /// Last handshake chunk this side sent (0 = none).
    last_handshake: u8,
    next_tsn: u32,
    outstanding: BTreeMap<u32, Chunk>,
    rto: Millis,
    cum_received: u32,
    out_of_order: BTreeMap<u32, Chunk>,
}

/// ICE agent state beyond the reported connection state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Ice {
    state: IceConnectionState,
    generation: u32,
    started: bool,
    selected: bool,
    /// Start of the current checking period (tick alignment origin).
    origin: Millis,
    last_received: Millis,
    last_consent_sent: Millis,
}

/// A model peer connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    id: PeerId,
    profile: Profile,
    config: PeerConfig,
    closed: bool,
    signaling: SignalingState,
    gathering: IceGatheringState,
    pc_state: PeerConnectionState,
    ice: Ice,
    dtls: Dtls,
    sctp: Sctp,
    channels: BTreeMap<String, Channel>,
    streams: BTreeMap<u16, String>,
    timers: Timers,
    outputs: VecDeque<Output>,
    now: Millis,
}

impl Peer {
    /// A new peer. `a` is the offerer, ICE controlling and DTLS server; `b` the answerer
    /// (DTLS client, as the crate's default answering role makes it).
    pub fn new(id: PeerId, profile: Profile, config: PeerConfig) -> Self {
        Peer {
            id,
            profile,
            config,
            closed: false,
            signaling: SignalingState::Stable,
            gathering: IceGatheringState::New,
            pc_state: PeerConnectionState::New,
            ice: Ice {
                state: IceConnectionState::New,
                generation: 0,
                started: false,
                selected: false,
                origin: 0,
                last_received: 0,
                last_consent_sent: 0,
            },
            dtls: Dtls {
                state: DtlsTransportState::New,
                last_flight: 0,
                rto: config.dtls_retransmit_ms,
            },
            sctp: Sctp {
                state: SctpTransportState::Connecting,
                established: false,
                last_handshake: 0,
                next_tsn: 1,
                outstanding: BTreeMap::new(),
                rto: config.sctp_rto_initial_ms,
                cum_received: 0,
                out_of_order: BTreeMap::new(),
            },
            channels: BTreeMap::new(),
            streams: BTreeMap::new(),
            timers: Timers::default(),
            outputs: VecDeque::new(),
            now: 0,
        }
    }

    // ----- getters -------------------------------------------------------------------

    /// Which peer this is.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The profile in force.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// ICE connection state.
    pub fn ice_state(&self) -> IceConnectionState {
        self.ice.state
    }

    /// Peer connection state.
    pub fn peer_connection_state(&self) -> PeerConnectionState {
        self.pc_state
    }

    /// DTLS transport state.
    pub fn dtls_state(&self) -> DtlsTransportState {
        self.dtls.state
    }

    /// SCTP transport state.
    pub fn sctp_state(&self) -> SctpTransportState {
        self.sctp.state
    }

    /// Signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// True once `close()` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A channel's readyState.
    pub fn channel_state(&self, label: &str) -> Option<DataChannelState> {
        self.channels.get(label).map(|c| c.state)
    }

    /// When the ICE agent last received a STUN packet (the only traffic that refreshes
    /// consent), the origin of the disconnected and failed timeouts.
    pub fn last_stun_received(&self) -> Millis {
        self.ice.last_received
    }

    /// A channel's bufferedAmount.
    pub fn buffered_amount(&self, label: &str) -> Option<usize> {
        self.channels.get(label).map(|c| c.buffered)
    }

    /// Labels of every channel this peer knows, in order.
    pub fn channel_labels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// Armed timers with their deadlines (the checker fires any of them).
    pub fn armed_timers(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.timers.armed()
    }

    // ----- sans-IO interface ---------------------------------------------------------

    /// Feeds one input at time `now`. Application calls return what the real API returns.
    pub fn handle_input(&mut self, now: Millis, input: Input) -> AppResult {
        self.now = self.now.max(now);
        match input {
            Input::App(call) => return self.handle_app_call(call),
            Input::Datagram(packet) => self.handle_packet(packet),
            Input::Timeout => {
                while let Some(timer) = self.timers.next_due(self.now) {
                    self.fire(timer);
                }
            }
        }
        Ok(())
    }

    /// Fires one armed timer as if its deadline had passed, without moving the clock
    /// (the untimed checker's move: a checker that never advances time keeps every
    /// timestamp in the state constant, so equal states hash equal). Does nothing if the
    /// timer is not armed.
    pub fn fire_timer(&mut self, timer: Timer) {
        if self.timers.deadline(timer).is_some() {
            self.fire(timer);
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.earliest()
    }

    // ----- signaling -----------------------------------------------------------------

    /// Creates the local description: the offer on `a`, the answer on `b`.
    pub fn create_description(&mut self, now: Millis) -> Result<String, String> {
        self.now = self.now.max(now);
        if self.closed {
            return Err("InvalidStateError: peer connection is closed".into());
        }
        let kind = match (self.id, self.signaling) {
            (PeerId::A, SignalingState::Stable) => {
                self.set_signaling(SignalingState::HaveLocalOffer);
                "offer"
            }
            (PeerId::B, SignalingState::HaveRemoteOffer) => {
                self.set_signaling(SignalingState::Stable);
                "answer"
            }
            (_, s) => {
                return Err(format!(
                    "cannot create a description in signaling state {s}"
                ))
            }
        };
        if self.gathering == IceGatheringState::New {
            self.set_gathering(IceGatheringState::Gathering);
            self.set_gathering(IceGatheringState::Complete);
        }
        let sdp = format!(
            "dcsim-model {kind} ice-generation={} max-message-size={}",
            self.ice.generation, self.config.max_message_size
        );
        if kind == "answer" {
            self.start_ice();
        }
        Ok(sdp)
    }

    /// Applies the remote description.
    pub fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String> {
        self.now = self.now.max(now);
        if self.closed {
            return Err("InvalidStateError: peer connection is closed".into());
        }
        let (kind, generation) = parse_description(sdp)?;
        match (kind, self.signaling) {
            ("offer", SignalingState::Stable) => {
                self.set_signaling(SignalingState::HaveRemoteOffer);
                if generation > self.ice.generation {
                    self.ice.generation = generation;
                    if self.ice.started {
                        self.restart_ice();
                    }
                }
                Ok(())
            }
            ("answer", SignalingState::HaveLocalOffer) => {
                self.set_signaling(SignalingState::Stable);
                self.start_ice();
                Ok(())
            }
            (kind, s) => Err(format!(
                "cannot apply a remote {kind} in signaling state {s}"
            )),
        }
    }

    // ----- application calls ---------------------------------------------------------

    fn handle_app_call(&mut self, call: AppCall) -> AppResult {
        match call {
            AppCall::CreateChannel {
                label,
                negotiated,
                ordered,
            } => self.create_channel(label, negotiated, ordered),
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
                if self.closed {
                    return Err(ERR_PEER_CLOSED.into());
                }
                self.restart_ice();
                Ok(())
            }
        }
    }

    fn create_channel(
        &mut self,
        label: String,
        negotiated: Option<u16>,
        ordered: bool,
    ) -> AppResult {
        if self.closed {
            return Err(ERR_PEER_CLOSED.into());
        }
        if self.channels.contains_key(&label) {
            return Err(format!(
                "a channel labelled {label:?} already exists on this peer"
            ));
        }
        self.channels.insert(
            label.clone(),
            Channel {
                negotiated,
                ordered,
                stream: None,
                state: DataChannelState::Connecting,
                dialed: false,
                reset_sent: false,
                buffered: 0,
                held: Vec::new(),
            },
        );
        if self.sctp.established {
            self.dial(&label);
        }
        Ok(())
    }

    /// `send()`: the profile's checks, in the crate's (or the spec's) order.
    fn send(&mut self, label: &str, msg: MsgId, size: usize) -> AppResult {
        let errors = self.profile.errors;
        let Some(ch) = self.channels.get(label) else {
            return Err(errors.closed.into());
        };
        if self.profile.send_checks_stream {
            // rtc `ensure_sendable`: the stream's existence, not readyState.
            if !ch.dialed {
                return Err(if ch.state == DataChannelState::Connecting {
                    errors.not_open.into()
                } else {
                    errors.closed.into()
                });
            }
        } else if ch.state != DataChannelState::Open {
            return Err(if ch.state == DataChannelState::Connecting {
                errors.not_open.into()
            } else {
                errors.closed.into()
            });
        }
        if size > self.config.max_message_size {
            return Err(errors.too_large.into());
        }
        if ch.state == DataChannelState::Closed {
            // The stream still exists until the reset completes: accepted, never sent.
            return Ok(());
        }
        let Some(stream) = ch.stream else {
            return Err(errors.not_open.into());
        };
        let high = self.config.buffered_amount_high_threshold;
        let mut crossed_high = false;
        if let Some(ch) = self.channels.get_mut(label) {
            crossed_high = ch.buffered < high && ch.buffered + size >= high;
            ch.buffered += size;
        }
        if crossed_high {
            self.callback(label, Callback::BufferedAmountHigh);
        }
        self.send_chunk(Chunk::Data {
            stream,
            msg,
            size: size as u32,
        });
        Ok(())
    }

    fn close_channel(&mut self, label: &str) {
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
        if self.sctp.established {
            self.transmit(Packet::SctpAbort);
        }
        if self.dtls.state == DtlsTransportState::Connected {
            self.transmit(Packet::DtlsCloseNotify);
        }
        self.closed = true;
        self.timers.clear();
        let labels: Vec<String> = self.channels.keys().cloned().collect();
        for label in labels {
            self.set_channel_state(&label, DataChannelState::Closed);
            if let Some(ch) = self.channels.get_mut(&label) {
                ch.dialed = false;
            }
        }
        self.sctp.outstanding.clear();
        self.sctp.established = false;
        self.set_sctp(SctpTransportState::Closed);
        self.set_dtls(DtlsTransportState::Closed);
        self.ice.selected = false;
        self.set_ice(IceConnectionState::Closed);
        self.set_signaling(SignalingState::Closed);
        self.update_pc_state();
    }

    // ----- ICE -----------------------------------------------------------------------

    fn tick(&self) -> Millis {
        self.config
            .ice_tick_ms(matches!(self.ice.state, IceConnectionState::Checking))
    }

    /// The first contact tick strictly after `t` (ticks run every `tick()` from the
    /// start of checking).
    fn tick_after(&self, t: Millis) -> Millis {
        let tick = self.tick().max(1);
        let origin = self.ice.origin;
        if t < origin {
            return origin;
        }
        origin + ((t - origin) / tick + 1) * tick
    }

    fn start_ice(&mut self) {
        if self.ice.started || self.closed {
            return;
        }
        self.ice.started = true;
        self.begin_checking();
    }

    fn begin_checking(&mut self) {
        self.ice.origin = self.now;
        self.ice.selected = false;
        self.set_ice(IceConnectionState::Checking);
        for t in [
            Timer::IceDisconnected,
            Timer::IceRecover,
            Timer::IceKeepalive,
        ] {
            self.timers.cancel(t);
        }
        let total = self.config.disconnected_timeout_ms + self.config.failed_timeout_ms;
        if self.config.failed_timeout_ms != 0 {
            let at = self.tick_after(self.now + total);
            self.timers.arm(Timer::IceFailed, at);
        }
        self.send_check();
    }

    fn restart_ice(&mut self) {
        if self.id == PeerId::A {
            self.ice.generation += 1;
        }
        if self.ice.started {
            self.begin_checking();
        }
    }

    fn send_check(&mut self) {
        let nominate = self.id == PeerId::A;
        self.transmit_stun(Packet::StunRequest {
            generation: self.ice.generation,
            nominate,
        });
        let at = self.now + self.tick();
        self.timers.arm(Timer::IceCheck, at);
    }

    fn ice_usable(&self) -> bool {
        self.ice.started
            && !self.closed
            && matches!(
                self.ice.state,
                IceConnectionState::Checking
                    | IceConnectionState::Connected
                    | IceConnectionState::Disconnected
            )
    }

    fn handle_stun(&mut self, packet: Packet) {
        if !self.ice_usable() {
            return;
        }
        let generation = match packet {
            Packet::StunRequest { generation, .. } | Packet::StunResponse { generation } => {
                generation
            }
            _ => return,
        };
        if generation != self.ice.generation {
            return; // stale credentials (before or after an ICE restart)
        }
        self.ice.last_received = self.now;
        match packet {
            Packet::StunRequest { nominate, .. } => {
                self.transmit_stun(Packet::StunResponse { generation });
                if nominate && self.ice.state == IceConnectionState::Checking {
                    self.select_pair();
                }
            }
            Packet::StunResponse { .. }
                if self.id == PeerId::A && self.ice.state == IceConnectionState::Checking =>
            {
                self.select_pair();
            }
            _ => {}
        }
        if self.ice.selected {
            self.arm_liveness();
            if self.ice.state == IceConnectionState::Disconnected {
                let at = self.tick_after(self.now);
                self.timers.arm(Timer::IceRecover, at);
            }
        }
    }

    fn select_pair(&mut self) {
        self.ice.selected = true;
        self.ice.last_consent_sent = self.now;
        self.timers.cancel(Timer::IceCheck);
        self.set_ice(IceConnectionState::Connected);
        self.arm_liveness();
        self.arm_keepalive();
        if self.dtls.state == DtlsTransportState::New {
            self.start_dtls();
        } else {
            // Back from an ICE restart: resume whatever was waiting for a path.
            self.retransmit_now();
        }
    }

    fn arm_liveness(&mut self) {
        let c = self.config;
        if c.disconnected_timeout_ms != 0 {
            let at = self.tick_after(self.ice.last_received + c.disconnected_timeout_ms);
            self.timers.arm(Timer::IceDisconnected, at);
        }
        if c.failed_timeout_ms != 0 {
            let total = c.failed_timeout_ms + c.disconnected_timeout_ms;
            let at = self.tick_after(self.ice.last_received + total);
            self.timers.arm(Timer::IceFailed, at);
        }
    }

    fn arm_keepalive(&mut self) {
        if self.config.keepalive_interval_ms != 0 {
            let due = self.ice.last_consent_sent + self.config.keepalive_interval_ms;
            let at = self.tick_after(due.saturating_sub(1));
            self.timers.arm(Timer::IceKeepalive, at);
        }
    }

    fn ice_failed(&mut self) {
        self.ice.selected = false;
        for t in [
            Timer::IceCheck,
            Timer::IceKeepalive,
            Timer::IceDisconnected,
            Timer::IceRecover,
            Timer::IceFailed,
        ] {
            self.timers.cancel(t);
        }
        self.set_ice(IceConnectionState::Failed);
    }

    // ----- timers --------------------------------------------------------------------

    fn fire(&mut self, timer: Timer) {
        self.timers.cancel(timer);
        match timer {
            Timer::IceFailed => self.ice_failed(),
            Timer::IceDisconnected => {
                if self.ice.state == IceConnectionState::Connected {
                    self.set_ice(IceConnectionState::Disconnected);
                }
            }
            Timer::IceRecover => {
                if self.ice.state == IceConnectionState::Disconnected {
                    self.set_ice(IceConnectionState::Connected);
                }
            }
            Timer::IceCheck => {
                if self.ice.state == IceConnectionState::Checking {
                    self.send_check();
                }
            }
            Timer::IceKeepalive => {
                if self.ice.selected {
                    self.ice.last_consent_sent = self.now;
                    self.transmit_stun(Packet::StunRequest {
                        generation: self.ice.generation,
                        nominate: false,
                    });
                    self.arm_keepalive();
                }
            }
            Timer::DtlsRetransmit => {
                if self.dtls.state == DtlsTransportState::Connecting && self.dtls.last_flight > 0 {
                    self.transmit(Packet::DtlsFlight(self.dtls.last_flight));
                    self.dtls.rto = (self.dtls.rto * 2).min(SCTP_RTO_MAX_MS);
                    let at = self.now + self.dtls.rto;
                    self.timers.arm(Timer::DtlsRetransmit, at);
                }
            }
            Timer::SctpT1 => {
                if !self.sctp.established && self.sctp.last_handshake > 0 {
                    self.transmit(Packet::SctpHandshake(self.sctp.last_handshake));
                    self.sctp.rto = (self.sctp.rto * 2).min(SCTP_RTO_MAX_MS);
                    let at = self.now + self.sctp.rto;
                    self.timers.arm(Timer::SctpT1, at);
                }
            }
            Timer::SctpT3 => {
                if !self.sctp.outstanding.is_empty() {
                    self.retransmit_now();
                    self.sctp.rto = (self.sctp.rto * 2).min(SCTP_RTO_MAX_MS);
                    let at = self.now + self.sctp.rto;
                    self.timers.arm(Timer::SctpT3, at);
                }
            }
            Timer::DcepHandshake(stream) => self.dcep_deadline(stream),
        }
    }

    fn retransmit_now(&mut self) {
        let chunks: Vec<(u32, Chunk)> = self
            .sctp
            .outstanding
            .iter()
            .map(|(t, c)| (*t, c.clone()))
            .collect();
        for (tsn, chunk) in chunks {
            self.transmit(Packet::SctpData { tsn, chunk });
        }
    }

    // ----- DTLS and SCTP handshakes --------------------------------------------------

    fn is_dtls_client(&self) -> bool {
        self.id == PeerId::B
    }

    fn start_dtls(&mut self) {
        self.set_dtls(DtlsTransportState::Connecting);
        if self.is_dtls_client() {
            self.send_flight(1);
        }
    }

    fn send_flight(&mut self, flight: u8) {
        self.dtls.last_flight = flight;
        self.transmit(Packet::DtlsFlight(flight));
        self.dtls.rto = self.config.dtls_retransmit_ms;
        if self.dtls.state == DtlsTransportState::Connecting {
            let at = self.now + self.dtls.rto;
            self.timers.arm(Timer::DtlsRetransmit, at);
        }
    }

    fn handle_dtls_flight(&mut self, flight: u8) {
        let client = self.is_dtls_client();
        match (client, flight) {
            (false, 1) | (false, 3) if self.dtls.state == DtlsTransportState::Connecting => {
                self.send_flight(flight + 1)
            }
            (false, 5) => {
                if self.dtls.state == DtlsTransportState::Connecting {
                    self.timers.cancel(Timer::DtlsRetransmit);
                    self.set_dtls(DtlsTransportState::Connected);
                    self.send_flight(6);
                    self.start_sctp();
                } else if self.dtls.state == DtlsTransportState::Connected {
                    self.transmit(Packet::DtlsFlight(6));
                }
            }
            (true, 2) | (true, 4)
                if self.dtls.state == DtlsTransportState::Connecting
                    && self.dtls.last_flight == flight - 1 =>
            {
                self.send_flight(flight + 1)
            }
            (true, 6) if self.dtls.state == DtlsTransportState::Connecting => {
                self.timers.cancel(Timer::DtlsRetransmit);
                self.set_dtls(DtlsTransportState::Connected);
                self.start_sctp();
            }
            _ => {}
        }
    }

    fn start_sctp(&mut self) {
        if self.is_dtls_client() {
            self.send_handshake(1);
        }
    }

    fn send_handshake(&mut self, step: u8) {
        self.sctp.last_handshake = step;
        self.transmit(Packet::SctpHandshake(step));
        if step == 1 || step == 3 {
            self.sctp.rto = self.config.sctp_rto_initial_ms;
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT1, at);
        }
    }

    fn handle_sctp_handshake(&mut self, step: u8) {
        if self.dtls.state != DtlsTransportState::Connected {
            return;
        }
        match (self.is_dtls_client(), step) {
            (false, 1) => self.send_handshake(2),
            (true, 2) if self.sctp.last_handshake == 1 => self.send_handshake(3),
            (false, 3) => {
                self.send_handshake(4);
                self.association_up();
            }
            (true, 4) if !self.sctp.established => {
                self.timers.cancel(Timer::SctpT1);
                self.association_up();
            }
            _ => {}
        }
    }

    fn association_up(&mut self) {
        if self.sctp.established {
            return;
        }
        self.sctp.established = true;
        self.sctp.rto = self.config.sctp_rto_initial_ms;
        self.set_sctp(SctpTransportState::Connected);
        let undialed: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.dialed && c.state == DataChannelState::Connecting)
            .map(|(l, _)| l.clone())
            .collect();
        for label in undialed {
            self.dial(&label);
        }
    }

    // ----- data channels -------------------------------------------------------------

    fn next_stream_id(&self) -> u16 {
        // RFC 8832: the DTLS client uses even stream ids, the server odd ones.
        // The lowest id of our parity that no stream uses and no negotiated channel
        // reserves. Negotiated ids are collected once and the used ids walked in order
        // (rescanning every channel for every candidate id made opening n channels
        // cubic; a lookup per candidate, quadratic with a large constant).
        let negotiated: BTreeSet<u16> = self
            .channels
            .values()
            .filter_map(|c| c.negotiated)
            .collect();
        let mut id: u16 = if self.is_dtls_client() { 0 } else { 1 };
        let mut used = self.streams.range(id..).map(|(s, _)| *s).peekable();
        loop {
            while used.next_if(|&s| s < id).is_some() {}
            if used.peek() == Some(&id) || negotiated.contains(&id) {
                id = id.saturating_add(2);
            } else {
                return id;
            }
        }
    }

    fn dial(&mut self, label: &str) {
        let Some(ch) = self.channels.get(label) else {
            return;
        };
        let (negotiated, ordered) = (ch.negotiated, ch.ordered);
        let stream = negotiated.unwrap_or_else(|| self.next_stream_id());
        self.streams.insert(stream, label.to_string());
        if let Some(ch) = self.channels.get_mut(label) {
            ch.stream = Some(stream);
            ch.dialed = true;
        }
        if negotiated.is_some() {
            self.open_channel(label);
            return;
        }
        self.send_chunk(Chunk::DcepOpen {
            stream,
            label: label.to_string(),
            ordered,
        });
        if self.profile.open_on_dcep_ack {
            if self.config.dcep_handshake_timeout_ms != 0 {
                let at = self.now + self.config.dcep_handshake_timeout_ms;
                self.timers.arm(Timer::DcepHandshake(stream), at);
            }
        } else {
            self.open_channel(label);
        }
    }

    fn open_channel(&mut self, label: &str) {
        self.set_channel_state(label, DataChannelState::Open);
        self.callback(label, Callback::Open);
        let held = self
            .channels
            .get_mut(label)
            .map(|c| std::mem::take(&mut c.held))
            .unwrap_or_default();
        for msg in held {
            self.event(StackEvent::Message {
                channel: label.to_string(),
                msg,
            });
        }
    }

    fn dcep_deadline(&mut self, stream: u16) {
        let Some(label) = self.streams.get(&stream).cloned() else {
            return;
        };
        if self.channel_state(&label) != Some(DataChannelState::Connecting) {
            return;
        }
        self.streams.remove(&stream);
        if let Some(ch) = self.channels.get_mut(&label) {
            ch.dialed = false;
            ch.held.clear();
        }
        self.set_channel_state(&label, DataChannelState::Closed);
        self.callback(&label, Callback::Close);
    }

    fn handle_chunk(&mut self, chunk: Chunk) {
        match chunk {
            Chunk::DcepOpen {
                stream,
                label,
                ordered,
            } => {
                if self.streams.contains_key(&stream) || self.channels.contains_key(&label) {
                    return;
                }
                self.channels.insert(
                    label.clone(),
                    Channel {
                        negotiated: None,
                        ordered,
                        stream: Some(stream),
                        state: DataChannelState::Connecting,
                        dialed: true,
                        reset_sent: false,
                        buffered: 0,
                        held: Vec::new(),
                    },
                );
                self.streams.insert(stream, label.clone());
                self.send_chunk(Chunk::DcepAck { stream });
                // Opened at once; the app learns of it already open.
                self.set_channel_state(&label, DataChannelState::Open);
                self.callback(&label, Callback::DataChannel);
                self.callback(&label, Callback::Open);
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
                match self.channel_state(&label) {
                    Some(DataChannelState::Open) => self.event(StackEvent::Message {
                        channel: label,
                        msg,
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

    fn handle_stream_reset(&mut self, stream: u16) {
        let Some(label) = self.streams.remove(&stream) else {
            return;
        };
        self.timers.cancel(Timer::DcepHandshake(stream));
        let Some(ch) = self.channels.get_mut(&label) else {
            return;
        };
        ch.dialed = false;
        let we_started = ch.reset_sent;
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

    fn handle_abort(&mut self) {
        if !self.sctp.established {
            return;
        }
        self.sctp.established = false;
        self.sctp.outstanding.clear();
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

    fn send_chunk(&mut self, chunk: Chunk) {
        let tsn = self.sctp.next_tsn;
        self.sctp.next_tsn += 1;
        self.sctp.outstanding.insert(tsn, chunk.clone());
        self.transmit(Packet::SctpData { tsn, chunk });
        if self.timers.deadline(Timer::SctpT3).is_none() {
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT3, at);
        }
    }

    fn handle_sctp_data(&mut self, tsn: u32, chunk: Chunk) {
        if !self.sctp.established {
            return; // not yet (or no longer) associated: the sender retransmits
        }
        if tsn > self.sctp.cum_received {
            self.sctp.out_of_order.insert(tsn, chunk);
            while let Some(next) = self.sctp.out_of_order.remove(&(self.sctp.cum_received + 1)) {
                self.sctp.cum_received += 1;
                self.handle_chunk(next);
            }
        }
        self.transmit(Packet::SctpSack {
            cum_tsn: self.sctp.cum_received,
        });
    }

    fn handle_sack(&mut self, cum_tsn: u32) {
        let acked: Vec<u32> = self
            .sctp
            .outstanding
            .range(..=cum_tsn)
            .map(|(t, _)| *t)
            .collect();
        if acked.is_empty() {
            return;
        }
        for tsn in acked {
            if let Some(Chunk::Data { stream, size, .. }) = self.sctp.outstanding.remove(&tsn) {
                self.release_buffered(stream, size as usize);
            }
        }
        self.sctp.rto = self.config.sctp_rto_initial_ms;
        if self.sctp.outstanding.is_empty() {
            self.timers.cancel(Timer::SctpT3);
        } else {
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT3, at);
        }
    }

    fn release_buffered(&mut self, stream: u16, size: usize) {
        let Some(label) = self.streams.get(&stream).cloned() else {
            return;
        };
        let threshold = self.config.buffered_amount_low_threshold;
        let Some(ch) = self.channels.get_mut(&label) else {
            return;
        };
        let before = ch.buffered;
        ch.buffered = ch.buffered.saturating_sub(size);
        if before > threshold && ch.buffered <= threshold && ch.state == DataChannelState::Open {
            self.callback(&label, Callback::BufferedAmountLow);
        }
    }

    // ----- packets in ----------------------------------------------------------------

    fn handle_packet(&mut self, packet: Packet) {
        if self.closed {
            return;
        }
        if packet.is_stun() {
            self.handle_stun(packet);
            return;
        }
        // Non-STUN traffic is accepted only on a validated path.
        if !self.ice_usable() {
            return;
        }
        match packet {
            Packet::DtlsFlight(n) => {
                if self.dtls.state == DtlsTransportState::New {
                    return;
                }
                self.handle_dtls_flight(n)
            }
            Packet::DtlsCloseNotify => {
                if self.dtls.state == DtlsTransportState::Connected {
                    self.set_dtls(DtlsTransportState::Closed);
                }
            }
            Packet::SctpHandshake(step) => self.handle_sctp_handshake(step),
            Packet::SctpData { tsn, chunk } => self.handle_sctp_data(tsn, chunk),
            Packet::SctpSack { cum_tsn } => self.handle_sack(cum_tsn),
            Packet::SctpAbort => self.handle_abort(),
            Packet::StunRequest { .. } | Packet::StunResponse { .. } => {}
        }
    }

    // ----- outputs and state changes -------------------------------------------------

    fn transmit_stun(&mut self, packet: Packet) {
        if self.ice_usable() {
            self.outputs.push_back(Output::Transmit(packet));
        }
    }

    /// Non-STUN traffic leaves only on a selected pair; after ICE failure it goes nowhere.
    fn transmit(&mut self, packet: Packet) {
        if self.ice.selected {
            self.outputs.push_back(Output::Transmit(packet));
        }
    }

    fn event(&mut self, event: StackEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn callback(&mut self, label: &str, callback: Callback) {
        self.event(StackEvent::Callback {
            channel: label.to_string(),
            callback,
        });
    }

    fn set_signaling(&mut self, to: SignalingState) {
        let from = std::mem::replace(&mut self.signaling, to);
        if from != to {
            self.event(StackEvent::State(StateChange::Signaling(from, to)));
        }
    }

    fn set_gathering(&mut self, to: IceGatheringState) {
        let from = std::mem::replace(&mut self.gathering, to);
        if from != to {
            self.event(StackEvent::State(StateChange::IceGathering(from, to)));
        }
    }

    fn set_ice(&mut self, to: IceConnectionState) {
        let from = std::mem::replace(&mut self.ice.state, to);
        if from != to {
            self.event(StackEvent::State(StateChange::IceConnection(from, to)));
            self.update_pc_state();
        }
    }

    fn set_dtls(&mut self, to: DtlsTransportState) {
        let from = std::mem::replace(&mut self.dtls.state, to);
        if from != to {
            self.event(StackEvent::State(StateChange::Dtls(from, to)));
            self.update_pc_state();
        }
    }

    fn set_sctp(&mut self, to: SctpTransportState) {
        let from = std::mem::replace(&mut self.sctp.state, to);
        if from != to {
            self.event(StackEvent::State(StateChange::Sctp(from, to)));
        }
    }

    fn set_channel_state(&mut self, label: &str, to: DataChannelState) {
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

    fn update_pc_state(&mut self) {
        let to = derive_peer_connection_state(self.closed, self.ice.state, self.dtls.state);
        let from = self.pc_state;
        // 0.21 latches closed.
        if from != to && from != PeerConnectionState::Closed {
            self.pc_state = to;
            self.event(StackEvent::State(StateChange::PeerConnection(from, to)));
        }
    }
}

fn parse_description(sdp: &str) -> Result<(&'static str, u32), String> {
    let mut words = sdp.split_whitespace();
    if words.next() != Some("dcsim-model") {
        return Err(format!("not a dcsim model description: {sdp:?}"));
    }
    let kind = match words.next() {
        Some("offer") => "offer",
        Some("answer") => "answer",
        other => return Err(format!("unknown description type {other:?}")),
    };
    let generation = words
        .find_map(|w| w.strip_prefix("ice-generation="))
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| "description has no ice-generation".to_string())?;
    Ok((kind, generation))
}

impl Stack for Peer {
    fn create_description(&mut self, now: Millis) -> Result<String, String> {
        Peer::create_description(self, now)
    }

    fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String> {
        Peer::apply_remote_description(self, now, sdp)
    }

    fn handle_app(&mut self, now: Millis, call: AppCall) -> AppResult {
        self.handle_input(now, Input::App(call))
    }

    fn handle_datagram(&mut self, now: Millis, datagram: &[u8]) {
        if let Some(packet) = Packet::decode(datagram) {
            let _ = self.handle_input(now, Input::Datagram(packet));
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        let _ = self.handle_input(now, Input::Timeout);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        // Events and datagrams share one queue; hand datagrams out in order and keep
        // events for poll_event.
        let idx = self
            .outputs
            .iter()
            .position(|o| matches!(o, Output::Transmit(_)))?;
        match self.outputs.remove(idx) {
            Some(Output::Transmit(p)) => Some(p.encode()),
            _ => None,
        }
    }

    fn poll_event(&mut self) -> Option<StackEvent> {
        let idx = self
            .outputs
            .iter()
            .position(|o| matches!(o, Output::Event(_)))?;
        match self.outputs.remove(idx) {
            Some(Output::Event(e)) => Some(e),
            _ => None,
        }
    }

    fn poll_timeout(&self) -> Option<Millis> {
        Peer::poll_timeout(self)
    }

    fn channel_state(&self, label: &str) -> Option<DataChannelState> {
        Peer::channel_state(self, label)
    }
}
