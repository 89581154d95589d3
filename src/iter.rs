//! Weakly consistent iteration over the shards.
//!
//! A cursor walks one shard's table at a time. It keeps the table it
//! started, even if a resize publishes a new one meanwhile: a table holds
//! each key in at most one live slot, so every key is yielded at most once,
//! and writers are never blocked.

use std::ptr::NonNull;

use crossbeam_epoch::Guard;

use crate::{entry::Entry, expire::Expiry, shard::Shard, table::Table, StrCache, Utf8Bytes};

/// Position of a walk over all shards.
struct Cursor<'c, K> {
    shards: &'c [Shard<K>],
    /// Expired entries are skipped.
    expiry: &'c Expiry,
    shard: usize,
    index: usize,
    /// # Invariants
    /// `SAME_PIN`: loaded under the guard that every `next` call passes.
    table: Option<NonNull<Table<K>>>,
}

impl<'c, K> Cursor<'c, K> {
    fn new<S>(cache: &'c StrCache<K, S>) -> Self {
        Cursor {
            shards: cache.shards(),
            expiry: cache.expiry(),
            shard: 0,
            index: 0,
            table: None,
        }
    }

    /// The next live entry.
    ///
    /// # Safety
    /// Every call on one cursor passes the same guard.
    unsafe fn next<'g>(&mut self, guard: &'g Guard) -> Option<&'g Entry<K>> {
        loop {
            let table: &'g Table<K> = match self.table {
                // SAFETY: invariant `SAME_PIN`, upheld by the caller: the
                // table was loaded under `guard`, which is still pinned.
                Some(table) => unsafe { table.as_ref() },
                None => {
                    let table = self.shards.get(self.shard)?.table(guard);
                    self.table = Some(NonNull::from(table));
                    self.index = 0;
                    table
                }
            };
            while self.index < table.capacity() {
                let index = self.index;
                self.index += 1;
                match table.entry_at(index, guard) {
                    Some(entry) if !entry.expired(self.expiry) => return Some(entry),
                    _ => {}
                }
            }
            self.table = None;
            self.shard += 1;
        }
    }
}

/// Iterator over borrowed entries, under a pin the caller holds.
pub(crate) struct Iter<'g, K> {
    cursor: Cursor<'g, K>,
    guard: &'g Guard,
}

impl<'g, K> Iter<'g, K> {
    pub(crate) fn new<S>(cache: &'g StrCache<K, S>, guard: &'g Guard) -> Self {
        Iter {
            cursor: Cursor::new(cache),
            guard,
        }
    }
}

impl<'g, K> Iterator for Iter<'g, K> {
    type Item = (&'g K, &'g str);

    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: this cursor is only ever given `self.guard`.
        let entry = unsafe { self.cursor.next(self.guard) }?;
        Some((&entry.key, entry.text()))
    }
}

/// Iterator over owned copies of the entries; it holds its own pin.
pub(crate) struct OwnedIter<'c, K> {
    cursor: Cursor<'c, K>,
    guard: Guard,
}

impl<'c, K> OwnedIter<'c, K> {
    pub(crate) fn new<S>(cache: &'c StrCache<K, S>, guard: Guard) -> Self {
        OwnedIter {
            cursor: Cursor::new(cache),
            guard,
        }
    }
}

impl<K: Clone> Iterator for OwnedIter<'_, K> {
    type Item = (K, Utf8Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: this cursor is only ever given `self.guard`.
        let entry = unsafe { self.cursor.next(&self.guard) }?;
        Some((entry.key.clone(), entry.to_utf8()))
    }
}
