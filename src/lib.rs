//! A lock-free, zero-copy concurrent cache of pre-serialized strings.
//!
//! Services often turn the same object into the same JSON again and again,
//! on the request path, against a map other threads are changing. strcache
//! moves that work to write time: a writer serializes once, outside any
//! lock, hands the text over as a [`Utf8Bytes`] (built without copying from
//! a `String`, `Box<str>`, `Arc<str>`, `&'static str` or checked `Bytes`), and
//! the cache publishes it with one atomic pointer store: text of up to
//! 4 KiB copied beside its key in the entry, longer text and `Bytes` kept
//! as given. A reader calls [`StrCache::get_str`] and gets a `&str` into
//! the cached bytes.
//!
//! ```
//! use strcache::StrCache;
//!
//! let cache: StrCache = StrCache::new();
//! let json = format!(r#"{{"id":{},"name":"{}"}}"#, 7, "Ada"); // serialize once
//! cache.insert("user:7".into(), json).unwrap();
//!
//! // Any number of threads, no lock, no copy:
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| assert_eq!(cache.get_str("user:7").unwrap(), r#"{"id":7,"name":"Ada"}"#));
//!     }
//! });
//! ```
//!
//! # Consistency
//! Every read returns one complete value that was written for its key,
//! never a torn or mixed one. Each operation on one key is linearizable:
//! once a write has returned, every read that starts after it sees that
//! value or a newer one, and one thread never sees an older value of a key
//! after a newer one. A load returns a value the key held during the call,
//! never one removed before it began. (Tested by `tests/concurrency.rs`,
//! also under Miri over many schedules, by the models of `tests/loom.rs`,
//! and against a `HashMap` by `tests/model.rs` and the `ops` fuzz target,
//! also with colliding hashes.) [`StrCache::len`] is exact when no write is
//! in flight, and counts expired entries that no write has unlinked yet
//! (see *Expiry*);
//! [`StrCache::iter`], [`Pinned::iter`] and [`StrCache::retain`] are weakly
//! consistent, like Java's `ConcurrentHashMap`: they never block writers
//! and see each key at most once, also a key removed and re-inserted while
//! they run. (The one exception needs two keys with equal 64-bit hashes,
//! both removed and re-inserted in the opposite order during the walk.)
//!
//! # Locks and progress
//! `get_str`, `get_bytes`, `contains_key` and everything on [`Pinned`] are
//! lock-free (indeed wait-free: a probe visits each slot at most once). A
//! reader never waits for a writer, even one preempted in the middle of a
//! write or a resize.
//!
//! `insert`, `try_insert_bytes`, `remove`, `retain` and `clear` search
//! without a lock, then take their shard's mutex to check and swap a
//! pointer. A table that fills to 3/4 is rehashed into a new one by the
//! writer that finds it full, under that shard's lock: other writers of the
//! same shard wait for it, readers keep reading the old table. No user code
//! runs under any lock of the cache; see *User code*.
//!
//! A bounded cache adds one lock for its eviction policy, shared by all
//! shards so that the hit ratio does not depend on the shard count: its
//! writes take it before the shard lock and keep it until their evictions
//! are done. Its readers take no lock; see *Eviction*.
//!
//! Loads ([`StrCache::get_or_insert_with`] and its variants) run the loader
//! with no lock held. Callers that miss the same key meet in a per-shard
//! list of loads in progress, behind a mutex held only to add, find or
//! remove a load; all but the first wait for the first one's value. See
//! *Loading*.
//!
//! # Freshness
//! A [`LoadingCache`] owns its loader and, with
//! [`refresh_after`](Builder::refresh_after) and
//! [`serve_stale_for`](Builder::serve_stale_for), reloads the keys it
//! serves before or as they expire, on a bounded [`Pipeline`] of worker
//! threads that it starts when built and joins when dropped: a read never
//! waits for a reload, at most one reload per key is queued or running,
//! and a full queue drops the reload and counts it. Each value it serves
//! says whether it is stale and how old it is ([`Served`]). With the
//! `async` feature, `AsyncLoadingCache` does the same with an async loader,
//! spawning reloads on the program's executor. No other thread is started.
//!
//! # User code
//! The cache calls user code: `Hash`, `Eq`, `Clone` and `Drop` of keys,
//! `Drop` of the owners of values' bytes, the [`Clock`], the weigher, the
//! eviction listener, loaders and the `retain` predicate. None of it runs
//! while a lock of the cache is held, so any of it may use the cache, and
//! may block without holding up other threads' use of it (only the callers
//! waiting for a blocked loader's key wait for it). A write reads the clock
//! once, before it locks anything, and judges what it replaces, unlinks or
//! evicts by that reading. When user code panics:
//! - `Hash`, `Eq`, `Clone`, the clock or the weigher: the panic reaches the
//!   caller before the operation changed anything;
//! - the eviction listener: after the write took effect and everything it
//!   unlinked was retired; the rest of that call's reports are skipped;
//! - a loader: its own caller gets the panic, and a waiter takes over;
//! - `Drop` of a key or value: when the cache is dropped, every other key
//!   and value is dropped first, then the panic reaches the cache's owner;
//!   when the epoch collector reclaims an entry, on whichever thread
//!   collects next, the panic is caught there and discarded (the panic hook
//!   has reported it), so reclamation goes on.
//!
//! In every case no lock stays held, the cache stays usable, and every key
//! and value is still dropped exactly once. `tests/hostile.rs` makes each
//! of these panic, re-enter the cache and block, under a watchdog, and
//! counts every drop; `tests/drops.rs` counts drops on every path an
//! entry leaves by.
//!
//! # Loading
//! [`StrCache::get_or_insert_with`], [`StrCache::try_get_or_insert_with`],
//! [`StrCache::get_or_insert_with_timeout`] and, with the `async` feature
//! (on by default), `get_or_insert_with_async` and
//! `try_get_or_insert_with_async` run one loader per missing key at a
//! time; keys load in parallel. A loader's error goes, shared (an `Arc`),
//! to its caller and to every caller waiting for its load, so a backend
//! that is down costs one call per attempt, not one per waiter in turn;
//! the error is not cached. A loader that panics or is cancelled hands the
//! load to one of its waiters, which runs its own loader; the panic
//! reaches its own caller only. A loader that
//! loads or reads other keys works. A loader may give its value a time to
//! live of its own ([`Expiring`]), within the cache's.
//!
//! A write of a key (an insert, a remove, a clear, or a retain that drops
//! it) that lands while a load of the key is in flight wins: the load's
//! value goes to its caller and to the callers already waiting for it,
//! but is never cached over the write ([`LoadStats::superseded`] counts
//! these), and callers that start after the write do not wait for that
//! load. So an invalidation is never undone by a load that began before
//! it. (`tests/load.rs`, and the loom models `an_insert_during_a_load_wins`
//! and `a_remove_during_a_load_wins`.)
//!
//! The timeout of [`StrCache::get_or_insert_with_timeout`] bounds only the
//! wait for another caller's loader: that caller gives up with
//! [`Error::Timeout`] while the loader carries on and publishes. A caller
//! that runs its own loader runs it to the end, however long it takes:
//!
//! ```
//! use std::time::Duration;
//!
//! let cache: strcache::StrCache = strcache::StrCache::new();
//! let slow = || {
//!     std::thread::sleep(Duration::from_millis(20));
//!     "loaded"
//! };
//! // No other caller loads "k": this one's loader runs, and is not cut short.
//! let v = cache.get_or_insert_with_timeout("k", Duration::from_millis(1), slow);
//! assert_eq!(v.unwrap(), "loaded");
//! ```
//!
//! A synchronous loader that loads its own key gets [`Error::Recursive`]
//! instead of waiting for itself. Two loaders that wait for each other's
//! keys, on two threads, wait forever unless a timeout bounds them. The
//! async `get_or_insert_with_async` has neither: no recursion detection and
//! no timeout. An async loader that awaits a load of its own key waits
//! forever; bound it with the executor's timeout (`tokio::time::timeout`),
//! whose cancellation hands the load over safely:
//!
//! ```
//! # #[cfg(feature = "async")]
//! # {
//! use std::{future::Future, pin::pin, task::{Context, Waker}};
//!
//! let cache: strcache::StrCache = strcache::StrCache::new();
//! {
//!     let mut outer = pin!(cache.get_or_insert_with_async("k", async {
//!         // Loads its own key: waits for itself.
//!         let inner = cache.get_or_insert_with_async("k", async { "inner" }).await;
//!         inner.map(|v| v.to_string()).unwrap_or_default()
//!     }));
//!     let mut cx = Context::from_waker(Waker::noop());
//!     for _ in 0..100 {
//!         assert!(outer.as_mut().poll(&mut cx).is_pending());
//!     }
//! } // The future is dropped here, as a timeout drops it: the load is cancelled.
//! assert_eq!(cache.get_or_insert_with("k", || "v").unwrap(), "v");
//! # }
//! ```
//!
//! # JSON
//! With the `json` feature (on by default), [`StrCache::insert_json`]
//! serializes a `serde::Serialize` value with serde_json before any lock,
//! into a reused per-thread buffer, then into one exact-size buffer;
//! [`StrCache::insert_json_canonical`] sorts object keys first, so equal
//! maps give equal text. [`StrCache::try_insert_json_bytes`] checks with
//! simd-json that raw bytes are exactly one JSON value, nested at most 127
//! deep as serde_json allows, and keeps the caller's buffer.
//! [`StrCache::get_json`] and [`Pinned::get_json`] read values back, the
//! latter borrowing `&str` fields from the cached text.
//!
//! # Eviction
//! [`Builder::max_entries`], [`Builder::max_bytes`] and
//! [`Builder::max_weight`] bound a cache. After an insert returns, the total
//! weight of the entries is within the bound; while a write is in progress
//! it may exceed it by that write's own entry, and readers may see that
//! entry and the ones it evicts side by side. Retired entries that readers
//! still hold are not counted (see *Reclamation*). An entry heavier than the
//! whole bound is refused with [`Error::TooLarge`].
//!
//! The bound is on entries, not on memory: `max_entries` counts entries
//! whatever their size, and `max_bytes` counts the bytes of the entries in
//! the cache. Neither counts what was replaced, removed or evicted and is
//! not yet freed: a reader's pin keeps such memory allocated until it
//! unpins (see *Reclamation*; [`Stats::retired_bytes`] shows how much).
//!
//! The policy is decided on the write side. A reader of a bounded cache
//! marks the entry it reads, in a two-bit counter inside the entry: it
//! stores to the entry until the counter saturates, at three reads, and
//! only loads it after that, so hot keys are read without writes to shared
//! memory. Writers fold the marks into the policy when they look at an
//! entry, which clears them: the next reads store again, up to
//! saturation. Readers of an unbounded cache store nothing.
//!
//! # Expiry
//! [`Builder::time_to_live`] and [`StrCache::insert_with_ttl`] give entries
//! a deadline. An expired entry is never returned. Entries without a
//! deadline cost readers no clock read. No thread runs in the background:
//! writes to a shard unlink a few of its expired entries, eviction reports
//! expired victims as [`EvictionCause::Expired`], and
//! [`StrCache::purge_expired`] unlinks them all. Until then an expired entry
//! still counts in [`StrCache::len`] (and [`StrCache::is_empty`] is false)
//! and in the weight of a bounded cache, though no read returns it.
//! Whatever unlinks it reports it as expired; an insert over an expired
//! value reports [`InsertOutcome::Inserted`], since the key was absent.
//!
//! # Reclamation
//! A replaced or removed entry is retired to crossbeam-epoch and freed once
//! every thread that was pinned when it was retired has unpinned. A
//! [`CachedStr`] or [`Pinned`] holds such a pin: keep them short-lived, or
//! retired memory accumulates. Entries still in the cache are freed when it
//! is dropped, without a report to the eviction listener; retired ones are
//! freed by the epoch collector as threads pin, on whichever thread
//! collects, so writes need `K: Send + 'static`.
//!
//! Each shard retires the entries that writes replace, remove or evict 64
//! at a time, or as soon as they weigh 4 KiB, with one deferred function
//! for them all; until then it holds them back, their bytes counted in
//! [`Stats::retired_bytes`]. An entry whose value is a buffer of its own
//! (a `Bytes` handed in, or text past 4 KiB) is retired at once, and
//! [`StrCache::purge_expired`], [`StrCache::clear`] and
//! [`StrCache::retain`] retire what the shards hold. Whatever retires such
//! a batch (a write, an eviction, `remove`, `retain`, `purge_expired` or
//! `clear`) hands its thread's deferred functions to the collector once it
//! holds no lock, so that the batch is freed within a few pins, even if
//! that thread never writes again.
//!
//! The collector's free of a batch keeps the blocks of the entries it
//! frees, up to 8 KiB a shard (and as many again taken by the shard), and
//! a write of that shard builds its entry in one of the same size instead
//! of allocating. Kept blocks count in [`Stats::retired_bytes`] too, and
//! are freed with the cache.
//!
//! # Allocation
//! Reads allocate nothing themselves. One pin in 128 on each thread also
//! runs crossbeam-epoch's collector, which frees memory that writers
//! retired; while doing so it may allocate a node of its global queue. When
//! no retired memory is waiting to be freed, reads allocate nothing at all
//! (`tests/alloc.rs`).
//!
//! # Performance
//! A hit reads the shard's table pointer (usually cached), one 8-byte slot
//! holding the entry's address and an 8-bit tag of the key's hash, then
//! the entry (header, key, and a value of up to 4 KiB copied in after
//! them), and, for a key whose bytes are an allocation of their own (a
//! `String`'s), those bytes. A slot whose tag differs costs no
//! dereference. The hit then tests one byte of the entry's header for
//! every feature it may have to serve (a deadline, a bounded cache's
//! read marks, read counting): an entry that needs none, as in a cache
//! without a bound, expiry or read counting, is returned at once.
//! For a key that keeps its bytes in itself that is two
//! dependent cache misses when nothing is cached; for a `String` key,
//! three. A short key costs a hit a few instructions more (its length and
//! pointer are decoded), a long one as much as a `String`. So the default key
//! type is [`CompactString`] (re-exported from `compact_str`), which keeps
//! up to 24 bytes inline, hashes and borrows as `str` and converts from
//! `&str` and `String`: a `StrCache` is read with a `&str`, keeps each
//! short key in its entry, and a write of such a key allocates nothing
//! for it. Longer keys go to the heap, as a `String`'s do; any other
//! `K: Hash + Eq` works as well (`StrCache<String>`, `StrCache<u64>`).
//! See `BENCHMARKS.md`.
//!
//! # Statistics
//! [`StrCache::stats`] returns a [`Stats`]: inserts, updates, removals,
//! evictions, expirations, load outcomes, entries, weight, and the bytes
//! retired but not yet freed. Writers count into per-shard counters, always
//! on. Hits and misses are counted only when
//! [`Builder::record_reads`] turns them on, in per-thread stripes on cache
//! lines of their own; off, reads pay nothing.
//!
//! # Cargo features
//! - `async` (default): `get_or_insert_with_async`, for any executor.
//! - `json` (default): the JSON methods, with serde_json and simd-json.
//! - `serde`: `serde::Serialize` for [`Stats`].
//! - `metrics`: `Stats::export_metrics`, through the `metrics` facade.
//!
//! These docs show every feature's items, each marked with the feature it
//! needs. The [`bytes`] crate, whose `Bytes` the cache takes and hands
//! out, is re-exported as `strcache::bytes`, so its version always matches.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod bound;
mod builder;
mod cache;
mod entry;
mod error;
mod evict;
mod expire;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
mod export;
mod fresh;
mod iter;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
mod json;
mod key;
mod load;
mod notify;
mod read;
mod retired;
mod shard;
mod spare;
mod stats;
mod sync;
mod table;
mod text;
#[cfg(any(test, fuzzing))]
mod validate;
mod value;

#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod check;

pub use bound::{entry_overhead, KeyBytes, MAX_WEIGHT};
pub use builder::Builder;
pub use cache::StrCache;
#[cfg(feature = "json")]
pub use error::JsonError;
pub use error::{ConfigError, Error};
pub use expire::{Clock, ManualClock};
#[cfg(feature = "async")]
pub use fresh::AsyncLoadingCache;
pub use fresh::{LoadingCache, Pipeline, Served};
#[cfg(feature = "json")]
pub use json::Lookup;
pub use key::IntoKey;
pub use load::{Expiring, LoadError, Loaded};
pub use notify::EvictionCause;
pub use read::{CachedStr, Pinned};
pub use shard::InsertOutcome;
pub use stats::{LoadStats, RefreshStats, Stats};
pub use text::Utf8Bytes;
pub use value::IntoValue;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) the cache stores and
/// hands out: [`StrCache::try_insert_bytes`] takes one and
/// [`StrCache::get_bytes`] returns one. Use this re-export rather than a
/// `bytes` dependency of your own, and the versions always match.
///
/// # Examples
/// ```
/// use strcache::{bytes::Bytes, StrCache};
///
/// let cache: StrCache = StrCache::new();
/// cache.try_insert_bytes("k".into(), Bytes::from_static(b"body")).unwrap();
/// let body: Bytes = cache.get_bytes("k").unwrap();
/// assert_eq!(body, "body");
/// ```
pub use bytes;
pub use compact_str::{self, CompactString};

// The README's examples, compiled and run with the doctests.
#[cfg(all(doctest, feature = "json"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
