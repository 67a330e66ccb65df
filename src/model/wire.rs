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
    /// Encodes for a datagram socket: a tag byte per variant, then the fields in order,
    /// integers little-endian, a label as its length (`u32`) and UTF-8 bytes. (The
    /// simulator encodes and decodes every datagram of a run; JSON took a tenth of a
    /// run's time.)
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match self {
            Packet::StunRequest {
                generation,
                nominate,
            } => {
                out.push(0);
                put_u32(&mut out, *generation);
                out.push(u8::from(*nominate));
            }
            Packet::StunResponse {
                generation,
                nominate,
            } => {
                out.push(1);
                put_u32(&mut out, *generation);
                out.push(u8::from(*nominate));
            }
            Packet::DtlsFlight(n) => out.extend([2, *n]),
            Packet::DtlsCloseNotify => out.push(3),
            Packet::SctpHandshake(n) => out.extend([4, *n]),
            Packet::SctpData { tsn, chunk } => {
                out.push(5);
                put_u32(&mut out, *tsn);
                chunk.encode(&mut out);
            }
            Packet::SctpBundle(chunks) => {
                out.push(6);
                put_u32(&mut out, u32::try_from(chunks.len()).unwrap_or(u32::MAX));
                for (tsn, chunk) in chunks {
                    put_u32(&mut out, *tsn);
                    chunk.encode(&mut out);
                }
            }
            Packet::SctpSack {
                cum_tsn,
                highest_tsn,
            } => {
                out.push(7);
                put_u32(&mut out, *cum_tsn);
                put_u32(&mut out, *highest_tsn);
            }
            Packet::SctpAbort => out.push(8),
            Packet::SctpForwardTsn { new_cum_tsn } => {
                out.push(9);
                put_u32(&mut out, *new_cum_tsn);
            }
        }
        out
    }

    /// Decodes a datagram; `None` for anything that is not a model packet (unknown tag,
    /// too short, bytes left over).
    pub fn decode(bytes: &[u8]) -> Option<Packet> {
        let mut r = Reader(bytes);
        let packet = match r.u8()? {
            0 => Packet::StunRequest {
                generation: r.u32()?,
                nominate: r.bool()?,
            },
            1 => Packet::StunResponse {
                generation: r.u32()?,
                nominate: r.bool()?,
            },
            2 => Packet::DtlsFlight(r.u8()?),
            3 => Packet::DtlsCloseNotify,
            4 => Packet::SctpHandshake(r.u8()?),
            5 => Packet::SctpData {
                tsn: r.u32()?,
                chunk: Chunk::decode(&mut r)?,
            },
            6 => {
                let n = r.u32()?;
                // Each chunk takes at least 7 bytes: a count the rest cannot hold is
                // not a packet (and allocates nothing).
                if n as usize > r.0.len() / 7 {
                    return None;
                }
                let mut chunks = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    chunks.push((r.u32()?, Chunk::decode(&mut r)?));
                }
                Packet::SctpBundle(chunks)
            }
            7 => Packet::SctpSack {
                cum_tsn: r.u32()?,
                highest_tsn: r.u32()?,
            },
            8 => Packet::SctpAbort,
            9 => Packet::SctpForwardTsn {
                new_cum_tsn: r.u32()?,
            },
            _ => return None,
        };
        r.0.is_empty().then_some(packet)
    }

    /// True for STUN (the only traffic that refreshes ICE consent).
    pub fn is_stun(&self) -> bool {
        matches!(
            self,
            Packet::StunRequest { .. } | Packet::StunResponse { .. }
        )
    }
}

