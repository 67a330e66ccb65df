//! [`Fingerprints`]: the explorer's visited set, 64-bit state fingerprints in one flat
//! ordered table.
//!
//! A lookup is one probe into one array of `u64`s, usually one cache line, where a
//! general hash set reads a control byte and then the bucket, two lines apart. With
//! millions of states the set is far larger than the CPU caches, so every lookup is a
//! cache miss and the number of lines touched is the cost.
//!
//! The set is most of the checker's memory once a world has many states, so it is kept
//! between 58 % and 87.5 % full: it grows by half, not double, when it passes 7/8. At
//! that load a plain linear-probing table scans long runs to learn that a fingerprint is
//! absent; this one keeps its slots in order (Amble and Knuth's ordered hash table), so
//! a lookup stops at the first larger value, and a miss costs what a hit does:
//!
//! - a value's home slot is its bits scaled to the table's length, which is monotone:
//!   a larger value never has an earlier home;
//! - a value sits at or after its home, and the occupied slots are in increasing order,
//!   so an insert shifts the larger values of its run one slot on (a short move within
//!   a cache line or two);
//! - the table ends with a few spare slots instead of wrapping around, and takes more
//!   when a run would go past them;
//! - growing reads the old table in order and writes the new one in order.

/// A set of 64-bit fingerprints. A fingerprint is stored rotated left by 4 bits, so that
/// the order of the table is that of its bits 0 to 59 first: the explorer splits its
/// sets by the top four, which are then the same in one set. 0 marks an empty slot; the
/// fingerprint 0 is kept on the side.
#[derive(Debug)]
pub(crate) struct Fingerprints {
    /// `homes` slots that values are scaled to, then at least [`SPARE`] more.
    slots: Vec<u64>,
    homes: usize,
    len: usize,
    zero: bool,
}

/// Home slots of a new set.
const INITIAL: usize = 1 << 16;

/// Slots past the last home (a run that would go past them adds as many again).
const SPARE: usize = 256;

impl Default for Fingerprints {
    fn default() -> Self {
        Fingerprints {
            slots: vec![0; INITIAL + SPARE],
            homes: INITIAL,
            len: 0,
            zero: false,
        }
    }
}

impl Fingerprints {
    /// `fp` is in the set.
    #[inline]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        if fp == 0 {
            return self.zero;
        }
        let v = fp.rotate_left(4);
        let run = &self.slots[home(v, self.homes)..];
        for &x in run {
            if x >= v || x == 0 {
                return x == v;
            }
        }
        false
    }

    /// Asks the cache for the slot where `fp` would be, so that a later [`insert`] of
    /// it does not wait on memory (a prefetch instruction: a hint that changes nothing,
    /// and that the thread does not wait for, where a plain read would stall it).
    ///
    /// [`insert`]: Self::insert
    #[inline]
    pub(crate) fn prefetch(&self, fp: u64) {
        let at = home(fp.rotate_left(4), self.homes);
        prefetch_index::prefetch_index(&self.slots, at);
    }

    /// Adds `fp`; false if it was there already.
    #[inline]
    pub(crate) fn insert(&mut self, fp: u64) -> bool {
        if fp == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        if (self.len + 1) * 8 > self.homes * 7 {
            self.grow();
        }
        let v = fp.rotate_left(4);
        loop {
            match place(&mut self.slots, home(v, self.homes), v) {
                Some(new) => {
                    self.len += usize::from(new);
                    return new;
                }
                None => self.slots.resize(self.slots.len() + SPARE, 0),
            }
        }
    }

    /// Fingerprints held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len + usize::from(self.zero)
    }

    /// Half again as many home slots; the values, in order, go to their new homes.
    fn grow(&mut self) {
        let homes = self.homes + self.homes / 2;
        let mut slots = vec![0; homes + SPARE];
        let mut next = 0;
        for &v in self.slots.iter().filter(|&&v| v != 0) {
            let at = home(v, homes).max(next);
            if at >= slots.len() {
                slots.resize(at + SPARE, 0);
            }
            slots[at] = v;
            next = at + 1;
        }
        self.slots = slots;
        self.homes = homes;
    }
}

/// The home slot of the stored value `v` in a table of `homes` home slots: `v` scaled
/// to `homes` (monotone in `v`).
#[inline]
fn home(v: u64, homes: usize) -> usize {
    ((u128::from(v) * homes as u128) >> 64) as usize
}

