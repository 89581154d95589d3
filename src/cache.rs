//! `StrCache`: the public face, a thin layer over the shards.

mod sweep;
mod write;

use std::{
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash},
};

use bytes::Bytes;
use compact_str::CompactString;
use crossbeam_epoch::Guard;

use crate::{
    bound::Bound,
    entry::Entry,
    expire::Expiry,
    iter::OwnedIter,
    notify::Listener,
    read::{CachedStr, Pinned},
    shard::{Ctx, Fill, Shard},
    stats::{Counters, Reads, Stats},
    sync::Epoch,
    Builder, Utf8Bytes,
};

/// A concurrent map from keys to immutable UTF-8 values, read without locks.
///
/// Reads ([`get_str`](Self::get_str), [`get_bytes`](Self::get_bytes),
/// [`contains_key`](Self::contains_key), [`pin`](Self::pin)) are lock-free
/// and do not allocate (see the crate docs, *Allocation*). Writes search
/// lock-free, then take one per-shard lock for the pointer swap; no user
/// code (`Hash`, `Eq`, `Drop` of keys or values, the `retain` predicate)
/// runs while it is held.
///
/// Writes need `K: Send + 'static`: a replaced or removed entry is dropped
/// by crossbeam-epoch's global collector, on whichever thread collects
/// next, possibly after the cache itself is gone. So a key type that must
/// stay on its thread, such as `Rc<str>`, cannot be written:
///
/// ```compile_fail
/// use std::rc::Rc;
///
/// let cache: strcache::StrCache<Rc<str>> = strcache::StrCache::builder().build();
/// cache.insert(Rc::from("k"), "v").unwrap(); // `Rc<str>` is not `Send`
/// ```
///
/// while its `Send` twin can:
///
/// ```
/// use std::sync::Arc;
///
/// let cache: strcache::StrCache<Arc<str>> = strcache::StrCache::builder().build();
/// cache.insert(Arc::from("k"), "v").unwrap();
/// ```
///
/// # Examples
/// ```
/// use strcache::StrCache;
///
/// let cache: StrCache = StrCache::new();
/// cache.insert("user:1".into(), r#"{"name":"Ada"}"#).unwrap();
/// assert_eq!(cache.get_str("user:1").unwrap(), r#"{"name":"Ada"}"#);
/// assert!(cache.get_str("user:2").is_none());
/// ```
pub struct StrCache<K = CompactString, S = ahash::RandomState> {
    shards: Box<[Shard<K>]>,
    /// `shards.len() - 1`; the shard is chosen by hash bits 48.. (table
    /// slots use the low bits).
    ///
    /// # Invariants
    /// `MASK`: `shards.len()` is a power of two and `shard_mask + 1`;
    /// neither changes.
    shard_mask: usize,
    hasher: S,
    epoch: Epoch,
    bound: Option<Bound<K>>,
    expiry: Expiry,
    listener: Option<Listener<K>>,
    /// Hit and miss counters, if the builder asked for them.
    reads: Option<Reads>,
    /// How long a failed load's error is kept for the callers that come
    /// after it (`cache_failures_for`), in clock nanoseconds; 0 for not at
    /// all.
    keep_failures: u64,
}

/// What a built cache is besides its shards and hasher.
pub(crate) struct Settings<K> {
    pub(crate) bound: Option<Bound<K>>,
    pub(crate) expiry: Expiry,
    pub(crate) listener: Option<Listener<K>>,
    pub(crate) reads: Option<Reads>,
    pub(crate) keep_failures: u64,
}

// The cache is `Send`/`Sync` through its fields: `Shard` holds
// `crossbeam_epoch::Atomic<Table<K>>`, which is `Send + Sync` when `K` is,
// and a key may be dropped on whichever thread retires or collects it, so
// both bounds are needed and are exactly what the compiler derives.

impl StrCache<CompactString, ahash::RandomState> {
    /// An empty cache with default settings and [`CompactString`] keys.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// assert!(cache.is_empty());
    /// ```
    pub fn new() -> Self {
        Builder::new().build()
    }
}

