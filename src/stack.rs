//! The `Stack` trait: one peer's protocol stack as the simulator sees it.
//!
//! Implemented by the model peer ([`crate::model::Peer`]) and by the real `rtc` 0.21.1
//! peer connection, so that both run under the same simulator, faults and application.
//! Sans-IO in the quinn-proto / str0m style: the caller feeds time, datagrams and
//! application calls in, and drains datagrams and events out.
//!
//! The run loop, written once:
//!
//! ```text
//! loop {
//!     while let Some(d) = stack.poll_transmit() { send d to the other peer }
//!     while let Some(e) = stack.poll_event()    { record e, tell the app }
//!     wait until the earliest of: a datagram arrives (handle_datagram),
//!         stack.poll_timeout() (handle_timeout), the next app step (handle_app)
//! }
//! ```

use crate::model::{
    DataChannelState, DtlsTransportState, IceConnectionState, IceGatheringState,
    PeerConnectionState, SctpTransportState, SignalingState,
};
use crate::trace::{Machine, Millis, MsgId};

/// An application call on a peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AppCall {
    /// `createDataChannel(label, {negotiated, id, ordered})`.
    CreateChannel {
        /// Label, unique per peer in dcsim.
        label: String,
        /// `Some(id)` for a negotiated (out-of-band) channel.
        negotiated: Option<u16>,
        /// Ordered delivery.
        ordered: bool,
    },
    /// The bare `send` on a channel (text or binary of `size` bytes).
    Send {
        /// Channel label.
        channel: String,
        /// Message id (travels in the payload).
        msg: MsgId,
        /// Payload size in bytes.
        size: usize,
    },
    /// `channel.close()`.
    CloseChannel {
        /// Channel label.
        channel: String,
    },
    /// `pc.close()`.
    ClosePeer,
    /// `pc.restartIce()` followed by a new offer/answer.
    IceRestart,
}

/// What an application call returned: `Ok`, or the error with its kind and text.
pub type AppResult = Result<(), CallError>;

pub use crate::guard::SendErrorKind as ErrorKind;

/// A refused application call: the kind the stack's own error type tells (the crate's
/// error variant, the DOMException name), which is what a guard decides on, beside the
/// exact text the application would see, which is what the trace shows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallError {
    /// What kind of refusal (as the error's type tells it, never its text).
    pub kind: ErrorKind,
    /// The crate's (or the profile's) exact text.
    pub text: String,
}

impl CallError {
    /// An error of `kind` with `text`.
    pub fn new(kind: ErrorKind, text: impl Into<String>) -> Self {
        CallError {
            kind,
            text: text.into(),
        }
    }

    /// An error no guard decision depends on (signaling, duplicate labels, ...).
    pub fn other(text: impl Into<String>) -> Self {
        CallError::new(ErrorKind::Other, text)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CallError {}

impl From<CallError> for String {
    /// The text, for callers that report errors as strings.
    fn from(error: CallError) -> String {
        error.text
    }
}

/// A state change of one of the peer's machines, with typed states.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StateChange {
    /// Signaling state.
    Signaling(SignalingState, SignalingState),
    /// ICE gathering state.
    IceGathering(IceGatheringState, IceGatheringState),
    /// ICE connection state.
    IceConnection(IceConnectionState, IceConnectionState),
    /// Peer connection state.
    PeerConnection(PeerConnectionState, PeerConnectionState),
    /// DTLS transport state.
    Dtls(DtlsTransportState, DtlsTransportState),
    /// SCTP transport state.
    Sctp(SctpTransportState, SctpTransportState),
    /// A data channel's readyState (label, from, to).
    DataChannel(String, DataChannelState, DataChannelState),
}

impl StateChange {
    /// Which machine changed.
    pub fn machine(&self) -> Machine {
        match self {
            StateChange::Signaling(..) => Machine::Signaling,
            StateChange::IceGathering(..) => Machine::IceGathering,
            StateChange::IceConnection(..) => Machine::IceConnection,
            StateChange::PeerConnection(..) => Machine::PeerConnection,
            StateChange::Dtls(..) => Machine::Dtls,
            StateChange::Sctp(..) => Machine::Sctp,
            StateChange::DataChannel(..) => Machine::DataChannel,
        }
    }

    /// The channel label, for data-channel changes.
    pub fn channel(&self) -> Option<&str> {
        match self {
            StateChange::DataChannel(label, ..) => Some(label),
            _ => None,
        }
    }

