//! Freshness: a `LoadingCache` reloads due keys once per window on its
//! pipeline, serves stale values only inside their window, drops and
//! counts reloads when its queue is full, lets writes win over reloads,
//! and leaves no thread behind. Counts and events only: a manual clock
//! moves time, and a backend that can be held makes the interleavings.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Condvar, Mutex, MutexGuard, PoisonError,
    },
    thread,
    time::{Duration, Instant},
};

use strcache::{LoadError, LoadingCache, ManualClock, Pipeline, StrCache};

#[path = "support/watch.rs"]
mod watch;
use watch::{watched, PATIENCE};

const TTL: Duration = Duration::from_secs(60);
const REFRESH: Duration = Duration::from_secs(45);
const STALE: Duration = Duration::from_secs(30);

/// The tests of this file count the process's refresh worker threads, so
/// they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A backend that counts its calls per key, answers `"{key} v{n}"` for
/// its `n`th call of the key, and can be held (calls wait until it is
/// released) or made to fail.
#[derive(Default)]
struct Backend {
    state: Mutex<State>,
    changed: Condvar,
    failing: AtomicBool,
}

#[derive(Default)]
struct State {
    calls: HashMap<u32, usize>,
    held: bool,
    /// Calls that are waiting because the backend is held.
    waiting: usize,
}

impl Backend {
    fn leak() -> &'static Backend {
        Box::leak(Box::default())
    }

    fn load(&self, key: &u32) -> Result<String, String> {
        let mut state = self.lock();
        let n = {
            let calls = state.calls.entry(*key).or_default();
            *calls += 1;
            *calls
        };
        state.waiting += 1;
        self.changed.notify_all();
        let (mut state, waited) = (self.changed)
            .wait_timeout_while(state, PATIENCE, |s| s.held)
            .unwrap_or_else(PoisonError::into_inner);
        assert!(!waited.timed_out(), "the backend was never released");
        state.waiting -= 1;
        drop(state);
        if self.failing.load(Ordering::Relaxed) {
            return Err(format!("{key}: backend down"));
        }
        Ok(format!("{key} v{n}"))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hold(&self) {
        self.lock().held = true;
    }

    fn release(&self) {
        self.lock().held = false;
        self.changed.notify_all();
    }

    /// Waits until `n` calls are held at the backend.
    fn await_waiting(&self, n: usize) {
        let state = self.lock();
        let (state, waited) = (self.changed)
            .wait_timeout_while(state, PATIENCE, |s| s.waiting < n)
            .unwrap_or_else(PoisonError::into_inner);
        drop(state);
        assert!(!waited.timed_out(), "{n} calls never reached the backend");
    }

    fn calls(&self, key: u32) -> usize {
        self.lock().calls.get(&key).copied().unwrap_or(0)
    }
}

/// Waits until `done` holds, failing the test after [`PATIENCE`].
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "never happened: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

type Cache = LoadingCache<u32, String>;

/// A cache with `TTL`, `REFRESH` and `STALE`, over `backend`, on `pipeline`.
fn cache(clock: &ManualClock, backend: &'static Backend, pipeline: Pipeline) -> Cache {
    StrCache::<u32>::builder()
        .clock(clock.clone())
        .time_to_live(TTL)
        .refresh_after(REFRESH)
        .serve_stale_for(STALE)
        .refresh_pipeline(pipeline)
        .record_reads(true)
        .build_loading(move |key: &u32| backend.load(key))
}

#[test]
fn a_due_key_is_reloaded_once_per_window_while_its_readers_go_on() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(2));
    assert_eq!(*cache.get(&1).unwrap(), "1 v1");
    assert_eq!(backend.calls(1), 1);

    // Younger than `refresh_after`: nothing is scheduled.
    clock.advance(REFRESH - Duration::from_secs(1));
    assert_eq!(*cache.get(&1).unwrap(), "1 v1");
    assert_eq!(cache.stats().refreshes.scheduled, 0);

    // Due: every read returns the current value at once, fresh, while the
    // one reload they scheduled is held at the backend.
    backend.hold();
    clock.advance(Duration::from_secs(1));
    for _ in 0..100 {
        let v = cache.get(&1).unwrap();
        assert_eq!((&**v, v.is_stale(), v.age()), ("1 v1", false, REFRESH));
    }
    backend.await_waiting(1);
    assert_eq!(backend.calls(1), 2);
    assert_eq!(cache.stats().refreshes.scheduled, 1);

    backend.release();
    cache.await_refreshes();
    assert_eq!(cache.stats().refreshes.succeeded, 1, "the reload succeeded");
    let v = cache.get(&1).unwrap();
    assert_eq!((&**v, v.age()), ("1 v2", Duration::ZERO));

    // A new window: one more reload, however many reads.
    clock.advance(REFRESH);
    for _ in 0..100 {
        cache.get(&1).unwrap();
    }
    cache.await_refreshes();
    assert_eq!(
        cache.stats().refreshes.succeeded,
        2,
        "the second reload succeeded"
    );
    assert_eq!(backend.calls(1), 3);
    let refreshes = cache.stats().refreshes;
    assert_eq!(
        (refreshes.scheduled, refreshes.dropped, refreshes.failed),
        (2, 0, 0)
    );
}

