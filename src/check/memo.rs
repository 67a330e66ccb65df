//! [`ById`]: a step table filed by the id of the piece its keys start from.
//!
//! The explorer's step tables are looked up many times per state, and with a general hash
//! table each lookup is a likely cache miss: the keys of one state's steps are spread
//! over the whole table. Filed by the piece a step starts from (a peer, the packets in
//! flight to one peer, the monitor), the entries a state needs sit together in one short
//! list, and the lists' heads in one dense vector indexed by id. The several steps of a
//! state that start from the same piece then read the same few cache lines.

use rustc_hash::FxBuildHasher as FpBuild;
use std::collections::HashMap;
use std::hash::Hash;

/// Entries `(key, value)` filed by a `u32` id. Holds at most `limit` entries: past that
/// it is emptied (a bound on its memory; the explorer computes a missing entry again).
pub(crate) struct ById<K, V> {
    lists: Vec<List<K, V>>,
    len: usize,
    limit: usize,
}

/// The entries of one id: a short list searched from the start, or a hash table once
/// the list is long (some pieces start many steps: the empty network, the first
/// monitor).
enum List<K, V> {
    Short(Vec<(K, V)>),
    Long(HashMap<K, V, FpBuild>),
}

/// Entries of one id kept as a list; more go to a hash table.
const SHORT: usize = 16;

impl<K, V> Default for List<K, V> {
    fn default() -> Self {
        List::Short(Vec::new())
    }
}

impl<K: Eq + Hash, V> ById<K, V> {
    /// An empty table that holds at most `limit` entries.
    pub(crate) fn with_limit(limit: usize) -> Self {
        ById {
            lists: Vec::new(),
            len: 0,
            limit,
        }
    }

    /// The value of `key` filed under `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32, key: &K) -> Option<&V> {
        match self.lists.get(id as usize)? {
            List::Short(list) => list.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            List::Long(table) => table.get(key),
        }
    }

    /// Files `value` under `id` and `key` (not already there).
    pub(crate) fn insert(&mut self, id: u32, key: K, value: V) {
        if self.len >= self.limit {
            self.lists.iter_mut().for_each(|l| *l = List::default());
            self.len = 0;
        }
        let i = id as usize;
        if self.lists.len() <= i {
            self.lists.resize_with(i + 1, List::default);
        }
        let list = &mut self.lists[i];
        match list {
            List::Short(entries) if entries.len() < SHORT => entries.push((key, value)),
            List::Short(entries) => {
                let mut table: HashMap<K, V, FpBuild> = entries.drain(..).collect();
                table.insert(key, value);
                *list = List::Long(table);
            }
            List::Long(table) => {
                table.insert(key, value);
            }
        }
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_id_and_key_and_the_limit_empties_the_table() {
        let mut t = ById::with_limit(3);
        t.insert(5, 'a', 1);
        t.insert(5, 'b', 2);
        t.insert(0, 'a', 3);
        assert_eq!(t.get(5, &'a'), Some(&1));
        assert_eq!(t.get(5, &'b'), Some(&2));
        assert_eq!(t.get(0, &'a'), Some(&3));
        assert_eq!(t.get(0, &'b'), None);
        assert_eq!(t.get(9, &'a'), None);
        // Past SHORT entries, one id's entries go to a hash table.
        let mut long = ById::with_limit(1000);
        for k in 0..100 {
            long.insert(7, k, k * 2);
        }
        assert!((0..100).all(|k| long.get(7, &k) == Some(&(k * 2))));
        assert_eq!(long.get(7, &100), None);
        // A fourth entry empties the table first.
        t.insert(1, 'c', 4);
        assert_eq!(t.get(5, &'a'), None);
        assert_eq!(t.get(1, &'c'), Some(&4));
    }
}