    /// (from, to) as the crate's Display strings.
    pub fn strings(&self) -> (&'static str, &'static str) {
        match self {
            StateChange::Signaling(a, b) => (a.as_str(), b.as_str()),
            StateChange::IceGathering(a, b) => (a.as_str(), b.as_str()),
            StateChange::IceConnection(a, b) => (a.as_str(), b.as_str()),
            StateChange::PeerConnection(a, b) => (a.as_str(), b.as_str()),
            StateChange::Dtls(a, b) => (a.as_str(), b.as_str()),
            StateChange::Sctp(a, b) => (a.as_str(), b.as_str()),
            StateChange::DataChannel(_, a, b) => (a.as_str(), b.as_str()),
        }
    }
}

/// Application-visible data-channel callbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Callback {
    /// `ondatachannel` (a remote in-band channel announced).
    DataChannel,
    /// `onopen`.
    Open,
    /// `onclosing` (w3c only).
    Closing,
    /// `onclose`.
    Close,
    /// `onerror`.
    Error,
    /// `onbufferedamountlow`.
    BufferedAmountLow,
    /// `onbufferedamounthigh` (webrtc-rs only).
    BufferedAmountHigh,
}

impl Callback {
    /// The trace name.
    pub fn as_str(self) -> &'static str {
        match self {
            Callback::DataChannel => "datachannel",
            Callback::Open => "open",
            Callback::Closing => "closing",
            Callback::Close => "close",
            Callback::Error => "error",
            Callback::BufferedAmountLow => "bufferedamountlow",
            Callback::BufferedAmountHigh => "bufferedamounthigh",
        }
    }
}

/// Something the stack tells its application.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StackEvent {
    /// A machine changed state.
    State(StateChange),
    /// A channel callback fired.
    Callback {
        /// Channel label.
        channel: String,
        /// Which callback.
        callback: Callback,
    },
    /// A message arrived for the application.
    Message {
        /// Channel label.
        channel: String,
        /// Message id (from the payload).
        msg: MsgId,
        /// The SCTP stream it arrived on: the channel's identity on the wire (labels
        /// need not be unique, and a stream id outlives a closed channel's label).
        stream: Option<u16>,
    },
}

/// One peer's protocol stack, driven with virtual time (milliseconds since the run began).
pub trait Stack {
    /// Creates the local description (offer on `a`, answer on `b` after the offer).
    fn create_description(&mut self, now: Millis) -> Result<String, String>;
    /// Applies the remote description.
    fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String>;
    /// An application call; returns what the real API would return.
    fn handle_app(&mut self, now: Millis, call: AppCall) -> AppResult;
    /// A datagram from the other peer.
    fn handle_datagram(&mut self, now: Millis, datagram: &[u8]);
    /// Time has advanced to `now` (fires every timer due by then).
    fn handle_timeout(&mut self, now: Millis);
    /// The next datagram to send to the other peer.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// The next event for the application.
    fn poll_event(&mut self) -> Option<StackEvent>;
    /// When `handle_timeout` must next be called; `None` when nothing is armed.
    fn poll_timeout(&self) -> Option<Millis>;
    /// The channel's readyState as the application would read it now.
    fn channel_state(&self, label: &str) -> Option<DataChannelState>;
    /// The SCTP stream id of the channel labelled `label`, once it has one (W3C's
    /// `RTCDataChannel.id`): what the monitor pairs a send with its delivery by.
    fn channel_stream(&self, label: &str) -> Option<u16>;
}

/// One thing a stack puts out, in the order it put it out: a datagram for the other peer
/// or an event for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackOutput<T> {
    /// Send this datagram (`T`: bytes, or the model's typed packet).
    Transmit(T),
    /// Tell the application (and the record).
    Event(StackEvent),
}

impl From<crate::model::Output> for StackOutput<crate::model::Packet> {
    fn from(output: crate::model::Output) -> Self {
        match output {
            crate::model::Output::Transmit(packet) => StackOutput::Transmit(packet),
            crate::model::Output::Event(event) => StackOutput::Event(event),
        }
    }
}

/// The one output drain every driver uses (the simulator's engines, the checker's step,
/// the fuzz harness, the model pair): takes what `poll` gives until the stack is quiet,
/// hands each datagram to `transmit` and each event to `event`. `event` records it and
/// tells the application, which may call the stack and so make more output: the same
/// loop drains that too. `cx` is whatever holds the stack and the application.
pub fn drain<C: ?Sized, T>(
    cx: &mut C,
    mut poll: impl FnMut(&mut C) -> Option<StackOutput<T>>,
    mut transmit: impl FnMut(&mut C, T),
    mut event: impl FnMut(&mut C, StackEvent),
) {
    while let Some(output) = poll(cx) {
        match output {
            StackOutput::Transmit(datagram) => transmit(cx, datagram),
            StackOutput::Event(e) => event(cx, e),
        }
    }
}

/// The next output of a [`Stack`], in rounds: every datagram it has, then every event
/// (whose handlers may queue more datagrams), then the next round, until a round finds
/// nothing. `events` keeps which half of the round the drain is in (start it `false`).
pub fn poll_rounds(stack: &mut dyn Stack, events: &mut bool) -> Option<StackOutput<Vec<u8>>> {
    if !*events {
        if let Some(datagram) = stack.poll_transmit() {
            return Some(StackOutput::Transmit(datagram));
        }
        *events = true;
    }
    if let Some(event) = stack.poll_event() {
        return Some(StackOutput::Event(event));
    }
    *events = false;
    stack.poll_transmit().map(StackOutput::Transmit)
}
