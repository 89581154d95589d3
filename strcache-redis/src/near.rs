//! The near-cache: reads from local memory, read-through on a miss with
//! single flight, writes through to Redis. The coherence argument is in
//! `link.rs`'s `# Synchronization`; the fill's part of it is
//! [`NearCache::fill`].

use std::{fmt, ops::Deref, sync::Arc, time::Duration};

use strcache::{CachedStr, Expiring, LoadError, StrCache};
use tokio::task::JoinHandle;

use crate::{
    link::Link,
    stats::{bump, Counters},
    Builder, Error, NearStats, Tracking,
};

/// What the builder fixes.
pub(crate) struct Config {
    pub(crate) max_ttl: Duration,
    pub(crate) tracking: Tracking,
    pub(crate) heartbeat: Duration,
    pub(crate) timeout: Duration,
    /// Whether the core keeps failed fills (`cache_missing_for`).
    pub(crate) keeps_missing: bool,
    #[cfg(test)]
    pub(crate) fill_hook: Option<crate::builder::FillHook>,
}

/// What the near-cache, its push handler and its supervisor share.
pub(crate) struct Shared {
    pub(crate) cache: StrCache<String>,
    pub(crate) link: Link,
    pub(crate) counters: Counters,
    pub(crate) config: Config,
}

/// How a fill ended without a value for the local tier.
enum Fill {
    /// The key does not exist, as read over the tracked connection of the
    /// current session.
    Missing,
    /// The key does not exist, as read without tracking.
    UntrackedMissing,
    /// A value for the caller only: read while tracking was down, outside
    /// the broadcast prefixes, or overtaken by a disconnect.
    Uncached(String),
    Failed(Error),
}

/// A near-cache: strcache in front of a standalone Redis (6.0 or later),
/// kept coherent by RESP3 client-side tracking.
///
/// Reads are served from local memory when the value is there; a miss
/// reads through to Redis, and concurrent misses of one key share one
/// round trip. Another client's write to a cached key, a FLUSHALL, or a
/// lost connection removes the local copies. Writes go through Redis and
/// then drop the local copy, so a near-cache reads its own writes.
///
/// Dropping it stops its background task and closes its connection.
///
/// # Examples
/// ```no_run
/// use strcache_redis::NearCache;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), strcache_redis::Error> {
/// let near = NearCache::builder("redis://127.0.0.1:6379").build().await?;
/// near.set("user:7", r#"{"name":"Ada"}"#, None).await?;
/// let v = near.get("user:7").await?; // from Redis, now cached
/// assert_eq!(v.as_deref(), Some(r#"{"name":"Ada"}"#));
/// near.get("user:7").await?; // from local memory
/// assert_eq!(near.stats().hits, 1);
/// # Ok(()) }
/// ```
pub struct NearCache {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl fmt::Debug for NearCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NearCache")
            .field("tracking", &self.shared.config.tracking)
            .field("tracking_up", &self.is_tracking())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for NearCache {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

impl NearCache {
    pub(crate) fn new(shared: Arc<Shared>, supervisor: JoinHandle<()>) -> Self {
        NearCache { shared, supervisor }
    }

    /// A builder for a near-cache over the Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`).
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// let _near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(url: impl Into<String>) -> Builder {
        Builder::new(url.into())
    }

    /// The value of `key`: from local memory if it is there, else from
    /// Redis, cached for next time. Concurrent misses of one key cost one
    /// round trip, whose outcome they all get: the value, `None`, or the
    /// error. `Ok(None)`: the key does not exist (not cached, and the next
    /// read asks again, unless the builder's
    /// [`cache_missing_for`](crate::Builder::cache_missing_for) says to
    /// remember it).
    ///
    /// While tracking is down (after a disconnect, until the near-cache
    /// has reconnected and tracking is back), every read goes to Redis and
    /// nothing is cached.
    ///
    /// A hit returns without suspending, and so, while Redis refuses
    /// connections, can a miss: a task that loops over reads should yield
    /// to its executor now and then, or it holds its worker thread.
    ///
    /// The returned [`NearStr`] pins memory of the local tier, as the
    /// core's [`CachedStr`] does: drop it before the next `.await` of a
    /// task that must be `Send`.
    ///
    /// # Errors
    /// - [`Error::NotUtf8`], naming the key, when its value is not UTF-8;
    /// - [`Error::Redis`] when Redis cannot be reached or fails the read;
    /// - [`Error::Cache`] when the value does not fit the local bound.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// match near.get("user:7").await? {
    ///     Some(json) => println!("{}", &*json),
    ///     None => println!("no such user"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, key: &str) -> Result<Option<NearStr<'_>>, Error> {
        if let Some(hit) = self.shared.cache.get_str(key) {
            self.shared.counters.hit();
            return Ok(Some(NearStr(Repr::Local(hit))));
        }
        bump(&self.shared.counters.misses);
        let loaded = self
            .shared
            .cache
            .try_get_or_insert_with_async(key, self.fill(key))
            .await;
        match loaded {
            Ok(value) => Ok(Some(NearStr(Repr::Local(value)))),
            // Shared by every caller that waited for this fill: a missing
            // key, or a failure, costs one request however many wait.
            Err(LoadError::Load(fill)) => match &*fill {
                Fill::Missing | Fill::UntrackedMissing => Ok(None),
                Fill::Uncached(value) => Ok(Some(NearStr(Repr::Remote(value.clone())))),
                Fill::Failed(e) => Err(e.clone()),
            },
            Err(LoadError::Cache(e)) => Err(Error::Cache(e)),
            // `LoadError` is `non_exhaustive`; this crate is released with
            // the strcache it is built with, whose variants are the two
            // above.
            Err(_) => unreachable!("a load error of another kind"),
        }
    }