impl Default for StrCache<CompactString, ahash::RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> StrCache<K, ahash::RandomState> {
    /// A builder for a cache with chosen capacity, shard count and hasher.
    ///
    /// The key type comes from the builder's type,
    /// `StrCache::<u64>::builder()`, or from the variable's:
    /// `let cache: StrCache = StrCache::builder().build()` for the default
    /// [`CompactString`] keys.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u64>::builder()
    ///     .initial_capacity(1_000)
    ///     .shards(4)
    ///     .build();
    /// cache.insert(7, "seven").unwrap();
    /// assert_eq!(cache.get_str(&7).unwrap(), "seven");
    /// ```
    pub fn builder() -> Builder<K, ahash::RandomState> {
        Builder::new()
    }
}

impl<K, S> StrCache<K, S> {
    pub(crate) fn from_parts(
        shards: usize,
        capacity: usize,
        hasher: S,
        settings: Settings<K>,
    ) -> Self {
        assert!(shards.is_power_of_two(), "the builder rounds shards up");
        let per_shard = capacity.div_ceil(shards);
        StrCache {
            shards: (0..shards)
                .map(|_| Shard::with_capacity(per_shard))
                .collect(),
            shard_mask: shards - 1,
            hasher,
            epoch: Epoch::default(),
            bound: settings.bound,
            expiry: settings.expiry,
            listener: settings.listener,
            reads: settings.reads,
            keep_failures: settings.keep_failures,
        }
    }

    /// Pins the current thread for this cache.
    pub(crate) fn guard(&self) -> Guard {
        self.epoch.pin()
    }

    /// The shard of the key with hash tag `tag`.
    pub(crate) fn shard(&self, tag: u64) -> &Shard<K> {
        &self.shards[self.shard_index(tag)]
    }

    /// The counters of the shard of the key with hash tag `tag`.
    pub(crate) fn counters(&self, tag: u64) -> &Counters {
        &self.shards[self.shard_index(tag)].counters
    }

    #[inline]
    fn shard_index(&self, tag: u64) -> usize {
        (tag >> 48) as usize & self.shard_mask
    }

    /// A write's context, with the clock reading `now` it took before
    /// locking anything (`expire.rs`).
    fn ctx(&self, now: u64) -> Ctx<'_, K> {
        Ctx {
            bound: self.bound.as_ref(),
            now,
            fill: Fill::Write,
        }
    }

    /// Whether `entry` has expired. Entries without a deadline cost no
    /// clock read.
    #[inline]
    fn expired(&self, entry: &Entry<K>) -> bool {
        entry.expired(&self.expiry)
    }

    /// The clock reading until which a load failing now keeps its error
    /// (`cache_failures_for`); 0 if failures are not kept.
    pub(crate) fn failure_until(&self) -> u64 {
        match self.keep_failures {
            0 => 0,
            keep => self.expiry.now().saturating_add(keep),
        }
    }

    /// The clock reading kept failures are judged by; 0 (none has expired)
    /// if failures are not kept, without reading the clock.
    pub(crate) fn failure_now(&self) -> u64 {
        match self.keep_failures {
            0 => 0,
            _ => self.expiry.now(),
        }
    }

    pub(crate) fn expiry(&self) -> &Expiry {
        &self.expiry
    }

    /// Number of entries, expired ones included until a write, eviction or
    /// [`purge_expired`](Self::purge_expired) unlinks them (no read returns
    /// them; see the crate docs, *Expiry*). Exact when no write is in flight.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let cache = StrCache::<String>::builder().clock(clock.clone()).build();
    /// cache.insert("a".into(), "1").unwrap();
    /// cache.insert_with_ttl("b".into(), "2", Duration::from_secs(1)).unwrap();
    /// clock.advance(Duration::from_secs(1));
    /// assert!(cache.get_str("b").is_none());
    /// assert_eq!(cache.len(), 2); // "b" has expired, and is not unlinked yet
    /// cache.purge_expired();
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    /// A snapshot of what the cache has done since it was built: each
    /// count is exact at some moment during the call. Hits and misses need
    /// [`Builder::record_reads`]. In a bounded cache this takes the policy
    /// lock briefly, to read the weight.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().max_entries(2).build();
    /// cache.insert(0, "v").unwrap();
    /// cache.insert(1, "v").unwrap();
    /// cache.insert(1, "w").unwrap(); // an update
    /// cache.insert(2, "v").unwrap(); // evicts one entry
    /// let stats = cache.stats();
    /// assert_eq!((stats.inserts, stats.updates, stats.evictions), (3, 1, 1));
    /// assert_eq!((stats.entries, stats.weight), (2, Some(2)));
    /// assert!(!stats.reads_recorded);
    /// ```
    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            reads_recorded: self.reads.is_some(),
            entries: self.len() as u64,
            weight: (self.bound.as_ref()).map(|bound| crate::sync::lock(&bound.policy).weight()),
            ..Stats::default()
        };
        for shard in self.shards.iter() {
            shard.counters.add_to(&mut stats);
        }
        if let Some(reads) = &self.reads {
            reads.add_to(&mut stats);
        }
        stats
    }

    /// Whether the cache holds no entries, counting expired ones not yet
    /// unlinked, as [`len`](Self::len) does.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of shards.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<String>::builder().shards(3).build();
    /// assert_eq!(cache.shard_count(), 4);
    /// ```
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Pins the current thread once for many lookups.
    ///
    /// Strings read through the returned [`Pinned`] are plain `&str` that
    /// live as long as the pin. Memory retired while a pin is held is not
    /// freed until it is dropped, so keep pins short.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1").unwrap();
    /// cache.insert("b".into(), "2").unwrap();
    /// let pinned = cache.pin();
    /// let both = [pinned.get_str("a").unwrap(), pinned.get_str("b").unwrap()];
    /// assert_eq!(both.concat(), "12");
    /// ```
    pub fn pin(&self) -> Pinned<'_, K, S> {
        Pinned::new(self, self.epoch.pin())
    }

    pub(crate) fn shards(&self) -> &[Shard<K>] {
        &self.shards
    }
}