/// Puts `v` in its place at or after slot `from`, shifting the larger values of its run
/// one slot on: `Some(true)` if added, `Some(false)` if it was there, `None` if the run
/// would go past the last slot (nothing changed).
#[inline]
fn place(slots: &mut [u64], from: usize, v: u64) -> Option<bool> {
    let mut i = from;
    loop {
        let x = *slots.get(i)?;
        if x == v {
            return Some(false);
        }
        if x == 0 || x > v {
            break;
        }
        i += 1;
    }
    // The run's end: the first empty slot from `i`.
    let end = i + slots.get(i..)?.iter().position(|&x| x == 0)?;
    slots.copy_within(i..end, i + 1);
    slots[i] = v;
    Some(true)
}

/// The fingerprints met lately by one thread, in a small direct-mapped table that stays
/// in the CPU's caches: a fingerprint found there was met before (a table slot is
/// overwritten by the next fingerprint that maps to it, so one met before may be missed,
/// never the other way round).
pub(crate) struct Recent {
    slots: Box<[u64; RECENT]>,
}

/// Slots of a [`Recent`] table (32 KiB).
const RECENT: usize = 1 << 12;

impl Default for Recent {
    fn default() -> Self {
        Recent {
            slots: Box::new([0; RECENT]),
        }
    }
}

impl Recent {
    /// Whether `fp` is in the table; puts it there if not. The fingerprint 0 is never
    /// found (0 marks an empty slot).
    #[inline]
    pub(crate) fn check(&mut self, fp: u64) -> bool {
        let slot = &mut self.slots[(fp as usize) % RECENT];
        if *slot == fp && fp != 0 {
            return true;
        }
        *slot = fp;
        false
    }

    /// Forgets every fingerprint.
    pub(crate) fn clear(&mut self) {
        self.slots.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The occupied slots are in increasing order, each at or after its home.
    fn ordered(set: &Fingerprints) -> bool {
        let mut last = 0;
        set.slots.iter().enumerate().all(|(i, &v)| {
            let ok = v == 0 || (v > last && home(v, set.homes) <= i);
            if v != 0 {
                last = v;
            }
            ok
        })
    }

    #[test]
    fn a_set_of_fingerprints() {
        let mut set = Fingerprints::default();
        let fps: Vec<u64> = (0..200_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &fp in &fps {
            assert!(set.insert(fp));
        }
        assert!(ordered(&set));
        for &fp in &fps {
            assert!(!set.insert(fp));
            assert!(set.contains(fp));
        }
        assert!(!set.contains(12345));
        assert!(fps.contains(&0));
        assert_eq!(set.len(), fps.len());
    }

    #[test]
    fn runs_keep_their_order_and_take_more_room_at_the_end() {
        // 1 to 399 all start at the first slot; values just under 2^64 at the last
        // home, past which only the spare slots are left; the same low 60 bits with
        // different top bits are different fingerprints.
        let mut set = Fingerprints::default();
        let high = |k: u64| (u64::MAX - k).rotate_right(4);
        for k in (1..400u64).rev() {
            assert_eq!(home(k.rotate_left(4), INITIAL), 0);
            assert!(set.insert(k << 4 >> 4));
            assert!(set.insert(high(k)));
            assert!(set.insert((k << 4 >> 4) | 1 << 62));
        }
        assert!(
            set.slots.len() > INITIAL + SPARE,
            "a run went past the spare slots"
        );
        assert!(ordered(&set));
        assert!((1..400u64).all(|k| set.contains(k) && set.contains(high(k))));
        assert!((1..400u64).all(|k| set.contains(k | 1 << 62)));
        assert!(!set.contains(400) && !set.contains(high(400)) && !set.contains(1 << 61));
        assert!(!set.insert(high(7)));
        assert_eq!(set.len(), 3 * 399);
    }

    /// A fingerprint [`Recent`] finds is one it was given before and not forgotten; one
    /// given last is always found; 0 never is.
    #[test]
    fn recent_finds_only_fingerprints_it_was_given() {
        let mut recent = Recent::default();
        let mut given = std::collections::BTreeSet::new();
        let mut found = 0;
        // Fingerprints that collide in the table (same slot) and ones that do not.
        for k in 0..20_000u64 {
            // 500 slots; the last 100 values take the slots of the first 100.
            let v = k % 600;
            let fp = (v % 500).wrapping_mul(0x9E37_79B9_7F4A_7C15) | (v / 500) << 50;
            let hit = recent.check(fp);
            assert!(!hit || given.contains(&fp), "found {fp:#x}, never given");
            found += usize::from(hit);
            given.insert(fp);
            assert!(fp == 0 || recent.check(fp), "{fp:#x} given last, not found");
        }
        assert!(found > 10_000, "only {found} found again");
        assert!(!recent.check(0) && !recent.check(0));
        // After `clear`, nothing is found until given again.
        recent.clear();
        let last = *given.iter().next_back().expect("given");
        assert!(!recent.check(last) && recent.check(last));
    }
}