    /// The value of `key` if local memory holds it; never asks Redis.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// near.get("user:7").await?;
    /// assert!(near.get_local("user:7").is_some());
    /// # Ok(()) }
    /// ```
    pub fn get_local(&self, key: &str) -> Option<CachedStr<'_>> {
        self.shared.cache.get_str(key)
    }

    /// The single-flight loader of [`get`](Self::get): fetches the value
    /// and its PTTL in one `MULTI`/`EXEC` (one round trip, and atomic, so
    /// the TTL is the value's own), then hands the value to the core only
    /// if the session's generation is still current, with no `.await`
    /// between that check and the core's publish (see `link.rs`, steps 2
    /// and 4).
    ///
    /// With [`cache_missing_for`](crate::Builder::cache_missing_for), the
    /// core keeps every failed fill listed for the window. Only an absence
    /// read over the current session's tracked connection may stay kept:
    /// an invalidation, flush or disconnect ends it as it would a value.
    /// Every other failure unlists its own flight first, with a `remove`
    /// of the key, which supersedes the loads of the key in flight as any
    /// write does: the core then ends it without keeping it.
    async fn fill(&self, key: &str) -> Result<Expiring<String>, Fill> {
        let result = self.fill_tracked(key).await;
        if let Err(fill) = &result {
            let tracked_absence = matches!(fill, Fill::Missing);
            if !tracked_absence && self.shared.config.keeps_missing {
                self.shared.cache.remove(key);
            }
        }
        result
    }

    /// [`fill`](Self::fill), with `Fill::Missing` only for an absence read
    /// over the tracked connection of a session that is still current.
    async fn fill_tracked(&self, key: &str) -> Result<Expiring<String>, Fill> {
        let shared = &*self.shared;
        let session = match shared.link.session() {
            Some(session) if self.cacheable(key) => session,
            _ => return self.read_uncached(key).await,
        };
        bump(&shared.counters.fills);
        let mut pipe = redis::pipe();
        if shared.config.tracking == Tracking::OptIn {
            pipe.cmd("CLIENT").arg("CACHING").arg("YES").ignore();
        }
        pipe.cmd("MULTI").ignore();
        pipe.cmd("GET").arg(key).ignore();
        pipe.cmd("PTTL").arg(key).ignore();
        pipe.cmd("EXEC");
        let mut conn = session.conn;
        let ((value, pttl),): ((Option<Vec<u8>>, i64),) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| Fill::Failed(e.into()))?;
        #[cfg(test)]
        if let Some(hook) = &shared.config.fill_hook {
            hook(key.to_owned(), Arc::clone(&self.shared)).await;
        }
        let current = shared.link.is_current(session.generation);
        let Some(value) = value else {
            // An absence from a session that has ended is not tracked any
            // more: not one to keep.
            return Err(if current {
                Fill::Missing
            } else {
                Fill::UntrackedMissing
            });
        };
        let value = utf8(key, value)?;
        if !current {
            bump(&shared.counters.fills_stale);
            return Err(Fill::Uncached(value));
        }
        // -1: no server TTL; -2 (gone) cannot come with a value.
        let ttl = u64::try_from(pttl)
            .map(|ms| Duration::from_millis(ms).min(shared.config.max_ttl))
            .unwrap_or(shared.config.max_ttl);
        Ok(Expiring::new(value, ttl))
    }

    /// Whether `key` may be cached: in broadcast mode, only keys under the
    /// prefixes the server reports on.
    fn cacheable(&self, key: &str) -> bool {
        match &self.shared.config.tracking {
            Tracking::Broadcast { prefixes } => {
                prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p.as_str()))
            }
            _ => true,
        }
    }

    /// Reads `key` for the caller only.
    async fn read_uncached(&self, key: &str) -> Result<Expiring<String>, Fill> {
        let mut get = redis::cmd("GET");
        get.arg(key);
        let value: Option<Vec<u8>> = self.query(&get).await.map_err(Fill::Failed)?;
        Err(Fill::Uncached(utf8(
            key,
            value.ok_or(Fill::UntrackedMissing)?,
        )?))
    }

    /// Runs `cmd` on the tracked connection, or while tracking is down on
    /// the link's connection without tracking, which an error drops.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        let link = &self.shared.link;
        if let Some(mut session) = link.session() {
            return Ok(cmd.query_async(&mut session.conn).await?);
        }
        let mut conn = link.plain(self.shared.config.timeout).await?;
        let result = cmd.query_async(&mut conn).await;
        if result.is_err() {
            link.drop_plain().await;
        }
        Ok(result?)
    }

    /// Sets `key` to `value` in Redis, with a server TTL if `ttl` is given,
    /// then drops the local copy, so this near-cache's next read of `key`
    /// returns `value` (or a later write); other near-caches drop theirs
    /// when the server's invalidation reaches them.
    ///
    /// # Errors
    /// [`Error::Redis`] when Redis cannot be reached or fails the write;
    /// the local copy is dropped anyway, since the write may have landed.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// use std::time::Duration;
    ///
    /// near.set("session:9", "{}", Some(Duration::from_secs(300))).await?;
    /// assert_eq!(near.get("session:9").await?.as_deref(), Some("{}"));
    /// # Ok(()) }
    /// ```
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        self.write::<redis::Value>(key, cmd).await.map(drop)
    }

    /// Deletes `key` in Redis, then drops the local copy. Returns whether
    /// the key existed.
    ///
    /// # Errors
    /// [`Error::Redis`] as for [`set`](Self::set).
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// near.set("k", "v", None).await?;
    /// assert!(near.del("k").await?);
    /// assert!(near.get("k").await?.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn del(&self, key: &str) -> Result<bool, Error> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        let deleted: i64 = self.write(key, cmd).await?;
        Ok(deleted > 0)
    }

    /// Runs a write of `key` and drops the local copy after it, whatever
    /// its outcome.
    async fn write<T: redis::FromRedisValue>(
        &self,
        key: &str,
        cmd: redis::Cmd,
    ) -> Result<T, Error> {
        let result = self.query(&cmd).await;
        self.shared.cache.remove(key);
        result
    }

    /// Waits until every invalidation the server sent this near-cache
    /// before the call has been applied: one PING round trip on the
    /// tracking connection, whose reply comes after those pushes. The
    /// server queues a write's invalidations before it replies to the
    /// writer, so after `sync` no local value is older than any write that
    /// had returned before `sync` was called. While tracking is down the
    /// local tier is empty, and `sync` returns at once.
    ///
    /// # Errors
    /// [`Error::Redis`] when the PING fails (the connection is then
    /// flushed by the heartbeat or the disconnect).
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// // Another client has just written "k" and told us so.
    /// near.sync().await?;
    /// let fresh = near.get("k").await?; // not older than that write
    /// # drop(fresh);
    /// # Ok(()) }
    /// ```
    pub async fn sync(&self) -> Result<(), Error> {
        if let Some(mut session) = self.shared.link.session() {
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut session.conn)
                .await?;
        }
        Ok(())
    }

    /// What the near-cache has done so far.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// near.get("k").await?;
    /// let stats = near.stats();
    /// assert_eq!(stats.hits + stats.misses, 1);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> NearStats {
        let superseded = self.shared.cache.stats().loads.superseded;
        self.shared.counters.snapshot(superseded)
    }

    /// The local tier's own statistics (strcache's [`Stats`](strcache::Stats)):
    /// entries, evictions, expirations, loads.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// near.get("k").await?;
    /// println!("{} entries held locally", near.local_stats().entries);
    /// # Ok(()) }
    /// ```
    pub fn local_stats(&self) -> strcache::Stats {
        self.shared.cache.stats()
    }

    /// Whether tracking is up: cached values are served only while it is.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// let near = strcache_redis::NearCache::builder("redis://127.0.0.1/").build().await?;
    /// assert!(near.is_tracking());
    /// # Ok(()) }
    /// ```
    pub fn is_tracking(&self) -> bool {
        self.shared.link.session().is_some()
    }

    /// The server's `CLIENT ID` of the tracking connection, while tracking
    /// is up: what `CLIENT LIST` and `CLIENT KILL ID` name it by.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// if let Some(id) = near.tracking_client_id() {
    ///     println!("tracking on client {id}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn tracking_client_id(&self) -> Option<i64> {
        self.shared.link.session().map(|s| s.client_id)
    }

    /// How many entries local memory holds (see strcache's `len`).
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// near.get("k").await?;
    /// assert!(near.local_len() <= 1);
    /// # Ok(()) }
    /// ```
    pub fn local_len(&self) -> usize {
        self.shared.cache.len()
    }
}

/// Checks that `value` of `key` is UTF-8.
fn utf8(key: &str, value: Vec<u8>) -> Result<String, Fill> {
    String::from_utf8(value).map_err(|source| {
        Fill::Failed(Error::NotUtf8 {
            key: key.to_owned(),
            source,
        })
    })
}

/// A value read through a [`NearCache`]: a `&str` into local memory when
/// the value is cached, else the value read for this caller. Derefs to
/// `str`.
///
/// # Examples
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), strcache_redis::Error> {
/// # let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
/// if let Some(v) = near.get("greeting").await? {
///     let s: &str = &v;
///     assert_eq!(s.len(), v.len());
/// }
/// # Ok(()) }
/// ```
pub struct NearStr<'a>(Repr<'a>);

enum Repr<'a> {
    Local(CachedStr<'a>),
    Remote(String),
}

impl Deref for NearStr<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            Repr::Local(v) => v,
            Repr::Remote(v) => v,
        }
    }
}

impl AsRef<str> for NearStr<'_> {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Debug for NearStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for NearStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl PartialEq<str> for NearStr<'_> {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for NearStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests;
