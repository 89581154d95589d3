//! `Builder`: settings for a new cache.

use std::{fmt, hash::BuildHasher, marker::PhantomData, time::Duration};

use crate::{
    bound::{Bound, KeyBytes, Weigher},
    cache::Settings,
    expire::{Clock, Expiry},
    notify::Listener,
    stats::Reads,
    EvictionCause, StrCache, Utf8Bytes,
};

/// The most shards a cache may have (the shard is chosen by 16 hash bits).
const MAX_SHARDS: usize = 1 << 16;

/// The most entries `initial_capacity` makes room for up front. A larger
/// hint overflowed the table size computation (#17, defect 6) and built a
/// table with no slots.
const MAX_INITIAL_CAPACITY: usize = 1 << 26;

/// Configures and builds a [`StrCache`].
///
/// # Examples
/// ```
/// use strcache::StrCache;
///
/// let cache = StrCache::<String>::builder()
///     .initial_capacity(10_000)
///     .shards(16)
///     .hasher(std::hash::RandomState::new())
///     .build();
/// assert_eq!(cache.shard_count(), 16);
/// ```
pub struct Builder<K, S> {
    capacity: usize,
    shards: Option<usize>,
    hasher: S,
    bound: Option<(u64, Weigher<K>)>,
    ttl: Option<Duration>,
    clock: Option<Box<dyn Clock>>,
    listener: Option<Listener<K>>,
    record_reads: bool,
    _key: PhantomData<fn(K)>,
}

impl<K> Builder<K, ahash::RandomState> {
    pub(crate) fn new() -> Self {
        Builder {
            capacity: 0,
            shards: None,
            hasher: ahash::RandomState::new(),
            bound: None,
            ttl: None,
            clock: None,
            listener: None,
            record_reads: false,
            _key: PhantomData,
        }
    }
}

