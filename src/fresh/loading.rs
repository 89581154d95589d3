//! `LoadingCache`: a cache that owns its loader, with refresh-ahead and
//! stale-while-revalidate (parent module).

use std::{
    any::Any,
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash},
    ops::Deref,
    panic::{self, AssertUnwindSafe},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use crossbeam_epoch::Guard;

use super::{Pipeline, Queue, Workers};
use crate::{
    entry::Entry, expire::nanos, load::Flight, read::CachedStr, stats::bump, sync::current_thread,
    LoadError, Loaded, StrCache, Utf8Bytes,
};

/// A cache that loads what it misses with its own loader and, when built
/// with [`refresh_after`](crate::Builder::refresh_after) or
/// [`serve_stale_for`](crate::Builder::serve_stale_for), reloads what it
/// serves on a bounded [`Pipeline`] of worker threads, so that a hot key
/// whose time to live runs out does not make its readers wait for the
/// backend. Built by [`Builder::build_loading`](crate::Builder::build_loading).
///
/// - [`get`](Self::get) returns the value at once if there is one: fresh,
///   or, inside the stale window, stale. If the value is older than
///   `refresh_after`, or stale, the same call queues one reload of the key
///   (at most one per key is queued or running) and does not wait for it.
/// - On a miss, `get` runs the loader on the caller's thread; concurrent
///   callers of the same key wait for that one call, as with
///   [`StrCache::get_or_insert_with`].
/// - Each returned [`Served`] says whether it is stale and how old it is,
///   for a `Cache-Control` or `Age` header.
///
/// Everything else a [`StrCache`] does is here through `Deref`: `insert`,
/// `remove`, `get_str`, `stats` and so on. An insert, remove, clear or
/// retain of a key wins over a reload of it in flight. Plain reads
/// (`get_str`) neither load nor refresh, and treat a stale value as
/// expired.
///
/// Dropping the `LoadingCache` stops its pipeline: reloads still queued are
/// dropped, and the drop waits for the workers to finish the reloads they
/// are running. No thread outlives it.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{Pipeline, StrCache};
///
/// let cache = StrCache::<String>::builder()
///     .time_to_live(Duration::from_secs(60))
///     .refresh_after(Duration::from_secs(45))
///     .serve_stale_for(Duration::from_secs(30))
///     .refresh_pipeline(Pipeline::threads(2).queue(512))
///     .build_loading(|id: &String| -> Result<String, std::io::Error> {
///         Ok(format!(r#"{{"id":"{id}"}}"#)) // the backend call
///     });
/// let user = cache.get("7").unwrap();
/// assert_eq!(*user, r#"{"id":"7"}"#);
/// assert!(!user.is_stale());
/// ```
pub struct LoadingCache<K, E, S = ahash::RandomState> {
    core: Arc<Core<K, E, S>>,
    workers: Workers,
}

/// What a `LoadingCache` shares with its workers.
struct Core<K, E, S> {
    cache: StrCache<K, S>,
    loader: Box<Loader<K, E>>,
    /// The age, in clock nanoseconds, from which a read schedules a reload.
    refresh_after: Option<u64>,
    /// The reloads waiting for a worker; `None` without a pipeline.
    queue: Option<Queue<Arc<Flight<K>>>>,
}

type Loader<K, E> = dyn Fn(&K) -> Result<Parts, E> + Send + Sync;

/// A loaded value as the loader's [`Loaded::into_parts`] gave it.
pub(super) struct Parts(pub(super) Utf8Bytes, pub(super) Option<Duration>);

impl Loaded for Parts {
    fn into_parts(self) -> (Utf8Bytes, Option<Duration>) {
        (self.0, self.1)
    }
}

/// A value a [`LoadingCache`] served, and how fresh it is. Derefs to the
/// value: a [`CachedStr`] from [`LoadingCache::get`], a [`Bytes`] from
/// [`LoadingCache::get_bytes`].
///
/// # Examples
/// ```
/// let cache = strcache::StrCache::<String>::builder()
///     .build_loading(|_: &String| Ok::<_, ()>("v"));
/// let served = cache.get("k").unwrap();
/// assert_eq!(*served, "v");
/// assert_eq!((served.is_stale(), served.age()), (false, std::time::Duration::ZERO));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served<T> {
    value: T,
    stale: bool,
    age: Duration,
}

impl<T> Served<T> {
    /// Whether the value had expired, and was served inside its stale
    /// window while a reload runs.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().build_loading(|_: &u32| Ok::<_, ()>("v"));
    /// assert!(!cache.get(&1).unwrap().is_stale());
    /// ```
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// How long ago the value was written, by the cache's clock: the
    /// `Age` of an HTTP response. Zero for a value this call loaded.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = strcache::ManualClock::new();
    /// let cache = strcache::StrCache::<u32>::builder()
    ///     .clock(clock.clone())
    ///     .build_loading(|_: &u32| Ok::<_, ()>("v"));
    /// cache.get(&1).unwrap();
    /// clock.advance(Duration::from_secs(3));
    /// assert_eq!(cache.get(&1).unwrap().age(), Duration::from_secs(3));
    /// ```
    pub fn age(&self) -> Duration {
        self.age
    }