impl Chunk {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Chunk::DcepOpen {
                stream,
                label,
                ordered,
                reliability,
            } => {
                out.push(0);
                out.extend(stream.to_le_bytes());
                put_u32(out, u32::try_from(label.len()).unwrap_or(u32::MAX));
                out.extend(label.as_bytes());
                out.push(u8::from(*ordered));
                let (kind, value) = match reliability {
                    Reliability::Reliable => (0, 0),
                    Reliability::MaxRetransmits(n) => (1, *n),
                    Reliability::MaxPacketLifeTime(ms) => (2, *ms),
                };
                out.push(kind);
                out.extend(value.to_le_bytes());
            }
            Chunk::DcepAck { stream } => {
                out.push(1);
                out.extend(stream.to_le_bytes());
            }
            Chunk::Data { stream, msg, size } => {
                out.push(2);
                out.extend(stream.to_le_bytes());
                out.extend(msg.to_le_bytes());
                put_u32(out, *size);
            }
            Chunk::StreamReset { stream } => {
                out.push(3);
                out.extend(stream.to_le_bytes());
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Option<Chunk> {
        Some(match r.u8()? {
            0 => {
                let stream = r.u16()?;
                let len = r.u32()? as usize;
                let label = std::str::from_utf8(r.take(len)?).ok()?.to_string();
                let ordered = r.bool()?;
                let reliability = match (r.u8()?, r.u16()?) {
                    (0, 0) => Reliability::Reliable,
                    (1, n) => Reliability::MaxRetransmits(n),
                    (2, ms) => Reliability::MaxPacketLifeTime(ms),
                    _ => return None,
                };
                Chunk::DcepOpen {
                    stream,
                    label,
                    ordered,
                    reliability,
                }
            }
            1 => Chunk::DcepAck { stream: r.u16()? },
            2 => Chunk::Data {
                stream: r.u16()?,
                msg: r.u64()?,
                size: r.u32()?,
            },
            3 => Chunk::StreamReset { stream: r.u16()? },
            _ => return None,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend(v.to_le_bytes());
}

/// The bytes of a datagram not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks() -> Vec<Chunk> {
        vec![
            Chunk::DcepOpen {
                stream: 1,
                label: "chat".into(),
                ordered: true,
                reliability: Reliability::Reliable,
            },
            Chunk::DcepOpen {
                stream: u16::MAX,
                label: String::new(),
                ordered: false,
                reliability: Reliability::MaxRetransmits(3),
            },
            Chunk::DcepOpen {
                stream: 0,
                label: "ünïcode label".into(),
                ordered: true,
                reliability: Reliability::MaxPacketLifeTime(u16::MAX),
            },
            Chunk::DcepAck { stream: 7 },
            Chunk::Data {
                stream: 3,
                msg: u64::MAX,
                size: 70_000,
            },
            Chunk::StreamReset { stream: 9 },
        ]
    }

    fn packets() -> Vec<Packet> {
        let mut packets = vec![
            Packet::StunRequest {
                generation: 0,
                nominate: true,
            },
            Packet::StunResponse {
                generation: u32::MAX,
                nominate: false,
            },
            Packet::DtlsFlight(6),
            Packet::DtlsCloseNotify,
            Packet::SctpHandshake(4),
            Packet::SctpBundle(Vec::new()),
            Packet::SctpBundle(chunks().into_iter().zip(1..).map(|(c, t)| (t, c)).collect()),
            Packet::SctpSack {
                cum_tsn: 10,
                highest_tsn: 12,
            },
            Packet::SctpAbort,
            Packet::SctpForwardTsn { new_cum_tsn: 99 },
        ];
        packets.extend(
            chunks()
                .into_iter()
                .map(|chunk| Packet::SctpData { tsn: 5, chunk }),
        );
        packets
    }

    #[test]
    fn every_packet_decodes_to_itself_and_nothing_else_decodes() {
        let all = packets();
        for p in &all {
            let bytes = p.encode();
            assert_eq!(Packet::decode(&bytes).as_ref(), Some(p), "{p:?}");
            // Every cut of a packet and every packet with a byte more is not one.
            for cut in 0..bytes.len() {
                assert_eq!(Packet::decode(&bytes[..cut]), None, "{p:?} cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Packet::decode(&longer), None, "{p:?} with a byte more");
        }
        // Distinct packets, distinct bytes.
        let encoded: std::collections::BTreeSet<Vec<u8>> = all.iter().map(Packet::encode).collect();
        assert_eq!(encoded.len(), all.len());
        for bad in [
            &[10u8][..],
            &[255],
            &[0, 0, 0, 0, 0, 2],
            &[6, 255, 255, 255, 255],
        ] {
            assert_eq!(Packet::decode(bad), None, "{bad:?}");
        }
    }
}
