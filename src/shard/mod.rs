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
//!   empty, or still a tombstone with the key's tag). If either changed,
//!   another writer got there first and the search is repeated. Every store
//!   to the table pointer and to slots happens under the lock, so
//!   validation under it sees the latest state.
//! - An insert builds its entry only then, under the lock, in a block the
//!   shard kept from a freed entry (`spare.rs`, taken under this lock) or
//!   in a new allocation; building runs no user code. The slot's Release
//!   store publishes the entry's contents with it.
//! - In a bounded cache a writer takes the policy lock (`bound.rs`) just
//!   before the shard lock, and an eviction takes the victim's shard lock
//!   while holding the policy lock: the order is always policy, then one
//!   shard, so no two writers wait on each other in a cycle.
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
//!   The other way a key can appear on a finished search's path is a fill
//!   of the empty slot that ended it (slots never become empty again, so
//!   it was the only empty slot on the path): an insert checks under the
//!   lock that this slot is still empty, whichever slot it fills.
//! - `len` is written under the lock with Relaxed and read with Relaxed: it
//!   is a count, not a guard for any data. The deadlines index (`Timers`)
//!   is plain data under the lock.
//! - The loads in progress (`load.rs`) are listed in the writer state,
//!   under the same lock, so that writes and loads' publications are
//!   ordered by it. A write that touches a key (insert, remove, clear,
//!   retain) unlists every flight with the key's tag; a load publishes
//!   only if its flight is still listed, and unlists it in the critical
//!   section that links its value. So a write that returned before a load
//!   published always wins: the load's value goes to its own callers only.
//!   Flights are matched by tag alone (its low 32 bits, when a write
//!   unlists them), never by the key's `Eq`, and
//!   unlisting one drops no key: its leader holds it until its flight ends.

mod write;

use std::{borrow::Borrow, sync::Arc};

use crossbeam_epoch::{Atomic, Guard, Shared};
use crossbeam_utils::CachePadded;

use crate::{
    batch::Batch,
    bound::{Bound, EntryRef},
    entry::Entry,
    evict::policy::Policy,
    expire::{Timer, Timers},
    load::Flight,
    spare::Spares,
    stats::Counters,
    sync::{lock, AtomicUsize, Mutex, MutexGuard, Ordering},
    table::Table,
};

/// What a write does.
///
/// # Examples
/// ```
/// use strcache::{InsertOutcome, StrCache};
///
/// let cache: StrCache = StrCache::new();
/// assert_eq!(cache.insert("k".into(), "v1"), Ok(InsertOutcome::Inserted));
/// assert_eq!(cache.insert("k".into(), "v2"), Ok(InsertOutcome::Replaced));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// The key was absent (or its value had expired) and now has the value.
    Inserted,
    /// The key had an unexpired value, which the new one replaced.
    Replaced,
}

/// Expired entries a write unlinks, at most, besides its own work: enough
/// to outpace the inserts that create them, small enough to keep a write's
/// time bounded. `purge_expired` has no limit.
const EXPIRE_PER_WRITE: usize = 4;

/// The policy of a bounded cache, locked.
pub(crate) type PolicyGuard<'a, K> = MutexGuard<'a, Policy<EntryRef<K>>>;

/// What an insert did, and what its writer does once it holds no lock.
pub(crate) struct Inserted<'a, K> {
    pub(crate) outcome: InsertOutcome,
    /// The policy of a bounded cache, still locked, to evict down to the
    /// bound.
    pub(crate) policy: Option<PolicyGuard<'a, K>>,
    /// Whether a batch of retired entries was sealed: then the writer
    /// flushes its deferred functions (`Batch::take_sealed`).
    pub(crate) flush: bool,
}

/// What a write needs besides its key: the cache's bound, if any, the
/// clock reading it judges expiry by, taken before any lock (`expire.rs`),
/// and how an insert relates to the loads of its key in flight (removals
/// always win over them).
pub(crate) struct Ctx<'a, K> {
    pub(crate) bound: Option<&'a Bound<K>>,
    pub(crate) now: u64,
    pub(crate) fill: Fill<'a, K>,
}

impl<K> Clone for Ctx<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Ctx<'_, K> {}

impl<'a, K> Ctx<'a, K> {
    /// Locks the policy of a bounded cache. Always before a shard lock.
    pub(crate) fn lock_policy(&self) -> Option<PolicyGuard<'a, K>> {
        self.bound.map(|b| lock(&b.policy))
    }
}

/// The writer side's bookkeeping, guarded by the shard lock.
#[derive(Debug)]
struct WriterState<K> {
    /// Live entries in the published table.
    len: usize,
    /// Tombstones in the published table.
    tombstones: usize,
    /// Deadlines of the live entries that have one.
    timers: Timers,
    /// Whether an entry was unlinked from the published table since it was
    /// built. Until then no key can have left it, so none was displaced
    /// (`Probe::Vacant`).
    unlinked: bool,
    /// The loads in progress of this shard's keys (module docs), and the
    /// failures kept listed (`cache_failures_for`).
    flights: Vec<Arc<Flight<K>>>,
    /// Kept failures unlisted under the lock, of which the list held the
    /// last reference: the next `list_flight` hands them to its caller to
    /// drop after the lock, since their keys' and errors' `Drop` is user
    /// code.
    graveyard: Vec<Arc<Flight<K>>>,
    /// Entries unlinked and not yet handed to the collector (`batch.rs`).
    batch: Batch<K>,
    /// Blocks of freed entries, for new ones (`spare.rs`).
    spares: Spares,
}

