//! Entries a write unlinked, reported to the eviction listener, if any.
//!
//! A write collects the entries it unlinks while it holds its locks, and
//! retires each there (`batch.rs`); it hands them over here once it has
//! released its locks. So a listener that panics (user code) leaves
//! nothing unretired, no lock held, and the cache consistent; its panic
//! reaches the caller of the write.

use std::fmt;

use crossbeam_epoch::Shared;

use crate::{entry::Entry, Utf8Bytes};

/// Why an entry left the cache, as reported to the listener set with
/// [`Builder::on_evict`](crate::Builder::on_evict).
///
/// # Examples
/// ```
/// use std::sync::{Arc, Mutex};
/// use strcache::{EvictionCause, StrCache};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let cache = StrCache::<String>::builder()
///     .on_evict(move |key: &String, value, cause| {
///         log.lock().unwrap().push((key.clone(), value.to_string(), cause));
///     })
///     .build();
/// cache.insert("k".into(), "v1").unwrap();
/// cache.insert("k".into(), "v2").unwrap();
/// cache.remove("k");
/// assert_eq!(
///     *seen.lock().unwrap(),
///     [
///         ("k".into(), "v1".into(), EvictionCause::Replaced),
///         ("k".into(), "v2".into(), EvictionCause::Removed),
///     ]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvictionCause {
    /// The policy chose it to keep the cache within its bound.
    Size,
    /// Its time to live passed. Reported when it is unlinked, whatever
    /// unlinked it: a write, eviction, `remove`, `retain`, `clear` or
    /// `purge_expired`.
    Expired,
    /// An insert gave its key a new value.
    Replaced,
    /// `remove`, `retain` or `clear` took it out before it expired.
    Removed,
}

/// The user's eviction listener.
pub(crate) type Listener<K> = Box<dyn Fn(&K, &Utf8Bytes, EvictionCause) + Send + Sync>;

/// Entries unlinked by one write, waiting to be reported.
pub(crate) struct Unlinked<'g, K> {
    /// The entry an insert replaced: the common case, kept out of `more`
    /// so that an overwrite allocates nothing here.
    first: Option<(Shared<'g, Entry<K>>, EvictionCause)>,
    more: Vec<(Shared<'g, Entry<K>>, EvictionCause)>,
}

impl<'g, K> Unlinked<'g, K> {
    pub(crate) fn new() -> Self {
        Unlinked {
            first: None,
            more: Vec::new(),
        }
    }

    /// Records an entry to report.
    ///
    /// # Safety
    /// `entry` was unlinked from the published table, and retired, while
    /// the guard of `'g` was pinned, and is recorded once.
    pub(crate) unsafe fn push(&mut self, entry: Shared<'g, Entry<K>>, cause: EvictionCause) {
        if self.first.is_none() {
            self.first = Some((entry, cause));
        } else {
            self.more.push((entry, cause));
        }
    }

    /// Reports every recorded entry to `listener`. Call it with no lock
    /// held: the listener is user code. (Each entry was counted by cause,
    /// and retired, where it was unlinked, under its shard's lock.)
    #[inline]
    pub(crate) fn finish(self, listener: Option<&Listener<K>>) {
        let Some(listener) = listener else {
            return;
        };
        for (entry, cause) in self.first.into_iter().chain(self.more) {
            // SAFETY: `push`'s contract: retired while `'g`'s guard was
            // pinned, which it still is, so the collector has not freed it.
            let entry = unsafe { entry.deref() };
            listener(&entry.key, &entry.to_utf8(), cause);
        }
    }
}

impl<K> fmt::Debug for Unlinked<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unlinked")
            .field(
                "count",
                &(usize::from(self.first.is_some()) + self.more.len()),
            )
            .finish()
    }
}