#[test]
fn a_stale_value_is_served_only_inside_its_window() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(1));
    cache.get(&7).unwrap();
    backend.failing.store(true, Ordering::Relaxed);

    // Expired 10 s ago: served stale, and a reload is scheduled, which
    // fails; the stale value stays servable.
    clock.advance(TTL + Duration::from_secs(10));
    let v = cache.get(&7).unwrap();
    assert_eq!((&**v, v.is_stale()), ("7 v1", true));
    drop(v);
    cache.await_refreshes();
    assert_eq!(cache.stats().refreshes.failed, 1, "the reload failed");
    assert!(
        cache.get_str(&7).is_none(),
        "plain reads treat it as expired"
    );
    assert!(cache.get(&7).unwrap().is_stale());
    cache.await_refreshes();
    assert_eq!(
        cache.stats().refreshes.failed,
        2,
        "the second reload failed"
    );

    // The window has ended: a miss, loaded on the caller's thread, whose
    // error it gets.
    clock.advance(STALE);
    let calls = backend.calls(7);
    assert_eq!(
        cache.get(&7).unwrap_err(),
        LoadError::Load("7: backend down".to_string().into())
    );
    assert_eq!(backend.calls(7), calls + 1);
    assert_eq!(cache.stats().refreshes.stale_served, 2);

    // Up again: the next read loads a fresh value.
    backend.failing.store(false, Ordering::Relaxed);
    let v = cache.get(&7).unwrap();
    assert!(!v.is_stale());
    assert_eq!(*v, format!("7 v{}", calls + 2));
}

#[test]
fn a_kept_failure_holds_reloads_back_until_it_expires() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = StrCache::<u32>::builder()
        .clock(clock.clone())
        .time_to_live(TTL)
        .serve_stale_for(STALE)
        .refresh_pipeline(Pipeline::threads(1))
        .cache_failures_for(Duration::from_secs(10))
        .build_loading(move |key: &u32| backend.load(key));
    cache.get(&1).unwrap();
    backend.failing.store(true, Ordering::Relaxed);
    clock.advance(TTL);
    assert!(cache.get(&1).unwrap().is_stale());
    cache.await_refreshes();
    // The failed reload is kept for 10 s: stale reads go on, and queue no
    // reload, so the backend that is down gets no more calls.
    for _ in 0..10 {
        assert!(cache.get(&1).unwrap().is_stale());
    }
    cache.await_refreshes();
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.scheduled, refreshes.failed), (1, 1));
    assert_eq!(backend.calls(1), 2);
    // Once it expires, the next stale read queues a reload, which succeeds.
    backend.failing.store(false, Ordering::Relaxed);
    clock.advance(Duration::from_secs(10));
    assert!(cache.get(&1).unwrap().is_stale());
    cache.await_refreshes();
    assert_eq!(*cache.get(&1).unwrap(), "1 v3");
}

#[test]
fn a_full_queue_drops_reloads_and_counts_them() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(1).queue(1));
    for key in 0..4 {
        cache.get(&key).unwrap();
    }
    backend.hold();
    clock.advance(REFRESH);
    // The one worker takes key 0's reload and is held at the backend.
    cache.get(&0).unwrap();
    backend.await_waiting(1);
    // Key 1's reload fills the queue; key 2's and key 3's find it full.
    for key in 1..4 {
        assert_eq!(*cache.get(&key).unwrap(), format!("{key} v1"));
    }
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.scheduled, refreshes.dropped), (2, 2));
    // A dropped reload leaves no trace: the next read tries again.
    cache.get(&2).unwrap();
    assert_eq!(cache.stats().refreshes.dropped, 3);

    backend.release();
    cache.await_refreshes();
    assert_eq!(
        cache.stats().refreshes.succeeded,
        2,
        "both queued reloads ran"
    );
    assert_eq!(
        (backend.calls(0), backend.calls(1), backend.calls(2)),
        (2, 2, 1)
    );
    // With room in the queue again, key 2 is reloaded.
    cache.get(&2).unwrap();
    cache.await_refreshes();
    assert_eq!(backend.calls(2), 2, "key 2 was reloaded");
}

