//! Bounded caches: how entries are weighed, and the eviction policy behind
//! its lock.
//!
//! # Synchronization
//! One mutex guards the policy of the whole cache, so the bound and the hit
//! ratio do not depend on the shard count. Every write to a bounded cache
//! takes it before the shard lock (the order is always policy, then
//! shard), and keeps it until its evictions are done, so the policy and the
//! tables change together: invariant `TRACKED` below holds whenever the
//! policy lock is free. Readers never take it; they only mark the entry they
//! read (`Entry::mark`), which the policy collects with `take_marks` under
//! its lock.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::{
    entry::Entry,
    evict::policy::{Marks, Policy},
    sync::Mutex,
};

/// Bytes a key owns beyond its inline size, for [`max_bytes`] weighing.
///
/// [`max_bytes`]: crate::Builder::max_bytes
///
/// # Examples
/// ```
/// use strcache::{CompactString, KeyBytes};
///
/// assert_eq!(String::from("user:7").key_bytes(), 6);
/// assert_eq!(7u64.key_bytes(), 0);
/// // Up to 24 bytes inline, longer on the heap:
/// assert_eq!(CompactString::from("user:7").key_bytes(), 0);
/// assert_eq!(CompactString::from("tenant:0042:object:000123").key_bytes(), 25);
/// ```
pub trait KeyBytes {
    /// Heap bytes owned by the key (0 for keys stored inline).
    fn key_bytes(&self) -> usize;
}

macro_rules! inline_keys {
    ($($t:ty),*) => {$(
        impl KeyBytes for $t {
            fn key_bytes(&self) -> usize {
                0
            }
        }
    )*};
}

inline_keys!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char, bool);

impl KeyBytes for compact_str::CompactString {
    fn key_bytes(&self) -> usize {
        if self.is_heap_allocated() {
            self.len()
        } else {
            0
        }
    }
}

macro_rules! slice_keys {
    ($($t:ty),*) => {$(
        impl KeyBytes for $t {
            fn key_bytes(&self) -> usize {
                self.len()
            }
        }
    )*};
}

slice_keys!(
    String,
    Box<str>,
    std::sync::Arc<str>,
    Vec<u8>,
    Box<[u8]>,
    bytes::Bytes
);

/// Heap bytes a cache spends on each entry besides its key and value
/// bytes, as [`max_bytes`](crate::Builder::max_bytes) counts them: the
/// entry's header and key (24 bytes and `size_of` of the key; a value's
/// text follows them, or the 32-byte handle of a buffer kept as it was
/// given), the table slots at the lowest load a table is left at after it
/// grows (four 8-byte slots), and the policy's record of the key (58
/// bytes). Allocator rounding is not included, nor the 8-byte write time
/// that an entry of a cache with a clock keeps.
///
/// # Examples
/// ```
/// let overhead = strcache::entry_overhead::<String>();
/// assert!(overhead > std::mem::size_of::<String>());
/// ```
pub const fn entry_overhead<K>() -> usize {
    crate::entry::header_bytes::<K>() + 4 * 8 + POLICY_BYTES
}

/// The policy's memory per entry: its node (24 bytes and the handle), at
/// most 16 bytes of frequency sketch, and at most two bytes of eviction
/// history (`evict::policy`).
const POLICY_BYTES: usize = 24 + std::mem::size_of::<Option<EntryRef<u8>>>() + 16 + 2;

/// The largest bound a cache keeps;
/// [`Builder::max_weight`](crate::Builder::max_weight),
/// [`max_bytes`](crate::Builder::max_bytes) and
/// [`max_entries`](crate::Builder::max_entries) lower a larger one to it.
///
/// An entry heavier than the bound is refused, and the policy holds at
/// most one entry beyond the bound while it evicts, so every sum of
/// weights stays below 2^63 and none can overflow, whatever the weigher
/// returns.
///
/// # Examples
/// ```
/// use strcache::{Error, StrCache, MAX_WEIGHT};
///
/// let cache = StrCache::<u32>::builder()
///     .max_weight(u64::MAX, |_: &u32, _: &str| u64::MAX)
///     .build();
/// assert_eq!(
///     cache.insert(1, "v"),
///     Err(Error::TooLarge { weight: u64::MAX, max: MAX_WEIGHT })
/// );
/// ```
pub const MAX_WEIGHT: u64 = 1 << 62;

