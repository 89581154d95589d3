//! One shard: the table it publishes and its writer side.
//!
//! # Synchronization
//! Shared locations: `Shard::table` (the published table pointer), the
//! slots of every table (see `table.rs`), `Shard::len`.
//!
//! - Readers never lock. They load `table` with Acquire, pairing with the
//!   Release store in `Shard::swap_table`, so the slots of the table they
//!   reach were fully written before it was published; then they probe.
//! - Writers search without the lock (the key's `Eq` is user code and must
//!   not run under it, DESIGN.md invariant 5), then take the lock and
//!   validate what they saw by pointer comparison alone: the table is still
//!   the published one, and the slot still holds the same entry (or is still
//!   empty, or still a tombstone with the key's tag). If either changed, another writer got there first and the
//!   search is repeated. Every store to the table pointer and to slots
//!   happens under the lock, so validation under it sees the latest state.
//! - A resize copies the live entry pointers into a new table under the
//!   lock and publishes it with one Release store. Readers on the old table
//!   keep reading it (it is frozen: no writer stores to it after the swap)
//!   until they unpin; they never wait. Entries are shared by both tables,
//!   and an entry replaced later is retired only after it was unlinked from
//!   the published table while the old table was already unreachable for
//!   new pins, so the epoch collector frees it after every reader of either.
//! - An insert may revive a tombstone with its key's tag instead of
//!   filling an empty slot, possibly one that another writer's search
//!   already passed. `revivals` counts these: a writer loads it with
//!   Acquire before searching and again under the lock, and repeats its
//!   search if it changed; the increment is a Release after the slot store.
//! - `len` is written under the lock with Relaxed and read with Relaxed: it
//!   is a count, not a guard for any data.

use std::borrow::Borrow;

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};
use crossbeam_utils::CachePadded;

use crate::entry::{retire, Entry};
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};
use crate::table::{Probe, Table};

/// What a write did.
///
/// # Examples
/// ```
/// use strcache::{InsertOutcome, StrCache};
///
/// let cache: StrCache = StrCache::new();
/// assert_eq!(cache.insert("k".into(), "v1"), InsertOutcome::Inserted);
/// assert_eq!(cache.insert("k".into(), "v2"), InsertOutcome::Replaced);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// The key was absent and now has the value.
    Inserted,
    /// The key had a value, which the new one replaced.
    Replaced,
}

/// The writer side's bookkeeping, guarded by the shard lock.
#[derive(Debug, Default)]
struct WriterState {
    /// Live entries in the published table.
    len: usize,
    /// Tombstones in the published table.
    tombstones: usize,
}

/// One shard of a cache.
///
/// # Invariants
/// `PUBLISHED`: `table` is never null; it points to the table the shard
/// owns, which owns its live entries (`Table` invariant `OWNS`).
/// `LOAD`: `len + tombstones <= 3/4` of the published table's capacity, so
/// it keeps an empty slot (`Table` invariant `SPARE`).
#[derive(Debug)]
pub(crate) struct Shard<K> {
    /// Read by every lookup; kept off the writer's cache line.
    table: CachePadded<Atomic<Table<K>>>,
    state: Mutex<WriterState>,
    len: AtomicUsize,
    /// Tombstones revived so far. A writer reads it before its unlocked
    /// search and again under the lock: a revival in between may have put
    /// its key into a slot the search had already passed.
    revivals: AtomicUsize,
}

