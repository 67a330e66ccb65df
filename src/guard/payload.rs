//! [`Payload`]: what the guard needs to know about a message (its size), so that one
//! guard serves the simulator ([`SizedMsg`]) and real applications (bytes and text).

use crate::vocab::MsgId;
use serde::{Deserialize, Serialize};

/// A message the guard can hold. Only its byte length matters to the guard: it is
/// compared with the maximum message size and summed into the queue's byte bound.
pub trait Payload {
    /// Length in bytes as the transport counts it (UTF-8 bytes for text).
    fn byte_len(&self) -> usize;
}

impl Payload for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl Payload for Box<[u8]> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl Payload for String {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl Payload for &'static str {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

#[cfg(feature = "bytes")]
impl Payload for bytes::Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

#[cfg(feature = "bytes")]
impl Payload for bytes::BytesMut {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// The simulator's message: an id and a size, no bytes. The id travels with it so the
/// receiving side can report which message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SizedMsg {
    /// Message id (the same id given to [`Guard::send`](super::Guard::send)).
    pub id: MsgId,
    /// Payload size in bytes.
    pub size: usize,
}

impl Payload for SizedMsg {
    fn byte_len(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_bytes() {
        assert_eq!(vec![0u8; 3].byte_len(), 3);
        assert_eq!(String::from("é").byte_len(), 2);
        assert_eq!("abc".byte_len(), 3);
        assert_eq!(
            SizedMsg {
                id: 1,
                size: 70_000
            }
            .byte_len(),
            70_000
        );
    }
}