impl<K> Default for WriterState<K> {
    fn default() -> Self {
        WriterState {
            len: 0,
            tombstones: 0,
            timers: Timers::default(),
            unlinked: false,
            flights: Vec::new(),
            graveyard: Vec::new(),
            batch: Batch::default(),
            spares: Spares::default(),
        }
    }
}

impl<K> WriterState<K> {
    /// Unlists the loads in flight of keys with hash tag `tag`, compared
    /// by their low 32 bits (all that `retain` finds in an entry): a write
    /// to the key wins over them, and clears a failure kept for it. Leaders
    /// still hold their flights, and kept failures go to the graveyard, so
    /// no flight (and no key) is dropped here.
    fn supersede(&mut self, tag: u64) {
        if !self.flights.is_empty() {
            let graveyard = &mut self.graveyard;
            self.flights.retain(|f| {
                let keep = f.tag() as u32 != tag as u32;
                if !keep && f.kept() {
                    graveyard.push(Arc::clone(f));
                }
                keep
            });
        }
    }

    /// Settles a write's `fill` with the loads in flight of its key (tag
    /// `tag`), just before the write links its entry: whether it may.
    fn fill(&mut self, tag: u64, fill: Fill<'_, K>) -> bool {
        match fill {
            Fill::Write => {
                self.supersede(tag);
                true
            }
            Fill::Load(flight) => self.unlist(flight),
            Fill::Unlisted => true,
        }
    }

    /// Unlists `flight` if it is listed, and says whether it was.
    fn unlist(&mut self, flight: &Arc<Flight<K>>) -> bool {
        let listed = self.flights.iter().position(|f| Arc::ptr_eq(f, flight));
        listed.map(|i| self.flights.swap_remove(i)).is_some()
    }
}

/// How a write relates to the loads in progress of its key.
pub(crate) enum Fill<'a, K> {
    /// An ordinary write: it wins over every load of its key in flight.
    Write,
    /// The leader of `flight` publishing its loaded value: unless a write
    /// of the key came first and unlisted the flight.
    Load(&'a Arc<Flight<K>>),
    /// A load with no flight (a loader loading another key with the same
    /// tag): it neither wins over loads nor is beaten by writes.
    Unlisted,
}

impl<K> Clone for Fill<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Fill<'_, K> {}

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
    state: Mutex<WriterState<K>>,
    len: AtomicUsize,
    /// Tombstones revived so far. A writer reads it before its unlocked
    /// search and again under the lock: a revival in between may have put
    /// its key into a slot the search had already passed.
    revivals: AtomicUsize,
    /// What the writes of this shard's keys did (`stats.rs`).
    pub(crate) counters: Counters,
}

impl<K> Shard<K> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Shard {
            table: CachePadded::new(Atomic::from(Table::with_capacity(table_capacity_for(
                capacity,
            )))),
            state: Mutex::new(WriterState::default()),
            len: AtomicUsize::new(0),
            revivals: AtomicUsize::new(0),
            counters: Counters::default(),
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

    /// The load in flight of a key with hash tag `tag`, if one is listed.
    pub(crate) fn flight(&self, tag: u64) -> Option<Arc<Flight<K>>> {
        let state = lock(&self.state);
        state.flights.iter().find(|f| f.tag() == tag).cloned()
    }

    /// Lists `flight` unless a load of its tag is listed already, which it
    /// returns instead. Moves into `dropped`, for the caller to drop after
    /// the lock, the kept failures that have expired at the clock reading
    /// `now` (0: none has) and those a write unlisted.
    pub(crate) fn list_flight(
        &self,
        flight: &Arc<Flight<K>>,
        now: u64,
        dropped: &mut Vec<Arc<Flight<K>>>,
    ) -> Option<Arc<Flight<K>>> {
        let mut state = lock(&self.state);
        dropped.append(&mut state.graveyard);
        if now != 0 {
            state.flights.retain(|f| {
                let expired = f.expired(now);
                if expired {
                    dropped.push(Arc::clone(f));
                }
                !expired
            });
        }
        let tag = flight.tag();
        if let Some(found) = state.flights.iter().find(|f| f.tag() == tag) {
            return Some(Arc::clone(found));
        }
        state.flights.push(Arc::clone(flight));
        None
    }

    /// Unlists `flight`, if a write or its own publication has not already.
    pub(crate) fn unlist_flight(&self, flight: &Arc<Flight<K>>) {
        lock(&self.state).unlist(flight);
    }

    /// Looks `key` up. Lock-free.
    #[inline]
    pub(crate) fn get<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        // Acquire: pairs with the Release store in `swap_table`, so the
        // slots written before publication are visible.
        let table = self.table.load(Ordering::Acquire, guard);
        // SAFETY: never null (invariant `PUBLISHED`), loaded under `guard`.
        unsafe { Table::find(table, tag, key, guard) }
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
    /// Live entries with a deadline, as the timers count them.
    pub(crate) timed: usize,
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
            timed: state.timers.live(),
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

/// Records the deadline, if any, of an entry about to be linked.
fn link_timer<K>(state: &mut WriterState<K>, tag: u64, entry: &Entry<K>) {
    if entry.deadline != 0 {
        state.timers.linked(Timer {
            deadline: entry.deadline,
            tag,
            addr: entry.addr(),
        });
    }
}

/// Hands a just-retired table, a just-sealed batch, or the deferred drop
/// of a value a load hands back, to the global collector at once. A
/// thread's deferred objects otherwise wait in its local bag until 64 of
/// them fill it, which a table retired among few overwrites would not.
/// Never called under a lock: flushing may run deferred `Drop`s (user
/// code).
pub(crate) fn flush_large(guard: &Guard) {
    guard.flush();
}

/// Slots for `entries` live entries at load 1/2 or less.
fn table_capacity_for(entries: usize) -> usize {
    entries.saturating_mul(2)
}