impl<K> Shard<K> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Shard {
            table: CachePadded::new(Atomic::new(Table::with_capacity(table_capacity_for(
                capacity,
            )))),
            state: Mutex::new(WriterState::default()),
            len: AtomicUsize::new(0),
            revivals: AtomicUsize::new(0),
        }
    }

    /// The published table.
    #[inline]
    pub(crate) fn table<'g>(&self, guard: &'g Guard) -> &'g Table<K> {
        // Acquire: pairs with the Release store in `swap_table`, so the
        // slots written before publication are visible.
        let table = self.table.load(Ordering::Acquire, guard);
        // SAFETY: never null (invariant `PUBLISHED`); a table unlinked after
        // this guard pinned is retired, and kept until the guard unpins.
        unsafe { table.deref() }
    }

    /// Number of live entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Looks `key` up. Lock-free.
    #[inline]
    pub(crate) fn get<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.table(guard).find(tag, key, guard)
    }

    /// Publishes `entry` under its key.
    pub(crate) fn insert(&self, tag: u64, entry: Owned<Entry<K>>, guard: &Guard) -> InsertOutcome
    where
        K: Eq,
    {
        loop {
            // Acquire: pairs with the Release increment after a revival
            // below, so the search sees every revived slot this count
            // includes.
            let revivals = self.revivals.load(Ordering::Acquire);
            let table_ptr = self.table.load(Ordering::Acquire, guard);
            let table = self.table(guard);
            let probe = table.probe(tag, &entry.key, guard);
            let mut state = lock(&self.state);
            // Relaxed: under the lock, which orders every store to these.
            if self.table.load(Ordering::Relaxed, guard) != table_ptr
                || self.revivals.load(Ordering::Relaxed) != revivals
            {
                continue;
            }
            match probe {
                Probe::Occupied { index, current } => {
                    if table.current(index, guard) != current {
                        continue;
                    }
                    table.replace(index, entry);
                    drop(state);
                    // SAFETY: `current` was just unlinked from the published
                    // table, the only reachable one holding it, under the lock
                    // that makes this writer its only retirer.
                    unsafe { retire(guard, current) };
                    return InsertOutcome::Replaced;
                }
                Probe::Vacant { index } if table.is_tombstone(index, tag, guard) => {
                    table.replace(index, entry);
                    state.tombstones -= 1;
                    state.len += 1;
                    self.len.store(state.len, Ordering::Relaxed);
                    // Release: pairs with the Acquire load at the top of this
                    // loop in other writers.
                    self.revivals.fetch_add(1, Ordering::Release);
                    return InsertOutcome::Inserted;
                }
                Probe::Vacant { index } => {
                    if !table.is_empty_slot(index) {
                        continue;
                    }
                    if (state.len + state.tombstones + 1) * 4 > table.capacity() * 3 {
                        self.resize(&mut state, table_ptr, guard);
                        drop(state);
                        flush_large(guard);
                        continue;
                    }
                    table.publish(index, tag, entry);
                    state.len += 1;
                    self.len.store(state.len, Ordering::Relaxed);
                    return InsertOutcome::Inserted;
                }
            }
        }
    }

    /// Removes `key`, returning the removed entry (readable while `guard`
    /// lives).
    pub(crate) fn remove<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        loop {
            let table_ptr = self.table.load(Ordering::Acquire, guard);
            let table = self.table(guard);
            let Probe::Occupied { index, current } = table.probe(tag, key, guard) else {
                return None;
            };
            let mut state = lock(&self.state);
            if self.table.load(Ordering::Relaxed, guard) != table_ptr
                || table.current(index, guard) != current
            {
                continue;
            }
            self.unlink(&mut state, table, index);
            drop(state);
            // SAFETY: unlinked above under the lock, as in `insert`.
            unsafe { retire(guard, current) };
            // SAFETY: retired entries live until `guard` unpins.
            return Some(unsafe { current.deref() });
        }
    }

    /// Removes every entry for which `keep` returns false. `keep` runs
    /// without the lock; an entry replaced after `keep` saw it is kept.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &str) -> bool, guard: &Guard) {
        let mut victims = Vec::new();
        for (tag, entry) in self.table(guard).live(guard) {
            // SAFETY: a live pointer loaded under `guard` (see `Table::find`).
            let e = unsafe { entry.deref() };
            if !keep(&e.key, e.value.as_str()) {
                victims.push((tag, entry));
            }
        }
        if victims.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        let table = self.table(guard);
        let mut removed = Vec::with_capacity(victims.len());
        for (tag, entry) in victims {
            if let Some(index) = table.position_of(tag, entry, guard) {
                self.unlink(&mut state, table, index);
                removed.push(entry);
            }
        }
        drop(state);
        for entry in removed {
            // SAFETY: unlinked above under the lock, once each: `position_of`
            // found it live in the published table.
            unsafe { retire(guard, entry) };
        }
    }

    /// Replaces the table with an empty one and retires the old table with
    /// its entries.
    pub(crate) fn clear(&self, guard: &Guard) {
        let mut state = lock(&self.state);
        if state.len == 0 && state.tombstones == 0 {
            return;
        }
        let old = self.swap_table(Table::with_capacity(0), guard);
        *state = WriterState::default();
        self.len.store(0, Ordering::Relaxed);
        drop(state);
        // SAFETY: `old` was unlinked by the swap above; it owns its live
        // entries (invariant `PUBLISHED`), which no other table holds, and no
        // thread pinned after the swap can reach it. The closure runs once,
        // after every guard that could have loaded it is gone.
        unsafe {
            guard.defer_unchecked(move || {
                let mut table = old.into_owned();
                table.drop_entries();
            });
        }
        flush_large(guard);
    }

    /// Tombstones live slot `index` and updates the counts.
    fn unlink(&self, state: &mut WriterState, table: &Table<K>, index: usize) {
        table.remove(index);
        state.len -= 1;
        state.tombstones += 1;
        self.len.store(state.len, Ordering::Relaxed);
    }

    /// Rehashes into a table sized for the live entries, dropping
    /// tombstones. Called under the lock with the published table.
    fn resize(&self, state: &mut WriterState, old: Shared<'_, Table<K>>, guard: &Guard) {
        // SAFETY: `old` is the published table, loaded under `guard`.
        let old_table = unsafe { old.deref() };
        let new = old_table.rehash(table_capacity_for(state.len + 1), guard);
        let unlinked = self.swap_table(new, guard);
        debug_assert_eq!(unlinked, old);
        state.tombstones = 0;
        // SAFETY: unlinked by the swap above; it owns none of its entries
        // now (they moved to the new table), so destroying it frees only
        // the slot array.
        unsafe { guard.defer_destroy(unlinked) };
    }

    /// Publishes `table`, returning the unlinked one. Called under the lock.
    fn swap_table<'g>(&self, table: Table<K>, guard: &'g Guard) -> Shared<'g, Table<K>> {
        // Release: pairs with the Acquire load in `Shard::table`, so readers
        // see the slots written before the swap.
        self.table.swap(Owned::new(table), Ordering::Release, guard)
    }
}

