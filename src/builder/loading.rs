//! The settings and the build of the loading caches: refresh-ahead, stale
//! serving and the refresh pipeline, which only a cache with a loader has.

#[cfg(feature = "async")]
use std::future::Future;
use std::{
    hash::{BuildHasher, Hash},
    time::Duration,
};

#[cfg(feature = "async")]
use crate::AsyncLoadingCache;
use crate::{Builder, ConfigError, Loaded, LoadingCache, Pipeline, StrCache};

impl<K, S> Builder<K, S> {
    /// For a [`LoadingCache`]: a read of a value older than `after` returns
    /// it at once and queues one reload of its key on the
    /// [`refresh_pipeline`](Self::refresh_pipeline), so that a key read
    /// often is reloaded before it expires and its readers never wait for
    /// the backend. Caffeine's `refreshAfterWrite`.
    ///
    /// [`build_loading`](Self::build_loading) refuses it without a
    /// pipeline ([`ConfigError::NoPipeline`]), as zero
    /// ([`ConfigError::ZeroWindow`]), and when it is not shorter than the
    /// time to live ([`ConfigError::RefreshAfterTtl`]); [`build`](Self::build)
    /// refuses it ([`ConfigError::NeedsLoader`]).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{Pipeline, StrCache};
    ///
    /// let err = StrCache::<String>::builder()
    ///     .time_to_live(Duration::from_secs(60))
    ///     .refresh_after(Duration::from_secs(90))
    ///     .refresh_pipeline(Pipeline::threads(1))
    ///     .try_build_loading(|_: &String| Ok::<_, ()>("v"))
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "refresh_after(90s) is not shorter than time_to_live(60s): \
    ///      entries would expire before a read found them due for a refresh"
    /// );
    /// ```
    pub fn refresh_after(mut self, after: Duration) -> Self {
        self.refresh_after = Some(after);
        self
    }

    /// For a [`LoadingCache`]: an expired value stays servable for `window`
    /// past its deadline. A read inside the window returns it at once,
    /// marked stale ([`Served::is_stale`](crate::Served::is_stale)), and
    /// queues one reload of its key; if the reload fails, the stale value
    /// is served until the window ends, and then the key is a miss.
    /// Stale-while-revalidate, as in HTTP's `Cache-Control`.
    ///
    /// Plain reads ([`StrCache::get_str`]) treat a stale value as expired.
    /// Writes treat it as present until its window ends: `remove` returns
    /// it, and an insert replaces it.
    ///
    /// Needs a [`refresh_pipeline`](Self::refresh_pipeline), as
    /// [`refresh_after`](Self::refresh_after) does.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ConfigError, StrCache};
    ///
    /// let err = StrCache::<String>::builder()
    ///     .serve_stale_for(Duration::from_secs(30))
    ///     .try_build()
    ///     .unwrap_err();
    /// assert_eq!(err, ConfigError::NeedsLoader { setting: "serve_stale_for" });
    /// ```
    pub fn serve_stale_for(mut self, window: Duration) -> Self {
        self.serve_stale_for = Some(window);
        self
    }

    /// For a [`LoadingCache`]: the worker threads and the bounded queue its
    /// reloads run on. The threads start when the cache is built and stop
    /// when it is dropped.
    ///
    /// # Examples
    /// ```
    /// use strcache::{ConfigError, Pipeline, StrCache};
    ///
    /// let err = StrCache::<String>::builder()
    ///     .refresh_pipeline(Pipeline::threads(2))
    ///     .try_build_loading(|_: &String| Ok::<_, ()>("v"))
    ///     .unwrap_err();
    /// assert_eq!(err, ConfigError::IdlePipeline);
    /// ```
    pub fn refresh_pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// Builds a [`LoadingCache`] that loads what it misses with `loader`,
    /// and reloads on its pipeline what [`refresh_after`](Self::refresh_after)
    /// and [`serve_stale_for`](Self::serve_stale_for) say. The loader gets
    /// the key and returns the value (anything [`Loaded`]:
    /// a `String`, or an [`Expiring`](crate::Expiring) value with a time to
    /// live of its own), or an error, which is not cached.
    ///
    /// # Panics
    /// If the settings cannot make a cache, as [`build`](Self::build), or
    /// if the operating system refuses a worker thread.
    ///
    /// # Examples
    /// ```
    /// use strcache::{Expiring, StrCache};
    /// use std::time::Duration;
    ///
    /// let cache = StrCache::<u64>::builder()
    ///     .max_entries(10_000)
    ///     .build_loading(|id: &u64| -> Result<_, String> {
    ///         let max_age = Duration::from_secs(30); // from the backend's headers
    ///         Ok(Expiring::new(format!(r#"{{"id":{id}}}"#), max_age))
    ///     });
    /// assert_eq!(*cache.get(&7).unwrap(), r#"{"id":7}"#);
    /// ```
    #[track_caller]
    pub fn build_loading<V, E>(
        self,
        loader: impl Fn(&K) -> Result<V, E> + Send + Sync + 'static,
    ) -> LoadingCache<K, E, S>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Loaded,
        E: Send + Sync + 'static,
        S: BuildHasher + Send + Sync + 'static,
    {
        match self.try_build_loading(loader) {
            Ok(cache) => cache,
            Err(e) => panic!("invalid cache settings: {e}"),
        }
    }

