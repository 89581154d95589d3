//! The read-side handles: `CachedStr` and `Pinned`.

use std::{
    borrow::Borrow,
    cmp::Ordering,
    fmt,
    hash::{BuildHasher, Hash},
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull,
};

use crossbeam_epoch::Guard;

use bytes::Bytes;

use crate::{entry::Entry, iter::Iter, StrCache, Utf8Bytes};

/// A cached value borrowed from a [`StrCache`]: derefs to `&str`.
///
/// It holds an epoch pin, which keeps the bytes alive even if the entry is
/// replaced or removed meanwhile; memory retired while it lives is freed
/// after it is dropped. It is neither `Send` nor `Sync` (the pin belongs
/// to the thread), so it cannot be held across an `.await` in a task that
/// must be `Send` (a multi-threaded tokio runtime's). There, take
/// [`StrCache::get_bytes`], a `Bytes` that shares the cached buffer and is
/// `Send`, or read within a scope that ends before the `.await`.
///
/// # Examples
/// ```
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("k".into(), "value").unwrap();
/// let v = cache.get_str("k").unwrap();
/// cache.insert("k".into(), "newer").unwrap();
/// assert_eq!(v, "value"); // still the value it was read as
/// assert_eq!(format!("<{v}>"), "<value>");
/// ```
///
/// A `CachedStr` cannot go to another thread:
///
/// ```compile_fail
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("k".into(), "value").unwrap();
/// let v = cache.get_str("k").unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || assert_eq!(v, "value")); // `CachedStr` is not `Send`
/// });
/// ```
///
/// while the `Bytes` of [`get_bytes`](StrCache::get_bytes) can, and so can
/// what a scoped read makes of the text:
///
/// ```
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("k".into(), "value").unwrap();
/// let v = cache.get_bytes("k").unwrap();
/// let len = cache.get_str("k").map(|text| text.len()); // the pin ends here
/// std::thread::scope(|s| {
///     s.spawn(move || assert_eq!((&v[..], len), (&b"value"[..], Some(5))));
/// });
/// ```
pub struct CachedStr<'c> {
    /// # Invariants
    /// `PINNED`: `text` and `source` point into memory that lives until
    /// `_guard` is dropped: an entry loaded under `_guard`, or a value
    /// whose drop is deferred under it.
    text: NonNull<str>,
    /// What `to_bytes` shares: the entry or the `Utf8Bytes` that `text`
    /// lies in.
    source: NonNull<u8>,
    /// Makes the `Bytes` of `source`: `Entry::<K>::to_bytes` for an entry
    /// of keys `K`, or a clone of a `Utf8Bytes`.
    to_bytes: unsafe fn(NonNull<u8>) -> Bytes,
    _guard: Guard,
    _cache: PhantomData<&'c ()>,
}

impl<'c> CachedStr<'c> {
    /// # Safety
    /// `value` is a value whose drop was deferred under `guard`.
    pub(crate) unsafe fn new(guard: Guard, value: *const Utf8Bytes) -> Self {
        /// # Safety
        /// `value` points to a live `Utf8Bytes`.
        unsafe fn share(value: NonNull<u8>) -> Bytes {
            // SAFETY: the caller's contract.
            unsafe { value.cast::<Utf8Bytes>().as_ref() }
                .as_bytes()
                .clone()
        }
        // SAFETY: the caller's contract: the value outlives the guard.
        let text = unsafe { &*value }.as_str();
        CachedStr {
            text: NonNull::from(text),
            // SAFETY: a pointer to a live value is not null.
            source: unsafe { NonNull::new_unchecked(value.cast_mut()) }.cast(),
            to_bytes: share,
            _guard: guard,
            _cache: PhantomData,
        }
    }

    /// # Safety
    /// `entry` was loaded under `guard` from a cache that outlives `'c`.
    #[inline]
    pub(crate) unsafe fn of_entry<K>(guard: Guard, entry: *const Entry<K>) -> Self {
        /// # Safety
        /// `entry` points to an entry that is not yet freed, reached
        /// through the cache's reference (see `entry/mod.rs`).
        unsafe fn share<K>(entry: NonNull<u8>) -> Bytes {
            // SAFETY: the caller's contract.
            unsafe { Entry::<K>::shared(entry.as_ptr() as usize).deref() }.to_bytes()
        }
        // SAFETY: the caller's contract: the entry outlives the guard.
        let entry = unsafe { &*entry };
        CachedStr {
            text: NonNull::from(entry.text()),
            source: NonNull::from(entry).cast(),
            to_bytes: share::<K>,
            _guard: guard,
            _cache: PhantomData,
        }
    }

