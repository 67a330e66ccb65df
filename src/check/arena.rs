//! [`Arena`]: every distinct value of one kind of state piece, once, named by a `u32` id.
//!
//! The explorer's states are a handful of ids ([`super::compact`]). Equal values get
//! equal ids, so two states are equal exactly when their ids are, a transition can be
//! remembered by the ids it started from, and a state costs a few words instead of
//! reference-counted pointers whose counts sit in cache lines all over the heap. The
//! arena only grows: an exploration's distinct pieces are few (the default world has
//! about 8 100 peers, 450 applications, 5 400 monitors and 3 100 sets of packets in
//! flight to one peer for its 6.2 million states).
//!
//! Shared by the explorer's threads: reading a value or its fingerprint takes no lock
//! (`boxcar`'s append-only vector); adding one takes the arena's lock, which only a
//! cache miss does.

use super::part::FpBuild;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Distinct values with their fingerprints, each named by its index.
pub(crate) struct Arena<T> {
    items: boxcar::Vec<(u64, T)>,
    /// Fingerprint -> the ids of the values that have it.
    index: Mutex<Index>,
}

/// Fingerprint -> the first id with it, and the others (distinct values that share a
/// fingerprint: almost never) on the side, so that an entry is 12 bytes, not a vector.
#[derive(Default)]
struct Index {
    first: HashMap<u64, u32, FpBuild>,
    others: HashMap<u64, Vec<u32>, FpBuild>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: boxcar::Vec::new(),
            index: Mutex::default(),
        }
    }
}

impl<T: Eq> Arena<T> {
    /// The id of `value`, whose fingerprint is `fp`: the id of an equal value already
    /// here, or a new one.
    pub(crate) fn intern(&self, fp: u64, value: T) -> u32 {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let first = index.first.get(&fp).copied();
        let same = |id: &u32| self.items[*id as usize].1 == value;
        if let Some(id) = first.filter(same) {
            return id;
        }
        if let Some(&id) = index
            .others
            .get(&fp)
            .and_then(|o| o.iter().find(|id| same(id)))
        {
            return id;
        }
        let id = u32::try_from(self.items.push((fp, value)))
            .expect("fewer than 2^32 distinct pieces of one kind");
        match first {
            None => {
                index.first.insert(fp, id);
            }
            Some(_) => index.others.entry(fp).or_default().push(id),
        }
        id
    }
}

impl<T> Arena<T> {
    /// The value named `id` (an id this arena handed out).
    #[inline]
    pub(crate) fn get(&self, id: u32) -> &T {
        &self.items[id as usize].1
    }

    /// The fingerprint of the value named `id`.
    #[inline]
    pub(crate) fn fp(&self, id: u32) -> u64 {
        self.items[id as usize].0
    }

    /// Distinct values held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_one_id_and_collisions_kept_apart() {
        let arena = Arena::default();
        let a = arena.intern(1, "a");
        assert_eq!(arena.intern(1, "a"), a);
        // Same fingerprint, different value: a new id.
        let b = arena.intern(1, "b");
        assert_ne!(a, b);
        assert_eq!((arena.get(a), arena.get(b)), (&"a", &"b"));
        assert_eq!(arena.fp(b), 1);
        assert_eq!(arena.len(), 2);
    }
}
