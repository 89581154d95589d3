//! Freshness: a [`LoadingCache`] reloads what it serves before, or as,
//! it expires, on a bounded pipeline of worker threads.
//!
//! Every entry of a `LoadingCache` records when it was written. A read
//! through [`LoadingCache::get`] finds one of four cases:
//! - younger than `refresh_after`: fresh, returned;
//! - older, and not expired: returned at once, fresh; a reload of the key
//!   is scheduled;
//! - expired less than `serve_stale_for` ago: returned at once, marked
//!   stale; a reload is scheduled;
//! - absent, or expired longer ago: a miss; this caller loads the key,
//!   and concurrent callers wait for that one load (`load/`).
//!
//! An expired entry in its stale window stays linked: the cache's writers
//! judge expiry by the clock less the window (`expire.rs`), so they do not
//! unlink it, while plain reads ([`StrCache::get_str`](crate::StrCache::get_str))
//! treat it as expired, as in any cache.
//!
//! # Synchronization
//! A scheduled reload is a load in flight of its key (`load/refresh.rs`),
//! listed in the key's shard under the shard lock, with no lock held
//! while anything else happens:
//! - **One reload per key.** The reader that finds the key due lists a
//!   flight for it unless one is listed; a reader that finds one listed
//!   schedules nothing. The flight stays listed until the reload publishes
//!   or ends, so a key has at most one reload queued or running.
//! - **Writes win.** An insert, remove, clear or retain of the key unlists
//!   the flight, as for any load; the reload's value then goes to its
//!   waiters but is not published over the write.
//! - **Hand-off.** The reader pushes the flight onto the pipeline's queue
//!   (`queue.rs`) without waiting. If the queue is full, the reader ends
//!   the flight at once (abandoned: unlisted, and any caller that started
//!   waiting for it loads for itself) and counts a dropped refresh.
//! - **Workers.** Each worker pops a flight, runs the loader with the
//!   flight's key and no lock held, publishes as a load does, and ends the
//!   flight; a panicking loader abandons it, and the worker carries on.
//! - **Shutdown.** Dropping the `LoadingCache` closes the queue, abandons
//!   the flights still queued, and joins the workers, which finish the
//!   reload in hand first. Workers share the cache through an `Arc`, so it
//!   is freed when the last of them (or the handle) lets go.

#[cfg(feature = "async")]
mod asynch;
mod loading;
mod pipeline;
mod queue;

#[cfg(feature = "async")]
pub use asynch::AsyncLoadingCache;
pub use loading::{LoadingCache, Served};
pub use pipeline::Pipeline;
pub(crate) use pipeline::Workers;
pub(crate) use queue::Queue;
