//! Reloads of keys that have a value, for the refresh pipeline of a
//! [`LoadingCache`](crate::LoadingCache) (`fresh/`).
//!
//! A reload is a flight like any load (parent module): listed in its
//! shard under the shard lock, by tag. Listing it is what makes it the
//! key's only load in flight: a reader that finds a flight of the tag
//! listed schedules nothing, and a caller that misses the key meanwhile
//! waits for the reload's value. A write of the key unlists it, and the
//! reload then does not publish over the write. The flight has no leader
//! thread: the thread that lists it hands it to a queue, and a worker runs
//! it later. Until then it is *queued*, and exactly one party takes it,
//! under the flight's mutex ([`Flight::take`]): the worker (or task) that
//! runs it; a caller that misses its key, which runs it at once rather
//! than wait for the queue to reach it, the worker then skipping it; or
//! [`abandon`](StrCache::abandon), for a reload that will not run (the
//! queue was full or closed, or the key has a newer value), after which a
//! waiter loads for itself.

use std::{
    hash::{BuildHasher, Hash},
    sync::Arc,
};

use crossbeam_epoch::Guard;

use super::{Flight, Leader, Loaded};
use crate::{entry::Entry, StrCache};

impl<K, S> StrCache<K, S> {
    /// Ends a listed reload that will not run, unless a caller that missed
    /// its key has taken it over: unlists it, and sends any caller waiting
    /// for it back to load the key itself.
    pub(crate) fn abandon(&self, flight: Arc<Flight<K>>) {
        if flight.take(None) {
            self.abandon_taken(flight);
        }
    }

    /// Ends a reload that the caller took and will not run.
    pub(crate) fn abandon_taken(&self, flight: Arc<Flight<K>>) {
        drop(Leader::new(self.shard(flight.tag()), flight));
    }
}

impl<K, S> StrCache<K, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    S: BuildHasher,
{
    /// Lists a reload of the key of `seen`, an entry a reader found due
    /// (under `guard`), whose hash tag is `tag`: the reload to run, or
    /// `None` if a load of that tag is in flight, or if the key no longer
    /// holds `seen`.
    ///
    /// The second check keeps a reload to one per value: a reader that
    /// found `seen` just before a reload of it published finds no flight
    /// listed, but finds the new value. The reload unlists its flight in
    /// the critical section that links its value, so a flight listed after
    /// that section is followed by a lookup that sees the new value (or a
    /// newer one); one listed before it makes the reload's own listing
    /// fail. A write that replaced `seen` counts the same: its value is
    /// fresh.
    pub(crate) fn list_reload(
        &self,
        tag: u64,
        seen: &Entry<K>,
        guard: &Guard,
    ) -> Option<Arc<Flight<K>>> {
        let shard = self.shard(tag);
        // User code (the clock), before any lock.
        let now = self.failure_now();
        // A cheap look first: a hot key read by many threads while a reload
        // of it is queued must not clone its key on every read. A failed
        // reload kept listed (`cache_failures_for`) holds reloads back
        // until it expires.
        if let Some(found) = shard.flight(tag) {
            if !found.expired(now) {
                return None;
            }
        }
        // `K::clone` is user code: no lock is held.
        let flight = Arc::new(Flight::new(tag, seen.key.clone(), None, true));
        let mut dropped = Vec::new();
        let found = shard.list_flight(&flight, now, &mut dropped);
        // Expired failures go here, with no lock held; so does the unused
        // flight, with its key, if another thread listed one meanwhile.
        drop(dropped);
        if found.is_some() {
            return None;
        }
        // `K::eq` is user code: the shard lock was released above. `seen`
        // cannot be freed while `guard` pins it, so its address is not
        // reused by a newer entry.
        let current = shard.get(tag, &seen.key, guard);
        if !current.is_some_and(|current| std::ptr::eq(current, seen)) {
            self.abandon(flight);
            return None;
        }
        Some(flight)
    }

    /// Runs a listed reload that the caller took ([`Flight::take`]):
    /// calls `load` with its key and publishes the
    /// value unless a write of the key came first, then ends the flight
    /// for its waiters. Says whether the loader returned a value that the
    /// cache took (published, or beaten by a write); not if it failed, or
    /// the value was too large for the bound. If `load` panics, the flight
    /// is abandoned and the panic goes on to the caller.
    pub(crate) fn reload<V: Loaded, E: Send + Sync + 'static>(
        &self,
        flight: Arc<Flight<K>>,
        load: impl FnOnce(&K) -> Result<V, E>,
    ) -> bool {
        let leader = Leader::new(self.shard(flight.tag()), flight);
        match load(&leader.flight.key) {
            Ok(loaded) => {
                // `K::clone` is user code; if it panics, `leader` abandons.
                let key = leader.flight.key.clone();
                self.settle(key, loaded, Some(leader)).is_ok()
            }
            Err(error) => {
                leader.fail(&Arc::new(error), self.failure_until());
                false
            }
        }
    }
}