    /// [`build_loading`](Self::build_loading), or the setting that makes it
    /// impossible.
    ///
    /// # Errors
    /// As [`try_build`](Self::try_build), and:
    /// - `refresh_after` or `serve_stale_for` without a pipeline:
    ///   [`ConfigError::NoPipeline`]; a pipeline with neither:
    ///   [`ConfigError::IdlePipeline`];
    /// - a pipeline with 0 threads or a queue of 0: [`ConfigError::ZeroPipeline`];
    /// - `refresh_after(Duration::ZERO)` or `serve_stale_for(Duration::ZERO)`:
    ///   [`ConfigError::ZeroWindow`];
    /// - `refresh_after` no shorter than `time_to_live`:
    ///   [`ConfigError::RefreshAfterTtl`];
    /// - a [`Pipeline::spawn`](crate::Pipeline::spawn), which is for
    ///   [`build_loading_async`](Self::build_loading_async):
    ///   [`ConfigError::PipelineKind`].
    ///
    /// # Panics
    /// If the operating system refuses a worker thread.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ConfigError, StrCache};
    ///
    /// let err = StrCache::<String>::builder()
    ///     .refresh_after(Duration::from_secs(10))
    ///     .try_build_loading(|_: &String| Ok::<_, ()>("v"))
    ///     .unwrap_err();
    /// assert_eq!(err, ConfigError::NoPipeline { setting: "refresh_after" });
    /// ```
    pub fn try_build_loading<V, E>(
        self,
        loader: impl Fn(&K) -> Result<V, E> + Send + Sync + 'static,
    ) -> Result<LoadingCache<K, E, S>, ConfigError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Loaded,
        E: Send + Sync + 'static,
        S: BuildHasher + Send + Sync + 'static,
    {
        let (cache, refresh_after, pipeline) = self.loading(false)?;
        Ok(LoadingCache::start(cache, loader, refresh_after, pipeline))
    }

    /// Builds an [`AsyncLoadingCache`]: as
    /// [`build_loading`](Self::build_loading), with an async loader, and
    /// reloads spawned on the program's executor by the hook of a
    /// [`Pipeline::spawn`].
    ///
    /// # Panics
    /// If the settings cannot make a cache, as [`build`](Self::build).
    ///
    /// # Examples
    /// ```
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let cache = strcache::StrCache::<String>::builder()
    ///     .build_loading_async(|key: &String| {
    ///         let key = key.clone();
    ///         async move { Ok::<_, ()>(format!("value of {key}")) }
    ///     });
    /// assert_eq!(*cache.get("k").await.unwrap(), "value of k");
    /// # });
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    #[track_caller]
    pub fn build_loading_async<V, E, F>(
        self,
        loader: impl Fn(&K) -> F + Send + Sync + 'static,
    ) -> AsyncLoadingCache<K, E, S>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Loaded,
        E: Send + Sync + 'static,
        F: Future<Output = Result<V, E>> + Send + 'static,
        S: BuildHasher + Send + Sync + 'static,
    {
        match self.try_build_loading_async(loader) {
            Ok(cache) => cache,
            Err(e) => panic!("invalid cache settings: {e}"),
        }
    }

    /// [`build_loading_async`](Self::build_loading_async), or the setting
    /// that makes it impossible.
    ///
    /// # Errors
    /// As [`try_build_loading`](Self::try_build_loading), with
    /// [`ConfigError::PipelineKind`] for a pipeline of threads.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ConfigError, Pipeline, StrCache};
    ///
    /// let err = StrCache::<String>::builder()
    ///     .refresh_after(Duration::from_secs(10))
    ///     .refresh_pipeline(Pipeline::threads(2))
    ///     .try_build_loading_async(|_: &String| async { Ok::<_, ()>("v") })
    ///     .unwrap_err();
    /// assert_eq!(err, ConfigError::PipelineKind { expected: "Pipeline::spawn" });
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn try_build_loading_async<V, E, F>(
        self,
        loader: impl Fn(&K) -> F + Send + Sync + 'static,
    ) -> Result<AsyncLoadingCache<K, E, S>, ConfigError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Loaded,
        E: Send + Sync + 'static,
        F: Future<Output = Result<V, E>> + Send + 'static,
        S: BuildHasher + Send + Sync + 'static,
    {
        let (cache, refresh_after, pipeline) = self.loading(true)?;
        Ok(AsyncLoadingCache::new(
            cache,
            loader,
            refresh_after,
            pipeline,
        ))
    }

    /// The cache, refresh window and pipeline of a loading cache, checked;
    /// `spawns` for an async one, whose pipeline spawns tasks.
    #[allow(clippy::type_complexity)]
    fn loading(
        mut self,
        spawns: bool,
    ) -> Result<(StrCache<K, S>, Option<Duration>, Option<Pipeline>), ConfigError> {
        let windows = [
            ("refresh_after", self.refresh_after),
            ("serve_stale_for", self.serve_stale_for),
        ];
        for (setting, window) in windows {
            match (window, &self.pipeline) {
                (Some(Duration::ZERO), _) => return Err(ConfigError::ZeroWindow { setting }),
                (Some(_), None) => return Err(ConfigError::NoPipeline { setting }),
                _ => {}
            }
        }
        if let Some(pipeline) = &self.pipeline {
            if pipeline.spawns() != spawns {
                let expected = if spawns {
                    "Pipeline::spawn"
                } else {
                    "Pipeline::threads"
                };
                return Err(ConfigError::PipelineKind { expected });
            }
            pipeline.check()?;
            if self.refresh_after.is_none() && self.serve_stale_for.is_none() {
                return Err(ConfigError::IdlePipeline);
            }
        }
        if let (Some(refresh_after), Some(ttl)) = (self.refresh_after, self.ttl) {
            if refresh_after >= ttl {
                return Err(ConfigError::RefreshAfterTtl { refresh_after, ttl });
            }
        }
        let refresh_after = self.refresh_after;
        let pipeline = self.pipeline.take();
        Ok((self.cache(true)?, refresh_after, pipeline))
    }
}