impl<K, S> Builder<K, S> {
    /// Room for `capacity` entries before any shard resizes. Default 0:
    /// shards start small and grow. A hint: room for at most 2^26 entries
    /// is allocated up front, and shards grow past it as entries come.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().initial_capacity(64).build();
    /// assert!(cache.is_empty());
    ///
    /// // More than could be allocated: taken as 2^26.
    /// let builder = strcache::StrCache::<u32>::builder().initial_capacity(usize::MAX);
    /// assert!(format!("{builder:?}").contains("capacity: 67108864"));
    /// ```
    pub fn initial_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.min(MAX_INITIAL_CAPACITY);
        self
    }

    /// The number of shards, rounded up to a power of two, at least 1 and
    /// at most 65,536. Default: four per available core, rounded up to a
    /// power of two, so writers on different cores rarely share a lock.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().shards(5).build();
    /// assert_eq!(cache.shard_count(), 8);
    /// ```
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The hasher that places keys. The default, `ahash::RandomState`, is
    /// keyed per cache at run time, which resists hash flooding.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder()
    ///     .hasher(std::hash::RandomState::new())
    ///     .build();
    /// cache.insert(1, "one").unwrap();
    /// assert!(cache.contains_key(&1));
    /// ```
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> Builder<K, S2> {
        Builder {
            capacity: self.capacity,
            shards: self.shards,
            hasher,
            bound: self.bound,
            ttl: self.ttl,
            clock: self.clock,
            listener: self.listener,
            record_reads: self.record_reads,
            _key: PhantomData,
        }
    }

    /// Bounds the cache to `max` entries. Inserts beyond it evict entries
    /// the policy judges least likely to be read again (see the crate docs,
    /// *Eviction*). Replaces any earlier bound.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().max_entries(100).build();
    /// for i in 0..1_000 {
    ///     cache.insert(i, "v").unwrap();
    /// }
    /// assert!(cache.len() <= 100);
    /// ```
    pub fn max_entries(mut self, max: u64) -> Self {
        self.bound = Some((max, Weigher::Entries));
        self
    }

    /// Bounds the heap memory of the cache's entries to about `max` bytes:
    /// each entry weighs its key's bytes, its value's bytes and a fixed
    /// overhead, [`entry_overhead`](crate::entry_overhead). Replaces any
    /// earlier bound.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<String>::builder().max_bytes(64 * 1024).build();
    /// for i in 0..1_000 {
    ///     cache.insert(format!("key:{i}"), "x".repeat(100)).unwrap();
    /// }
    /// let per_entry = 5 + 100 + strcache::entry_overhead::<String>();
    /// assert!(cache.len() * per_entry <= 64 * 1024);
    /// ```
    pub fn max_bytes(mut self, max: u64) -> Self
    where
        K: KeyBytes,
    {
        self.bound = Some((max, Weigher::Bytes(K::key_bytes)));
        self
    }

    /// Bounds the total weight of the entries to `max`, each weighed by
    /// `weigher`. The weigher runs on the inserting thread before any lock
    /// is taken; if it panics, the insert panics and changes nothing.
    /// Replaces any earlier bound. A `max` above
    /// [`MAX_WEIGHT`](crate::MAX_WEIGHT) is lowered to it.
    ///
    /// # Examples
    /// ```
    /// // Weigh by value length only.
    /// let cache = strcache::StrCache::<u32>::builder()
    ///     .max_weight(10, |_key: &u32, value: &str| value.len() as u64)
    ///     .build();
    /// cache.insert(1, "12345").unwrap();
    /// cache.insert(2, "12345").unwrap();
    /// cache.insert(3, "1").unwrap();
    /// assert!(cache.len() <= 2);
    /// assert!(cache.insert(4, "x".repeat(11)).is_err());
    /// ```
    pub fn max_weight(
        mut self,
        max: u64,
        weigher: impl Fn(&K, &str) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.bound = Some((max, Weigher::Custom(Box::new(weigher))));
        self
    }

    /// A time to live for every entry inserted without one of its own
    /// ([`insert_with_ttl`](StrCache::insert_with_ttl) overrides it). An
    /// expired entry is never returned; its memory is reclaimed by later
    /// writes to its shard, by eviction, or by
    /// [`purge_expired`](StrCache::purge_expired).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let cache = strcache::StrCache::<String>::builder()
    ///     .time_to_live(Duration::from_secs(300))
    ///     .build();
    /// cache.insert("k".into(), "v").unwrap();
    /// assert!(cache.contains_key("k"));
    /// ```
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The time source for expiry. Default: monotonic time
    /// ([`std::time::Instant`]).
    ///
    /// # Examples
    /// ```
    /// let clock = strcache::ManualClock::new();
    /// let cache = strcache::StrCache::<String>::builder().clock(clock).build();
    /// assert!(cache.is_empty());
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Calls `listener` with each entry that leaves the cache and why:
    /// evicted for size, expired, replaced or removed. It runs on the
    /// thread whose call removed the entry, after that call has released
    /// every lock, so it may use the cache. If it panics, the panic reaches
    /// that call's caller and the cache stays consistent; the remaining
    /// entries of that call are not reported.
    ///
    /// # Examples
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let evicted = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&evicted);
    /// let cache = strcache::StrCache::<u32>::builder()
    ///     .max_entries(10)
    ///     .on_evict(move |_, _, cause| {
    ///         if cause == strcache::EvictionCause::Size {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build();
    /// for i in 0..100 {
    ///     cache.insert(i, "v").unwrap();
    /// }
    /// assert_eq!(evicted.load(Ordering::Relaxed) + cache.len(), 100);
    /// ```
    pub fn on_evict(
        mut self,
        listener: impl Fn(&K, &Utf8Bytes, EvictionCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// Counts hits and misses for [`StrCache::stats`]. Off by default, and
    /// then reads pay nothing for it. On, each read adds one to a counter
    /// of its own thread, on a cache line of its own, without a locked
    /// instruction, so threads reading the same key do not write to one
    /// shared line. The first counted read of each thread allocates its
    /// counters (128 bytes, kept until the cache is dropped).
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().record_reads(true).build();
    /// cache.get_str(&1);
    /// assert_eq!(cache.stats().misses, 1);
    /// ```
    pub fn record_reads(mut self, record: bool) -> Self {
        self.record_reads = record;
        self
    }

    /// Builds the cache.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<String>::builder().build();
    /// assert!(cache.is_empty());
    /// ```
    pub fn build(self) -> StrCache<K, S> {
        let shards = self
            .shards
            .unwrap_or_else(default_shards)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two();
        let settings = Settings {
            bound: self.bound.map(|(max, weigher)| Bound::new(max, weigher)),
            expiry: Expiry::new(self.clock, self.ttl),
            listener: self.listener,
            reads: self.record_reads.then(Reads::new),
        };
        StrCache::from_parts(shards, self.capacity, self.hasher, settings)
    }
}

fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 4
}

impl<K, S> fmt::Debug for Builder<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("bound", &self.bound)
            .field("ttl", &self.ttl)
            .field("clock", &self.clock)
            .field("record_reads", &self.record_reads)
            .finish_non_exhaustive()
    }
}
