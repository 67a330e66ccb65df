//! Time and identities: the words every layer uses (virtual milliseconds, message and
//! peer ids, the names of the state machines).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the start of the run: the one time type of dcsim.
pub type Millis = u64;

/// Message id, unique within a run, assigned by the application driver.
pub type MsgId = u64;

/// Which peer: `a` is the offerer (ICE controlling), `b` the answerer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerId {
    /// The offerer.
    A,
    /// The answerer.
    B,
}

impl PeerId {
    /// Both peers, in lane order.
    pub const BOTH: [PeerId; 2] = [PeerId::A, PeerId::B];

    /// The other peer.
    pub fn other(self) -> PeerId {
        match self {
            PeerId::A => PeerId::B,
            PeerId::B => PeerId::A,
        }
    }

    /// `"a"` or `"b"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerId::A => "a",
            PeerId::B => "b",
        }
    }

    /// Index for two-element arrays.
    pub fn index(self) -> usize {
        match self {
            PeerId::A => 0,
            PeerId::B => 1,
        }
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state machines a `state` event can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Machine {
    /// `RTCSignalingState`.
    Signaling,
    /// `RTCIceGatheringState`.
    IceGathering,
    /// `RTCIceConnectionState`.
    IceConnection,
    /// `RTCPeerConnectionState`.
    PeerConnection,
    /// `RTCDtlsTransportState`.
    Dtls,
    /// `RTCSctpTransportState`.
    Sctp,
    /// `RTCDataChannelState` (the event names the channel).
    DataChannel,
}

impl Machine {
    /// Every machine, in declaration order (`Machine::ALL[m as usize] == m`).
    pub const ALL: [Machine; 7] = [
        Machine::Signaling,
        Machine::IceGathering,
        Machine::IceConnection,
        Machine::PeerConnection,
        Machine::Dtls,
        Machine::Sctp,
        Machine::DataChannel,
    ];

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Machine::Signaling => "signaling",
            Machine::IceGathering => "ice_gathering",
            Machine::IceConnection => "ice_connection",
            Machine::PeerConnection => "peer_connection",
            Machine::Dtls => "dtls",
            Machine::Sctp => "sctp",
            Machine::DataChannel => "data_channel",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
