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
use crate::stack::{
    AppCall, AppResult, CallError, Callback, ErrorKind, Stack, StackEvent, StateChange,
};
use crate::trace::{Millis, MsgId, PeerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Cap of the SCTP retransmission timeout (RFC 4960 RTO.Max).
const SCTP_RTO_MAX_MS: Millis = 60_000;

/// SCTP packet size limit for bundling: `rtc-sctp` `config.rs` `INITIAL_MTU` (1191),
/// with a 12-byte common header and 16 bytes of header per DATA chunk.
const SCTP_MTU: usize = 1191;

/// Delay of a SACK for a lone DATA packet (RFC 4960 section 6.2; `rtc-sctp`
/// `association/timer.rs` `ACK_INTERVAL`).
const SCTP_ACK_DELAY_MS: Millis = 200;

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
    /// When `close()` was called, with `close_event_at_once`: the close event has fired,
    /// and the stream lives on only until the end of that instant (a send in the same
    /// instant is accepted and lost, a later one fails). Also set when the DCEP handshake
    /// timed out (the close event has fired; the stream is no longer dialed).
    closed_at: Option<Millis>,
    buffered: usize,
    /// With `buffered_amount_on_transmit`: the instant of the last `bufferedamountlow`
    /// (one per instant).
    low_at: Option<Millis>,
    /// Messages that arrived before the channel opened (delivered on open).
    held: Vec<MsgId>,
}

/// DTLS handshake progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Dtls {
    state: DtlsTransportState,
    /// The handshake has begun (ICE selected a pair); before that, flights are ignored.
    started: bool,
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
    /// A SACK is owed and delayed (the crate's `AckState::Delay`): the next DATA packet,
    /// or [`Timer::SctpAck`], sends it.
    ack_delayed: bool,
    /// With `sctp_closed_during_handshake`: the DTLS server got the INIT and waits for
    /// the COOKIE ECHO, so its transport reads `closed` while `state` is `connecting`.
    handshake_closed: bool,
}

