//! The entries a shard unlinked, held under its lock until enough of them
//! make it worth one deferred function of the epoch collector.
//!
//! Handing each unlinked entry to the collector on its own costs an
//! overwrite a deferred function (a push into the thread's bag, then a
//! call) and two locked instructions on its shard's count of retired bytes
//! (`retired.rs`): the add when it is retired and the subtraction when it
//! is freed. A shard instead holds the entries it unlinks in a [`Batch`],
//! and hands them over together, with one deferred function, one add and
//! one subtraction for all of them, once it holds [`BATCH_ENTRIES`] of
//! them or [`BATCH_BYTES`] of their bytes. An entry whose value is a
//! buffer of its own, a `Bytes` the writer handed in or text longer than
//! an entry keeps inline, goes to the collector at once, with what the
//! batch holds: that buffer's `Drop` may be the user's, and its size is
//! not bounded. `clear`, `retain` and
//! `purge_expired` hand over what the shards hold at once, and a shard's
//! drop frees what its batch still holds.
//!
//! The collector's free of a batch keeps the blocks of the entries it
//! frees for the shard's next writes (`spare.rs`).
//!
//! So a shard holds back at most `BATCH_ENTRIES` entries, whose bytes
//! count in [`Stats::retired_bytes`](crate::Stats::retired_bytes) from
//! the moment they are unlinked; the epoch collector's own bags hold its
//! deferred functions the same way, 64 at a time per thread.
//!
//! # Synchronization
//! A batch is plain data in its shard's writer state, under the shard lock.
//!
//! - An entry enters the batch in the critical section that unlinks it
//!   from the published table. A thread that pins after that cannot reach
//!   it: it finds the shard's current table, which no longer holds it.
//!   Threads pinned before may still hold it.
//! - [`Batch::seal`] defers one function that frees the held entries,
//!   through the guard of the writer that seals, under the lock, so after
//!   every entry's unlink. The collector runs it only once every thread
//!   pinned at that moment has unpinned, which includes every thread that
//!   could reach one of the entries: the threads pinned before its unlink
//!   are either pinned still, or have unpinned already.
//! - The bytes held are counted in the shard's [`Retired`] with a load and
//!   a store under the lock (see `retired.rs`), and move to its shared
//!   count, with one add, when the batch is sealed.
//! - The shard's drop frees the entries still held: it has the cache by
//!   `&mut`, so no thread is reading it, and an entry that a `Bytes` still
//!   shares is kept until that `Bytes` goes (`entry/mod.rs`).

use std::marker::PhantomData;

use crossbeam_epoch::{Guard, Shared};

use crate::{
    entry::{reclaim, Entry},
    retired::Retired,
    spare::{Chain, Inbox},
};

/// Entries a batch holds at most: as many as the epoch collector's bags.
/// Two under loom, so that a model's second replacement of a key retires
/// both entries, one of them unlinked by another write.
const BATCH_ENTRIES: usize = if cfg!(strcache_loom) { 2 } else { 64 };

/// Bytes a batch holds at most before it is sealed (an entry larger than
/// that seals it at once, as does any entry that shares its value's
/// buffer).
const BATCH_BYTES: u64 = 4096;

/// Entries unlinked under a shard's lock and not yet handed to the
/// collector (see the module docs).
///
/// # Invariants
/// `HELD`: every address is an entry's, unlinked from the published table
/// of the shard whose lock guards this batch, held once, and neither freed
/// nor handed to the collector.
#[derive(Debug)]
pub(crate) struct Batch<K> {
    entries: Vec<usize>,
    /// Whether a batch was sealed since [`take_sealed`](Self::take_sealed)
    /// last looked.
    sealed: bool,
    entry: PhantomData<Entry<K>>,
}

impl<K> Default for Batch<K> {
    fn default() -> Self {
        Batch {
            entries: Vec::new(),
            sealed: false,
            entry: PhantomData,
        }
    }
}

impl<K: Send> Batch<K> {
    /// Holds `entry`, its bytes counted in `retired`, and seals the batch
    /// if it is full. Under the shard lock.
    ///
    /// # Safety
    /// `entry` was just unlinked from the published table of the shard whose
    /// lock the caller holds, which guards this batch and `retired`; it is
    /// retired once, here.
    #[inline]
    pub(crate) unsafe fn retire(
        &mut self,
        entry: Shared<'_, Entry<K>>,
        retired: &Retired,
        guard: &Guard,
    ) {
        // SAFETY: unlinked just now, so not yet freed.
        let entry = unsafe { entry.deref() };
        let held = retired.hold_locked(entry.bytes());
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(BATCH_ENTRIES);
        }
        self.entries.push(entry.addr());
        if self.entries.len() >= BATCH_ENTRIES || held >= BATCH_BYTES || entry.is_shared() {
            self.seal(retired, guard);
        }
    }

    /// Hands every held entry to the collector, with one deferred function
    /// that frees them, their bytes counted in `retired` until then. Under
    /// the shard lock, with `guard` pinned.
    #[inline(never)]
    pub(crate) fn seal(&mut self, retired: &Retired, guard: &Guard) {
        if self.entries.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.entries);
        self.sealed = true;
        let retiring = retired.retire_held_locked();
        // SAFETY: invariant `HELD`: each entry is unlinked, and handed over
        // once, here; the function runs after every guard that could reach
        // one of them is gone (the module's synchronization), and owns
        // them. It drops keys and shared values, user `Drop`s, on whichever
        // thread collects: `K: Send`.
        unsafe {
            guard.defer_unchecked(move || {
                free::<K>(entries, Some(retiring.inbox()));
                drop(retiring);
            });
        }
    }
}

impl<K> Batch<K> {
    /// Whether a batch was sealed since the last call. Every operation
    /// that may seal one asks under the lock, and, if so, flushes its
    /// thread's deferred functions to the global collector once no lock is
    /// held, so that the batch is freed, and its blocks reach the shard
    /// (`spare.rs`), within a few pins rather than once 64 deferred
    /// functions fill the thread's bag, which only that thread can flush.
    pub(crate) fn take_sealed(&mut self) -> bool {
        std::mem::take(&mut self.sealed)
    }
}

impl<K> Drop for Batch<K> {
    /// Frees the entries still held. Only a shard's drop drops a batch
    /// that holds any: with the cache by `&mut`, no thread reads it.
    fn drop(&mut self) {
        free::<K>(std::mem::take(&mut self.entries), None);
    }
}

/// Frees each entry at these addresses, each key's and shared value's
/// `Drop` caught, so that one that panics does not leak the rest. With
/// an `inbox`, the blocks of the entries it frees alone go there, for the
/// shard's next writes (`spare.rs`).
fn free<K>(entries: Vec<usize>, inbox: Option<&Inbox>) {
    let Some(inbox) = inbox else {
        for addr in entries {
            // SAFETY: invariant `HELD`: an entry that no thread can reach,
            // owned by the caller, freed once.
            reclaim(|| drop(unsafe { Entry::<K>::shared(addr).into_owned() }));
        }
        return;
    };
    let mut spares = Chain::default();
    for addr in entries {
        reclaim(|| {
            // SAFETY: as above.
            if let Some(block) = unsafe { Entry::<K>::recycle(addr) } {
                // SAFETY: an entry's allocation, which no one uses once
                // the cache's reference, the last, is gone; entries are
                // larger than a spare block's header, and as aligned.
                unsafe { spares.push(block) };
            }
        });
    }
    inbox.give(spares);
}
