//! What loaders return, and how a load fails.

use std::{convert::Infallible, error, fmt, sync::Arc, time::Duration};

use crate::{Error, Utf8Bytes};

/// What a loader returns: a value, which the cache's default time to live
/// (if any) governs, or an [`Expiring`] value with a time to live of its
/// own.
///
/// Implemented for every type a value can be made from (`&'static str`,
/// `String`, [`Utf8Bytes`], ...) and for [`Expiring`] of one.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{Expiring, Loaded};
///
/// let (value, ttl) = "plain".into_parts();
/// assert_eq!((value.as_str(), ttl), ("plain", None));
/// let (_, ttl) = Expiring::new("brief", Duration::from_secs(5)).into_parts();
/// assert_eq!(ttl, Some(Duration::from_secs(5)));
/// ```
pub trait Loaded {
    /// The value, and its own time to live if it has one.
    fn into_parts(self) -> (Utf8Bytes, Option<Duration>);
}

impl<V: Into<Utf8Bytes>> Loaded for V {
    fn into_parts(self) -> (Utf8Bytes, Option<Duration>) {
        (self.into(), None)
    }
}

/// A loaded value with a time to live chosen by its loader, for example
/// from the backend's `Cache-Control: max-age`. The entry expires after
/// `ttl` or after the cache's default time to live, whichever is shorter.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{Expiring, ManualClock, StrCache};
///
/// let clock = ManualClock::new();
/// let cache = StrCache::<String>::builder().clock(clock.clone()).build();
/// let max_age = Duration::from_secs(30);
/// let v = cache.get_or_insert_with("k", || Expiring::new("fresh", max_age));
/// assert_eq!(v.unwrap(), "fresh");
/// clock.advance(max_age);
/// assert!(cache.get_str("k").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring<V> {
    /// The value.
    pub value: V,
    /// How long it lives, at most.
    pub ttl: Duration,
}

impl<V> Expiring<V> {
    /// `value`, to live for `ttl` at most.
    ///
    /// # Examples
    /// ```
    /// let e = strcache::Expiring::new("v", std::time::Duration::from_secs(1));
    /// assert_eq!(e.value, "v");
    /// ```
    pub fn new(value: V, ttl: Duration) -> Self {
        Expiring { value, ttl }
    }
}

impl<V: Into<Utf8Bytes>> Loaded for Expiring<V> {
    fn into_parts(self) -> (Utf8Bytes, Option<Duration>) {
        (self.value.into(), Some(self.ttl))
    }
}

/// Why [`StrCache::try_get_or_insert_with`](crate::StrCache::try_get_or_insert_with) failed.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use strcache::{LoadError, StrCache};
///
/// let cache: StrCache = StrCache::new();
/// let err = cache
///     .try_get_or_insert_with("k", || Err::<&str, _>("backend down"))
///     .unwrap_err();
/// assert_eq!(err, LoadError::Load(Arc::new("backend down")));
/// assert!(cache.get_str("k").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader returned this error: this caller's loader, or the one
    /// this caller waited for, whose callers all share it.
    Load(Arc<E>),
    /// The cache refused, as [`StrCache::get_or_insert_with`](crate::StrCache::get_or_insert_with) does.
    Cache(Error),
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Load(e) => write!(f, "loader failed: {e}"),
            LoadError::Cache(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: error::Error + 'static> error::Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn error::Error + 'static)> {
        match self {
            LoadError::Load(e) => Some(e.as_ref()),
            LoadError::Cache(e) => Some(e),
        }
    }
}

impl LoadError<Infallible> {
    /// The cache's error, when the loader cannot fail.
    pub(super) fn into_error(self) -> Error {
        match self {
            LoadError::Load(never) => match *never {},
            LoadError::Cache(e) => e,
        }
    }
}
