//! The maps and caches under test, each behind [`Contender`]: strcache as
//! a user builds it, three strcache variants whose cost the run measures,
//! and the peers a user would pick instead, with `String` keys or, with
//! `--peer-keys compact`, strcache's own default key type.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::{Arc, RwLock},
};

use strcache::StrCache;

use crate::workload::touch;

/// The hasher every contender uses.
pub(crate) type Hasher = ahash::RandomState;

/// The key type of a peer: `String`, what a user of a generic map picks,
/// or `CompactString`, strcache's default, which keeps up to 24 bytes
/// inline (`--peer-keys compact`).
pub(crate) trait PeerKey:
    Hash + Eq + Borrow<str> + for<'a> From<&'a str> + Send + Sync + 'static
{
}

impl PeerKey for String {}
impl PeerKey for strcache::CompactString {}

/// `std`'s map behind one reader-writer lock.
pub(crate) type Locked<K = String> = RwLock<HashMap<K, Arc<str>, Hasher>>;
/// dashmap: a fixed set of `RwLock`ed shards.
pub(crate) type Dash<K = String> = dashmap::DashMap<K, Arc<str>, Hasher>;
/// papaya: lock-free reads, memory reclaimed through seize.
pub(crate) type Papaya<K = String> = papaya::HashMap<K, Arc<str>, Hasher>;
/// scc: bucket-level locks, epoch-based reclamation (sdd).
pub(crate) type Scc<K = String> = scc::HashMap<K, Arc<str>, Hasher>;
/// moka: a TinyLFU cache; every read records into the policy.
pub(crate) type Moka<K = String> = moka::sync::Cache<K, Arc<str>, Hasher>;
/// quick_cache: an S3-FIFO cache, `RwLock`ed shards.
pub(crate) type Quick<K = String> =
    quick_cache::sync::Cache<K, Arc<str>, quick_cache::UnitWeighter, Hasher>;

/// A concurrent map under test, from string keys to 128-byte values.
pub(crate) trait Contender: Sync + Sized {
    /// The row label in the report.
    const NAME: &'static str;
    /// An empty map that holds `keys` keys without evicting any.
    fn with_capacity(keys: usize) -> Self;
    /// Looks `key` up and [`touch`]es its value; 0 if it is absent.
    fn get(&self, key: &str) -> usize;
    /// Inserts or overwrites `key` with `value`, a fresh `String`, in the
    /// form the contender stores.
    fn insert(&self, key: &str, value: String);
}

impl Contender for StrCache {
    const NAME: &'static str = "strcache";
    fn with_capacity(keys: usize) -> Self {
        StrCache::builder().initial_capacity(keys).build()
    }
    fn get(&self, key: &str) -> usize {
        self.get_str(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.insert(key.into(), value).unwrap();
    }
}

/// strcache built another way: `Variant<COUNTED>` counts hits and misses
/// (`record_reads(true)`), what the per-thread read counters cost;
/// `Variant<BOUNDED>` has a bound (twice the key count, so nothing is
/// evicted while measuring), what readers pay for the policy's use marks
/// and writers for its lock.
pub(crate) struct Variant<const V: u8>(StrCache);

/// See [`Variant`].
pub(crate) const COUNTED: u8 = 0;
/// See [`Variant`].
pub(crate) const BOUNDED: u8 = 1;

impl<const V: u8> Contender for Variant<V> {
    const NAME: &'static str = ["strcache (reads counted)", "strcache (bounded)"][V as usize];
    fn with_capacity(keys: usize) -> Self {
        let builder = StrCache::builder().initial_capacity(keys);
        Variant(
            match V {
                COUNTED => builder.record_reads(true),
                _ => builder.max_entries(2 * keys as u64),
            }
            .build(),
        )
    }
    fn get(&self, key: &str) -> usize {
        self.0.get(key)
    }
    fn insert(&self, key: &str, value: String) {
        Contender::insert(&self.0, key, value);
    }
}

/// strcache with `String` keys instead of its default `CompactString`s:
/// what keeping short keys inline buys.
pub(crate) struct StringKeys(StrCache<String>);

impl Contender for StringKeys {
    const NAME: &'static str = "strcache (String keys)";
    fn with_capacity(keys: usize) -> Self {
        StringKeys(StrCache::builder().initial_capacity(keys).build())
    }
    fn get(&self, key: &str) -> usize {
        self.0.get_str(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value).unwrap();
    }
}

impl<K: PeerKey> Contender for Locked<K> {
    const NAME: &'static str = "RwLock<HashMap>";
    fn with_capacity(keys: usize) -> Self {
        RwLock::new(HashMap::with_capacity_and_hasher(keys, Hasher::new()))
    }
    fn get(&self, key: &str) -> usize {
        self.read()
            .expect("not poisoned")
            .get(key)
            .map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        // Both allocations before the lock, as a user would make them.
        let (key, value) = (K::from(key), Arc::from(value));
        self.write().expect("not poisoned").insert(key, value);
    }
}

impl<K: PeerKey> Contender for Dash<K> {
    const NAME: &'static str = "dashmap";
    fn with_capacity(keys: usize) -> Self {
        dashmap::DashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.insert(K::from(key), Arc::from(value));
    }
}

impl<K: PeerKey> Contender for Papaya<K> {
    const NAME: &'static str = "papaya";
    fn with_capacity(keys: usize) -> Self {
        papaya::HashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.pin().get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.pin().insert(K::from(key), Arc::from(value));
    }
}

impl<K: PeerKey> Contender for Scc<K> {
    const NAME: &'static str = "scc::HashMap";
    fn with_capacity(keys: usize) -> Self {
        scc::HashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.read_sync(key, |_, v| touch(v.as_bytes())).unwrap_or(0)
    }
    fn insert(&self, key: &str, value: String) {
        self.upsert_sync(K::from(key), Arc::from(value));
    }
}

impl<K: PeerKey> Contender for Moka<K> {
    const NAME: &'static str = "moka";
    fn with_capacity(keys: usize) -> Self {
        moka::sync::Cache::builder()
            .max_capacity(keys as u64)
            .initial_capacity(keys)
            .build_with_hasher(Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.insert(K::from(key), Arc::from(value));
    }
}

impl<K: PeerKey> Contender for Quick<K> {
    const NAME: &'static str = "quick_cache";
    fn with_capacity(keys: usize) -> Self {
        // Twice the key count: capacity is split evenly over shards, and
        // keys are not, so an exact fit would evict from the fuller shards.
        quick_cache::sync::Cache::with(
            keys,
            2 * keys as u64,
            quick_cache::UnitWeighter,
            Hasher::new(),
            quick_cache::sync::DefaultLifecycle::default(),
        )
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: String) {
        self.insert(K::from(key), Arc::from(value));
    }
}