/// Runs `write` while a reload of key 1 is held at the backend, then lets
/// the reload finish: the reload's value must not be published over the
/// write.
fn write_during_a_reload(write: impl FnOnce(&Cache)) -> Cache {
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(1));
    cache.get(&1).unwrap();
    backend.hold();
    clock.advance(REFRESH);
    cache.get(&1).unwrap();
    backend.await_waiting(1);
    write(&cache);
    backend.release();
    cache.await_refreshes();
    assert_eq!(cache.stats().refreshes.succeeded, 1, "the reload ended");
    assert_eq!(cache.stats().loads.superseded, 1);
    cache
}

#[test]
fn an_insert_during_a_reload_wins() {
    let _serial = serial();
    let cache = write_during_a_reload(|cache| {
        cache.insert(1, "written").unwrap();
    });
    assert_eq!(*cache.get(&1).unwrap(), "written");
}

#[test]
fn a_remove_during_a_reload_wins() {
    let _serial = serial();
    let cache = write_during_a_reload(|cache| assert!(cache.remove(&1).is_some()));
    assert!(cache.get_str(&1).is_none(), "the removed key came back");
}

#[test]
fn a_miss_waits_for_the_reload_in_flight() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(1));
    cache.get(&1).unwrap();
    backend.hold();
    // Stale: a reload is scheduled and held.
    clock.advance(TTL);
    assert!(cache.get(&1).unwrap().is_stale());
    backend.await_waiting(1);
    // The window ends while it loads: a reader misses, and waits for that
    // reload rather than calling the backend a third time.
    clock.advance(STALE);
    thread::scope(|s| {
        let reader = s.spawn(|| cache.get(&1).map(|v| v.to_string()));
        // Its miss is counted before it looks for the load in flight. If
        // the release below came before it looked, it would find the
        // reloaded value instead: no third call either way.
        eventually("the reader missed", || cache.stats().misses == 2);
        backend.release();
        assert_eq!(reader.join().unwrap().unwrap(), "1 v2");
    });
    assert_eq!(backend.calls(1), 2);
}

/// A reload still in the queue when its key's value runs out does not make
/// a reader that misses wait for the queue to reach it: the reader takes
/// the reload over and loads at once, and the worker skips it.
#[test]
fn a_miss_takes_over_a_reload_still_queued() {
    let _serial = serial();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(1));
    cache.get(&1).unwrap();
    cache.get(&2).unwrap();
    backend.hold();
    clock.advance(REFRESH);
    // The one worker takes key 1's reload and is held; key 2's waits in
    // the queue behind it.
    cache.get(&1).unwrap();
    backend.await_waiting(1);
    cache.get(&2).unwrap();
    assert_eq!(cache.stats().refreshes.scheduled, 2);
    // Key 2 runs out, stale window and all: a miss.
    clock.advance(TTL + STALE);
    thread::scope(|s| {
        let reader = s.spawn(|| cache.get(&2).map(|v| v.to_string()));
        // The reader calls the backend itself while the worker is still
        // held on key 1: it did not wait behind it.
        backend.await_waiting(2);
        assert_eq!(backend.calls(2), 2);
        backend.release();
        assert_eq!(reader.join().unwrap().unwrap(), "2 v2");
    });
    cache.await_refreshes();
    // The worker skipped key 2's reload: no third call.
    assert_eq!(backend.calls(2), 2);
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.succeeded, refreshes.failed), (1, 0));
    assert_eq!(cache.get_str(&2).unwrap(), "2 v2");
}

