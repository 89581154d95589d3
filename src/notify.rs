//! Entries a write unlinked: retired after the locks are released, and
//! reported to the eviction listener, if any.
//!
//! A write collects the entries it unlinks while it holds its locks and
//! hands them over here once it has released them. Each is retired first,
//! then reported, so a listener that panics (user code) leaves nothing
//! unretired, no lock held, and the cache consistent; its panic reaches the
//! caller of the write.

use std::fmt;

use crossbeam_epoch::{Guard, Shared};

use crate::{
    entry::{retire, Entry},
    retired::Retired,
    Utf8Bytes,
};

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

/// Entries unlinked by one write, waiting to be retired and reported.
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

    /// Records an entry to retire and report.
    ///
    /// # Safety
    /// `entry` was unlinked from the published table under the lock that
    /// makes this write its only retirer, and is recorded once.
    pub(crate) unsafe fn push(&mut self, entry: Shared<'g, Entry<K>>, cause: EvictionCause) {
        if self.first.is_none() {
            self.first = Some((entry, cause));
        } else {
            self.more.push((entry, cause));
        }
    }

    /// Retires every recorded entry, its bytes counted in `retired`, then
    /// reports each to `listener`. Call it with no lock held: the listener
    /// and the `Drop`s that the collector may run are user code. (Each
    /// entry was counted by cause where it was unlinked, under its shard's
    /// lock.)
    pub(crate) fn finish(self, listener: Option<&Listener<K>>, retired: &Retired, guard: &'g Guard)
    where
        K: Send,
    {
        let all = self.first.into_iter().chain(self.more);
        let Some(listener) = listener else {
            for (entry, _) in all {
                // SAFETY: `push`'s contract: unlinked, and recorded once.
                unsafe { retire(guard, entry, retired) };
            }
            return;
        };
        let all: Vec<_> = all.collect();
        for &(entry, _) in &all {
            // SAFETY: as above.
            unsafe { retire(guard, entry, retired) };
        }
        for (entry, cause) in all {
            // SAFETY: retired above under `guard`, which is still pinned,
            // so the collector has not freed it.
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
