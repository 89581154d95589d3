//! Loading: `get_or_insert_with` and its variants run one loader per
//! missing key at a time, and survive loaders that fail, panic, hang, are
//! cancelled or call back into the cache.
//!
//! # Synchronization
//! Each shard lists its *flights*, the loads in progress, in its writer
//! state, under the shard lock (`shard/mod.rs`), held only to find, add or
//! remove a flight: no user code runs under it, not even the key's `Eq`,
//! since flights are found by hash tag alone. A caller that misses looks
//! for a flight with its key's tag:
//! - None: it adds one and becomes its leader. It looks the key up again
//!   (a leader that completed between the miss and the add has published
//!   already), runs the loader with no lock held, and publishes the value
//!   with an insert that, in the critical section that links it, checks
//!   that the flight is still listed and unlists it. Then it completes the
//!   flight: sets its status to `Loaded(value)` and wakes its waiters.
//! - Some: it waits, on the flight's condition variable or, for async
//!   callers, through its waker list, until the status leaves `Loading`.
//!   `Loaded` with the caller's key gives it the value; `Abandoned`, or a
//!   flight for another key with the same tag, sends it back to the start:
//!   it looks the key up again, and on a miss the first caller to reach
//!   the list leads the next flight.
//!
//! A write of the key (insert, remove, clear, retain) unlists its flight
//! under the same lock. The leader then finds its flight unlisted and does
//! not publish: its value goes to its own caller and to the waiters that
//! joined before the write, whose calls began before it, but never over
//! the write. Callers that start after the write find no flight and load
//! afresh.
//!
//! Per-key linearizability follows. A waiter joins while its flight is
//! listed, so before the flight's value was linked and before any write
//! that beat it: the value was loaded during its call, and if published,
//! the key held it during its call. A caller that starts after the value
//! was linked (and perhaps removed already, by another thread or by the
//! eviction listener the insert runs) finds no flight, since the flight
//! left the list as the value was linked.
//!
//! A leader whose loader fails ends its flight as `Failed(error)`: the
//! waiters share the error (an `Arc`), and none runs the loader again for
//! it. A leader that panics or is dropped abandons its flight from a drop
//! guard: it unlists the flight and ends it as `Abandoned`, so no waiter
//! waits for a loader that no longer runs, and one of them loads instead. The status is written and read under the
//! flight's own mutex, which orders the value before the waiter's read and
//! makes a wake-up impossible to miss: a waiter checks the status and
//! starts waiting under that mutex, and the leader sets the status under it
//! before it notifies. The flight leaves the list before its status
//! changes, so a caller that finds it either waits for that change or sees
//! the final status.
//!
//! A cache built with `cache_failures_for(d)` keeps a failure listed: the
//! leader stores the instant it expires (read from the clock before any
//! lock) and ends its flight as `Failed` without unlisting it. A caller
//! that finds it shares its error, with no loader call, until it expires;
//! a caller that finds it expired, or of another key or error type,
//! unlists it and goes round again, to lead. A write of the key unlists it
//! like any flight: a write ends the failure's window. Its key and error
//! are user data, so a kept failure the list held last is never dropped
//! under the shard lock: a write moves it to the shard's graveyard, and
//! the next caller that lists a flight in that shard takes the graveyard,
//! and the kept failures that have expired, to drop after the lock. Those
//! of keys no one asks for again thus go with the shard's next load.
//!
//! A synchronous flight records its leader's thread, under the flight's
//! mutex (a refresh worker records itself when it starts a queued reload).
//! A caller that finds its own thread leading its key's flight is a loader
//! loading its own key: it gets [`Error::Recursive`] rather than waiting
//! for itself.
//!
//! A value handed to a caller that did not look it up in the table (the
//! leader, and its waiters) may already have been evicted or replaced: the
//! caller's [`CachedStr`] keeps it alive by deferring the drop of one
//! reference to it past the caller's own epoch pin, and hands that
//! deferred drop to the collector at once.

#[cfg(feature = "async")]
mod asynch;
mod flight;
mod loaded;
mod refresh;

use std::{
    any::Any,
    borrow::Borrow,
    convert::Infallible,
    hash::{BuildHasher, Hash},
    sync::Arc,
    time::{Duration, Instant},
};

