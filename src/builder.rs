//! `Builder`: settings for a new cache.

mod loading;

use std::{fmt, hash::BuildHasher, marker::PhantomData, time::Duration};

use crate::{
    bound::{Bound, KeyBytes, Weigher},
    cache::Settings,
    expire::{nanos, Clock, Expiry},
    notify::Listener,
    stats::Reads,
    ConfigError, EvictionCause, Pipeline, StrCache, Utf8Bytes,
};

/// The most shards a cache may have (the shard is chosen by 16 hash bits).
const MAX_SHARDS: usize = 1 << 16;

/// The most entries `initial_capacity` makes room for up front. A larger
/// hint overflowed the table size computation (#17, defect 6) and built a
/// table with no slots.
const MAX_INITIAL_CAPACITY: usize = 1 << 26;

/// Configures and builds a [`StrCache`].
///
/// Settings that cannot make a cache (`max_entries(0)`, two different
/// bounds, a zero time to live, zero shards) are refused when the cache is
/// built, with a [`ConfigError`] that names the setting:
/// [`try_build`](Self::try_build) returns it, and [`build`](Self::build)
/// panics with its message, as the builders of moka and quick_cache do,
/// since settings are usually fixed in the code and wrong ones are a bug to
/// fix rather than a condition to handle. Settings read from a file or the
/// command line are what `try_build` is for.
///
/// The key type is fixed when the builder is made: `StrCache::<u64>::builder()`,
/// or by the type of the variable the cache goes into,
/// `let cache: StrCache = StrCache::builder().build()` for the default
/// [`CompactString`](crate::CompactString) keys.
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
    /// The bound as called (`"max_entries"`, the maximum) and its weigher.
    bound: Option<(&'static str, u64, Weigher<K>)>,
    /// A second bound that differs from the first; refused by `try_build`.
    conflict: Option<ConfigError>,
    ttl: Option<Duration>,
    clock: Option<Box<dyn Clock>>,
    listener: Option<Listener<K>>,
    record_reads: bool,
    refresh_after: Option<Duration>,
    serve_stale_for: Option<Duration>,
    pipeline: Option<Pipeline>,
    cache_failures_for: Option<Duration>,
    _key: PhantomData<fn(K)>,
}

impl<K> Builder<K, ahash::RandomState> {
    pub(crate) fn new() -> Self {
        Builder {
            capacity: 0,
            shards: None,
            hasher: ahash::RandomState::new(),
            bound: None,
            conflict: None,
            ttl: None,
            clock: None,
            listener: None,
            record_reads: false,
            refresh_after: None,
            serve_stale_for: None,
            pipeline: None,
            cache_failures_for: None,
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

    /// The number of shards, rounded up to a power of two. Default: four
    /// per available core, rounded up to a power of two, so writers on
    /// different cores rarely share a lock. 0 or more than 65,536 makes
    /// [`build`](Self::build) fail ([`ConfigError::ZeroShards`],
    /// [`ConfigError::TooManyShards`]).
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().shards(5).build();
    /// assert_eq!(cache.shard_count(), 8);
    ///
    /// let err = strcache::StrCache::<u32>::builder().shards(0).try_build().unwrap_err();
    /// assert_eq!(err.to_string(), "shards(0): a cache needs at least one shard");
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
            conflict: self.conflict,
            ttl: self.ttl,
            clock: self.clock,
            listener: self.listener,
            record_reads: self.record_reads,
            refresh_after: self.refresh_after,
            serve_stale_for: self.serve_stale_for,
            pipeline: self.pipeline,
            cache_failures_for: self.cache_failures_for,
            _key: PhantomData,
        }
    }

    /// Bounds the cache to `max` entries. Inserts beyond it evict entries
    /// the policy judges least likely to be read again (see the crate docs,
    /// *Eviction*).
    ///
    /// A cache has one bound: this, [`max_bytes`](Self::max_bytes) or
    /// [`max_weight`](Self::max_weight). Setting a second, different one
    /// makes [`build`](Self::build) fail ([`ConfigError::TwoBounds`]), and
    /// so does `max_entries(0)` ([`ConfigError::ZeroBound`]).
    ///
    /// # Examples
    /// ```
    /// use strcache::{ConfigError, StrCache};
    ///
    /// let cache = StrCache::<u32>::builder().max_entries(100).build();
    /// for i in 0..1_000 {
    ///     cache.insert(i, "v").unwrap();
    /// }
    /// assert!(cache.len() <= 100);
    ///
    /// let err = StrCache::<String>::builder()
    ///     .max_entries(100)
    ///     .max_bytes(1 << 20)
    ///     .try_build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     ConfigError::TwoBounds { first: "max_entries(100)".into(), second: "max_bytes(1048576)".into() }
    /// );
    /// ```
    pub fn max_entries(self, max: u64) -> Self {
        self.bound("max_entries", max, Weigher::Entries)
    }

