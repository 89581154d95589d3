//! `AsyncLoadingCache`: a [`LoadingCache`](crate::LoadingCache) for async
//! code, whose loader is async and whose reloads are tasks on the user's
//! executor, spawned through a hook ([`Pipeline::spawn`]).
//!
//! # Synchronization
//! As for the threaded pipeline (parent module), with a task in place of
//! a queued flight: the reader that lists a key's reload spawns a task
//! that awaits the loader and then publishes, as a worker does. Instead of
//! a queue, a count of the tasks spawned and not yet finished bounds them:
//! the reader reserves a place with a `fetch_add` and gives it back if the
//! count was at the limit (a dropped refresh); the task gives it back as
//! it ends. The count is Relaxed: it orders no other memory, and a reader
//! that reads it a little late only drops or spawns one reload more or
//! less at the limit.
//!
//! A task holds the cache weakly: it does not keep it alive, and once the
//! `AsyncLoadingCache` is dropped, a task still awaiting its loader
//! discards the value. A task dropped before it finishes (by the executor,
//! or because the loader's future panicked) ends its flight as abandoned,
//! so no caller waits for it.

use std::{
    borrow::Borrow,
    fmt,
    future::Future,
    hash::{BuildHasher, Hash},
    ops::Deref,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Weak,
    },
    time::Duration,
};

use bytes::Bytes;
use crossbeam_epoch::Guard;

use super::{
    loading::{serve, Parts},
    pipeline::SpawnHook,
    Pipeline, Served,
};
use crate::{
    entry::Entry, expire::nanos, load::Flight, read::CachedStr, stats::bump, LoadError, Loaded,
    StrCache,
};

/// A loader's future, boxed.
type LoadFuture<E> = Pin<Box<dyn Future<Output = Result<Parts, E>> + Send + 'static>>;

type Loader<K, E> = dyn Fn(&K) -> LoadFuture<E> + Send + Sync;

/// A [`LoadingCache`](crate::LoadingCache) for async code: its loader
/// returns a future, a miss awaits it (concurrent callers of one key await
/// one call), and its reloads run as tasks on the program's executor,
/// spawned by the hook of [`Pipeline::spawn`]. It depends on no runtime.
/// Built by [`Builder::build_loading_async`](crate::Builder::build_loading_async).
///
/// Dropping it ends the reloads' hold on it: a reload task still awaiting
/// its loader when the cache is dropped discards the value (the executor
/// owns the task, so its loader call runs to its end).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{Pipeline, StrCache};
///
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let cache = StrCache::<u64>::builder()
///     .time_to_live(Duration::from_secs(60))
///     .refresh_after(Duration::from_secs(45))
///     .refresh_pipeline(Pipeline::spawn(|task| {
///         tokio::spawn(task);
///     }))
///     .build_loading_async(|id: &u64| {
///         let id = *id;
///         async move { Ok::<_, std::io::Error>(format!(r#"{{"id":{id}}}"#)) }
///     });
/// let user = cache.get(&7).await.unwrap();
/// assert_eq!(*user, r#"{"id":7}"#);
/// # });
/// ```
pub struct AsyncLoadingCache<K, E, S = ahash::RandomState> {
    core: Arc<Core<K, E, S>>,
}

struct Core<K, E, S> {
    cache: StrCache<K, S>,
    loader: Box<Loader<K, E>>,
    refresh_after: Option<u64>,
    /// The hook and the bound of the reload tasks; `None` without a
    /// pipeline.
    spawner: Option<Spawner>,
}

struct Spawner {
    hook: Arc<SpawnHook>,
    limit: usize,
    /// Reload tasks spawned and not yet finished.
    running: AtomicUsize,
}

