//! One model peer connection: signaling, the ICE agent, DTLS, the SCTP association and
//! its data channels, as a pure state machine.
//!
//! Inputs go in through [`Peer::handle_input`] (or the [`Stack`] methods), with the
//! current time as an argument; datagrams and events come out of [`Peer::poll_output`];
//! [`Peer::poll_timeout`] says when to call again. Each profile difference is a switch
//! of [`Profile`]; the states, timeouts and errors are described in `docs/scenarios.md`,
//! `docs/invariants.md` and `docs/conformance.md`, with the crate source of each rule.
//!
//! The peer is the composition of its sub-machines, one file each: `signaling.rs`
//! (descriptions), `ice.rs` (the agent), `dtls.rs` (the handshake), `sctp.rs` (the
//! association) and `channels.rs` (DCEP and the data channels), with `app.rs` for the
//! application's calls. This file holds the peer itself: its inputs and outputs, the
//! timer dispatch, the packet dispatch, and the state reports every sub-machine uses.

mod app;
mod channels;
mod dtls;
mod ice;
mod sctp;
mod signaling;

use super::config::PeerConfig;
use super::profile::Profile;
use super::states::*;
use super::timer::{Timer, Timers};
use super::wire::Packet;
use crate::stack::{Stack, StackOutput};
use crate::vocab::{AppCall, AppResult, Callback, StackEvent, StateChange};
use crate::vocab::{Millis, PeerId};
use channels::Channel;
use dtls::{Dtls, Handshake};
use ice::{Ice, Progress};
use sctp::{Association, Sctp, SCTP_RTO_MAX_MS};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    /// While one input is handled: the index in `outputs` of the SCTP packet that later
    /// chunks of the same input join (bundling). `None` between inputs.
    open_bundle: Option<usize>,
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
                progress: Progress::Idle,
                restart_pending: false,
                origin: 0,
                last_received: 0,
                last_consent_sent: 0,
                shown: None,
                regather: false,
            },
            dtls: Dtls {
                state: DtlsTransportState::New,
                handshake: Handshake::NotStarted,
                rto: config.dtls_retransmit_ms,
            },
            sctp: Sctp {
                state: SctpTransportState::Connecting,
                association: Association::Handshake {
                    last_sent: 0,
                    reads_closed: false,
                },
                next_tsn: 1,
                outstanding: BTreeMap::new(),
                rto: config.sctp_rto_initial_ms,
                cum_received: 0,
                out_of_order: BTreeMap::new(),
                tries: BTreeMap::new(),
                forward_to: None,
                delivered_early: BTreeSet::new(),
                rtt: None,
                rtt_probe: None,
                misses: None,
                retransmitted: BTreeSet::new(),
                ack_delayed: false,
            },
            channels: BTreeMap::new(),
            streams: BTreeMap::new(),
            timers: Timers::default(),
            outputs: VecDeque::new(),
            open_bundle: None,
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

    /// ICE connection state, as the profile reports it.
    pub fn ice_state(&self) -> IceConnectionState {
        self.reported_ice(self.ice.shown.unwrap_or(self.ice.state))
    }

    /// Peer connection state.
    pub fn peer_connection_state(&self) -> PeerConnectionState {
        self.pc_state
    }

    /// DTLS transport state.
    pub fn dtls_state(&self) -> DtlsTransportState {
        self.dtls.state
    }

    /// SCTP association state: `closed` only once the association was aborted or the
    /// peer connection closed it, so an SCTP packet to a `closed` peer is ignored (the
    /// checker prunes on this). What the application's getter reads is
    /// [`Peer::sctp_transport_state`].
    pub fn sctp_state(&self) -> SctpTransportState {
        self.sctp.state
    }

    /// SCTP transport state as the application's getter reads it: the association's
    /// state, except that with [`Profile::sctp_closed_during_handshake`] the DTLS server
    /// reads `closed` between the INIT and the COOKIE ECHO.
    pub fn sctp_transport_state(&self) -> SctpTransportState {
        if self.sctp.reads_closed() {
            SctpTransportState::Closed
        } else {
            self.sctp.state
        }
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

    /// A channel's SCTP stream id, once assigned (W3C's `RTCDataChannel.id`).
    pub fn channel_stream(&self, label: &str) -> Option<u16> {
        self.channels.get(label).and_then(|c| c.stream)
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
        self.open_bundle = None;
        let result = match input {
            Input::App(call) => self.handle_app_call(call),
            Input::Datagram(packet) => {
                self.handle_packet(packet);
                Ok(())
            }
            Input::Timeout => {
                while let Some(timer) = self.timers.next_due(self.now) {
                    self.fire(timer);
                }
                Ok(())
            }
        };
        self.open_bundle = None;
        result
    }

    /// Fires one armed timer as if its deadline had passed, without moving the clock
    /// (the untimed checker's move: a checker that never advances time keeps every
    /// timestamp in the state constant, so equal states hash equal). Does nothing if the
    /// timer is not armed.
    pub fn fire_timer(&mut self, timer: Timer) {
        if self.timers.deadline(timer).is_some() {
            self.open_bundle = None;
            self.fire(timer);
            self.open_bundle = None;
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
                if self.ice.selected() {
                    self.ice.last_consent_sent = self.now;
                    self.transmit_stun(Packet::StunRequest {
                        generation: self.ice.generation,
                        nominate: false,
                    });
                    self.arm_keepalive();
                }
            }
            Timer::DtlsRetransmit => {
                if self.dtls.state == DtlsTransportState::Connecting && self.dtls.last_flight() > 0
                {
                    self.transmit(Packet::DtlsFlight(self.dtls.last_flight()));
                    self.dtls.rto = (self.dtls.rto * 2).min(SCTP_RTO_MAX_MS);
                    let at = self.now + self.dtls.rto;
                    self.timers.arm(Timer::DtlsRetransmit, at);
                }
            }
            Timer::SctpT1 => {
                if !self.sctp.established() && self.sctp.last_handshake() > 0 {
                    self.transmit(Packet::SctpHandshake(self.sctp.last_handshake()));
                    self.sctp.rto = (self.sctp.rto * 2).min(SCTP_RTO_MAX_MS);
                    let at = self.now + self.sctp.rto;
                    self.timers.arm(Timer::SctpT1, at);
                }
            }
            Timer::SctpT3 => {
                if !self.sctp.outstanding.is_empty() || self.sctp.forward_to.is_some() {
                    self.retransmit_now();
                    if self.profile.sctp_t3_backoff {
                        let cap = self.profile.sctp_max_backoff_ms.unwrap_or(SCTP_RTO_MAX_MS);
                        self.sctp.rto = (self.sctp.rto * 2).min(cap);
                    }
                    let at = self.now + self.sctp.rto;
                    self.timers.arm(Timer::SctpT3, at);
                }
            }
            Timer::SctpAck => {
                if self.sctp.ack_delayed && self.sctp.established() {
                    self.send_sack();
                }
            }
            Timer::DcepHandshake(stream) => self.dcep_deadline(stream),
            Timer::AnnounceOpen(stream) => {
                let Some(label) = self.streams.get(&stream).cloned() else {
                    return;
                };
                if self.channel_state(&label) == Some(DataChannelState::Connecting) {
                    self.open_channel(&label);
                }
            }
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
                if !self.dtls.started() {
                    return;
                }
                self.handle_dtls_flight(n)
            }
            Packet::DtlsCloseNotify => {
                if self.dtls.state == DtlsTransportState::Connected {
                    self.set_dtls(DtlsTransportState::Closed);
                    if self.profile.closes_when_dtls_ends {
                        self.close();
                    }
                }
            }
            Packet::SctpHandshake(step) => self.handle_sctp_handshake(step),
            Packet::SctpData { tsn, chunk } => self.handle_sctp_data(vec![(tsn, chunk)]),
            Packet::SctpBundle(chunks) => self.handle_sctp_data(chunks),
            Packet::SctpSack {
                cum_tsn,
                highest_tsn,
            } => self.handle_sack(cum_tsn, highest_tsn),
            Packet::SctpAbort => self.handle_abort(),
            Packet::SctpForwardTsn { new_cum_tsn } => self.handle_forward_tsn(new_cum_tsn),
            Packet::StunRequest { .. } | Packet::StunResponse { .. } => {}
        }
    }

    /// Non-STUN traffic leaves only on a selected pair; after ICE failure it goes nowhere.
    fn transmit(&mut self, packet: Packet) {
        if self.ice.selected() {
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
        if to == IceGatheringState::Gathering && !self.profile.ice_gathering_reports_gathering {
            // Set without an event; `complete` follows in the same step and is reported
            // as `new -> complete` (`Profile::ice_gathering_reports_gathering`).
            return;
        }
        let from = std::mem::replace(&mut self.gathering, to);
        if from != to {
            self.event(StackEvent::State(StateChange::IceGathering(from, to)));
        }
    }

    fn update_pc_state(&mut self) {
        let to = derive_peer_connection_state(self.closed, self.ice_state(), self.dtls.state);
        let from = self.pc_state;
        // 0.21 latches closed.
        if from != to && from != PeerConnectionState::Closed {
            self.pc_state = to;
            self.event(StackEvent::State(StateChange::PeerConnection(from, to)));
        }
    }
}

impl From<Output> for StackOutput<Packet> {
    fn from(output: Output) -> Self {
        match output {
            Output::Transmit(packet) => StackOutput::Transmit(packet),
            Output::Event(event) => StackOutput::Event(event),
        }
    }
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

    fn channel_stream(&self, label: &str) -> Option<u16> {
        Peer::channel_stream(self, label)
    }
}
