//! The bounded FIFO the guard holds messages in.
//!
//! Bounded by count and by bytes. Entries are kept sorted by expiry time, so expiring is
//! "pop the front while it is due" and the next timer is the front's deadline. Messages
//! the transport gave back go in at the front, after any given back before them, so that
//! a refused batch keeps its order.

use crate::vocab::{Millis, MsgId};
use std::collections::VecDeque;

/// One held message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Entry<P> {
    pub id: MsgId,
    pub payload: P,
    /// `Payload::byte_len`, cached so the byte total never depends on a payload changing.
    pub bytes: usize,
    /// When it expires (`now >= expires_at`); `None` without a TTL.
    pub expires_at: Option<Millis>,
}

/// A FIFO bounded by messages and bytes, sorted by expiry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Queue<P> {
    entries: VecDeque<Entry<P>>,
    bytes: usize,
    /// How many entries at the front were given back by the transport and not released
    /// again yet; the next one given back goes right after them.
    returned_at_front: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl<P> Queue<P> {
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Queue {
            entries: VecDeque::new(),
            bytes: 0,
            returned_at_front: 0,
            max_messages,
            max_bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether one more message of `bytes` fits under both bounds.
    pub fn fits(&self, bytes: usize) -> bool {
        self.entries.len() < self.max_messages
            && self
                .bytes
                .checked_add(bytes)
                .is_some_and(|total| total <= self.max_bytes)
    }

    /// Appends a new message. The caller checked [`Queue::fits`]; expiry times of new
    /// messages never decrease because time never goes back in the guard.
    pub fn push_back(&mut self, entry: Entry<P>) {
        debug_assert!(self.fits(entry.bytes));
        self.bytes += entry.bytes;
        self.entries.push_back(entry);
    }

    /// Puts a message the transport gave back in front of every message never released,
    /// after those given back before it. Its expiry is clamped between its neighbours' so
    /// the queue stays sorted (it was offered before everything behind it, so in practice
    /// the clamp never lengthens its life). Gives the entry back if it does not fit.
    pub fn insert_returned(&mut self, mut entry: Entry<P>) -> Result<(), Entry<P>> {
        if !self.fits(entry.bytes) {
            return Err(entry);
        }
        let at = self.returned_at_front.min(self.entries.len());
        if let Some(expires) = entry.expires_at.as_mut() {
            if let Some(next) = self.entries.get(at).and_then(|e| e.expires_at) {
                *expires = (*expires).min(next);
            }
            if let Some(prev) = at
                .checked_sub(1)
                .and_then(|i| self.entries.get(i))
                .and_then(|e| e.expires_at)
            {
                *expires = (*expires).max(prev);
            }
        }
        self.bytes += entry.bytes;
        self.entries.insert(at, entry);
        self.returned_at_front = at + 1;
        Ok(())
    }

    pub fn pop_front(&mut self) -> Option<Entry<P>> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.bytes;
        self.returned_at_front = self.returned_at_front.saturating_sub(1);
        Some(entry)
    }

    /// Pops the front entry if it has expired at `now`.
    pub fn pop_expired(&mut self, now: Millis) -> Option<Entry<P>> {
        match self.entries.front()?.expires_at {
            Some(at) if now >= at => self.pop_front(),
            _ => None,
        }
    }

    /// The earliest expiry (the front's).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.entries.front()?.expires_at
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry<P>> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: MsgId, bytes: usize, expires_at: Option<Millis>) -> Entry<()> {
        Entry {
            id,
            payload: (),
            bytes,
            expires_at,
        }
    }

    #[test]
    fn bounded_by_messages_and_bytes() {
        let mut q = Queue::new(2, 10);
        assert!(q.fits(10));
        assert!(!q.fits(11));
        q.push_back(entry(1, 6, None));
        assert!(!q.fits(5));
        assert!(q.fits(4));
        q.push_back(entry(2, 4, None));
        assert!(!q.fits(0), "message bound");
        assert_eq!((q.len(), q.bytes()), (2, 10));
        assert!(!q.fits(usize::MAX), "no overflow");
    }

    #[test]
    fn returned_messages_keep_their_order_at_the_front() {
        let mut q = Queue::new(10, 100);
        q.push_back(entry(5, 1, Some(50)));
        q.insert_returned(entry(1, 1, Some(10))).unwrap();
        q.insert_returned(entry(2, 1, Some(20))).unwrap();
        let ids: Vec<_> = q.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 5]);
        assert_eq!(q.pop_front().map(|e| e.id), Some(1));
        // Another one given back goes after 2, which was given back before it.
        q.insert_returned(entry(3, 1, Some(30))).unwrap();
        let ids: Vec<_> = q.iter().map(|e| e.id).collect();
        assert_eq!(ids, [2, 3, 5]);
    }

    #[test]
    fn returned_expiry_is_clamped_to_keep_order() {
        let mut q = Queue::new(10, 100);
        q.push_back(entry(5, 1, Some(50)));
        q.insert_returned(entry(1, 1, Some(90))).unwrap();
        assert_eq!(q.next_deadline(), Some(50));
        assert!(q.pop_expired(49).is_none());
        assert_eq!(q.pop_expired(50).map(|e| e.id), Some(1));
        assert_eq!(q.pop_expired(50).map(|e| e.id), Some(5));
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }
}
