//! [`Part`]: a piece of a [`super::world::State`] shared between states, with its
//! fingerprint cached; and the fingerprint hasher.
//!
//! One step of the world changes one peer, its application, the network and the
//! monitor, and leaves the other peer and its application as they were: the successor
//! shares the unchanged pieces (an `Arc` bump instead of a deep clone of maps and
//! strings), and comparing or hashing a state compares or hashes the cached
//! fingerprints first. (The explorer goes further and names each distinct piece by an
//! id, see `src/check/compact.rs`.)

use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The fingerprint of a value: [`FpHasher`] over its `Hash`.
pub fn fingerprint<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = FpHasher::default();
    value.hash(&mut h);
    h.finish()
}

/// A fast 64-bit hasher with fixed keys (so fingerprints are the same on every run):
/// two lanes, each a folded 64x64->128-bit multiply per word (the mixing of `ahash`'s
/// fallback and of `foldhash`), combined at the end. Not for adversarial input; states
/// are not adversarial.
#[derive(Clone, Copy, Debug)]
pub struct FpHasher {
    a: u64,
    b: u64,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;

#[inline]
fn fold(x: u64, k: u64) -> u64 {
    let r = u128::from(x) * u128::from(k);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Default for FpHasher {
    fn default() -> Self {
        FpHasher {
            a: 0x243F_6A88_85A3_08D3,
            b: 0x1319_8A2E_0370_7344,
        }
    }
}

impl FpHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.a = fold(self.a ^ w, K1);
        self.b = fold(self.b.rotate_left(23) ^ w, K2);
    }
}

impl Hasher for FpHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.a ^ self.b.rotate_left(32), K3)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.word(n as u64);
    }
}

/// Builds [`FpHasher`]s, for hash maps keyed by fingerprinted values.
pub type FpBuild = std::hash::BuildHasherDefault<FpHasher>;

/// A shared piece of a state with its fingerprint cached (a step replaces a piece, it
/// never changes one in place).
///
/// Equality compares fingerprints first, then (unless both point at the same value) the
/// values. `Hash` writes the cached fingerprint.
#[derive(Debug)]
pub struct Part<T> {
    value: Arc<T>,
    hash: u64,
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        Part {
            value: Arc::clone(&self.value),
            hash: self.hash,
        }
    }
}

impl<T: Hash + Clone> Part<T> {
    /// A new part.
    pub fn new(value: T) -> Self {
        let hash = fingerprint(&value);
        Part {
            value: Arc::new(value),
            hash,
        }
    }
}

impl<T> std::ops::Deref for Part<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Part<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.value, &other.value) || *self.value == *other.value)
    }
}

impl<T: Eq> Eq for Part<T> {}

impl<T> Hash for Part<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_equal_fingerprints_and_parts() {
        let a = Part::new(vec![1u32, 2, 3]);
        let b = Part::new(vec![1u32, 2]);
        assert_ne!(a, b);
        let c = Part::new(vec![1u32, 2, 3]);
        assert_eq!(a, c);
        assert_eq!(fingerprint(&a), fingerprint(&c));
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn hasher_separates_lengths_and_order() {
        assert_ne!(fingerprint(&[1u8, 2]), fingerprint(&[2u8, 1]));
        assert_ne!(fingerprint(&[0u8; 3][..]), fingerprint(&[0u8; 4][..]));
        assert_ne!(fingerprint(&(1u64, 0u64)), fingerprint(&(0u64, 1u64)));
    }
}
