//! `StrCache`: the public face, a thin layer over the shards.

use std::{
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash},
};

use bytes::Bytes;
use crossbeam_epoch::Owned;

use crate::{
    entry::Entry,
    iter::OwnedIter,
    read::{CachedStr, Pinned},
    shard::Shard,
    sync::Epoch,
    table::tag_of,
    Builder, Error, InsertOutcome, Utf8Bytes,
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
/// Writes need `K: 'static` because retired entries are dropped by crossbeam-epoch's
/// global collector, possibly after the cache itself is gone.
///
/// # Examples
/// ```
/// use strcache::StrCache;
///
/// let cache: StrCache = StrCache::new();
/// cache.insert("user:1".to_string(), r#"{"name":"Ada"}"#);
/// assert_eq!(cache.get_str("user:1").unwrap(), r#"{"name":"Ada"}"#);
/// assert!(cache.get_str("user:2").is_none());
/// ```
pub struct StrCache<K = String, S = ahash::RandomState> {
    shards: Box<[Shard<K>]>,
    /// `shards.len() - 1`; the shard is chosen by hash bits 48.. (table
    /// slots use the low bits).
    shard_mask: usize,
    hasher: S,
    epoch: Epoch,
}

// The cache is `Send`/`Sync` through its fields: `Shard` holds
// `crossbeam_epoch::Atomic<Table<K>>`, which is `Send + Sync` when `K` is,
// and a key may be dropped on whichever thread retires or collects it, so
// both bounds are needed and are exactly what the compiler derives.

impl StrCache<String, ahash::RandomState> {
    /// An empty cache with default settings and `String` keys.
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

impl Default for StrCache<String, ahash::RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> StrCache<K, ahash::RandomState> {
    /// A builder for a cache with chosen capacity, shard count and hasher.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u64>::builder()
    ///     .initial_capacity(1_000)
    ///     .shards(4)
    ///     .build();
    /// cache.insert(7, "seven");
    /// assert_eq!(cache.get_str(&7).unwrap(), "seven");
    /// ```
    pub fn builder() -> Builder<K, ahash::RandomState> {
        Builder::new()
    }
}

impl<K, S> StrCache<K, S> {
    pub(crate) fn from_parts(shards: usize, capacity: usize, hasher: S) -> Self {
        debug_assert!(shards.is_power_of_two());
        let per_shard = capacity.div_ceil(shards);
        StrCache {
            shards: (0..shards)
                .map(|_| Shard::with_capacity(per_shard))
                .collect(),
            shard_mask: shards - 1,
            hasher,
            epoch: Epoch::default(),
        }
    }

    /// Number of live entries. Exact when no write is in flight.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1");
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    /// Whether the cache has no live entries.
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
    /// cache.insert("a".into(), "1");
    /// cache.insert("b".into(), "2");
    /// let pinned = cache.pin();
    /// let both = [pinned.get_str("a").unwrap(), pinned.get_str("b").unwrap()];
    /// assert_eq!(both.concat(), "12");
    /// ```
    pub fn pin(&self) -> Pinned<'_, K, S> {
        Pinned::new(self, self.epoch.pin())
    }

    /// Removes every entry. Readers pinned before the call keep reading the
    /// old values until they unpin.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1");
    /// cache.clear();
    /// assert!(cache.get_str("a").is_none());
    /// ```
    pub fn clear(&self) {
        let guard = self.epoch.pin();
        for shard in self.shards.iter() {
            shard.clear(&guard);
        }
    }

    /// Keeps only the entries for which `keep` returns `true`.
    ///
    /// `keep` runs without any lock and may use the cache. Weakly
    /// consistent: an entry inserted or replaced while `retain` runs may be
    /// kept without being offered to `keep`.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "short");
    /// cache.insert("b".into(), "much longer");
    /// cache.retain(|_, v| v.len() > 5);
    /// assert_eq!(cache.len(), 1);
    /// assert!(cache.contains_key("b"));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &str) -> bool) {
        let guard = self.epoch.pin();
        for shard in self.shards.iter() {
            shard.retain(&mut keep, &guard);
        }
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
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash >> 48) as usize & self.shard_mask];
        (shard, tag_of(hash))
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
    /// cache.insert("k".into(), "v");
    /// let v = cache.get_str("k").unwrap();
    /// assert_eq!(v, "v");
    /// assert_eq!(v.len(), 1);
    /// ```
    #[inline]
    pub fn get_str<Q>(&self, key: &Q) -> Option<CachedStr<'_>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        let guard = self.epoch.pin();
        let text: *const str = shard.get(tag, key, &guard)?.value.as_str();
        // SAFETY: `text` points into an entry loaded under `guard`, which
        // moves into the `CachedStr` and keeps the entry from being freed;
        // the entry cannot be dropped by the cache's own `Drop` either,
        // since the `CachedStr` borrows the cache.
        Some(unsafe { CachedStr::new(guard, text) })
    }

    /// The value for `key` as a shared handle on the cached buffer (no
    /// copy), for handing to an HTTP body or a socket. Cloning `Bytes`
    /// writes its reference count; prefer `get_str` on the hottest paths.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), String::from("body"));
    /// let body: bytes::Bytes = cache.get_bytes("k").unwrap();
    /// assert_eq!(&body[..], b"body");
    /// ```
    pub fn get_bytes<Q>(&self, key: &Q) -> Option<Bytes>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        let guard = self.epoch.pin();
        shard
            .get(tag, key, &guard)
            .map(|e| e.value.as_bytes().clone())
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "");
    /// assert!(cache.contains_key("k"));
    /// assert!(!cache.contains_key("other"));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        let guard = self.epoch.pin();
        shard.get(tag, key, &guard).is_some()
    }

    /// Walks every shard and panics if an internal invariant is broken:
    /// counts against slots, slot states, load, probe paths, and each
    /// key's hash tag, shard and uniqueness. Compiled only for tests and
    /// fuzz targets (`cfg(fuzzing)`); `strcache::check` calls it after
    /// every step.
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
    }

    pub(crate) fn get_in<'g, Q>(
        &self,
        key: &Q,
        guard: &'g crossbeam_epoch::Guard,
    ) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        shard.get(tag, key, guard)
    }

    /// Publishes `value` for `key`, taking ownership of the text without
    /// copying it. The value it replaces is freed once no reader holds it.
    ///
    /// # Examples
    /// ```
    /// use strcache::{InsertOutcome, StrCache};
    ///
    /// let cache: StrCache = StrCache::new();
    /// assert_eq!(cache.insert("k".into(), "static"), InsertOutcome::Inserted);
    /// assert_eq!(cache.insert("k".into(), String::from("owned")), InsertOutcome::Replaced);
    /// assert_eq!(cache.get_str("k").unwrap(), "owned");
    /// ```
    pub fn insert(&self, key: K, value: impl Into<Utf8Bytes>) -> InsertOutcome
    where
        K: 'static,
    {
        let (shard, tag) = self.locate(&key);
        let entry = Owned::new(Entry {
            key,
            value: value.into(),
        });
        let guard = self.epoch.pin();
        shard.insert(tag, entry, &guard)
    }

    /// Publishes `value` for `key` after checking that it is UTF-8. The
    /// buffer is kept, not copied.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] with the offset of the first invalid byte; the
    /// previous value for `key`, if any, is left in place.
    ///
    /// # Examples
    /// ```
    /// use bytes::Bytes;
    /// use strcache::StrCache;
    ///
    /// let cache: StrCache = StrCache::new();
    /// cache.try_insert_bytes("k".into(), Bytes::from_static(b"ok")).unwrap();
    /// assert!(cache.try_insert_bytes("k".into(), Bytes::from_static(b"\xff")).is_err());
    /// assert_eq!(cache.get_str("k").unwrap(), "ok");
    /// ```
    pub fn try_insert_bytes(&self, key: K, value: Bytes) -> Result<InsertOutcome, Error>
    where
        K: 'static,
    {
        let value = Utf8Bytes::try_from(value)?;
        Ok(self.insert(key, value))
    }

    /// Removes `key`, returning its value.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v");
    /// assert_eq!(cache.remove("k").unwrap().as_str(), "v");
    /// assert!(cache.remove("k").is_none());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<Utf8Bytes>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        let guard = self.epoch.pin();
        shard.remove(tag, key, &guard).map(|e| e.value.clone())
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
    /// cache.insert("a".into(), "1");
    /// cache.insert("b".into(), "2");
    /// let mut all: Vec<(String, String)> =
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

impl<K, S> fmt::Debug for StrCache<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrCache")
            .field("len", &self.len())
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