impl<K, S> StrCache<K, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (&Shard<K>, u64) {
        let tag = self.tag(key);
        // SAFETY: `shard_index` masks with `shard_mask`, so the index is
        // below `shards.len()` (invariant `MASK`). Every read comes here,
        // and the bounds check would cost each one.
        let shard = unsafe { self.shards.get_unchecked(self.shard_index(tag)) };
        (shard, tag)
    }

    /// The hash tag of `key`: its bits 48.. choose the shard, and its low
    /// 32 bits the slot (see `table.rs`).
    #[inline]
    pub(crate) fn tag<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The value for `key`, borrowed from the cache: no copy, no lock, no
    /// allocation of its own (see the crate docs, *Allocation*).
    ///
    /// The returned [`CachedStr`] holds an epoch pin; drop it promptly, as
    /// memory retired meanwhile is freed only after it is gone.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v").unwrap();
    /// let v = cache.get_str("k").unwrap();
    /// assert_eq!(v, "v");
    /// assert_eq!(v.len(), 1);
    /// ```
    // Always inlined, as `get_in` is: a call would cost each hit the
    // `CachedStr` returned through memory and the register saves, 39
    // instructions where the compiler chose not to inline (BENCHMARKS.md,
    // "Reads: instructions and simulated cache misses per hit").
    #[inline(always)]
    pub fn get_str<Q>(&self, key: &Q) -> Option<CachedStr<'_>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let guard = self.epoch.pin();
        let entry: *const Entry<K> = self.get_in(key, &guard)?;
        // SAFETY: `entry` was loaded under `guard`, which moves into the
        // `CachedStr` and keeps the entry from being freed; the entry
        // cannot be dropped by the cache's own `Drop` either, since the
        // `CachedStr` borrows the cache.
        Some(unsafe { CachedStr::of_entry(guard, entry) })
    }

    /// The value for `key` as a shared handle on the cached buffer (no
    /// copy), for handing to an HTTP body or a socket. Cloning `Bytes`
    /// writes its reference count; prefer `get_str` on the hottest paths.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), String::from("body")).unwrap();
    /// let body: bytes::Bytes = cache.get_bytes("k").unwrap();
    /// assert_eq!(&body[..], b"body");
    /// ```
    pub fn get_bytes<Q>(&self, key: &Q) -> Option<Bytes>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let guard = self.epoch.pin();
        self.get_in(key, &guard).map(Entry::to_bytes)
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "").unwrap();
    /// assert!(cache.contains_key("k"));
    /// assert!(!cache.contains_key("other"));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key, &self.epoch.pin()).is_some()
    }

    /// Walks every shard and panics if an internal invariant is broken:
    /// counts against slots, slot states, load, probe paths, deadlines,
    /// each key's hash tag, shard and uniqueness, and in a bounded cache
    /// the policy against the tables and the weights. Compiled only for
    /// tests and fuzz targets (`cfg(fuzzing)`); `strcache::check` calls it
    /// after every step.
    ///
    /// # Panics
    /// On the first broken invariant, naming it.
    #[cfg(any(test, fuzzing))]
    #[doc(hidden)]
    pub fn validate(&self) {
        let guard = self.epoch.pin();
        for (index, shard) in self.shards.iter().enumerate() {
            crate::validate::shard(index, shard, &guard, |key| self.locate(key));
        }
        if let Some(bound) = &self.bound {
            crate::validate::bound(bound, &self.shards, &guard);
        }
    }

    /// The unexpired entry for `key`, without marking it as read. Always
    /// inlined, as [`get_in`](Self::get_in) is.
    #[inline(always)]
    pub(crate) fn find<'g, Q>(&self, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        shard.get(tag, key, guard).filter(|e| !self.expired(e))
    }

    /// As [`find`](Self::find), for a read that returns the value: it
    /// counts the read, if the cache records reads, and marks the entry
    /// as read for the policy of a bounded cache.
    ///
    /// A hit on a [`plain`](Entry::plain) entry, which has no deadline, no
    /// policy and no count to serve, costs one test of its flags; every
    /// other read goes on to [`read_work`](Self::read_work). Always
    /// inlined: it is the body of every read, and a call would cost a hit
    /// its register saves and restores.
    #[inline(always)]
    pub(crate) fn get_in<'g, Q>(&self, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        match shard.get(tag, key, guard) {
            Some(entry) if entry.plain() => Some(entry),
            found => self.read_work(found),
        }
    }

    /// The rest of a read that found `found`, if not a plain hit: the
    /// entry's expiry, the count of the read, the policy's mark.
    #[inline]
    fn read_work<'g>(&self, found: Option<&'g Entry<K>>) -> Option<&'g Entry<K>> {
        let entry = found.filter(|e| !self.expired(e));
        if let Some(reads) = &self.reads {
            reads.record(entry.is_some());
        }
        let entry = entry?;
        entry.mark();
        Some(entry)
    }

    /// As [`get_in`](Self::get_in), for a [`LoadingCache`](crate::LoadingCache)
    /// at the clock reading `now`: also an entry past its deadline but in
    /// its stale window (the grace period). With the key's hash tag.
    #[inline]
    pub(crate) fn get_in_grace<'g, Q>(
        &self,
        key: &Q,
        now: u64,
        guard: &'g Guard,
    ) -> Option<(&'g Entry<K>, u64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        let judge = now.saturating_sub(self.expiry.grace());
        let entry = (shard.get(tag, key, guard)).filter(|e| !e.expired_at(judge));
        if let Some(reads) = &self.reads {
            reads.record(entry.is_some());
        }
        let entry = entry?;
        entry.mark();
        Some((entry, tag))
    }

    /// A weakly consistent iterator over owned copies of the entries (keys
    /// are cloned, values share their buffers). For borrowed entries use
    /// [`Pinned::iter`].
    ///
    /// It never blocks writers and yields each key at most once. Entries
    /// inserted or removed while it runs may or may not be seen. It holds
    /// one epoch pin until dropped.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1").unwrap();
    /// cache.insert("b".into(), "2").unwrap();
    /// let mut all: Vec<(strcache::CompactString, String)> =
    ///     cache.iter().map(|(k, v)| (k, v.to_string())).collect();
    /// all.sort();
    /// assert_eq!(all, [("a".into(), "1".into()), ("b".into(), "2".into())]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (K, Utf8Bytes)> + '_
    where
        K: Clone,
    {
        OwnedIter::new(self, self.epoch.pin())
    }
}

/// Prints the size, the weight and bound of a bounded cache, and how
/// evenly the entries spread over the shards; never keys or values.
///
/// # Examples
/// ```
/// let cache = strcache::StrCache::<u32>::builder().shards(2).max_entries(10).build();
/// cache.insert(1, "secret").unwrap();
/// let shown = format!("{cache:?}");
/// assert!(shown.contains("len: 1") && shown.contains("weight: Some((1, 10))"), "{shown}");
/// assert!(!shown.contains("secret"));
/// ```
impl<K, S> fmt::Debug for StrCache<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lens = self.shards.iter().map(Shard::len);
        let balance = (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0));
        let weight = self.bound.as_ref().map(|bound| {
            let policy = crate::sync::lock(&bound.policy);
            (policy.weight(), policy.capacity())
        });
        f.debug_struct("StrCache")
            .field("len", &self.len())
            .field("weight", &weight)
            .field("shards", &self.shards.len())
            .field("shard_len_min_max", &balance)
            .finish_non_exhaustive()
    }
}