    /// Sets the bound, or records a conflict with a different one set
    /// before. Weighers cannot be compared, so a second `max_weight` always
    /// conflicts.
    fn bound(mut self, setting: &'static str, max: u64, weigher: Weigher<K>) -> Self {
        match &self.bound {
            None => self.bound = Some((setting, max, weigher)),
            Some((first, first_max, _))
                if (*first, *first_max) == (setting, max) && setting != "max_weight" => {}
            Some((first, first_max, _)) => {
                let conflict = ConfigError::TwoBounds {
                    first: format!("{first}({first_max})"),
                    second: format!("{setting}({max})"),
                };
                self.conflict.get_or_insert(conflict);
            }
        }
        self
    }

    /// Bounds the heap memory of the cache's entries to about `max` bytes:
    /// each entry weighs its key's bytes, its value's bytes and a fixed
    /// overhead, [`entry_overhead`](crate::entry_overhead). The one bound
    /// of the cache, as with [`max_entries`](Self::max_entries);
    /// `max_bytes(0)` makes [`build`](Self::build) fail.
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
    pub fn max_bytes(self, max: u64) -> Self
    where
        K: KeyBytes,
    {
        self.bound("max_bytes", max, Weigher::Bytes(K::key_bytes))
    }

    /// Bounds the total weight of the entries to `max`, each weighed by
    /// `weigher`. The weigher runs on the inserting thread before any lock
    /// is taken; if it panics, the insert panics and changes nothing.
    /// A `max` above [`MAX_WEIGHT`](crate::MAX_WEIGHT) is lowered to it.
    /// The one bound of the cache, as with [`max_entries`](Self::max_entries);
    /// a second `max_weight` always conflicts, since weighers cannot be
    /// compared. `max_weight(0, ..)` is allowed: it holds only the entries
    /// that `weigher` weighs 0.
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
        self,
        max: u64,
        weigher: impl Fn(&K, &str) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.bound("max_weight", max, Weigher::Custom(Box::new(weigher)))
    }

    /// A time to live for every entry inserted without one of its own
    /// ([`insert_with_ttl`](StrCache::insert_with_ttl) overrides it). An
    /// expired entry is never returned; its memory is reclaimed by later
    /// writes to its shard, by eviction, or by
    /// [`purge_expired`](StrCache::purge_expired). A zero `ttl` makes
    /// [`build`](Self::build) fail ([`ConfigError::ZeroTimeToLive`]).
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
    ///
    /// let zero = strcache::StrCache::<String>::builder().time_to_live(Duration::ZERO);
    /// assert_eq!(zero.try_build().unwrap_err(), strcache::ConfigError::ZeroTimeToLive);
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
    /// every lock, so it may use the cache. Entries still in the cache when
    /// it is dropped are not reported: they are dropped with it.
    ///
    /// If it panics, the panic reaches that call's caller and the cache
    /// stays consistent, every entry that left it dropped once; but the
    /// rest of that call's reports are skipped (a `clear` of many entries
    /// reports none after the panic). The listener stays installed and
    /// hears the next call's departures.
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

    /// Keeps a failed load's error for `window`: callers of the key that
    /// come meanwhile get the same error (shared, an `Arc`) without running
    /// a loader, and a loading cache queues no reload of the key. Negative
    /// caching: a backend that is down, or a key that does not exist, costs
    /// one backend call per window, not one per request. A write of the key
    /// (insert, remove, clear, retain) ends the window at once. Default:
    /// off; a failure goes to the callers waiting for that load, and the
    /// next caller loads again. Applies to [`StrCache::get_or_insert_with`]
    /// and its variants and to the loading caches. `cache_failures_for(0s)`
    /// makes the build fail ([`ConfigError::ZeroWindow`]).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let cache = StrCache::<u32>::builder()
    ///     .clock(clock.clone())
    ///     .cache_failures_for(Duration::from_secs(5))
    ///     .build();
    /// let down = || Err::<&str, _>("backend down");
    /// assert!(cache.try_get_or_insert_with(&1, down).is_err());
    /// // Within the window: the same error, and the loader does not run.
    /// let again = cache.try_get_or_insert_with(&1, || -> Result<&str, &str> { unreachable!() });
    /// assert_eq!(again.unwrap_err().to_string(), "loader failed: backend down");
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(cache.try_get_or_insert_with(&1, || Ok::<_, &str>("up")).unwrap(), "up");
    /// ```
    pub fn cache_failures_for(mut self, window: Duration) -> Self {
        self.cache_failures_for = Some(window);
        self
    }

    /// Builds the cache.
    ///
    /// # Panics
    /// If the settings cannot make a cache, with the [`ConfigError`]
    /// message that names the setting (see [`try_build`](Self::try_build)).
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<String>::builder().build();
    /// assert!(cache.is_empty());
    /// ```
    ///
    /// ```should_panic
    /// // Panics: "invalid cache settings: max_entries(0): a cache bounded to 0 can hold nothing; ..."
    /// strcache::StrCache::<String>::builder().max_entries(0).build();
    /// ```
    #[track_caller]
    pub fn build(self) -> StrCache<K, S> {
        match self.try_build() {
            Ok(cache) => cache,
            Err(e) => panic!("invalid cache settings: {e}"),
        }
    }

    /// Builds the cache, or says which setting makes that impossible.
    ///
    /// # Errors
    /// - `max_entries(0)` or `max_bytes(0)`: [`ConfigError::ZeroBound`];
    /// - two different bounds: [`ConfigError::TwoBounds`];
    /// - `time_to_live(Duration::ZERO)`: [`ConfigError::ZeroTimeToLive`];
    /// - `cache_failures_for(Duration::ZERO)`: [`ConfigError::ZeroWindow`];
    /// - `shards(0)`, or more than 65,536: [`ConfigError::ZeroShards`],
    ///   [`ConfigError::TooManyShards`].
    ///
    /// # Examples
    /// ```
    /// use strcache::{ConfigError, StrCache};
    ///
    /// // A bound read from a configuration file:
    /// let max: u64 = "0".parse().unwrap();
    /// match StrCache::<String>::builder().max_entries(max).try_build() {
    ///     Ok(_) => unreachable!("a bound of 0 is refused"),
    ///     Err(e) => assert_eq!(e, ConfigError::ZeroBound { setting: "max_entries" }),
    /// }
    /// ```
    pub fn try_build(self) -> Result<StrCache<K, S>, ConfigError> {
        let fresh = [
            ("refresh_after", self.refresh_after.is_some()),
            ("serve_stale_for", self.serve_stale_for.is_some()),
            ("refresh_pipeline", self.pipeline.is_some()),
        ];
        if let Some(&(setting, _)) = fresh.iter().find(|(_, set)| *set) {
            return Err(ConfigError::NeedsLoader { setting });
        }
        self.cache(false)
    }

    /// The cache these settings make; `loading`, for a [`LoadingCache`](crate::LoadingCache),
    /// whose writes all read the clock, and which keeps expired entries
    /// for `serve_stale_for`.
    fn cache(self, loading: bool) -> Result<StrCache<K, S>, ConfigError> {
        if let Some(conflict) = self.conflict {
            return Err(conflict);
        }
        let shards = match self.shards {
            Some(0) => return Err(ConfigError::ZeroShards),
            Some(shards) if shards > MAX_SHARDS => {
                let max = MAX_SHARDS;
                return Err(ConfigError::TooManyShards { shards, max });
            }
            Some(shards) => shards,
            None => default_shards(),
        }
        .next_power_of_two();
        if let Some((setting @ ("max_entries" | "max_bytes"), 0, _)) = self.bound {
            return Err(ConfigError::ZeroBound { setting });
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTimeToLive);
        }
        if self.cache_failures_for == Some(Duration::ZERO) {
            let setting = "cache_failures_for";
            return Err(ConfigError::ZeroWindow { setting });
        }
        let settings = Settings {
            bound: (self.bound).map(|(_, max, weigher)| Bound::new(max, weigher)),
            expiry: Expiry::new(self.clock, self.ttl, self.serve_stale_for, loading),
            listener: self.listener,
            reads: self.record_reads.then(Reads::new),
            keep_failures: self.cache_failures_for.map_or(0, nanos),
        };
        Ok(StrCache::from_parts(
            shards,
            self.capacity,
            self.hasher,
            settings,
        ))
    }
}

/// Four shards per available core, within [`MAX_SHARDS`].
fn default_shards() -> usize {
    (std::thread::available_parallelism().map_or(1, |n| n.get()) * 4).min(MAX_SHARDS)
}

impl<K, S> fmt::Debug for Builder<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("bound", &self.bound)
            .field("conflict", &self.conflict)
            .field("ttl", &self.ttl)
            .field("clock", &self.clock)
            .field("record_reads", &self.record_reads)
            .field("refresh_after", &self.refresh_after)
            .field("serve_stale_for", &self.serve_stale_for)
            .field("pipeline", &self.pipeline)
            .field("cache_failures_for", &self.cache_failures_for)
            .finish_non_exhaustive()
    }
}