#[test]
fn a_panicking_reload_leaves_the_value_and_the_worker_carries_on() {
    let _serial = serial();
    let clock = ManualClock::new();
    let panics = Box::leak(Box::new(AtomicBool::new(false)));
    let cache = StrCache::<u32>::builder()
        .clock(clock.clone())
        .refresh_after(REFRESH)
        .refresh_pipeline(Pipeline::threads(1))
        .build_loading(|key: &u32| {
            if panics.swap(false, Ordering::Relaxed) {
                panic!("loader panics");
            }
            Ok::<_, ()>(format!("{key} loaded"))
        });
    cache.insert(1, "inserted").unwrap();
    clock.advance(REFRESH);
    panics.store(true, Ordering::Relaxed);
    assert_eq!(*cache.get(&1).unwrap(), "inserted");
    cache.await_refreshes();
    assert_eq!(cache.stats().refreshes.failed, 1, "the reload failed");
    assert_eq!(cache.get_str(&1).unwrap(), "inserted");
    // The same worker runs the next reload.
    cache.get(&1).unwrap();
    cache.await_refreshes();
    assert_eq!(cache.stats().refreshes.succeeded, 1, "the reload succeeded");
    assert_eq!(cache.get_str(&1).unwrap(), "1 loaded");
}

/// The process's refresh workers, by thread name (`strcache-refresh-N`,
/// which Linux shortens to 15 bytes).
#[cfg(target_os = "linux")]
fn refresh_workers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("strcache-refres"))
        .count()
}

#[test]
#[cfg(target_os = "linux")]
#[cfg_attr(miri, ignore = "Miri cannot read /proc")]
fn dropping_the_cache_joins_its_workers_and_no_thread_is_left() {
    let _serial = serial();
    let before = refresh_workers();
    let clock = ManualClock::new();
    let backend = Backend::leak();
    // No pipeline, no thread.
    let plain = StrCache::<u32>::builder().build_loading(|key: &u32| backend.load(key));
    assert_eq!(refresh_workers(), before);
    drop(plain);

    let cache = cache(&clock, backend, Pipeline::threads(3).queue(8));
    // Each names itself as it starts.
    eventually("three workers run", || refresh_workers() == before + 3);
    // Reloads held at the backend and queued when the cache is dropped:
    // the drop abandons the queued ones, and waits for the held ones.
    for key in 0..6 {
        cache.get(&key).unwrap();
    }
    backend.hold();
    clock.advance(REFRESH);
    for key in 0..6 {
        cache.get(&key).unwrap();
    }
    backend.await_waiting(3);
    // The release most likely comes while the drop waits for the held
    // workers, after it closed the queue. The assertions hold for every
    // order: a release before the close lets the workers run the queued
    // reloads too.
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        backend.release();
    });
    watched(move || drop(cache));
    // The drop returned only once the held calls had returned.
    assert_eq!(backend.lock().waiting, 0);
    releaser.join().unwrap();
    assert_eq!(refresh_workers(), before);
    let calls: usize = (0..6).map(|key| backend.calls(key)).sum();
    assert!((6 + 3..=6 + 6).contains(&calls), "{calls} calls");
}

#[test]
fn a_storm_on_keys_that_all_expire_at_once_calls_the_backend_once_per_key() {
    let _serial = serial();
    let (threads, keys): (usize, u32) = if cfg!(miri) { (4, 16) } else { (16, 1_000) };
    let clock = ManualClock::new();
    let backend = Backend::leak();
    let cache = cache(&clock, backend, Pipeline::threads(2).queue(keys as usize));
    for key in 0..keys {
        cache.get(&key).unwrap();
    }
    // Every key expires at once, into its stale window.
    clock.advance(TTL);
    let served = thread::scope(|s| {
        let readers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut stale = 0;
                    for pass in 0..3 {
                        for key in 0..keys {
                            let v = cache.get(&((key + pass) % keys)).unwrap();
                            stale += usize::from(v.is_stale());
                        }
                    }
                    stale
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .sum::<usize>()
    });
    cache.await_refreshes();
    assert_eq!(
        cache.stats().refreshes.succeeded,
        keys as u64,
        "every key was reloaded"
    );
    for key in 0..keys {
        assert_eq!(backend.calls(key), 2, "key {key}: one load, one reload");
        assert!(!cache.get(&key).unwrap().is_stale());
    }
    let stats = cache.stats();
    assert_eq!(stats.refreshes.scheduled, keys as u64);
    assert_eq!(stats.refreshes.dropped, 0);
    assert_eq!(stats.refreshes.stale_served, served as u64);
    assert!(served >= keys as usize, "{served} stale reads");
}
