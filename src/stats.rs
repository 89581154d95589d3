//! Statistics: the counters a cache keeps, and [`Stats`], a snapshot of them.
//!
//! # Synchronization
//! Shared locations: the counters of every shard (`Counters`), the stripes
//! of the read counters (`Reads`), and each shard's retired-bytes count
//! (`Retired`).
//!
//! - Every counter is updated with Relaxed operations (`fetch_add`, or a
//!   load and store where one writer at a time changes it, below) and read
//!   with a Relaxed load. A counter orders no other memory, so `stats()`
//!   returns counts each exact at some moment during the call, not one
//!   consistent cut. Counters come from `sync.rs` as `std` atomics even
//!   under loom, which need not explore their orderings.
//! - Writer-side counters are per shard, beside the shard's own lock, so
//!   writers of different shards never write one cache line; `stats()`
//!   sums the shards. The counts of inserts and of unlinked entries by
//!   cause (updates, removals, evictions, expirations) change only under
//!   the lock of the shard that holds the entry, where it is inserted or
//!   unlinked, so they count with a Relaxed load and store
//!   ([`bump_locked`]), no locked instruction: the lock's acquire and
//!   release order each holder's load after the previous holder's store,
//!   and no count is lost. The other writer-side counters (loads,
//!   refreshes) change outside any lock, with `fetch_add`.
//! - Read counters are opt-in and kept per thread: each thread that reads
//!   gets a stripe of its own, on a cache line of its own, from a
//!   `thread_local::ThreadLocal`. Only that thread writes its stripe, so it
//!   counts with a Relaxed load and store, no locked instruction, and no
//!   count is lost. A stripe passes to another thread only after its owner
//!   has exited, through the thread-id registry's mutex, which orders the
//!   old owner's last store before the new owner's first load. `stats()`
//!   sums the stripes of every thread. A thread remembers, in a plain
//!   thread-local, the stripe it used last and the id of its cache, so
//!   reads of one cache find the stripe without the `ThreadLocal` lookup.
//! - A retire adds the entry's bytes to its shard's `Retired` count, and the
//!   deferred free subtracts them. The free may run after the cache is gone,
//!   so the bytes keep the count alive: unlike the counters above, that
//!   count is a reference count, with loom's atomics under loom and its own
//!   orderings (`retired.rs`).

use std::{cell::Cell, fmt, ptr};

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;

use crate::{notify::EvictionCause, retired::Retired, sync::Counter};

/// What a cache has done since it was built, from [`StrCache::stats`].
///
/// Hits and misses are counted only by a cache built with
/// [`Builder::record_reads`]; every other count is always kept.
///
/// [`StrCache::stats`]: crate::StrCache::stats
/// [`Builder::record_reads`]: crate::Builder::record_reads
///
/// # Examples
/// ```
/// let cache = strcache::StrCache::<u32>::builder().record_reads(true).build();
/// cache.insert(1, "one").unwrap();
/// assert!(cache.get_str(&1).is_some());
/// assert!(cache.get_str(&2).is_none());
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.inserts), (1, 1, 1));
/// assert_eq!(stats.hit_ratio(), Some(0.5));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Stats {
    /// Whether hits and misses were counted ([`Builder::record_reads`]).
    ///
    /// [`Builder::record_reads`]: crate::Builder::record_reads
    pub reads_recorded: bool,
    /// Reads that returned a value: `get_str`, `get_bytes`, `get_json`,
    /// the same on [`Pinned`](crate::Pinned), and the lookup that starts
    /// each `get_or_insert_with*` call.
    pub hits: u64,
    /// Reads of a key that had no value, or an expired one.
    pub misses: u64,
    /// Inserts of a key that had no value (or an expired one), loaded
    /// values included.
    pub inserts: u64,
    /// Inserts that replaced a value.
    pub updates: u64,
    /// Entries taken out by `remove`, `retain` or `clear`.
    pub removals: u64,
    /// Entries evicted to keep a bounded cache within its bound.
    pub evictions: u64,
    /// Expired entries unlinked, by whatever unlinked them.
    pub expirations: u64,
    /// Outcomes of `get_or_insert_with` and its variants after a miss.
    pub loads: LoadStats,
    /// The reloads of a [`LoadingCache`](crate::LoadingCache)'s pipeline,
    /// and the stale values it served.
    pub refreshes: RefreshStats,
    /// Live entries, expired ones not yet unlinked included.
    pub entries: u64,
    /// Total weight of the entries of a bounded cache; `None` if unbounded.
    pub weight: Option<u64>,
    /// Bytes of replaced or removed entries (their value bytes and entry
    /// headers) and of replaced tables that the epoch collector has not
    /// freed yet, those that the shards hold back to retire together
    /// included, and of freed entries' blocks kept for new entries (see the
    /// crate docs, *Reclamation*). A figure that stays
    /// high points at a reader holding a [`CachedStr`](crate::CachedStr)
    /// or [`Pinned`](crate::Pinned) too long.
    pub retired_bytes: u64,
}

