//! A near-cache over Redis: [strcache] in front of a standalone
//! Redis, kept coherent by the server's client-side tracking.
//!
//! A service that runs many replicas gives each its own local cache, and a
//! write through one replica leaves the others stale until their TTLs run
//! out. Since 6.0, Redis tells a RESP3 client which of the keys it read
//! have changed (`CLIENT TRACKING`). A [`NearCache`] serves reads from
//! local memory at strcache speed, reads through to Redis on a miss (one
//! round trip for any number of concurrent misses of a key), and drops its
//! copy of a key as soon as the server says the key changed, whoever wrote
//! it.
//!
//! ```no_run
//! use std::time::Duration;
//! use strcache_redis::NearCache;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), strcache_redis::Error> {
//! let near = NearCache::builder("redis://127.0.0.1:6379")
//!     .max_ttl(Duration::from_secs(30))
//!     .build()
//!     .await?;
//! near.set("user:7", r#"{"name":"Ada"}"#, None).await?;
//! assert_eq!(near.get("user:7").await?.as_deref(), Some(r#"{"name":"Ada"}"#));
//! // A write by any client now removes the local copy.
//! # Ok(()) }
//! ```
//!
//! # Consistency
//! A cached value is dropped when the server's invalidation for its key
//! arrives, so a replica may serve a value for as long as that push takes
//! to reach it (one network hop), never longer:
//! - a fill whose reply is overtaken by an invalidation of its key, a
//!   FLUSHALL or a disconnect is returned to its callers but not cached
//!   (the reply/invalidation race, [`NearStats::fills_discarded`]);
//! - a FLUSHALL or FLUSHDB (a null invalidation) flushes the local tier;
//! - a lost connection may have lost invalidations: the local tier is
//!   flushed, and no cached value is served until the near-cache has
//!   reconnected and tracking is on again. Meanwhile reads go to Redis.
//!   A PING every [`Builder::heartbeat`] detects a half-open connection;
//! - [`NearCache::set`] and [`NearCache::del`] drop the local copy after
//!   Redis applied the write: a near-cache reads its own writes;
//! - a local entry expires at the earlier of [`Builder::max_ttl`] and the
//!   key's remaining server TTL, fetched atomically with the value;
//! - after [`NearCache::sync`] (one PING round trip), no local value is
//!   older than a write that returned before the call, whoever wrote it.
//!
//! # Scope
//! Standalone Redis 6.0 or later (RESP3 and `CLIENT TRACKING`). Redis
//! Cluster and Sentinel are not supported. Keys are UTF-8 (`&str`), and so
//! are values: a value that is not UTF-8 is an [`Error::NotUtf8`] that
//! names its key.
//!
//! # Client
//! The connection is redis-rs's multiplexed tokio connection with RESP3,
//! whose push sender is called on the connection's reader task, in wire
//! order, before any later reply is handed on: the near-cache applies
//! invalidations there. redis-rs's own client-side cache (its `cache-aio`
//! feature), a cache of replies inside the connection, is not used: the
//! local tier is strcache, with its zero-copy reads and single flight.
//!
//! # Cargo features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `metrics` | no | `NearCache::export_metrics`, through the `metrics` facade |

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod error;
#[cfg(feature = "metrics")]
mod export;
mod link;
mod near;
mod stats;

pub use builder::{Builder, Tracking};
pub use error::Error;
pub use near::{NearCache, NearStr};
pub use stats::{Flushes, NearStats};