/// A weigher given to `Builder::max_weight`.
pub(crate) type UserWeigher<K> = Box<dyn Fn(&K, &str) -> u64 + Send + Sync>;

/// How a bounded cache weighs an entry.
pub(crate) enum Weigher<K> {
    /// Every entry weighs 1 (`max_entries`).
    Entries,
    /// Key bytes + value bytes + `entry_overhead` (`max_bytes`).
    Bytes(fn(&K) -> usize),
    /// The user's function (`max_weight`).
    Custom(UserWeigher<K>),
}

impl<K> Weigher<K> {
    /// The weight of an entry. Runs user code: never call it under a lock.
    pub(crate) fn weigh(&self, key: &K, value: &str) -> u64 {
        match self {
            Weigher::Entries => 1,
            Weigher::Bytes(key_bytes) => {
                (key_bytes(key) + value.len() + entry_overhead::<K>()) as u64
            }
            Weigher::Custom(f) => f(key, value),
        }
    }
}

impl<K> fmt::Debug for Weigher<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Weigher::Entries => "Entries",
            Weigher::Bytes(_) => "Bytes",
            Weigher::Custom(_) => "Custom",
        })
    }
}

/// The policy's handle of one entry: its hash tag (which names its shard)
/// and its address.
///
/// # Invariants
/// `TRACKED`: while the policy lock is free, the handles in the policy are
/// exactly the live entries of the published tables. An entry is linked or
/// unlinked only under the policy lock, together with the matching policy
/// call, so a handle taken from the policy under its lock points to an
/// entry that is live and not yet retired.
pub(crate) struct EntryRef<K> {
    pub(crate) tag: u64,
    /// The entry's address ([`Entry::addr`]): thin and non-null, so the
    /// policy's `Option<EntryRef>` costs no extra word.
    pub(crate) entry: NonNull<u8>,
    _key: PhantomData<*const K>,
}

// SAFETY: an `EntryRef` is a shared reference to an `Entry<K>` that may be
// used on whichever thread holds the policy lock, so it is `Send` and `Sync`
// exactly when `&Entry<K>` is, which needs `K: Sync`.
unsafe impl<K: Sync> Send for EntryRef<K> {}
// SAFETY: as for `Send`.
unsafe impl<K: Sync> Sync for EntryRef<K> {}

impl<K> EntryRef<K> {
    /// The handle of `entry`, whose key hashes to `tag`.
    pub(crate) fn new(tag: u64, entry: &Entry<K>) -> Self {
        EntryRef {
            tag,
            entry: NonNull::from(entry).cast(),
            _key: PhantomData,
        }
    }

    /// The entry.
    ///
    /// # Safety
    /// The caller holds the policy lock and took `self` from the policy
    /// under it (invariant `TRACKED`), or owns the unpublished entry.
    pub(crate) unsafe fn get(&self) -> &Entry<K> {
        // SAFETY: per the contract, the entry is live.
        unsafe { Entry::shared(self.entry.as_ptr() as usize).deref() }
    }
}

impl<K> Marks for EntryRef<K> {
    fn take_marks(&self) -> u8 {
        // SAFETY: the policy calls this on its own handles under its lock.
        unsafe { self.get() }.take_marks()
    }
}

impl<K> fmt::Debug for EntryRef<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryRef")
            .field("tag", &self.tag)
            .field("entry", &self.entry)
            .finish()
    }
}

/// The bound of a cache: its weigher and its policy.
#[derive(Debug)]
pub(crate) struct Bound<K> {
    pub(crate) policy: Mutex<Policy<EntryRef<K>>>,
    pub(crate) weigher: Weigher<K>,
    /// The most total weight: the policy's capacity, copied here so that
    /// an insert can refuse an oversized entry without taking the lock.
    pub(crate) capacity: u64,
}

impl<K> Bound<K> {
    /// A bound of `capacity`, lowered to [`MAX_WEIGHT`].
    pub(crate) fn new(capacity: u64, weigher: Weigher<K>) -> Self {
        let capacity = capacity.min(MAX_WEIGHT);
        Bound {
            policy: Mutex::new(Policy::new(capacity)),
            weigher,
            capacity,
        }
    }
}