/// How the loads that followed a miss ended, in [`Stats::loads`].
///
/// # Examples
/// ```
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.get_or_insert_with("k", || "v").unwrap();
/// let _ = cache.try_get_or_insert_with("e", || Err::<&str, _>("down"));
/// let loads = cache.stats().loads;
/// assert_eq!((loads.succeeded, loads.failed), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct LoadStats {
    /// Loaders that returned a value.
    pub succeeded: u64,
    /// Loaders that returned an error.
    pub failed: u64,
    /// Loaders that panicked.
    pub panicked: u64,
    /// Async loads dropped before their loader finished.
    pub cancelled: u64,
    /// Callers that stopped waiting for another caller's load at their
    /// timeout.
    pub timed_out: u64,
    /// Callers that got the value another caller loaded.
    pub waited: u64,
    /// Loads whose value went to their callers but was not cached, because
    /// a write, removal or clear of the key came while they loaded.
    pub superseded: u64,
    /// Callers that got a failed load's kept error instead of running a
    /// loader ([`Builder::cache_failures_for`](crate::Builder::cache_failures_for)).
    pub cached_failures: u64,
}

/// What a [`LoadingCache`](crate::LoadingCache)'s refresh pipeline did,
/// in [`Stats::refreshes`]. All zero for other caches.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{ManualClock, Pipeline, StrCache};
///
/// let clock = ManualClock::new();
/// let cache = StrCache::<String>::builder()
///     .clock(clock.clone())
///     .refresh_after(Duration::from_secs(10))
///     .refresh_pipeline(Pipeline::threads(1))
///     .build_loading(|key: &String| Ok::<_, ()>(format!("{key}: fresh")));
/// cache.get("k").unwrap();
/// clock.advance(Duration::from_secs(10));
/// cache.get("k").unwrap(); // due: returned at once, and reloaded
/// assert_eq!(cache.stats().refreshes.scheduled, 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RefreshStats {
    /// Reloads queued for the pipeline's workers.
    pub scheduled: u64,
    /// Reloads not queued because the queue was full.
    pub dropped: u64,
    /// Reloads whose loader returned a value. The value is published
    /// unless a write of the key came while it loaded
    /// ([`LoadStats::superseded`] counts those).
    pub succeeded: u64,
    /// Reloads whose loader returned an error or panicked, or whose value
    /// the cache refused (too large for the bound). The entry they were
    /// to replace stays, stale or not, until it expires.
    pub failed: u64,
    /// Reads that returned an expired value inside its stale window.
    pub stale_served: u64,
}

impl Stats {
    /// Hits over reads, from 0 to 1; `None` before the first counted read
    /// (and always when reads are not recorded).
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().record_reads(true).build();
    /// assert_eq!(cache.stats().hit_ratio(), None);
    /// cache.insert(1, "one").unwrap();
    /// for _ in 0..3 {
    ///     cache.get_str(&1);
    /// }
    /// cache.get_str(&2);
    /// assert_eq!(cache.stats().hit_ratio(), Some(0.75));
    /// ```
    pub fn hit_ratio(&self) -> Option<f64> {
        let reads = self.hits + self.misses;
        (reads > 0).then(|| self.hits as f64 / reads as f64)
    }
}

