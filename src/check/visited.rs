//! [`Fingerprints`]: the explorer's visited set, 64-bit state fingerprints in one flat
//! open-addressing table.
//!
//! A lookup is one probe into one array of `u64`s, usually one cache line, where a
//! general hash set reads a control byte and then the bucket, two lines apart. With
//! millions of states the set is far larger than the CPU caches, so every lookup is a
//! cache miss and the number of lines touched is the cost.

/// A set of 64-bit fingerprints (linear probing; 0 marks an empty slot, and the
/// fingerprint 0 is kept on the side).
#[derive(Debug)]
pub(crate) struct Fingerprints {
    slots: Vec<u64>,
    len: usize,
    zero: bool,
}

/// Slots of a new set.
const INITIAL: usize = 1 << 16;

impl Default for Fingerprints {
    fn default() -> Self {
        Fingerprints {
            slots: vec![0; INITIAL],
            len: 0,
            zero: false,
        }
    }
}

impl Fingerprints {
    /// The first slot to look at for `fp` (fingerprints are already well mixed).
    #[inline]
    fn home(&self, fp: u64) -> usize {
        (fp as usize) & (self.slots.len() - 1)
    }

    /// `fp` is in the set.
    #[inline]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        if fp == 0 {
            return self.zero;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(fp);
        loop {
            match self.slots[i] {
                0 => return false,
                x if x == fp => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds `fp`; false if it was there already.
    #[inline]
    pub(crate) fn insert(&mut self, fp: u64) -> bool {
        if fp == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(fp);
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = fp;
                    self.len += 1;
                    return true;
                }
                x if x == fp => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Fingerprints held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len + usize::from(self.zero)
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for fp in old.into_iter().filter(|&fp| fp != 0) {
            let mut i = self.home(fp);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = fp;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_of_fingerprints() {
        let mut set = Fingerprints::default();
        let fps: Vec<u64> = (0..200_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &fp in &fps {
            assert!(set.insert(fp));
        }
        for &fp in &fps {
            assert!(!set.insert(fp));
            assert!(set.contains(fp));
        }
        assert!(!set.contains(12345));
        assert!(fps.contains(&0));
        assert_eq!(set.len(), fps.len());
        // Colliding home slots probe on.
        let mut set = Fingerprints::default();
        for k in 1..100u64 {
            assert!(set.insert(k << 40));
        }
        assert!((1..100u64).all(|k| set.contains(k << 40)));
        assert!(!set.contains(100 << 40));
    }
}
