//! The abstract protocol messages two model peers exchange. Not bytes on the wire, but
//! the same conversation: STUN checks and consent, DTLS flights, the SCTP association,
//! DCEP, user data, stream resets, ABORT and close_notify.

use crate::vocab::{MsgId, Reliability};
use serde::{Deserialize, Serialize};

/// One datagram between the peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Packet {
    /// STUN binding request: a connectivity check, or a consent check once connected.
    /// `generation` is the ICE credentials generation (bumped by an ICE restart).
    StunRequest {
        /// ICE credentials generation.
        generation: u32,
        /// USE-CANDIDATE: the controlling agent nominates the pair.
        nominate: bool,
    },
    /// STUN binding success response.
    StunResponse {
        /// ICE credentials generation.
        generation: u32,
        /// It answers a nominating request (USE-CANDIDATE): the controlling agent selects
        /// the pair when this arrives.
        nominate: bool,
    },
    /// DTLS handshake flight 1..=6 (client sends odd, server even flights).
    DtlsFlight(u8),
    /// DTLS close_notify alert.
    DtlsCloseNotify,
    /// SCTP INIT (client) / INIT ACK (server) / COOKIE ECHO / COOKIE ACK, as 1..=4.
    SctpHandshake(u8),
    /// A reliable SCTP chunk with its TSN.
    SctpData {
        /// Transmission sequence number.
        tsn: u32,
        /// What it carries.
        chunk: Chunk,
    },
    /// Several reliable SCTP chunks in one packet: the chunks one step of the stack
    /// queued together, up to the path MTU (the crate bundles them the same way). A lone
    /// chunk travels as [`Packet::SctpData`].
    SctpBundle(Vec<(u32, Chunk)>),
    /// Selective ack: every TSN up to and including `cum_tsn` arrived.
    SctpSack {
        /// Cumulative TSN ack.
        cum_tsn: u32,
        /// The highest TSN that arrived: above `cum_tsn` when a gap is open (the end of
        /// the SACK's last gap block; the sender counts it as a miss indication of the
        /// chunk after `cum_tsn`). Equal to `cum_tsn` without SCTP timing
        /// ([`crate::model::PeerConfig::sctp_timing`]).
        #[serde(default)]
        highest_tsn: u32,
    },
    /// SCTP ABORT (peer connection closed).
    SctpAbort,
    /// FORWARD-TSN (RFC 3758): the sender abandoned every chunk up to `new_cum_tsn` (a
    /// partially reliable channel's message ran out of tries); the receiver moves its
    /// cumulative TSN there and stops waiting for them.
    SctpForwardTsn {
        /// The new cumulative TSN.
        new_cum_tsn: u32,
    },
}

/// The payload of a reliable SCTP chunk.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Chunk {
    /// DATA_CHANNEL_OPEN.
    DcepOpen {
        /// Stream id.
        stream: u16,
        /// Channel label.
        label: String,
        /// Ordered delivery.
        ordered: bool,
        /// The channel type's reliability (both directions use it).
        reliability: Reliability,
    },
    /// DATA_CHANNEL_ACK.
    DcepAck {
        /// Stream id.
        stream: u16,
    },
    /// A user message.
    Data {
        /// Stream id.
        stream: u16,
        /// Message id.
        msg: MsgId,
        /// Size in bytes.
        size: u32,
    },
    /// Outgoing stream reset request (RE-CONFIG), i.e. the channel is closed.
    StreamReset {
        /// Stream id.
        stream: u16,
    },
}

impl Packet {
    /// Encodes for a datagram socket.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a datagram; `None` for anything that is not a model packet.
    pub fn decode(bytes: &[u8]) -> Option<Packet> {
        serde_json::from_slice(bytes).ok()
    }

    /// True for STUN (the only traffic that refreshes ICE consent).
    pub fn is_stun(&self) -> bool {
        matches!(
            self,
            Packet::StunRequest { .. } | Packet::StunResponse { .. }
        )
    }
}
