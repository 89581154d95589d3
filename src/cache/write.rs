//! Writes of one key: `insert` and its variants, the eviction a bounded
//! write runs before it returns, and `remove`.

use std::{
    borrow::Borrow,
    hash::{BuildHasher, Hash},
    time::Duration,
};

use bytes::Bytes;
use crossbeam_epoch::Guard;

use crate::{
    bound::EntryRef,
    entry::{Entry, NewEntry, NewValue},
    evict::policy::Policy,
    notify::{EvictionCause, Unlinked},
    shard::{flush_large, Ctx, Fill},
    Error, InsertOutcome, IntoValue, StrCache, Utf8Bytes,
};

impl<K, S> StrCache<K, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Publishes `value` for `key`: a `String`, a `&'static str` or other
    /// text (see [`IntoValue`]). Text of up to 4 KiB is copied into the
    /// entry, beside its key, and the caller's buffer is dropped, so that a
    /// read finds key and text in one allocation; longer text is kept
    /// without a copy, as [`try_insert_bytes`](Self::try_insert_bytes)
    /// keeps any. The value it replaces is freed once no reader holds it.
    /// The entry expires after the cache's default time to live, if one is
    /// set. In a bounded cache, the insert evicts entries until the total
    /// weight is within the bound again before it returns.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the entry alone weighs more than the bound of
    /// a bounded cache; nothing changes.
    ///
    /// # Examples
    /// ```
    /// use strcache::{InsertOutcome, StrCache};
    ///
    /// let cache: StrCache = StrCache::new();
    /// assert_eq!(cache.insert("k".into(), "static"), Ok(InsertOutcome::Inserted));
    /// assert_eq!(cache.insert("k".into(), String::from("owned")), Ok(InsertOutcome::Replaced));
    /// assert_eq!(cache.get_str("k").unwrap(), "owned");
    /// ```
    pub fn insert(&self, key: K, value: impl IntoValue) -> Result<InsertOutcome, Error>
    where
        K: Send + 'static,
    {
        self.write(key, value.into_value(), None)
    }

    /// Publishes `value` for `key` to expire after `ttl`, which overrides
    /// the cache's default time to live. Otherwise as [`insert`](Self::insert).
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let cache = StrCache::<String>::builder().clock(clock.clone()).build();
    /// cache.insert_with_ttl("session".into(), "{}", Duration::from_secs(30)).unwrap();
    /// assert!(cache.get_str("session").is_some());
    /// clock.advance(Duration::from_secs(30));
    /// assert!(cache.get_str("session").is_none());
    /// ```
    pub fn insert_with_ttl(
        &self,
        key: K,
        value: impl IntoValue,
        ttl: Duration,
    ) -> Result<InsertOutcome, Error>
    where
        K: Send + 'static,
    {
        self.write(key, value.into_value(), Some(ttl))
    }

    /// Publishes `value` for `key` after checking that it is UTF-8. The
    /// buffer is kept, not copied, whatever its length: a read then loads
    /// it apart from the entry.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] with the offset of the first invalid byte, or
    /// as [`insert`](Self::insert); the previous value for `key`, if any, is
    /// left in place.
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
        K: Send + 'static,
    {
        let value = Utf8Bytes::try_from(value)?;
        self.write(key, NewValue::Kept(value), None)
    }

    /// Inserts `key` with `value` (see [`NewValue`]).
    pub(crate) fn write(
        &self,
        key: K,
        value: NewValue<'_>,
        ttl: Option<Duration>,
    ) -> Result<InsertOutcome, Error>
    where
        K: Send + 'static,
    {
        let outcome = self.write_fill(key, value, ttl, Fill::Write)?;
        debug_assert!(outcome.is_some(), "only a load is ever beaten by a write");
        Ok(outcome.unwrap_or(InsertOutcome::Inserted))
    }

    /// Inserts `key` with `value`, related to the loads of the key in flight
    /// as `fill` says: `Ok(None)` if it was a load that a write beat, and
    /// nothing changed.
    pub(crate) fn write_fill(
        &self,
        key: K,
        mut value: NewValue<'_>,
        ttl: Option<Duration>,
        fill: Fill<'_, K>,
    ) -> Result<Option<InsertOutcome>, Error>
    where
        K: Send + 'static,
    {
        let weight = match &self.bound {
            Some(bound) => {
                // User code (the weigher): before any lock.
                let weight = bound.weigher.weigh(&key, value.as_str());
                let max = bound.capacity;
                if weight > max {
                    return Err(Error::TooLarge { weight, max });
                }
                weight
            }
            None => 0,
        };
        let (shard, tag) = self.locate(&key);
        // User code (the clock): before any lock.
        let stamp = self.expiry.stamp(ttl);
        let now = stamp.judge;
        let new = NewEntry::new(
            key,
            tag,
            &mut value,
            stamp,
            self.bound.is_some(),
            self.reads.is_some(),
        );
        let guard = self.epoch.pin();
        let mut out = Unlinked::new();
        let ctx = Ctx {
            fill,
            ..self.ctx(now)
        };
        // `None`: beaten, and nothing changed.
        let Some(inserted) = shard.insert(tag, new, weight, ctx, &mut out, &guard) else {
            return Ok(None);
        };
        let mut flush = inserted.flush;
        if let Some(mut policy) = inserted.policy {
            flush |= self.evict(&mut policy, now, &mut out, &guard);
        }
        // Before the listener, which may panic: a sealed batch left in
        // this thread's bag would come back with 63 more deferred
        // functions, far more blocks than the shard keeps.
        if flush {
            flush_large(&guard);
        }
        out.finish(self.listener.as_ref());
        // The buffer the value was copied from (a user `Drop`, perhaps),
        // after every lock and after the listener heard of the write.
        drop(value);
        Ok(Some(inserted.outcome))
    }

    /// Evicts the policy's victims until the total weight is within the
    /// bound, each reported as expired if it had expired at `now`. Called
    /// with the policy locked. Returns whether a victim's unlink sealed a
    /// batch, which the writer then flushes once it holds no lock.
    fn evict<'g>(
        &self,
        policy: &mut Policy<EntryRef<K>>,
        now: u64,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) -> bool
    where
        K: Send,
    {
        let mut sealed = false;
        while policy.weight() > policy.capacity() {
            let Some((_, victim)) = policy.evict() else {
                break;
            };
            // SAFETY: live until the unlink below (invariant `TRACKED`).
            let entry = unsafe { Entry::shared(victim.entry.as_ptr() as usize) };
            let shard = &self.shards[self.shard_index(victim.tag)];
            let unlinked = shard.evict(victim.tag, entry, now, guard);
            debug_assert!(
                unlinked.is_some(),
                "a tracked entry is live (invariant TRACKED)"
            );
            let Some((cause, sealed_now)) = unlinked else {
                continue;
            };
            sealed |= sealed_now;
            // SAFETY: unlinked and retired just above, under its shard
            // lock and `guard`, once: the policy hands each victim out once.
            unsafe { out.push(entry, cause) };
        }
        sealed
    }

    /// Removes `key`, returning its value (`None` if it had none, or had
    /// expired).
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("k".into(), "v").unwrap();
    /// assert_eq!(cache.remove("k").unwrap().as_str(), "v");
    /// assert!(cache.remove("k").is_none());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<Utf8Bytes>
    where
        K: Borrow<Q> + Send,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, tag) = self.locate(key);
        // User code (the clock): before any lock.
        let now = self.expiry.now_if_timed();
        let guard = self.epoch.pin();
        let (removed, cause, sealed) = shard.remove(tag, key, self.ctx(now), &guard)?;
        // SAFETY: retired by `Shard::remove` under `guard`, still pinned.
        let entry = unsafe { removed.deref() };
        let value = (cause == EvictionCause::Removed).then(|| entry.to_utf8());
        let mut out = Unlinked::new();
        // SAFETY: `Shard::remove` unlinked and retired it under its lock,
        // under `guard`, once.
        unsafe { out.push(removed, cause) };
        // Before the listener, which may panic (see `write_fill`).
        if sealed {
            flush_large(&guard);
        }
        out.finish(self.listener.as_ref());
        value
    }
}