/// One line, for logs.
///
/// # Examples
/// ```
/// let cache = strcache::StrCache::<u32>::builder().record_reads(true).max_entries(10).build();
/// cache.insert(1, "one").unwrap();
/// cache.get_str(&1);
/// let line = cache.stats().to_string();
/// assert!(line.starts_with("hits 1, misses 0 (100.0% hit), inserts 1, updates 0,"), "{line}");
/// assert!(line.contains("1 entries, weight 1"), "{line}");
/// ```
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reads_recorded {
            write!(f, "hits {}, misses {}", self.hits, self.misses)?;
            match self.hit_ratio() {
                Some(ratio) => write!(f, " ({:.1}% hit), ", ratio * 100.0)?,
                None => f.write_str(", ")?,
            }
        } else {
            f.write_str("reads not recorded, ")?;
        }
        let l = &self.loads;
        write!(
            f,
            "inserts {}, updates {}, removals {}, evictions {}, expirations {}, \
             loads {} ok {} failed {} panicked {} cancelled {} timed out {} waited \
             {} superseded {} cached failures, refreshes {} scheduled {} dropped {} ok {} failed, \
             {} stale served, {} entries",
            self.inserts,
            self.updates,
            self.removals,
            self.evictions,
            self.expirations,
            l.succeeded,
            l.failed,
            l.panicked,
            l.cancelled,
            l.timed_out,
            l.waited,
            l.superseded,
            l.cached_failures,
            self.refreshes.scheduled,
            self.refreshes.dropped,
            self.refreshes.succeeded,
            self.refreshes.failed,
            self.refreshes.stale_served,
            self.entries,
        )?;
        if let Some(weight) = self.weight {
            write!(f, ", weight {weight}")?;
        }
        write!(f, ", {} bytes retired", self.retired_bytes)
    }
}

/// The writer-side counters of one shard.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    inserts: Counter,
    updates: Counter,
    removals: Counter,
    evictions: Counter,
    expirations: Counter,
    pub(crate) loads_succeeded: Counter,
    pub(crate) loads_failed: Counter,
    pub(crate) loads_panicked: Counter,
    pub(crate) loads_cancelled: Counter,
    pub(crate) loads_timed_out: Counter,
    pub(crate) loads_waited: Counter,
    pub(crate) loads_superseded: Counter,
    pub(crate) loads_cached_failures: Counter,
    pub(crate) refreshes_scheduled: Counter,
    pub(crate) refreshes_dropped: Counter,
    pub(crate) refreshes_succeeded: Counter,
    pub(crate) refreshes_failed: Counter,
    pub(crate) stale_served: Counter,
    pub(crate) retired: Retired,
}

impl Counters {
    /// Counts an entry of this shard unlinked for `cause`. Call it only
    /// under the shard's lock (see [`bump_locked`]).
    pub(crate) fn unlinked_locked(&self, cause: EvictionCause) {
        let counter = match cause {
            EvictionCause::Size => &self.evictions,
            EvictionCause::Expired => &self.expirations,
            EvictionCause::Replaced => &self.updates,
            EvictionCause::Removed => &self.removals,
        };
        bump_locked(counter);
    }

    /// Counts an insert of a key absent from this shard. Call it only under
    /// the shard's lock (see [`bump_locked`]).
    pub(crate) fn inserted_locked(&self) {
        bump_locked(&self.inserts);
    }

    /// Adds these counts to `stats`.
    pub(crate) fn add_to(&self, stats: &mut Stats) {
        stats.inserts += get(&self.inserts);
        stats.updates += get(&self.updates);
        stats.removals += get(&self.removals);
        stats.evictions += get(&self.evictions);
        stats.expirations += get(&self.expirations);
        let loads = &mut stats.loads;
        loads.succeeded += get(&self.loads_succeeded);
        loads.failed += get(&self.loads_failed);
        loads.panicked += get(&self.loads_panicked);
        loads.cancelled += get(&self.loads_cancelled);
        loads.timed_out += get(&self.loads_timed_out);
        loads.waited += get(&self.loads_waited);
        loads.superseded += get(&self.loads_superseded);
        loads.cached_failures += get(&self.loads_cached_failures);
        let refreshes = &mut stats.refreshes;
        refreshes.scheduled += get(&self.refreshes_scheduled);
        refreshes.dropped += get(&self.refreshes_dropped);
        refreshes.succeeded += get(&self.refreshes_succeeded);
        refreshes.failed += get(&self.refreshes_failed);
        refreshes.stale_served += get(&self.stale_served);
        stats.retired_bytes += self.retired.bytes();
    }
}