/// ICE agent state beyond the reported connection state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Ice {
    state: IceConnectionState,
    generation: u32,
    started: bool,
    selected: bool,
    /// A connectivity check of ours got a success response in this checking period (the
    /// crate's pair state `Succeeded`): the controlled agent accepts a nomination only
    /// then, and the controlling agent nominates only then.
    succeeded: bool,
    /// Controlling agent: nomination (USE-CANDIDATE) under way; every check is nominating.
    nominating: bool,
    /// `restartIce()` was called on the offerer: the next offer carries new credentials and
    /// restarts ICE when it is set as the local description (the crate's `restart_ice`
    /// only flags it, `set_local_description` applies it).
    restart_pending: bool,
    /// Restarted, checking, but the remote's new credentials (the answer) have not
    /// arrived: no check can be sent yet. The checks, their tick grid and the
    /// failed-in-checking deadline start when the answer is applied.
    awaiting_answer: bool,
    /// Start of the current checking period (tick alignment origin).
    origin: Millis,
    last_received: Millis,
    /// When the last consent check went out. Starts at the agent's creation (time 0), not
    /// at pair selection, as the crate's `last_consent_sent` does
    /// (`rtc-ice/src/agent/mod.rs` `check_keepalive`): the first keepalive goes out at the
    /// first contact tick at or after `keepalive_interval`.
    last_consent_sent: Millis,
    /// With `ice_restart_keeps_state`, during a restart: the state the application sees
    /// (`state` is `checking` underneath).
    shown: Option<IceConnectionState>,
    /// With `ice_restart_keeps_state`: a restart happened; the next local description
    /// gathers again.
    regather: bool,
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
                started: false,
                selected: false,
                succeeded: false,
                nominating: false,
                restart_pending: false,
                awaiting_answer: false,
                origin: 0,
                last_received: 0,
                last_consent_sent: 0,
                shown: None,
                regather: false,
            },
            dtls: Dtls {
                state: DtlsTransportState::New,
                started: false,
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
                ack_delayed: false,
                handshake_closed: false,
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
        if self.sctp.handshake_closed {
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
                if std::mem::take(&mut self.ice.restart_pending) {
                    self.ice.generation += 1;
                    if self.ice.started {
                        self.enter_checking();
                        self.ice.awaiting_answer = true;
                    }
                }
                "offer"
            }
            (PeerId::B, SignalingState::HaveRemoteOffer) => {
                self.set_signaling(SignalingState::Stable);
                if self.profile.transports_start_on_remote_description
                    && self.ice.started
                    && self.dtls.state == DtlsTransportState::New
                {
                    // Both descriptions are set: the DTLS getter is reachable now.
                    self.set_dtls(DtlsTransportState::Connecting);
                }
                "answer"
            }
            (_, s) => {
                return Err(format!(
                    "cannot create a description in signaling state {s}"
                ))
            }
        };
        if self.gathering == IceGatheringState::New || std::mem::take(&mut self.ice.regather) {
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
                if self.profile.transports_start_on_remote_description && !self.ice.started {
                    // The crate starts ICE here; DTLS is reported with the answer.
                    self.ice.started = true;
                    self.begin_checking();
                    return Ok(());
                }
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
                if std::mem::take(&mut self.ice.awaiting_answer) {
                    self.start_checks();
                } else {
                    self.start_ice();
                }
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

    fn create_channel(
        &mut self,
        label: String,
        negotiated: Option<u16>,
        ordered: bool,
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
        if self.sctp.established {
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
    fn send(&mut self, label: &str, msg: MsgId, size: usize) -> AppResult {
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
        if self.sctp.established {
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
        self.sctp.outstanding.clear();
        self.sctp.established = false;
        self.set_sctp(SctpTransportState::Closed);
        if self.dtls.state != DtlsTransportState::Failed {
            // A failed transport stays failed (failed is final for DTLS).
            self.set_dtls(DtlsTransportState::Closed);
        }
        self.ice.selected = false;
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
    fn close_as_webrtc_rs(&mut self) {
        self.timers.clear();
        for ch in self.channels.values_mut() {
            ch.dialed = false;
        }
        // A server association waiting for the COOKIE ECHO exists (and reads `closed`).
        let had_association = self.sctp.established || self.sctp.handshake_closed;
        self.sctp.outstanding.clear();
        self.sctp.established = false;
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
        self.ice.selected = false;
        if !self.profile.pc_close_leaves_ice {
            self.set_ice(IceConnectionState::Closed);
        }
        // Signaling: the crate sets `closed` without an event, and neither `rtc` nor the
        // async wrapper has a signaling getter, so no application sees it; the model
        // leaves it as it was (later description calls fail on `closed` anyway).
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
        // The transports start together: the DTLS transport reads `connecting` from here,
        // before ICE has a pair (the crate's `RTCDtlsTransport::state` getter; W3C leaves
        // the moment open). The handshake itself starts when ICE selects a pair.
        if self.profile.transports_start_on_remote_description {
            // Reported before the ICE change the same call causes, as the crate's getter.
            self.set_dtls(DtlsTransportState::Connecting);
            self.begin_checking();
        } else {
            self.begin_checking();
            self.set_dtls(DtlsTransportState::Connecting);
        }
    }

    fn begin_checking(&mut self) {
        self.enter_checking();
        self.start_checks();
    }

    /// ICE goes (back) to checking: the pair is forgotten and every ICE timer stops.
    fn enter_checking(&mut self) {
        self.ice.selected = false;
        self.ice.succeeded = false;
        self.ice.nominating = false;
        self.set_ice(IceConnectionState::Checking);
        for t in [
            Timer::IceDisconnected,
            Timer::IceRecover,
            Timer::IceKeepalive,
            Timer::IceCheck,
            Timer::IceFailed,
        ] {
            self.timers.cancel(t);
        }
    }

    /// Connectivity checks start, on a tick grid from now, with the failed-in-checking
    /// deadline.
    fn start_checks(&mut self) {
        self.ice.origin = self.now;
        let total = self.config.disconnected_timeout_ms + self.config.failed_timeout_ms;
        if self.config.failed_timeout_ms != 0 {
            let at = self.tick_after(self.now + total);
            self.timers.arm(Timer::IceFailed, at);
        }
        self.send_check();
    }

    /// `restartIce()`. On the offerer it takes effect with the next offer (see
    /// `restart_pending`); the answerer restarts when that offer arrives.
    fn restart_ice(&mut self) {
        if self.id == PeerId::A {
            self.ice.restart_pending = true;
            return;
        }
        if self.ice.started {
            self.begin_checking();
        }
    }

    /// A contact tick while checking (`contact_candidates` of the crate's selectors): the
    /// controlling agent nominates once a check of its own has succeeded (and keeps
    /// re-sending the nomination every tick), otherwise both agents ping.
    fn send_check(&mut self) {
        if self.id == PeerId::A && self.ice.succeeded {
            self.ice.nominating = true;
        }
        self.transmit_stun(Packet::StunRequest {
            generation: self.ice.generation,
            nominate: self.ice.nominating,
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
            Packet::StunRequest { generation, .. } | Packet::StunResponse { generation, .. } => {
                generation
            }
            _ => return,
        };
        if generation != self.ice.generation {
            return; // stale credentials (before or after an ICE restart)
        }
        self.ice.last_received = self.now;
        let checking = self.ice.state == IceConnectionState::Checking;
        let controlling = self.id == PeerId::A;
        // The crate's selectors (`rtc-ice/src/agent/agent_selector.rs`), with one pair: the
        // controlling agent pings; the controlled one answers and sends a triggered check
        // back; once the controlling agent's check succeeded, the next request it receives
        // (or its next tick) makes it nominate; the controlled agent selects the pair on a
        // nomination if its own check succeeded, the controlling one on the nomination's
        // response. Two round trips from a's first check to a's `connected`.
        match packet {
            Packet::StunRequest { nominate, .. } => {
                let ping = Packet::StunRequest {
                    generation,
                    nominate: false,
                };
                if !controlling && nominate && checking && !self.ice.succeeded {
                    // Not acceptable yet: a triggered check, no answer (the controlling
                    // agent re-sends the nomination at its next tick).
                    self.transmit_stun(ping);
                } else {
                    self.transmit_stun(Packet::StunResponse {
                        generation,
                        nominate,
                    });
                    if !controlling && checking {
                        if nominate {
                            self.select_pair();
                        } else {
                            self.transmit_stun(ping);
                        }
                    } else if controlling && checking && self.ice.succeeded && !self.ice.nominating
                    {
                        self.ice.nominating = true;
                        self.transmit_stun(Packet::StunRequest {
                            generation,
                            nominate: true,
                        });
                    }
                }
            }
            Packet::StunResponse { nominate, .. } if checking => {
                self.ice.succeeded = true;
                if controlling && nominate {
                    self.select_pair();
                }
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
        self.timers.cancel(Timer::IceCheck);
        self.set_ice(IceConnectionState::Connected);
        self.arm_liveness();
        self.arm_keepalive();
        if !self.dtls.started {
            self.start_dtls();
        } else if self.profile.sctp_retransmits_on_ice_reselect {
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
        if self.profile.closes_when_dtls_ends {
            // The ICE connection is closed under the DTLS transport, which reads an error.
            if self.dtls.state == DtlsTransportState::Connected {
                self.set_dtls(DtlsTransportState::Closed);
                self.close();
                return;
            }
            if self.dtls.started && self.dtls.state == DtlsTransportState::Connecting {
                self.timers.cancel(Timer::DtlsRetransmit);
                self.set_dtls(DtlsTransportState::Failed);
            }
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
                    if self.profile.sctp_t3_backoff {
                        let cap = self.profile.sctp_max_backoff_ms.unwrap_or(SCTP_RTO_MAX_MS);
                        self.sctp.rto = (self.sctp.rto * 2).min(cap);
                    }
                    let at = self.now + self.sctp.rto;
                    self.timers.arm(Timer::SctpT3, at);
                }
            }
            Timer::SctpAck => {
                if self.sctp.ack_delayed && self.sctp.established {
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

    fn retransmit_now(&mut self) {
        let chunks: Vec<(u32, Chunk)> = self
            .sctp
            .outstanding
            .iter()
            .map(|(t, c)| (*t, c.clone()))
            .collect();
        for (tsn, chunk) in chunks {
            self.transmit_chunk(tsn, chunk);
        }
    }

    /// Sends a reliable chunk, in the same packet as the chunks sent before it in this
    /// input if nothing else went out in between and it fits the MTU.
    fn transmit_chunk(&mut self, tsn: u32, chunk: Chunk) {
        if !self.ice.selected {
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

    // ----- DTLS and SCTP handshakes --------------------------------------------------

    fn is_dtls_client(&self) -> bool {
        self.id == PeerId::B
    }

    fn start_dtls(&mut self) {
        self.dtls.started = true;
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
                    && !self.sctp.established
                    && !self.sctp.handshake_closed
                {
                    // The crate's server association reads `Closed` until the COOKIE
                    // ECHO, and its getter tests that first.
                    self.sctp.handshake_closed = true;
                    self.event(StackEvent::State(StateChange::Sctp(
                        SctpTransportState::Connecting,
                        SctpTransportState::Closed,
                    )));
                }
                self.send_handshake(2)
            }
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
        // One stream-id search for the whole batch (see `StreamIds`).
        let mut ids = None;
        for label in undialed {
            self.dial(&label, true, &mut ids, false);
        }
    }

    // ----- data channels -------------------------------------------------------------

    /// Opens the channel's stream: a negotiated channel is open at once (with an open
    /// event if `announce_open`), an in-band one sends DATA_CHANNEL_OPEN. An in-band
    /// channel takes its stream id from `ids` (started on first use; pass the same one
    /// to dials between which no stream is freed).
    /// `late`: created after the association came up (`late_inband_opens_async`).
    fn dial(&mut self, label: &str, announce_open: bool, ids: &mut Option<StreamIds>, late: bool) {
        let Some(ch) = self.channels.get(label) else {
            return;
        };
        let (negotiated, ordered) = (ch.negotiated, ch.ordered);
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

    fn open_channel(&mut self, label: &str) {
        self.set_channel_state(label, DataChannelState::Open);
        self.callback(label, Callback::Open);
        let (held, stream) = self
            .channels
            .get_mut(label)
            .map(|c| (std::mem::take(&mut c.held), c.stream))
            .unwrap_or_default();
        for msg in held {
            self.event(StackEvent::Message {
                channel: label.to_string(),
                msg,
                stream,
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
    fn dcep_deadline(&mut self, stream: u16) {
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
                match self.channel_state(&label) {
                    Some(DataChannelState::Open) => self.event(StackEvent::Message {
                        channel: label,
                        msg,
                        stream: Some(stream),
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
        self.transmit_chunk(tsn, chunk);
        if self.timers.deadline(Timer::SctpT3).is_none() {
            let at = self.now + self.sctp.rto;
            self.timers.arm(Timer::SctpT3, at);
        }
    }

    /// One SCTP packet of reliable chunks: each is taken in, then one ack decision.
    fn handle_sctp_data(&mut self, chunks: Vec<(u32, Chunk)>) {
        if !self.sctp.established {
            return; // not yet (or no longer) associated: the sender retransmits
        }
        let mut duplicate = false;
        for (tsn, chunk) in chunks {
            if tsn <= self.sctp.cum_received {
                duplicate = true;
                continue;
            }
            self.sctp.out_of_order.insert(tsn, chunk);
            while let Some(next) = self.sctp.out_of_order.remove(&(self.sctp.cum_received + 1)) {
                self.sctp.cum_received += 1;
                self.handle_chunk(next);
            }
        }
        // Delayed ack, as the crate does it (`handle_peer_last_tsn_and_acknowledgement`):
        // a lone packet is acknowledged 200 ms later, the second one at once; a gap (or a
        // duplicate) at once.
        let gap = !self.sctp.out_of_order.is_empty();
        if duplicate || gap || self.sctp.ack_delayed {
            self.send_sack();
        } else if self.sctp.established {
            self.sctp.ack_delayed = true;
            let at = self.now + SCTP_ACK_DELAY_MS;
            self.timers.arm(Timer::SctpAck, at);
        }
    }

    fn send_sack(&mut self) {
        self.sctp.ack_delayed = false;
        self.timers.cancel(Timer::SctpAck);
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
            match self.sctp.outstanding.remove(&tsn) {
                Some(Chunk::Data { stream, size, .. })
                    if !self.profile.buffered_amount_on_transmit =>
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
    fn add_dcep_buffered(&mut self, label: &str, size: usize) {
        if self.profile.dcep_in_buffered_amount {
            if let Some(ch) = self.channels.get_mut(label) {
                ch.buffered += size;
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
                if !self.dtls.started {
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

    /// The ICE connection state as the profile reports it (`completed` for `connected`
    /// with `ice_reports_completed`).
    fn reported_ice(&self, state: IceConnectionState) -> IceConnectionState {
        if self.profile.ice_reports_completed && state == IceConnectionState::Connected {
            IceConnectionState::Completed
        } else {
            state
        }
    }

    fn set_ice(&mut self, to: IceConnectionState) {
        let internal = std::mem::replace(&mut self.ice.state, to);
        let from = self.ice.shown.take().unwrap_or(internal);
        if self.profile.ice_restart_keeps_state
            && to == IceConnectionState::Checking
            && matches!(
                from,
                IceConnectionState::Connected | IceConnectionState::Disconnected
            )
        {
            // A restart: checking underneath, the old state on the surface.
            self.ice.shown = Some(from);
            self.ice.regather = true;
            return;
        }
        let (from, to) = (self.reported_ice(from), self.reported_ice(to));
        if from != to {
            let change = StackEvent::State(StateChange::IceConnection(from, to));
            if self.profile.pc_change_before_ice {
                self.update_pc_state();
                self.event(change);
            } else {
                self.event(change);
                self.update_pc_state();
            }
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
        let from = self.sctp_transport_state();
        self.sctp.state = to;
        self.sctp.handshake_closed = false;
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
        let to = derive_peer_connection_state(self.closed, self.ice_state(), self.dtls.state);
        let from = self.pc_state;
        // 0.21 latches closed.
        if from != to && from != PeerConnectionState::Closed {
            self.pc_state = to;
            self.event(StackEvent::State(StateChange::PeerConnection(from, to)));
        }
    }
}

/// The reliable chunks' bytes in an SCTP data packet (`None` for other packets).
fn chunk_bytes(packet: &Packet) -> Option<usize> {
    match packet {
        Packet::SctpData { chunk, .. } => Some(chunk_wire_size(chunk)),
        Packet::SctpBundle(chunks) => Some(chunks.iter().map(|(_, c)| chunk_wire_size(c)).sum()),
        _ => None,
    }
}

/// `packet` (a data packet) with one more chunk.
fn bundled(packet: Packet, tsn: u32, chunk: Chunk) -> Packet {
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
fn chunk_wire_size(chunk: &Chunk) -> usize {
    let payload = match chunk {
        Chunk::DcepOpen { label, .. } => dcep_open_size(label),
        Chunk::DcepAck { .. } => DCEP_ACK_SIZE,
        Chunk::Data { size, .. } => *size as usize,
        Chunk::StreamReset { .. } => 4, // a RE-CONFIG parameter, roughly
    };
    16 + payload.div_ceil(4) * 4
}

/// Size of a DATA_CHANNEL_ACK (RFC 8832 section 5.2: the message type alone).
const DCEP_ACK_SIZE: usize = 1;

/// Size of a DATA_CHANNEL_OPEN with an empty protocol (RFC 8832 section 5.1: 12 bytes of
/// header, then the label).
fn dcep_open_size(label: &str) -> usize {
    12 + label.len()
}

/// The search for a free stream id (RFC 8832: the DTLS client uses even ids, the
/// server odd ones): the lowest id of our parity that no stream uses and no negotiated
/// channel reserves. One search serves a batch of dials between which no id is freed
/// (the channels dialed when the association comes up) and resumes where it stopped:
/// searching from 0 for every dial, and rescanning every channel for every candidate,
/// made opening n channels quadratic (cubic before the scan was hoisted).
struct StreamIds {
    negotiated: BTreeSet<u16>,
    next: u16,
}

impl StreamIds {
    fn new(peer: &Peer) -> Self {
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
    fn take(&mut self, streams: &BTreeMap<u16, String>) -> u16 {
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

    fn channel_stream(&self, label: &str) -> Option<u16> {
        Peer::channel_stream(self, label)
    }
}