/// A shard's counts, as `StrCache::validate` reads them under the lock.
#[cfg(any(test, fuzzing))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    /// `WriterState::len`.
    pub(crate) len: usize,
    /// `WriterState::tombstones`.
    pub(crate) tombstones: usize,
    /// `Shard::len`, the lock-free mirror of `WriterState::len`.
    pub(crate) len_mirror: usize,
}

/// Read-only access for the invariant walk.
#[cfg(any(test, fuzzing))]
impl<K> Shard<K> {
    /// Runs `inspect` on the published table and the counts while holding
    /// the shard lock, so no write is half done. `inspect` must run no user
    /// code (DESIGN.md, invariant 5).
    pub(crate) fn inspect_locked<R>(
        &self,
        guard: &Guard,
        inspect: impl FnOnce(&Table<K>, Counts) -> R,
    ) -> R {
        let state = lock(&self.state);
        let counts = Counts {
            len: state.len,
            tombstones: state.tombstones,
            len_mirror: self.len(),
        };
        let result = inspect(self.table(guard), counts);
        drop(state);
        result
    }
}

impl<K> Drop for Shard<K> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach this shard.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let table = self.table.swap(Shared::null(), Ordering::Relaxed, guard);
        // SAFETY: the table was published (invariant `PUBLISHED`), so it
        // owns its live entries, and nothing else can reach it.
        let mut table = unsafe { table.into_owned() };
        // SAFETY: as above.
        unsafe { table.drop_entries() };
    }
}

/// Hands a just-retired table to the global collector at once. A thread's
/// deferred objects otherwise wait in its local bag until 64 of them fill
/// it, which a table retired among few overwrites would not. Never called
/// under the shard lock: flushing may run deferred `Drop`s (user code).
fn flush_large(guard: &Guard) {
    guard.flush();
}

/// Slots for `entries` live entries at load 1/2 or less.
fn table_capacity_for(entries: usize) -> usize {
    entries.saturating_mul(2)
}