/// Adds one to `counter`.
#[inline]
pub(crate) fn bump(counter: &Counter) {
    counter.fetch_add(1, crate::sync::Ordering::Relaxed);
}

/// Adds one to `counter`, which changes only under one lock, held by the
/// caller: a load and a store, where [`bump`]'s read-modify-write would be a
/// locked instruction. Relaxed: the lock's acquire pairs with the previous
/// holder's release, which orders that holder's store before this load.
#[inline]
fn bump_locked(counter: &Counter) {
    use crate::sync::Ordering::Relaxed;
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

fn get(counter: &Counter) -> u64 {
    counter.load(crate::sync::Ordering::Relaxed)
}

/// The hit and miss counts of one thread.
#[derive(Debug, Default)]
struct Stripe {
    hits: Counter,
    misses: Counter,
}

/// The per-thread read counters of a cache built with `record_reads(true)`.
///
/// # Invariants
/// `UNIQUE`: `id` is this value's alone, never reused in the process.
/// `STABLE`: a stripe of `stripes` stays at its address until `stripes` is
/// dropped (`ThreadLocal` never moves or frees an entry before then).
#[derive(Debug)]
pub(crate) struct Reads {
    id: u64,
    stripes: ThreadLocal<CachePadded<Stripe>>,
}

/// The next `Reads::id`; 0 is never handed out.
static NEXT_ID: Counter = Counter::new(1);

thread_local! {
    /// The `Reads::id` and the stripe of this thread's last counted read.
    static LAST: Cell<(u64, *const Stripe)> = const { Cell::new((0, ptr::null())) };
}

impl Reads {
    pub(crate) fn new() -> Self {
        Reads {
            id: NEXT_ID.fetch_add(1, crate::sync::Ordering::Relaxed),
            stripes: ThreadLocal::new(),
        }
    }

    /// Counts one read, a hit if `hit`. The first on each thread allocates
    /// the thread's stripe.
    #[inline]
    pub(crate) fn record(&self, hit: bool) {
        let (id, last) = LAST.with(Cell::get);
        let stripe = if id == self.id {
            // SAFETY: this thread stored `last` from `self.stripes`, the
            // only `Reads` with this id (invariant `UNIQUE`); `self` is
            // alive, so the stripe is still there (invariant `STABLE`).
            unsafe { &*last }
        } else {
            self.stripe()
        };
        let counter = if hit { &stripe.hits } else { &stripe.misses };
        // Relaxed load and store, not `fetch_add`: this thread is the
        // stripe's only writer (see the module docs), so nothing can come
        // between them.
        let n = counter.load(crate::sync::Ordering::Relaxed);
        counter.store(n + 1, crate::sync::Ordering::Relaxed);
    }

    /// This thread's stripe, remembered as the last one used.
    #[cold]
    fn stripe(&self) -> &Stripe {
        // The reference `get_or_default` returns when it inserts derives
        // from a `&mut` to the new entry: once another thread's `add_to`
        // has read the entry, Tree Borrows forbids writes through it, and
        // `LAST` keeps it for every later read on this thread. The one
        // `get` returns derives from a shared reference from the start.
        self.stripes.get_or_default();
        let stripe: &Stripe = (self.stripes.get()).expect("inserted just above");
        LAST.with(|last| last.set((self.id, stripe)));
        stripe
    }

    /// Adds the hits and misses of every thread to `stats`.
    pub(crate) fn add_to(&self, stats: &mut Stats) {
        for stripe in self.stripes.iter() {
            stats.hits += get(&stripe.hits);
            stats.misses += get(&stripe.misses);
        }
    }
}