    /// The value.
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().build_loading(|_: &u32| Ok::<_, ()>("v"));
    /// let body: bytes::Bytes = cache.get_bytes(&1).unwrap().into_inner();
    /// assert_eq!(body, "v");
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// A value this call loaded: fresh, and of age zero.
    pub(super) fn loaded(value: T) -> Self {
        Served {
            value,
            stale: false,
            age: Duration::ZERO,
        }
    }

    /// The same freshness, with `f` of the value.
    pub(super) fn map<U>(self, f: impl FnOnce(T) -> U) -> Served<U> {
        Served {
            value: f(self.value),
            stale: self.stale,
            age: self.age,
        }
    }
}

impl<T> Deref for Served<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<K, E, S> LoadingCache<K, E, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// `cache` with `loader`, reloading entries older than `refresh_after`
    /// (and stale ones) on `pipeline`, whose threads start here.
    pub(crate) fn start<V: Loaded>(
        cache: StrCache<K, S>,
        loader: impl Fn(&K) -> Result<V, E> + Send + Sync + 'static,
        refresh_after: Option<Duration>,
        pipeline: Option<Pipeline>,
    ) -> Self {
        let loader = move |key: &K| {
            let (value, ttl) = loader(key)?.into_parts();
            Ok(Parts(value, ttl))
        };
        let core = Arc::new(Core {
            cache,
            loader: Box::new(loader),
            refresh_after: refresh_after.map(nanos),
            queue: pipeline.as_ref().map(|p| Queue::new(p.capacity())),
        });
        let mut this = LoadingCache {
            core,
            workers: Workers::none(),
        };
        if let Some(pipeline) = &pipeline {
            let core = Arc::clone(&this.core);
            // If a thread fails to start, `this` is dropped as the panic
            // unwinds, which stops those already started.
            this.workers.start(pipeline, move || core.work());
        }
        this
    }

    /// The value for `key`: at once if the cache has one, fresh or in its
    /// stale window, else loaded by this caller (or by the concurrent
    /// caller this one waits for). A value due for a refresh, or stale,
    /// gets one reload queued, unless one is queued or running already or
    /// the queue is full; this call does not wait for it.
    ///
    /// The key is borrowed, and made into an owned `K` only on a miss or
    /// when a reload is queued: a hit allocates nothing, and reads the
    /// clock once.
    ///
    /// # Errors
    /// On a miss, the loader's error ([`LoadError::Load`], shared with the
    /// callers that waited for the same load), or [`LoadError::Cache`]
    /// as for [`StrCache::get_or_insert_with`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, Pipeline, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let cache = StrCache::<String>::builder()
    ///     .clock(clock.clone())
    ///     .time_to_live(Duration::from_secs(60))
    ///     .serve_stale_for(Duration::from_secs(30))
    ///     .refresh_pipeline(Pipeline::threads(1))
    ///     .build_loading(|_: &String| Ok::<_, ()>("v"));
    /// cache.get("k").unwrap();
    /// clock.advance(Duration::from_secs(70));
    /// // Expired 10 s ago, inside the 30 s window: served, marked stale,
    /// // and reloaded in the background.
    /// let v = cache.get("k").unwrap();
    /// assert!(v.is_stale());
    /// assert_eq!(v.age(), Duration::from_secs(70));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Result<Served<CachedStr<'_>>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let core = &*self.core;
        if let Some(hit) = serve(&core.cache, key, core.refresh_after, |tag, seen, guard| {
            core.schedule(tag, seen, guard);
        }) {
            return Ok(hit);
        }
        let cache = &core.cache;
        let value = cache.load_missing(key, None, |key| (core.loader)(key))?;
        Ok(Served::loaded(value))
    }

    /// Waits until no reload is queued or running: for tests that move a
    /// [`ManualClock`](crate::ManualClock) and then check what the reloads
    /// did, as moka's `run_pending_tasks` or Caffeine's `cleanUp` serve.
    /// Returns at once without a pipeline. Reads that schedule reloads
    /// meanwhile make it wait longer.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::{ManualClock, Pipeline, StrCache};
    ///
    /// let clock = ManualClock::new();
    /// let version = std::sync::atomic::AtomicU32::new(0);
    /// let cache = StrCache::<String>::builder()
    ///     .clock(clock.clone())
    ///     .refresh_after(Duration::from_secs(10))
    ///     .refresh_pipeline(Pipeline::threads(1))
    ///     .build_loading(move |_: &String| {
    ///         Ok::<_, ()>(format!("v{}", version.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
    ///     });
    /// assert_eq!(*cache.get("k").unwrap(), "v0");
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(*cache.get("k").unwrap(), "v0"); // due: reloaded behind the read
    /// cache.await_refreshes();
    /// assert_eq!(*cache.get("k").unwrap(), "v1");
    /// ```
    pub fn await_refreshes(&self) {
        if let Some(queue) = &self.core.queue {
            queue.idle();
        }
    }

    /// As [`get`](Self::get), as a `Bytes` that shares the cached buffer:
    /// `Send` and `'static`, for an HTTP body or to hold across an
    /// `.await`. A loaded value is handed over as loaded, with no second
    /// lookup.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<String>::builder()
    ///     .build_loading(|key: &String| Ok::<_, ()>(format!("body of {key}")));
    /// let body = cache.get_bytes("k").unwrap();
    /// std::thread::spawn(move || assert_eq!(&body[..], b"body of k")).join().unwrap();
    /// ```
    pub fn get_bytes<Q>(&self, key: &Q) -> Result<Served<Bytes>, LoadError<E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        Ok(self.get(key)?.map(|value| value.to_bytes()))
    }
}

