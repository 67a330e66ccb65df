//! The wire form of a dcsim message: its id, then padding.
//!
//! `[msg id: u64 little-endian][zero padding up to size]`, at least 8 bytes, so that the
//! receiving peer can report which message arrived whatever the payload size.

use crate::trace::MsgId;

/// Bytes taken by the message id at the start of every payload.
pub(super) const ID_LEN: usize = 8;

/// The payload of message `msg` with `size` bytes (at least [`ID_LEN`]).
pub(super) fn encode(msg: MsgId, size: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; size.max(ID_LEN)];
    bytes[..ID_LEN].copy_from_slice(&msg.to_le_bytes());
    bytes
}

/// The message id at the start of `payload`; `None` if it is shorter than [`ID_LEN`].
pub(super) fn decode(payload: &[u8]) -> Option<MsgId> {
    let id: [u8; ID_LEN] = payload.get(..ID_LEN)?.try_into().ok()?;
    Some(MsgId::from_le_bytes(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads() {
        let bytes = encode(0x0102_0304_0506_0708, 20);
        assert_eq!(bytes.len(), 20);
        assert_eq!(bytes[0], 0x08);
        assert!(bytes[ID_LEN..].iter().all(|b| *b == 0));
        assert_eq!(decode(&bytes), Some(0x0102_0304_0506_0708));
    }

    #[test]
    fn never_shorter_than_the_id() {
        assert_eq!(encode(3, 0).len(), ID_LEN);
        assert_eq!(decode(&[1, 2, 3]), None);
    }
}
