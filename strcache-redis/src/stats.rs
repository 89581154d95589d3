//! The near-cache's counters: relaxed atomics, since no count orders
//! anything else. Hits, counted on every local read, are kept per thread,
//! each thread's on a cache line of its own, so that readers on different
//! cores write no shared line; `stats()` sums them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;

/// Counts of what a [`NearCache`](crate::NearCache) did since it was
/// built, from [`NearCache::stats`](crate::NearCache::stats).
///
/// # Examples
/// ```
/// let stats = strcache_redis::NearStats::default();
/// assert_eq!(stats.hits + stats.misses, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearStats {
    /// Reads served from local memory.
    pub hits: u64,
    /// Reads that went to Redis: local misses, and every read while
    /// tracking was down.
    pub misses: u64,
    /// Round trips sent to fetch a value (with its PTTL) for the local
    /// tier. Concurrent misses of one key share one fill.
    pub fills: u64,
    /// Fills whose value went to their callers but was not cached, since
    /// an invalidation of their key, a write of it through this
    /// near-cache, a flush or a disconnect happened while they were in
    /// flight (the reply/invalidation race guard).
    pub fills_discarded: u64,
    /// Keys named by invalidation messages.
    pub keys_invalidated: u64,
    /// Local flushes, by reason.
    pub flushes: Flushes,
    /// Times tracking was established again after a flush for a
    /// disconnect or a failed heartbeat.
    pub reconnects: u64,
}

/// Local flushes by reason, in [`NearStats::flushes`].
///
/// # Examples
/// ```
/// let flushes = strcache_redis::Flushes::default();
/// assert_eq!(flushes.null + flushes.disconnect + flushes.heartbeat, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flushes {
    /// A null invalidation: FLUSHALL or FLUSHDB on the server.
    pub null: u64,
    /// The tracking connection closed.
    pub disconnect: u64,
    /// A heartbeat PING failed or timed out: a half-open connection.
    pub heartbeat: u64,
}

/// Why the local tier was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Null,
    Disconnect,
    Heartbeat,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Each reading thread's hits.
    hits: ThreadLocal<CachePadded<AtomicU64>>,
    pub(crate) misses: AtomicU64,
    pub(crate) fills: AtomicU64,
    pub(crate) fills_stale: AtomicU64,
    pub(crate) keys_invalidated: AtomicU64,
    pub(crate) flushes_null: AtomicU64,
    pub(crate) flushes_disconnect: AtomicU64,
    pub(crate) flushes_heartbeat: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Counters {
    /// Counts a hit in this thread's counter, which only this thread
    /// writes.
    pub(crate) fn hit(&self) {
        bump(self.hits.get_or_default());
    }

    pub(crate) fn flushed(&self, reason: Reason) {
        bump(match reason {
            Reason::Null => &self.flushes_null,
            Reason::Disconnect => &self.flushes_disconnect,
            Reason::Heartbeat => &self.flushes_heartbeat,
        });
    }

    /// A snapshot; `superseded` is the core's count of loads that a write
    /// (here, an invalidation or a flush) beat.
    pub(crate) fn snapshot(&self, superseded: u64) -> NearStats {
        let get = |c: &AtomicU64| c.load(Relaxed);
        NearStats {
            hits: self.hits.iter().map(|c| get(c)).sum(),
            misses: get(&self.misses),
            fills: get(&self.fills),
            fills_discarded: get(&self.fills_stale) + superseded,
            keys_invalidated: get(&self.keys_invalidated),
            flushes: Flushes {
                null: get(&self.flushes_null),
                disconnect: get(&self.flushes_disconnect),
                heartbeat: get(&self.flushes_heartbeat),
            },
            reconnects: get(&self.reconnects),
        }
    }
}