impl<K, E, S> AsyncLoadingCache<K, E, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// `cache` with `loader`, reloading on `pipeline`, a spawning one.
    pub(crate) fn new<V, F>(
        cache: StrCache<K, S>,
        loader: impl Fn(&K) -> F + Send + Sync + 'static,
        refresh_after: Option<Duration>,
        pipeline: Option<Pipeline>,
    ) -> Self
    where
        V: Loaded,
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let loader = move |key: &K| -> LoadFuture<E> {
            let load = loader(key);
            Box::pin(async move {
                let (value, ttl) = load.await?.into_parts();
                Ok(Parts(value, ttl))
            })
        };
        let spawner = pipeline.and_then(|pipeline| match pipeline.runner() {
            super::pipeline::Runner::Spawn(hook) => Some(Spawner {
                hook: Arc::clone(hook),
                limit: pipeline.capacity(),
                running: AtomicUsize::new(0),
            }),
            super::pipeline::Runner::Threads(_) => None,
        });
        AsyncLoadingCache {
            core: Arc::new(Core {
                cache,
                loader: Box::new(loader),
                refresh_after: refresh_after.map(nanos),
                spawner,
            }),
        }
    }

    /// As [`LoadingCache::get`](crate::LoadingCache::get): the value at
    /// once if the cache has one, fresh or stale, with a reload spawned if
    /// it is due; on a miss, the loader's value, awaited by this caller or
    /// by the concurrent caller this one waits for. Dropping the future
    /// while it loads hands the load to a waiter.
    ///
    /// The returned [`CachedStr`] is not `Send`: take
    /// [`get_bytes`](Self::get_bytes) to hold the value across an `.await`.
    ///
    /// # Errors
    /// As [`LoadingCache::get`](crate::LoadingCache::get).
    ///
    /// # Examples
    /// ```
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let cache = strcache::StrCache::<String>::builder()
    ///     .build_loading_async(|_: &String| async { Err::<&str, _>("backend down") });
    /// let err = cache.get("k").await.unwrap_err();
    /// assert_eq!(err.to_string(), "loader failed: backend down");
    /// # });
    /// ```
    pub async fn get<Q>(&self, key: &Q) -> Result<Served<CachedStr<'_>>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let core = &self.core;
        let hit = serve(&core.cache, key, core.refresh_after, |tag, seen, guard| {
            Core::schedule(core, tag, seen, guard);
        });
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let load = (core.loader)(&key.to_owned().into());
        let value = core.cache.try_get_or_insert_with_async(key, load).await?;
        Ok(Served::loaded(value))
    }

    /// As [`get`](Self::get), as a `Bytes` that shares the cached buffer:
    /// `Send` and `'static`, to hold across an `.await`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Examples
    /// ```
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let cache = strcache::StrCache::<u32>::builder()
    ///     .build_loading_async(|_: &u32| async { Ok::<_, ()>("body") });
    /// let body = cache.get_bytes(&1).await.unwrap();
    /// tokio::task::yield_now().await;
    /// assert_eq!(&body[..], b"body");
    /// # });
    /// ```
    pub async fn get_bytes<Q>(&self, key: &Q) -> Result<Served<Bytes>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        Ok(self.get(key).await?.map(|value| value.to_bytes()))
    }
}

impl<K, E, S> Core<K, E, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Spawns a reload of the key of `seen` unless one is in flight, the
    /// key has a newer value, or the limit of tasks is reached (module
    /// docs).
    fn schedule(this: &Arc<Self>, tag: u64, seen: &Entry<K>, guard: &Guard) {
        let Some(spawner) = &this.spawner else {
            return;
        };
        let Some(flight) = this.cache.list_reload(tag, seen, guard) else {
            return;
        };
        let counters = this.cache.counters(tag);
        // Relaxed: see the module docs.
        if spawner.running.fetch_add(1, Ordering::Relaxed) >= spawner.limit {
            spawner.running.fetch_sub(1, Ordering::Relaxed);
            this.cache.abandon(flight);
            bump(&counters.refreshes_dropped);
            return;
        }
        bump(&counters.refreshes_scheduled);
        // From here the task owns the flight and the place: if the loader
        // panics making its future, or the hook drops the task, the task's
        // drop ends both.
        let task = Reload {
            core: Arc::downgrade(this),
            flight: Some(flight),
            taken: false,
        };
        let load = (this.loader)(task.flight.as_ref().expect("just set").key());
        (spawner.hook)(Box::pin(task.run(load)));
    }
}

/// A spawned reload: ends its flight and gives its place back however it
/// ends.
struct Reload<K, E, S> {
    core: Weak<Core<K, E, S>>,
    /// Taken when the reload publishes, or when a caller that missed the
    /// key took it over.
    flight: Option<Arc<Flight<K>>>,
    /// Whether this task took the reload ([`Flight::take`]) to run it.
    taken: bool,
}

impl<K, E, S> Reload<K, E, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    async fn run(mut self, load: LoadFuture<E>) {
        let flight = self.flight.as_ref().expect("set until taken here");
        if !flight.take(None) {
            // A caller that missed the key runs it instead.
            self.flight = None;
            return;
        }
        self.taken = true;
        let loaded = load.await;
        let Some(core) = self.core.upgrade() else {
            // The cache is gone, and its flights with it.
            self.flight = None;
            return;
        };
        let flight = self.flight.take().expect("taken only here");
        let counters = core.cache.counters(flight.tag());
        let ok = core.cache.reload(flight, |_| loaded);
        bump(if ok {
            &counters.refreshes_succeeded
        } else {
            &counters.refreshes_failed
        });
    }
}

impl<K, E, S> Drop for Reload<K, E, S> {
    fn drop(&mut self) {
        let Some(core) = self.core.upgrade() else {
            return;
        };
        if let Some(flight) = self.flight.take() {
            // Dropped before it published: never run, cancelled, or the
            // loader panicked.
            bump(&core.cache.counters(flight.tag()).refreshes_failed);
            if self.taken {
                core.cache.abandon_taken(flight);
            } else {
                core.cache.abandon(flight);
            }
        }
        if let Some(spawner) = &core.spawner {
            // Relaxed: see the module docs.
            spawner.running.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<K, E, S> Deref for AsyncLoadingCache<K, E, S> {
    type Target = StrCache<K, S>;

    fn deref(&self) -> &StrCache<K, S> {
        &self.core.cache
    }
}

impl<K, E, S> fmt::Debug for AsyncLoadingCache<K, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLoadingCache")
            .field("cache", &self.core.cache)
            .field("refresh_after", &self.core.refresh_after)
            .finish_non_exhaustive()
    }
}