pub(crate) use flight::Flight;
use flight::{Leader, Status, Tally};
pub use loaded::{Expiring, LoadError, Loaded};

use crate::{
    entry::{reclaim, Entry, NewValue},
    read::CachedStr,
    shard::{flush_large, Fill},
    stats::bump,
    sync::{current_thread, ThreadId},
    Error, StrCache, Utf8Bytes,
};

/// What a caller that missed does next.
enum Role<'a, K> {
    /// Run the loader.
    Lead(Leader<'a, K>),
    /// Wait for another caller's load.
    Wait(Arc<Flight<K>>),
}

impl<K, S> StrCache<K, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    S: BuildHasher,
{
    /// The value for `key`, loaded with `load` and inserted if it is
    /// missing. Concurrent callers for the same missing key run one loader
    /// between them: the others wait for its value. Different keys load in
    /// parallel, and no lock is held while `load` runs.
    ///
    /// The key is borrowed, as in [`get_str`](Self::get_str) (`&str` for
    /// `CompactString` or `String` keys), and made into an owned `K` (its
    /// `ToOwned` form, converted with `Into`) only on a
    /// miss: a hit costs what `get_str` costs and allocates nothing. A
    /// loaded value obeys the cache's bound and default time to live like
    /// any insert.
    ///
    /// A write of the key that lands while `load` runs (an insert, a
    /// remove, a clear, or a retain that drops it) wins: the loaded value
    /// is returned to this caller, and to the callers already waiting for
    /// it, but is not cached over the write; [`LoadStats::superseded`](crate::LoadStats::superseded)
    /// counts such loads. Callers that start after the write do not wait
    /// for this load.
    ///
    /// If `load` panics, the panic reaches this caller only; one of the
    /// waiters runs its own loader instead. `load` may use the cache,
    /// including loading other keys.
    ///
    /// # Errors
    /// - [`Error::Recursive`] when called from the loader of the same key
    ///   on the same thread, which would otherwise wait for itself.
    /// - [`Error::TooLarge`] when the loaded value does not fit the bound;
    ///   a waiter then runs its own loader.
    ///
    /// Two loaders that each wait for the other's key (on two threads)
    /// wait forever; [`get_or_insert_with_timeout`](Self::get_or_insert_with_timeout)
    /// bounds the wait.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let v = cache.get_or_insert_with("user:1", || r#"{"name":"Ada"}"#).unwrap();
    /// assert_eq!(v, r#"{"name":"Ada"}"#);
    /// // Present now: the loader does not run.
    /// let v = cache.get_or_insert_with("user:1", || -> &str { unreachable!() }).unwrap();
    /// assert_eq!(v, r#"{"name":"Ada"}"#);
    /// ```
    pub fn get_or_insert_with<Q, V: Loaded>(
        &self,
        key: &Q,
        load: impl FnOnce() -> V,
    ) -> Result<CachedStr<'_>, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.load(key, None, || Ok::<_, Infallible>(load()))
            .map_err(LoadError::into_error)
    }

    /// As [`get_or_insert_with`](Self::get_or_insert_with), with a loader
    /// that can fail. A failed load is not cached, and its error is shared:
    /// this caller and the callers waiting for its load all get it (one
    /// loader call for them all, not one each in turn). Callers that start
    /// after it ended run a loader of their own. A waiter whose loader has
    /// another error type than the one it waited for runs its own loader.
    ///
    /// # Errors
    /// [`LoadError::Load`] with the loader's error, or
    /// [`LoadError::Cache`] as [`get_or_insert_with`](Self::get_or_insert_with).
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let v = cache.try_get_or_insert_with("k", || "1".parse::<u8>().map(|n| n.to_string()));
    /// assert_eq!(v.unwrap(), "1");
    /// ```
    pub fn try_get_or_insert_with<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.load(key, None, load)
    }

    /// As [`get_or_insert_with`](Self::get_or_insert_with), but a caller
    /// that has waited `timeout` for another caller's loader gives up. That
    /// loader carries on and still publishes its value. A caller that runs
    /// the loader itself is not interrupted. No thread is spawned.
    ///
    /// # Errors
    /// [`Error::Timeout`] after waiting `timeout`, or as
    /// [`get_or_insert_with`](Self::get_or_insert_with).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let v = cache.get_or_insert_with_timeout("k", Duration::from_secs(1), || "v");
    /// assert_eq!(v.unwrap(), "v");
    /// ```
    pub fn get_or_insert_with_timeout<Q, V: Loaded>(
        &self,
        key: &Q,
        timeout: Duration,
        load: impl FnOnce() -> V,
    ) -> Result<CachedStr<'_>, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.load(key, Some(timeout), || Ok::<_, Infallible>(load()))
            .map_err(LoadError::into_error)
    }

    /// The synchronous load: a hit costs what `get_str` costs, nothing
    /// more (no clock read, no thread lookup).
    #[inline]
    fn load<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        timeout: Option<Duration>,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        match self.get_str(key) {
            Some(hit) => Ok(hit),
            None => self.load_missing(key, timeout, |_| load()),
        }
    }

    /// The protocol in the module docs, with the leader's thread recorded.
    /// `timeout` bounds waiting, not loading. `load` is given the key.
    pub(crate) fn load_missing<Q, V: Loaded, E: Send + Sync + 'static>(
        &self,
        key: &Q,
        timeout: Option<Duration>,
        load: impl FnOnce(&K) -> Result<V, E>,
    ) -> Result<CachedStr<'_>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let me = current_thread().id();
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        loop {
            match self.join(key, Some(me)) {
                Role::Wait(flight) => {
                    if flight.leader() == Some(me) {
                        if flight.key.borrow() == key {
                            return Err(LoadError::Cache(Error::Recursive));
                        }
                        // Another key with the same tag, loading further
                        // up this thread's stack: load without a flight.
                        let key: K = key.to_owned().into();
                        let loaded =
                            (self.run(flight.tag, || load(&key))).map_err(LoadError::Load)?;
                        return self.publish(key, loaded, None);
                    }
                    let counters = self.counters(flight.tag);
                    match flight.wait(deadline) {
                        Some(Status::Loaded(value)) if flight.key.borrow() == key => {
                            bump(&counters.loads_waited);
                            return Ok(self.hold(value));
                        }
                        Some(Status::Failed(error)) => {
                            if let Some(error) = self.shared_failure(&flight, key, error) {
                                return Err(LoadError::Load(error));
                            }
                        }
                        Some(_) => {}
                        None => {
                            bump(&counters.loads_timed_out);
                            return Err(LoadError::Cache(Error::Timeout));
                        }
                    }
                }
                Role::Lead(leader) => {
                    if let Some(hit) = self.recheck(key) {
                        return Ok(hit);
                    }
                    return match self.run(leader.flight.tag, || load(&leader.flight.key)) {
                        Ok(loaded) => self.publish(key.to_owned().into(), loaded, Some(leader)),
                        Err(error) => {
                            leader.fail(&error, self.failure_until());
                            Err(LoadError::Load(error))
                        }
                    };
                }
            }
            // The load waited for was abandoned, or was another key's with
            // the same tag: the key may have a value from elsewhere by now.
            if let Some(hit) = self.recheck(key) {
                return Ok(hit);
            }
        }
    }

    /// Runs a synchronous loader for the key with tag `tag`, counting how
    /// it ends.
    fn run<V, E>(&self, tag: u64, load: impl FnOnce() -> Result<V, E>) -> Result<V, Arc<E>> {
        let tally = Tally::new(self.counters(tag));
        let result = load();
        tally.ended(result.is_ok());
        result.map_err(Arc::new)
    }

    /// Looks `key` up again after a miss, without counting a read or
    /// marking the entry: the caller's first lookup did both.
    fn recheck<Q>(&self, key: &Q) -> Option<CachedStr<'_>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let guard = self.guard();
        let entry: *const Entry<K> = self.find(key, &guard)?;
        // SAFETY: as in `get_str`: `entry` was loaded under `guard`, which
        // moves into the `CachedStr`.
        Some(unsafe { CachedStr::of_entry(guard, entry) })
    }

    /// Leads a new flight for `key`, or joins the one in progress.
    fn join<Q>(&self, key: &Q, leader: Option<ThreadId>) -> Role<'_, K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let tag = self.tag(key);
        let shard = self.shard(tag);
        if let Some(flight) = shard.flight(tag) {
            return self.join_listed(shard, flight, leader);
        }
        // `ToOwned` is user code, so the new flight is made before the
        // shard is locked again: no user code runs under its lock.
        let flight = Arc::new(Flight::new(tag, key.to_owned().into(), leader, false));
        // User code (the clock), before the lock.
        let now = self.failure_now();
        let mut dropped = Vec::new();
        let found = shard.list_flight(&flight, now, &mut dropped);
        // Expired failures, and the keys they hold, go here, with no lock
        // held.
        drop(dropped);
        if let Some(found) = found {
            // Another caller listed one meanwhile. The unused flight, and
            // with it the key's `Drop`, goes here, with no lock held.
            drop(flight);
            return self.join_listed(shard, found, leader);
        }
        Role::Lead(Leader::new(shard, flight))
    }

    /// Joins `flight`, listed in `shard`: waits for it, or, if it is a
    /// reload that no worker has started, takes it over and leads it, so
    /// that a caller that misses its key does not wait for the queue.
    fn join_listed<'s>(
        &self,
        shard: &'s crate::shard::Shard<K>,
        flight: Arc<Flight<K>>,
        leader: Option<ThreadId>,
    ) -> Role<'s, K> {
        if flight.take(leader) {
            Role::Lead(Leader::new(shard, flight))
        } else {
            Role::Wait(flight)
        }
    }

    /// The error a caller that found `flight` ended as `Failed(error)`
    /// shares: if the flight loaded its key, its error is an `E`, and, if
    /// it is a kept failure, it has not expired. Else `None`, after
    /// unlisting a kept failure, so that the caller's next round leads a
    /// new load.
    fn shared_failure<Q, E: Send + Sync + 'static>(
        &self,
        flight: &Arc<Flight<K>>,
        key: &Q,
        error: Arc<dyn Any + Send + Sync>,
    ) -> Option<Arc<E>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let kept = flight.kept();
        // User code (the clock, and below `Eq`), with no lock held.
        let fresh = !kept || !flight.expired(self.expiry().now());
        if fresh && flight.key().borrow() == key {
            if let Ok(error) = error.downcast::<E>() {
                let counters = self.counters(flight.tag());
                bump(if kept {
                    &counters.loads_cached_failures
                } else {
                    &counters.loads_waited
                });
                return Some(error);
            }
        }
        if kept {
            // This caller holds the flight too: the unlisting drops no key.
            self.shard(flight.tag()).unlist_flight(flight);
        }
        None
    }

    /// Inserts a loaded value unless a write of its key beat the load
    /// (module docs), completes the flight if there is one, and returns the
    /// value either way.
    fn publish<E>(
        &self,
        key: K,
        loaded: impl Loaded,
        leader: Option<Leader<'_, K>>,
    ) -> Result<CachedStr<'_>, LoadError<E>> {
        let value = self.settle(key, loaded, leader).map_err(LoadError::Cache)?;
        Ok(self.hold(value))
    }

    /// [`publish`](Self::publish), returning the value itself.
    fn settle(
        &self,
        key: K,
        loaded: impl Loaded,
        leader: Option<Leader<'_, K>>,
    ) -> Result<Utf8Bytes, Error> {
        let (value, ttl) = loaded.into_parts();
        // A loader's time to live never outlasts the cache's own.
        let ttl = match (ttl, self.expiry().ttl()) {
            (Some(chosen), Some(cap)) => Some(chosen.min(cap)),
            (chosen, cap) => chosen.or(cap),
        };
        let fill = leader
            .as_ref()
            .map_or(Fill::Unlisted, |leader| Fill::Load(&leader.flight));
        let outcome = self.write_fill(key, NewValue::Text(value.clone()), ttl, fill)?;
        if let Some(leader) = leader {
            if outcome.is_none() {
                bump(&self.counters(leader.flight.tag).loads_superseded);
            }
            leader.complete(value.clone());
        }
        Ok(value)
    }

    /// A `CachedStr` of `value`, which the table may no longer hold.
    fn hold(&self, value: Utf8Bytes) -> CachedStr<'_> {
        let guard = self.guard();
        // In an `Arc`, so that the value stays at one address while the
        // handle moves (a shared handle: moving it asserts no uniqueness
        // that would invalidate `at`), and the deferred function below (one
        // word) is stored without an allocation of its own.
        let value = Arc::new(value);
        let at = Arc::as_ptr(&value);
        // The value lives until this handle is dropped, which crossbeam-
        // epoch defers until every thread pinned now, `guard` among them,
        // has unpinned.
        guard.defer(move || reclaim(|| drop(value)));
        // Hands the deferred drop to the global collector now, so that
        // the value goes soon after this handle does, rather than once 63
        // more deferred functions fill this thread's bag. A load is rare
        // beside a read, and no lock is held here.
        flush_large(&guard);
        // SAFETY: `at` is the value in the `Arc` whose drop is deferred
        // above, under `guard`, which moves into the `CachedStr`.
        unsafe { CachedStr::new(guard, at) }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        panic::{catch_unwind, AssertUnwindSafe},
        sync::{
            atomic::{AtomicUsize, Ordering},
            mpsc, Arc,
        },
        thread,
        time::{Duration, Instant},
    };

    use crate::{LoadError, StrCache};

    /// Threads racing on one missing key.
    const RACERS: usize = if cfg!(miri) { 4 } else { 16 };

    /// How long a loader waits for the racers to join before it fails the
    /// test: a bound on a hang, never reached when the test passes.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// Waits until `waiters` callers besides its leader hold the flight of
    /// `tag`: its reference count is theirs, the leader's, the shard's
    /// list's and this look's. A caller that holds the flight shares how it
    /// ends, so a test that waits for this before it lets the load end has
    /// them all waiting, however the threads are scheduled. (Waiting for
    /// their misses to show in the statistics would not do: a caller that
    /// has only missed the key could still lead a load of its own once the
    /// first has ended.)
    fn wait_for_waiters(cache: &StrCache<u32>, tag: u64, waiters: usize) {
        let started = Instant::now();
        loop {
            let flight = cache.shard(tag).flight(tag).expect("listed while it loads");
            if Arc::strong_count(&flight) == 3 + waiters {
                return;
            }
            drop(flight);
            assert!(started.elapsed() < PATIENCE, "the waiters never joined");
            thread::yield_now();
        }
    }

    /// Runs `RACERS` threads that call `race` on `cache` at once, and
    /// returns what each got.
    fn race<T: Send>(
        cache: &StrCache<u32>,
        race: impl Fn(&StrCache<u32>) -> T + Sync,
    ) -> Vec<thread::Result<T>> {
        thread::scope(|s| {
            let racers: Vec<_> = (0..RACERS)
                .map(|_| s.spawn(|| catch_unwind(AssertUnwindSafe(|| race(cache)))))
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().expect("caught"))
                .collect()
        })
    }

    /// The first loader panics only once every other racer waits for its
    /// flight, so the hand-off always has waiters to hand over to: the panic
    /// reaches the loader's caller alone, one waiter leads a second load,
    /// and the others get its value.
    #[test]
    fn a_panicking_loader_hands_over_to_one_waiter() {
        let cache = StrCache::<u32>::builder().build();
        let tag = cache.tag(&7);
        let calls = AtomicUsize::new(0);
        let got = race(&cache, |cache| {
            let v = cache
                .get_or_insert_with(&7, || {
                    if calls.fetch_add(1, Ordering::Relaxed) == 0 {
                        wait_for_waiters(cache, tag, RACERS - 1);
                        panic!("the first loader panics");
                    }
                    "seven"
                })
                .unwrap();
            v.to_string()
        });
        let panics = got.iter().filter(|v| v.is_err()).count();
        assert_eq!(panics, 1, "the panic reaches the loader's caller only");
        assert!(got.into_iter().flatten().all(|v| v == "seven"));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        let loads = cache.stats().loads;
        assert_eq!((loads.panicked, loads.succeeded), (1, 1));
        assert!(loads.waited <= RACERS as u64 - 2, "{loads:?}");
        // Nothing stays locked: writes and loads of the key go on.
        cache.insert(7, "eight").unwrap();
        assert_eq!(cache.get_or_insert_with(&7, || "unused").unwrap(), "eight");
    }

    /// A failed load's error goes to every caller waiting for it: one loader
    /// call for all the racers, not one each in turn (#19). The loader fails
    /// only once every other racer waits for its flight. A caller that
    /// starts after the failure runs its own loader: the failure is not
    /// cached.
    #[test]
    fn a_failed_load_shares_its_error_with_its_waiters() {
        let cache = StrCache::<u32>::builder().build();
        let tag = cache.tag(&7);
        let calls = AtomicUsize::new(0);
        let got = race(&cache, |cache| {
            cache
                .try_get_or_insert_with(&7, || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    wait_for_waiters(cache, tag, RACERS - 1);
                    Err::<&str, _>("backend down")
                })
                .map(|v| v.to_string())
        });
        assert_eq!(calls.load(Ordering::Relaxed), 1, "one loader call for all");
        for got in got {
            let got = got.expect("no panic");
            assert_eq!(got, Err(LoadError::Load(Arc::new("backend down"))));
        }
        let loads = cache.stats().loads;
        assert_eq!((loads.failed, loads.waited), (1, RACERS as u64 - 1));
        assert!(cache.get_str(&7).is_none(), "a failure is not cached");
        let again = cache.try_get_or_insert_with(&7, || Ok::<_, ()>("seven"));
        assert_eq!(again.unwrap(), "seven");
    }

    /// A waiter that joined a load and a caller that timed out waiting for
    /// it are counted, the one as `waited`, the other as `timed_out`; the
    /// three callers' reads count as three misses.
    #[test]
    fn waits_and_timeouts_are_counted() {
        let cache = StrCache::<u32>::builder().record_reads(true).build();
        let tag = cache.tag(&1);
        let (started, is_started) = mpsc::channel();
        let (release, is_released) = mpsc::channel::<()>();
        thread::scope(|s| {
            let cache = &cache;
            let leader = s.spawn(move || {
                cache
                    .get_or_insert_with(&1, || {
                        started.send(()).unwrap();
                        is_released.recv_timeout(PATIENCE).unwrap();
                        "slow"
                    })
                    .map(|v| v.to_string())
            });
            is_started.recv_timeout(PATIENCE).unwrap();
            let timed_out = cache.get_or_insert_with_timeout(&1, Duration::from_millis(1), || "x");
            assert_eq!(timed_out.unwrap_err(), crate::Error::Timeout);
            let waiter = s.spawn(|| {
                cache
                    .get_or_insert_with(&1, || -> &str {
                        unreachable!("the leader is still loading")
                    })
                    .map(|v| v.to_string())
            });
            wait_for_waiters(cache, tag, 1);
            release.send(()).unwrap();
            assert_eq!(leader.join().unwrap().unwrap(), "slow");
            assert_eq!(waiter.join().unwrap().unwrap(), "slow");
        });
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (0, 3));
        let l = stats.loads;
        assert_eq!((l.succeeded, l.timed_out, l.waited), (1, 1, 1));
        assert_eq!((stats.loads.failed, stats.loads.panicked), (0, 0));
    }

    /// A write from another thread while the loader blocks: the loader's
    /// caller and the waiter that joined before the write get the loaded
    /// value; a caller after the write reads the written one; the cache
    /// keeps the written one (#19).
    #[test]
    fn a_concurrent_insert_during_a_load_wins_over_it() {
        let cache = StrCache::<u32>::builder().build();
        let tag = cache.tag(&7);
        let (started, is_started) = mpsc::channel();
        let (release, is_released) = mpsc::channel::<()>();
        thread::scope(|s| {
            let cache = &cache;
            let loader = s.spawn(move || {
                let v = cache.get_or_insert_with(&7, || {
                    started.send(()).unwrap();
                    is_released.recv_timeout(PATIENCE).unwrap();
                    "loaded"
                });
                v.unwrap().to_string()
            });
            is_started.recv_timeout(PATIENCE).unwrap();
            let waiter = s.spawn(|| {
                let v = cache.get_or_insert_with(&7, || -> &str { unreachable!("joins the load") });
                v.unwrap().to_string()
            });
            wait_for_waiters(cache, tag, 1);
            assert_eq!(
                cache.insert(7, "written"),
                Ok(crate::InsertOutcome::Inserted)
            );
            assert_eq!(
                cache.get_or_insert_with(&7, || "unused").unwrap(),
                "written"
            );
            release.send(()).unwrap();
            assert_eq!(loader.join().unwrap(), "loaded");
            assert_eq!(waiter.join().unwrap(), "loaded");
        });
        assert_eq!(cache.get_str(&7).unwrap(), "written");
        let loads = cache.stats().loads;
        assert_eq!((loads.succeeded, loads.superseded, loads.waited), (1, 1, 1));
    }
}