    /// The text.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v").unwrap();
    /// assert_eq!(cache.get_str("k").unwrap().as_str(), "v");
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: invariant `PINNED`: the guard we own keeps the text alive
        // while `self` is borrowed.
        unsafe { self.text.as_ref() }
    }

    /// The value as a `Bytes` that shares the cached buffer (no copy) and,
    /// unlike the `CachedStr`, is `Send` and `'static`: for an HTTP body,
    /// or to hold across an `.await`. It is the value this `CachedStr`
    /// reads, also when the cache has replaced it since, so a loader's
    /// value can be had as `Bytes` without a second lookup that could
    /// miss.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let loaded = cache.get_or_insert_with("k", || "body").unwrap();
    /// cache.remove("k");
    /// let body: bytes::Bytes = loaded.to_bytes();
    /// drop(loaded); // the epoch pin ends; `body` lives on
    /// assert_eq!(&body[..], b"body");
    /// ```
    pub fn to_bytes(&self) -> Bytes {
        // SAFETY: invariant `PINNED`: the guard we own keeps the source
        // alive, and `to_bytes` was chosen for it.
        unsafe { (self.to_bytes)(self.source) }
    }
}

impl Deref for CachedStr<'_> {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for CachedStr<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for CachedStr<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for CachedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CachedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq for CachedStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CachedStr<'_> {}

impl PartialOrd for CachedStr<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CachedStr<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for CachedStr<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for CachedStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CachedStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for CachedStr<'_> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<CachedStr<'_>> for str {
    fn eq(&self, other: &CachedStr<'_>) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<CachedStr<'_>> for &str {
    fn eq(&self, other: &CachedStr<'_>) -> bool {
        *self == other.as_str()
    }
}

/// One epoch pin over many lookups; see [`StrCache::pin`].
///
/// Every `&str` it returns lives as long as the `Pinned` itself:
///
/// ```compile_fail
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("k".into(), "v").unwrap();
/// let s: &str;
/// {
///     let pinned = cache.pin();
///     s = pinned.get_str("k").unwrap();
/// }
/// println!("{s}"); // error: `pinned` does not live long enough
/// ```
///
/// while the same code that uses the string inside the pin's scope compiles:
///
/// ```
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("k".into(), "v").unwrap();
/// let s: &str;
/// {
///     let pinned = cache.pin();
///     s = pinned.get_str("k").unwrap();
///     println!("{s}");
/// }
/// ```
pub struct Pinned<'c, K, S> {
    cache: &'c StrCache<K, S>,
    guard: Guard,
}

impl<'c, K, S> Pinned<'c, K, S> {
    pub(crate) fn new(cache: &'c StrCache<K, S>, guard: Guard) -> Self {
        Pinned { cache, guard }
    }

    /// A weakly consistent iterator over borrowed entries: it never blocks
    /// writers and yields each live key at most once.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1").unwrap();
    /// let pinned = cache.pin();
    /// let all: Vec<(&str, &str)> = pinned.iter().map(|(k, v)| (k.as_str(), v)).collect();
    /// assert_eq!(all, [("a", "1")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &str)> + '_ {
        Iter::new(self.cache, &self.guard)
    }
}

impl<K, S> Pinned<'_, K, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The value for `key`, as a `&str` that lives as long as this pin.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v").unwrap();
    /// let pinned = cache.pin();
    /// assert_eq!(pinned.get_str("k"), Some("v"));
    /// ```
    #[inline]
    pub fn get_str<Q>(&self, key: &Q) -> Option<&str>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.get_in(key, &self.guard).map(|e| e.text())
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v").unwrap();
    /// assert!(cache.pin().contains_key("k"));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.find(key, &self.guard).is_some()
    }
}

impl<K, S> fmt::Debug for Pinned<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinned").finish_non_exhaustive()
    }
}
