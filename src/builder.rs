//! `Builder`: settings for a new cache.

use std::{fmt, hash::BuildHasher, marker::PhantomData};

use crate::StrCache;

/// The most shards a cache may have (the shard is chosen by 16 hash bits).
const MAX_SHARDS: usize = 1 << 16;

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
    _key: PhantomData<fn(K)>,
}

impl<K> Builder<K, ahash::RandomState> {
    pub(crate) fn new() -> Self {
        Builder {
            capacity: 0,
            shards: None,
            hasher: ahash::RandomState::new(),
            _key: PhantomData,
        }
    }
}

impl<K, S> Builder<K, S> {
    /// Room for `capacity` entries before any shard resizes. Default 0:
    /// shards start small and grow.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().initial_capacity(64).build();
    /// assert!(cache.is_empty());
    /// ```
    pub fn initial_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
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
    /// cache.insert(1, "one");
    /// assert!(cache.contains_key(&1));
    /// ```
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> Builder<K, S2> {
        Builder {
            capacity: self.capacity,
            shards: self.shards,
            hasher,
            _key: PhantomData,
        }
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
        StrCache::from_parts(shards, self.capacity, self.hasher)
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
            .finish_non_exhaustive()
    }
}
