//! Operations on the whole cache: `clear`, `purge_expired` and `retain`.

use crossbeam_epoch::{Guard, Shared};

use crate::{
    entry::reclaim,
    notify::{EvictionCause, Unlinked},
    retired::Retired,
    shard::flush_large,
    table::Table,
    StrCache,
};

impl<K, S> StrCache<K, S> {
    /// Removes every entry. Readers pinned before the call keep reading the
    /// old values until they unpin.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("a".into(), "1").unwrap();
    /// cache.clear();
    /// assert!(cache.get_str("a").is_none());
    /// ```
    pub fn clear(&self)
    where
        K: Send,
    {
        let now = self.expiry.now_if_timed();
        let guard = self.epoch.pin();
        let mut policy = self.ctx(now).lock_policy();
        let old: Vec<_> = (self.shards.iter())
            .filter_map(|s| Some((s, s.clear(now, &guard)?)))
            .collect();
        if let Some(policy) = policy.as_deref_mut() {
            policy.clear();
        }
        drop(policy);
        // Every table is retired before the first report: a listener that
        // panics ends the reports, and must not leave a table unretired,
        // with its entries never dropped.
        for &(shard, table) in &old {
            // SAFETY: each was unlinked by `Shard::clear` just above, and
            // is retired once, here.
            unsafe { retire_table(table, &shard.counters.retired, &guard) };
        }
        // The tables, and the batches `Shard::clear` sealed, go to the
        // global collector now, not once the thread's bag fills.
        flush_large(&guard);
        let Some(listener) = &self.listener else {
            return;
        };
        for (_, table) in old {
            // SAFETY: retired under `guard`, still pinned: not freed.
            for (_, entry) in unsafe { table.deref() }.live(&guard) {
                // SAFETY: as above; the table owns its entries.
                let entry = unsafe { entry.deref() };
                let cause = entry.cause_at(now, EvictionCause::Removed);
                listener(&entry.key, &entry.to_utf8(), cause);
            }
        }
    }

    /// Unlinks every expired entry now, instead of leaving them for later
    /// writes to the same shards (expired entries are never returned either
    /// way; this frees their memory and their weight in a bounded cache).
    ///
    /// It also hands to the epoch collector the entries that writes
    /// replaced, removed or evicted and that their shards hold back, up to
    /// 64 a shard, to be freed together: their keys and values are then
    /// dropped as soon as no reader can reach them, as `clear` and `retain`
    /// leave what they unlink. (An entry whose value is a buffer of its
    /// own is never held back.)
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let cache = StrCache::<String>::builder().clock(clock.clone()).build();
    /// cache.insert_with_ttl("k".into(), "v", Duration::from_secs(1)).unwrap();
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(cache.len(), 1); // expired, not yet reclaimed
    /// cache.purge_expired();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn purge_expired(&self)
    where
        K: Send,
    {
        let now = self.expiry.now_if_timed();
        let guard = self.epoch.pin();
        let mut out = Unlinked::new();
        let mut policy = self.ctx(now).lock_policy();
        let mut sealed = false;
        for shard in self.shards.iter() {
            sealed |= shard.purge(now, usize::MAX, policy.as_deref_mut(), &mut out, &guard);
        }
        drop(policy);
        // Before the listener, which may panic (see `write_fill`).
        if sealed {
            flush_large(&guard);
        }
        out.finish(self.listener.as_ref());
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
    /// cache.insert("a".into(), "short").unwrap();
    /// cache.insert("b".into(), "much longer").unwrap();
    /// cache.retain(|_, v| v.len() > 5);
    /// assert_eq!(cache.len(), 1);
    /// assert!(cache.contains_key("b"));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &str) -> bool)
    where
        K: Send,
    {
        let now = self.expiry.now_if_timed();
        let guard = self.epoch.pin();
        for shard in self.shards.iter() {
            let mut out = Unlinked::new();
            // Each shard's sealed batch goes to the collector before the
            // listener hears of its entries, and before `keep` runs on the
            // next shard: either may panic (see `write_fill`).
            let sealed = shard.retain(
                |e| {
                    if e.expired_at(now) {
                        Some(EvictionCause::Expired)
                    } else {
                        (!keep(&e.key, e.text())).then_some(EvictionCause::Removed)
                    }
                },
                self.ctx(now),
                &mut out,
                &guard,
            );
            if sealed {
                flush_large(&guard);
            }
            out.finish(self.listener.as_ref());
        }
    }
}

/// Retires a table that `Shard::clear` unlinked, with its entries, whose
/// bytes count in `retired` until they are freed. `K: Send`, as for
/// a batch of entries (`batch.rs`): another thread may drop the keys.
///
/// # Safety
/// `old` came from `Shard::clear` and is retired once.
unsafe fn retire_table<K: Send>(old: Shared<'_, Table<K>>, retired: &Retired, guard: &Guard) {
    // SAFETY: unlinked but not yet retired, so not freed.
    let table = unsafe { old.deref() };
    let entries: usize = table
        .live(guard)
        // SAFETY: the table still owns its live entries (invariant
        // `PUBLISHED` until the swap in `clear`).
        .map(|(_, e)| unsafe { e.deref() }.bytes())
        .sum();
    let retiring = retired.retire(table.bytes() + entries);
    // SAFETY: `old` was unlinked by the swap in `clear`; it owns its live
    // entries (invariant `PUBLISHED`), which no other table holds, and no
    // thread pinned after the swap can reach it. The closure runs once,
    // after every guard that could have loaded it is gone.
    unsafe {
        guard.defer_unchecked(move || {
            drop(retiring);
            let mut table = old.into_owned();
            reclaim(|| table.drop_entries());
        });
    }
}
