//! Freshness in async code: an `AsyncLoadingCache` spawns one reload task
//! per due key through the user's hook, bounds the tasks in flight, lets
//! writes win over them, and survives tasks that are dropped unrun or
//! outlive it. The hook here queues the tasks, and each test runs them
//! when it chooses: every interleaving is made, none is timed.
#![cfg(feature = "async")]

use std::{
    future::Future,
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use strcache::{AsyncLoadingCache, ManualClock, Pipeline, StrCache};

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

const TTL: Duration = Duration::from_secs(60);
const REFRESH: Duration = Duration::from_secs(45);
const STALE: Duration = Duration::from_secs(30);

/// Runs `future`, which never waits for anything these tests do not
/// drive, to its end.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The spawned tasks, run when a test says.
#[derive(Clone, Default)]
struct Executor(Arc<Mutex<Vec<Task>>>);

impl Executor {
    fn pipeline(&self) -> Pipeline {
        let tasks = self.clone();
        Pipeline::spawn(move |task| tasks.lock().push(task))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Task>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Runs every task spawned so far; returns how many.
    fn run(&self) -> usize {
        let tasks = std::mem::take(&mut *self.lock());
        let n = tasks.len();
        for task in tasks {
            block_on(task);
        }
        n
    }
}

/// A backend that counts its calls and answers `"{key} v{n}"` for the
/// `n`th.
#[derive(Clone, Default)]
struct Backend(Arc<AtomicUsize>);

impl Backend {
    fn load(&self, key: u32) -> impl Future<Output = Result<String, ()>> + Send + 'static {
        let calls = Arc::clone(&self.0);
        async move {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Ok(format!("{key} v{n}"))
        }
    }

    fn calls(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

fn cache(clock: &ManualClock, backend: &Backend, pipeline: Pipeline) -> AsyncLoadingCache<u32, ()> {
    let backend = backend.clone();
    StrCache::<u32>::builder()
        .clock(clock.clone())
        .time_to_live(TTL)
        .refresh_after(REFRESH)
        .serve_stale_for(STALE)
        .refresh_pipeline(pipeline)
        .build_loading_async(move |key: &u32| backend.load(*key))
}

fn read(cache: &AsyncLoadingCache<u32, ()>, key: u32) -> (String, bool) {
    let served = block_on(cache.get(&key)).unwrap();
    (served.to_string(), served.is_stale())
}

#[test]
fn a_due_key_spawns_one_reload_and_its_readers_do_not_wait() {
    let (clock, backend, executor) = (ManualClock::new(), Backend::default(), Executor::default());
    let cache = cache(&clock, &backend, executor.pipeline());
    assert_eq!(read(&cache, 1), ("1 v1".into(), false));
    clock.advance(REFRESH);
    for _ in 0..10 {
        assert_eq!(read(&cache, 1), ("1 v1".into(), false));
    }
    // One task, not yet run: the readers had the old value at once.
    assert_eq!((executor.pending(), backend.calls()), (1, 1));
    assert_eq!(executor.run(), 1);
    assert_eq!(backend.calls(), 2);
    let served = block_on(cache.get(&1)).unwrap();
    assert_eq!(
        (served.to_string(), served.age()),
        ("1 v2".into(), Duration::ZERO)
    );
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.scheduled, refreshes.succeeded), (1, 1));
}

#[test]
fn a_stale_value_is_served_while_its_reload_task_waits() {
    let (clock, backend, executor) = (ManualClock::new(), Backend::default(), Executor::default());
    let cache = cache(&clock, &backend, executor.pipeline());
    read(&cache, 1);
    clock.advance(TTL);
    assert_eq!(read(&cache, 1), ("1 v1".into(), true));
    assert!(
        cache.get_str(&1).is_none(),
        "plain reads treat it as expired"
    );
    executor.run();
    assert_eq!(read(&cache, 1), ("1 v2".into(), false));
    assert_eq!(cache.stats().refreshes.stale_served, 1);
}

#[test]
fn the_limit_on_tasks_in_flight_drops_and_counts_reloads() {
    let (clock, backend, executor) = (ManualClock::new(), Backend::default(), Executor::default());
    let cache = cache(&clock, &backend, executor.pipeline().queue(1));
    read(&cache, 1);
    read(&cache, 2);
    clock.advance(REFRESH);
    read(&cache, 1);
    read(&cache, 2);
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.scheduled, refreshes.dropped), (1, 1));
    assert_eq!(executor.run(), 1);
    // The place is free again: key 2 gets its reload.
    read(&cache, 2);
    assert_eq!(executor.run(), 1);
    assert_eq!(read(&cache, 2).0, "2 v4");
}

#[test]
fn an_insert_during_a_reload_task_wins() {
    let (clock, backend, executor) = (ManualClock::new(), Backend::default(), Executor::default());
    let cache = cache(&clock, &backend, executor.pipeline());
    read(&cache, 1);
    clock.advance(REFRESH);
    read(&cache, 1);
    cache.insert(1, "written").unwrap();
    executor.run();
    assert_eq!(read(&cache, 1).0, "written");
    assert_eq!(cache.stats().loads.superseded, 1);
}

#[test]
fn a_task_the_executor_drops_abandons_its_reload() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    let cache = cache(&clock, &backend, Pipeline::spawn(drop));
    read(&cache, 1);
    clock.advance(TTL);
    // Each dropped task counts as failed, and leaves no reload listed: the
    // next read spawns another, and the stale value is served meanwhile.
    for round in 1..=3 {
        assert_eq!(read(&cache, 1), ("1 v1".into(), true));
        let refreshes = cache.stats().refreshes;
        assert_eq!((refreshes.scheduled, refreshes.failed), (round, round));
    }
    // Past the window: a miss loads on the caller, with no reload to wait for.
    clock.advance(STALE);
    assert_eq!(read(&cache, 1), ("1 v2".into(), false));
}

#[test]
fn a_task_that_outlives_its_cache_discards_its_value() {
    let (clock, backend, executor) = (ManualClock::new(), Backend::default(), Executor::default());
    let cache = cache(&clock, &backend, executor.pipeline());
    read(&cache, 1);
    clock.advance(REFRESH);
    read(&cache, 1);
    drop(cache);
    // The task runs its loader, finds no cache, and ends.
    assert_eq!(executor.run(), 1);
    assert_eq!(backend.calls(), 2);
}