/// The hit path of both loading caches: the value for `key` if the cache
/// has one, fresh or in its stale window, with `schedule` called (with the
/// key's hash tag, the entry and the guard it was found under) when the
/// entry is due for a reload: older than `refresh_after` nanoseconds, or
/// stale. `None` on a miss.
pub(super) fn serve<'c, K, S, Q>(
    cache: &'c StrCache<K, S>,
    key: &Q,
    refresh_after: Option<u64>,
    schedule: impl FnOnce(u64, &Entry<K>, &Guard),
) -> Option<Served<CachedStr<'c>>>
where
    K: Hash + Eq + Borrow<Q>,
    S: BuildHasher,
    Q: Hash + Eq + ?Sized,
{
    // User code (the clock): no lock is held anywhere in this call.
    let now = cache.expiry().now();
    let guard = cache.guard();
    let (entry, tag) = cache.get_in_grace(key, now, &guard)?;
    let stale = entry.deadline != 0 && now >= entry.deadline;
    let due =
        stale || refresh_after.is_some_and(|after| now >= entry.written().saturating_add(after));
    if due {
        schedule(tag, entry, &guard);
    }
    if stale {
        bump(&cache.counters(tag).stale_served);
    }
    let age = Duration::from_nanos(now.saturating_sub(entry.written()));
    let entry: *const Entry<K> = entry;
    // SAFETY: `entry` was loaded under `guard`, which moves into the
    // `CachedStr`, as in `StrCache::get_str`.
    let value = unsafe { CachedStr::of_entry(guard, entry) };
    Some(Served { value, stale, age })
}

impl<K, E, S> Core<K, E, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    S: BuildHasher,
{
    /// Queues a reload of the key of `seen`, an entry found due under
    /// `guard` (hash tag `tag`), unless one is in flight or the key has a
    /// newer value (module docs, *Hand-off*).
    fn schedule(&self, tag: u64, seen: &Entry<K>, guard: &Guard) {
        let Some(queue) = &self.queue else {
            return;
        };
        let Some(flight) = self.cache.list_reload(tag, seen, guard) else {
            return;
        };
        let counters = self.cache.counters(tag);
        match queue.push(flight) {
            Ok(()) => bump(&counters.refreshes_scheduled),
            Err(flight) => {
                self.cache.abandon(flight);
                bump(&counters.refreshes_dropped);
            }
        }
    }

    /// A worker: runs queued reloads until the queue is closed.
    fn work(&self) {
        let Some(queue) = &self.queue else {
            return;
        };
        while let Some(flight) = queue.pop() {
            // A caller that missed the key may have taken the reload over.
            if flight.take(Some(current_thread().id())) {
                self.run(flight);
            }
            queue.done();
        }
    }

    /// Runs a reload this worker took, counting how it ends.
    fn run(&self, flight: Arc<Flight<K>>) {
        let counters = self.cache.counters(flight.tag());
        let reloaded = panic::catch_unwind(AssertUnwindSafe(|| {
            self.cache.reload(flight, |key| (self.loader)(key))
        }));
        let ok = match reloaded {
            Ok(ok) => ok,
            // The panic hook has reported it; the flight was abandoned as
            // the panic unwound.
            Err(panic) => {
                discard(panic);
                false
            }
        };
        bump(if ok {
            &counters.refreshes_succeeded
        } else {
            &counters.refreshes_failed
        });
    }
}

/// Drops a panic's payload, whose `Drop` may panic in turn: that second
/// payload is forgotten, as std does, so the worker carries on.
fn discard(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}

impl<K, E, S> Deref for LoadingCache<K, E, S> {
    type Target = StrCache<K, S>;

    fn deref(&self) -> &StrCache<K, S> {
        &self.core.cache
    }
}

impl<K, E, S> Drop for LoadingCache<K, E, S> {
    fn drop(&mut self) {
        if let Some(queue) = &self.core.queue {
            for flight in queue.close() {
                self.core.cache.abandon(flight);
            }
        }
        self.workers.join();
    }
}

impl<K, E, S> fmt::Debug for LoadingCache<K, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadingCache")
            .field("cache", &self.core.cache)
            .field("refresh_after", &self.core.refresh_after)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}
