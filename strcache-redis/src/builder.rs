//! Configuring a near-cache.

use std::{sync::Arc, time::Duration};

use redis::{IntoConnectionInfo, ProtocolVersion};
use strcache::StrCache;

use crate::{
    link::{self, Link},
    near::{Config, Shared},
    stats::Counters,
    Error, NearCache,
};

/// How the server tracks what this near-cache may hold, the mode of its
/// `CLIENT TRACKING ON`.
///
/// The default is [`Tracking::Default`]: the server remembers the keys
/// this connection read and invalidates exactly those, so the traffic
/// follows what is cached and any key can be cached. Its cost is server
/// memory, one tracking-table entry per key read, bounded by the server's
/// `tracking-table-max-keys` (the server invalidates the keys it evicts
/// from that table, which the near-cache applies like any other).
///
/// # Examples
/// ```
/// use strcache_redis::Tracking;
///
/// assert_eq!(Tracking::default(), Tracking::Default);
/// let bcast = Tracking::Broadcast { prefixes: vec!["user:".into()] };
/// assert_ne!(bcast, Tracking::OptIn);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tracking {
    /// The server tracks every key this connection reads.
    #[default]
    Default,
    /// The server tracks only reads preceded by `CLIENT CACHING YES`,
    /// which the near-cache sends before each fill: the same keys as
    /// `Default`, at one more command a fill. For a connection shared
    /// with reads that are not cached.
    OptIn,
    /// The server keeps no per-key state and sends an invalidation for
    /// every write, by any client, to a key with one of `prefixes` (an
    /// empty list: every key). Only keys with one of the prefixes are
    /// cached; others are read through uncached. Suits a small, hot key
    /// space with few writes.
    Broadcast {
        /// The key prefixes to cache and hear about.
        prefixes: Vec<String>,
    },
}

/// A hook a test runs between a fill's reply and its commit, given the
/// key and the near-cache's state.
#[cfg(test)]
pub(crate) type FillHook = Arc<
    dyn Fn(String, Arc<Shared>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Builds a [`NearCache`]; from [`NearCache::builder`].
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use strcache_redis::{NearCache, Tracking};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), strcache_redis::Error> {
/// let _near = NearCache::builder("redis://127.0.0.1:6379")
///     .max_ttl(Duration::from_secs(30))
///     .max_entries(100_000)
///     .tracking(Tracking::Default)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct Builder {
    url: String,
    max_entries: Option<u64>,
    cache_missing_for: Option<Duration>,
    config: Config,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("url", &self.url)
            .field("max_entries", &self.max_entries)
            .field("tracking", &self.config.tracking)
            .field("max_ttl", &self.config.max_ttl)
            .field("cache_missing_for", &self.cache_missing_for)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new(url: String) -> Self {
        Builder {
            url,
            max_entries: None,
            cache_missing_for: None,
            config: Config {
                max_ttl: Duration::from_secs(60),
                tracking: Tracking::Default,
                heartbeat: Duration::from_secs(1),
                timeout: Duration::from_secs(2),
                keeps_missing: false,
                #[cfg(test)]
                fill_hook: None,
            },
        }
    }

    /// The longest a value stays in local memory (default 60 s). A key
    /// with a server TTL expires locally at the earlier of the two.
    ///
    /// # Examples
    /// ```
    /// let _builder = strcache_redis::NearCache::builder("redis://127.0.0.1/")
    ///     .max_ttl(std::time::Duration::from_secs(5));
    /// ```
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.config.max_ttl = ttl;
        self
    }

    /// Bounds the local tier to `max` entries, evicted by strcache's
    /// W-TinyLFU policy (default: unbounded).
    ///
    /// # Examples
    /// ```
    /// let _builder = strcache_redis::NearCache::builder("redis://127.0.0.1/").max_entries(10_000);
    /// ```
    pub fn max_entries(mut self, max: u64) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// The tracking mode (default [`Tracking::Default`]).
    ///
    /// # Examples
    /// ```
    /// use strcache_redis::{NearCache, Tracking};
    ///
    /// let _builder = NearCache::builder("redis://127.0.0.1/")
    ///     .tracking(Tracking::Broadcast { prefixes: vec!["user:".into()] });
    /// ```
    pub fn tracking(mut self, tracking: Tracking) -> Self {
        self.config.tracking = tracking;
        self
    }

    /// How often the tracking connection is PINGed, and how long a PING
    /// may take before the connection counts as half-open and the local
    /// tier is flushed (default 1 s).
    ///
    /// # Examples
    /// ```
    /// let _builder = strcache_redis::NearCache::builder("redis://127.0.0.1/")
    ///     .heartbeat(std::time::Duration::from_millis(250));
    /// ```
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.config.heartbeat = every;
        self
    }

    /// How long connecting, or waiting for any reply, may take before the
    /// operation fails with [`Error::Redis`] (default 2 s).
    ///
    /// # Examples
    /// ```
    /// let _builder = strcache_redis::NearCache::builder("redis://127.0.0.1/")
    ///     .timeout(std::time::Duration::from_millis(500));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    #[cfg(test)]
    pub(crate) fn fill_hook(mut self, hook: FillHook) -> Self {
        self.config.fill_hook = Some(hook);
        self
    }

    /// Negative caching: a key that Redis does not hold is remembered as
    /// missing for `window`, and reads of it meanwhile return `Ok(None)`
    /// without a round trip. Off by default: each read of a missing key
    /// asks Redis. The key is tracked like a value, so another client's
    /// write of it invalidates the memory of its absence at once, and so
    /// does a flush or a disconnect. Only an absence read over the tracked
    /// connection of the current session is kept; errors, and reads made
    /// while tracking is down, are not.
    ///
    /// # Examples
    /// ```
    /// let _builder = strcache_redis::NearCache::builder("redis://127.0.0.1/")
    ///     .cache_missing_for(std::time::Duration::from_secs(1));
    /// ```
    pub fn cache_missing_for(mut self, window: Duration) -> Self {
        self.cache_missing_for = Some(window);
        self.config.keeps_missing = true;
        self
    }

    /// Connects with RESP3, enables tracking, and starts the task that
    /// keeps it up (on the current tokio runtime).
    ///
    /// # Errors
    /// - [`Error::Config`] when the settings cannot make a local tier: a
    ///   [`max_entries`](Self::max_entries) of 0, or a zero
    ///   [`max_ttl`](Self::max_ttl) or
    ///   [`cache_missing_for`](Self::cache_missing_for);
    /// - [`Error::Redis`] when the URL does not parse, or the server cannot
    ///   be reached, refuses the credentials, or does not speak RESP3
    ///   (Redis before 6.0).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// let _near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// # Ok(()) }
    /// ```
    pub async fn build(self) -> Result<NearCache, Error> {
        let info = self.url.as_str().into_connection_info()?;
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3))?;
        let mut cache = StrCache::<String>::builder().time_to_live(self.config.max_ttl);
        if let Some(max) = self.max_entries {
            cache = cache.max_entries(max);
        }
        if let Some(window) = self.cache_missing_for {
            // The core keeps failed loads; `NearCache::fill` leaves only a
            // tracked absence failed and kept (see there).
            cache = cache.cache_failures_for(window);
        }
        let shared = Arc::new(Shared {
            cache: cache.try_build().map_err(Error::Config)?,
            link: Link::new(client),
            counters: Counters::default(),
            config: self.config,
        });
        link::connect(&shared).await?;
        let supervisor = tokio::spawn(link::supervise(Arc::clone(&shared)));
        Ok(NearCache::new(shared, supervisor))
    }
}
