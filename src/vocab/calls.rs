//! What an application asks of a stack and what the stack tells it: calls, their
//! results and errors, state changes and callbacks (the words of the `Stack` trait).

use super::ids::{Machine, MsgId};
use super::states::{
    DataChannelState, DtlsTransportState, IceConnectionState, IceGatheringState,
    PeerConnectionState, SctpTransportState, SignalingState,
};
use serde::{Deserialize, Serialize};

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
        /// Reliable, or partially reliable (`maxRetransmits` / `maxPacketLifeTime`).
        reliability: Reliability,
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

/// How hard a channel's messages are tried (RFC 8831 section 6.1, partial reliability of
/// RFC 3758): a message that runs out of tries is abandoned by the sender, and the
/// receiver is told to skip it (FORWARD-TSN). Unreliable channels lose messages by
/// contract; a reliable one must not.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Reliability {
    /// Retransmitted until acknowledged (the default).
    #[default]
    Reliable,
    /// `maxRetransmits`: sent at most 1 + n times (0: once, a UDP-like channel).
    MaxRetransmits(u16),
    /// `maxPacketLifeTime`, in ms: not retransmitted once this old.
    MaxPacketLifeTime(u16),
}

impl Reliability {
    /// Partially reliable: a message may be abandoned.
    pub fn is_partial(self) -> bool {
        self != Reliability::Reliable
    }
}

/// What an application call returned: `Ok`, or the error with its kind and text.
pub type AppResult = Result<(), CallError>;

pub use self::SendErrorKind as ErrorKind;

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
        /// It came on an unordered channel (handed over as it arrived, so it may overtake
        /// a message sent before it).
        unordered: bool,
    },
}

/// What the transport said when it refused a message the guard had released: the
/// check-then-send race, seen from the other side. Maps the `webrtc` 0.21.1 send errors
/// (docs/guard.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// `ErrDataChannelNotOpen` ("data channel is not open yet"): the channel may still
    /// open. The message goes back to the front of the queue and the guard treats the
    /// channel as connecting until it is reported open again.
    NotOpen,
    /// `ErrDataChannelClosed` ("data channel closed"): closed is terminal. The message
    /// and everything queued are dropped as `channel-closed`.
    Closed,
    /// `ErrOutboundPacketTooLarge`: the transport's limit is below the guard's. This
    /// message is dropped as `too-large`; the rest carry on.
    TooLarge,
    /// `ErrSendBufferFull`: back-pressure. The message goes back to the front and the
    /// guard holds until `Guard::on_writable`.
    BufferFull,
    /// Any other error. Treated like `BufferFull`: kept (never silently lost), held until
    /// `on_writable`, and subject to the TTL and close like any queued message.
    Other,
}

impl SendErrorKind {
    /// Classifies the error text of a send, as the simulator's `Stack` returns it, for
    /// both profiles:
    ///
    /// | text | kind |
    /// |---|---|
    /// | `data channel is not open yet` (webrtc-rs) | `NotOpen` |
    /// | anything with `closed` (`data channel closed`, `InvalidStateError: peer connection is closed`) | `Closed` |
    /// | `outbound packet larger than maximum message size`, `TypeError: ...` | `TooLarge` |
    /// | `data channel send buffer full`, `OperationError: ...` | `BufferFull` |
    /// | other `InvalidStateError` (W3C: readyState is not 'open', connecting or closed alike), `DataChannel is not opened` (0.17) | `NotOpen` |
    /// | anything else | `Other` |
    ///
    /// The ambiguous "not open" texts map to `NotOpen` (hold), which is safe: if the
    /// channel is in fact closed, its close report drops the message as channel-closed.
    pub fn from_error_text(text: &str) -> SendErrorKind {
        if text == "data channel is not open yet" {
            SendErrorKind::NotOpen
        } else if text.contains("closed") {
            SendErrorKind::Closed
        } else if text.contains("larger than maximum message size") || text.starts_with("TypeError")
        {
            SendErrorKind::TooLarge
        } else if text.contains("send buffer full") || text.starts_with("OperationError") {
            SendErrorKind::BufferFull
        } else if text.starts_with("InvalidStateError") || text == "DataChannel is not opened" {
            SendErrorKind::NotOpen
        } else {
            SendErrorKind::Other
        }
    }
}
