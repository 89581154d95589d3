//! Operations on the whole cache: `clear`, `purge_expired` and `retain`.

use crate::{
    notify::{EvictionCause, Unlinked},
    shard::retire_table,
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
            .filter_map(|s| Some((s, s.clear(&guard)?)))
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
        for (shard, table) in old {
            // SAFETY: retired under `guard`, still pinned: not freed.
            for (_, entry) in unsafe { table.deref() }.live(&guard) {
                // SAFETY: as above; the table owns its entries.
                let entry = unsafe { entry.deref() };
                let cause = if entry.expired_at(now) {
                    EvictionCause::Expired
                } else {
                    EvictionCause::Removed
                };
                shard.counters.unlinked(cause);
                if let Some(listener) = &self.listener {
                    listener(&entry.key, &entry.to_utf8(), cause);
                }
            }
        }
    }

    /// Unlinks every expired entry now, instead of leaving them for later
    /// writes to the same shards (expired entries are never returned either
    /// way; this frees their memory and their weight in a bounded cache).
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
        for shard in self.shards.iter() {
            shard.purge(now, usize::MAX, policy.as_deref_mut(), &mut out, &guard);
        }
        drop(policy);
        // Counted in one shard: `stats()` sums them all.
        out.finish(self.listener.as_ref(), &self.shards[0].counters, &guard);
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
            shard.retain(
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
            out.finish(self.listener.as_ref(), &shard.counters, &guard);
        }
    }
}
