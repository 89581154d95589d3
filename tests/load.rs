//! Loading: one loader per missing key however many callers race on it,
//! and no caller left hanging when a loader fails, panics, hangs, is
//! cancelled or loads its own key.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread,
    time::Duration,
};

use strcache::{Error, Expiring, LoadError, ManualClock, StrCache};

#[path = "support/gate.rs"]
mod gate;
#[path = "support/watch.rs"]
mod watch;
use gate::Gate;
use watch::{watched, PATIENCE};

/// Threads racing on one key: fewer under Miri, which runs threads slowly.
const RACERS: usize = if cfg!(miri) { 4 } else { 64 };

/// Runs `RACERS` threads that call `race` on the same cache at once, and
/// returns what each got.
fn race<T: Send>(
    cache: &StrCache<u32>,
    race: impl Fn(&StrCache<u32>) -> T + Sync,
) -> Vec<thread::Result<T>> {
    let start = Gate::new(RACERS, PATIENCE);
    thread::scope(|s| {
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    catch_unwind(AssertUnwindSafe(|| race(cache)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("the thread body catches panics"))
            .collect()
    })
}

/// A loader that takes a little while, so racers pile up behind it; only
/// the counts are asserted, never the time.
fn slowly<T>(value: T) -> T {
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
    value
}

#[test]
fn racers_on_one_missing_key_run_one_loader() {
    let cache = StrCache::<u32>::builder().build();
    let calls = AtomicUsize::new(0);
    let got = race(&cache, |cache| {
        let v = cache
            .get_or_insert_with(&7, || {
                calls.fetch_add(1, Ordering::Relaxed);
                slowly("seven")
            })
            .unwrap();
        v.to_string()
    });
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(got.into_iter().all(|v| v.unwrap() == "seven"));
}

#[test]
fn a_waiter_times_out_and_the_slow_loader_still_publishes() {
    let cache = StrCache::<u32>::builder().build();
    let (started, is_started) = mpsc::channel();
    let (release, is_released) = mpsc::channel::<()>();
    thread::scope(|s| {
        let cache = &cache;
        let loader = s.spawn(move || {
            cache
                .get_or_insert_with(&7, || {
                    started.send(()).unwrap();
                    is_released.recv_timeout(PATIENCE).unwrap();
                    "slow"
                })
                .map(|v| v.to_string())
        });
        is_started.recv_timeout(PATIENCE).unwrap();
        let waited = cache.get_or_insert_with_timeout(&7, Duration::from_millis(1), || -> &str {
            panic!("the waiter's loader must not run while the first one does")
        });
        assert_eq!(waited.unwrap_err(), Error::Timeout);
        release.send(()).unwrap();
        assert_eq!(loader.join().unwrap().unwrap(), "slow");
    });
    assert_eq!(cache.get_str(&7).unwrap(), "slow");
}

/// Watched: without the recursion check the inner call would wait for
/// itself forever.
#[test]
fn a_loader_that_loads_its_own_key_gets_recursive() {
    watched(|| {
        let cache = StrCache::<u32>::builder().build();
        let inner = cache.get_or_insert_with(&1, || {
            let err = cache.get_or_insert_with(&1, || "never").unwrap_err();
            assert_eq!(err, Error::Recursive);
            assert!(err.to_string().contains("its own key"), "{err}");
            "outer"
        });
        assert_eq!(inner.unwrap(), "outer");
    });
}

#[test]
fn a_loader_may_read_write_and_load_other_keys() {
    let cache = StrCache::<u32>::builder().shards(1).build();
    let v = cache.get_or_insert_with(&1, || {
        cache.insert(2, "two").unwrap();
        let three = cache.get_or_insert_with(&3, || "three").unwrap();
        format!("{}+{}", cache.get_str(&2).unwrap(), three)
    });
    assert_eq!(v.unwrap(), "two+three");
    assert_eq!(cache.len(), 3);
}

#[test]
fn loaders_of_different_keys_overlap() {
    let cache = StrCache::<u32>::builder().shards(1).build();
    // Each loader waits, inside the loader, for the other to start: the
    // test completes only if the two loaders run at the same time.
    let both = Gate::new(2, PATIENCE);
    thread::scope(|s| {
        for key in [1, 2] {
            let (cache, both) = (&cache, &both);
            s.spawn(move || {
                cache
                    .get_or_insert_with(&key, || {
                        both.wait();
                        key.to_string()
                    })
                    .unwrap();
            });
        }
    });
    assert_eq!(cache.len(), 2);
}

#[test]
fn a_loaded_value_obeys_the_bound() {
    let cache = StrCache::<u32>::builder()
        .max_weight(8, |_, v: &str| v.len() as u64)
        .build();
    let err = cache.get_or_insert_with(&1, || "nine char").unwrap_err();
    assert_eq!(err, Error::TooLarge { weight: 9, max: 8 });
    assert!(cache.is_empty());
    assert_eq!(cache.get_or_insert_with(&1, || "fits").unwrap(), "fits");
}

/// A loaded value with a zero time to live (a cache's own cannot be zero)
/// expires as it is published.
#[test]
fn a_loaded_value_obeys_the_ttl_and_is_returned_even_if_gone_at_once() {
    let clock = ManualClock::new();
    let cache = StrCache::<u32>::builder().clock(clock).build();
    let calls = AtomicUsize::new(0);
    let load = || {
        calls.fetch_add(1, Ordering::Relaxed);
        Expiring::new("brief", Duration::ZERO)
    };
    // Expired as soon as it is published, yet its loader's caller gets it.
    assert_eq!(cache.get_or_insert_with(&1, load).unwrap(), "brief");
    assert!(cache.get_str(&1).is_none());
    assert_eq!(cache.get_or_insert_with(&1, load).unwrap(), "brief");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

/// A loader's own time to live decides its entry's, within the cache's:
/// the shorter of the two wins.
#[test]
fn a_loader_chooses_its_entry_s_time_to_live_within_the_cache_s() {
    let clock = ManualClock::new();
    let cache = StrCache::<u32>::builder()
        .time_to_live(Duration::from_secs(60))
        .clock(clock.clone())
        .build();
    let short = cache.get_or_insert_with(&1, || Expiring::new("short", Duration::from_secs(10)));
    assert_eq!(short.unwrap(), "short");
    let long = cache.try_get_or_insert_with(&2, || {
        Ok::<_, ()>(Expiring::new("long", Duration::from_secs(600)))
    });
    assert_eq!(long.unwrap(), "long");
    clock.advance(Duration::from_secs(10));
    assert!(
        cache.get_str(&1).is_none(),
        "expired at its own time to live"
    );
    assert_eq!(cache.get_str(&2).unwrap(), "long");
    clock.advance(Duration::from_secs(50));
    assert!(
        cache.get_str(&2).is_none(),
        "capped at the cache's time to live"
    );
}

#[test]
fn a_hit_does_not_run_the_loader() {
    let cache = StrCache::<u32>::builder().build();
    cache.insert(1, "there").unwrap();
    let v = cache.get_or_insert_with(&1, || -> &str { panic!("a hit must not load") });
    assert_eq!(v.unwrap(), "there");
    let v = cache.try_get_or_insert_with(&1, || Err::<&str, _>("a hit must not load"));
    assert_eq!(v.unwrap(), "there");
}

/// With `cache_failures_for`, a backend that is down costs one loader call
/// per window however many callers come, sequential or concurrent; the
/// callers share the first call's error; a write ends the window.
#[test]
fn kept_failures_cost_one_loader_call_per_window() {
    let clock = ManualClock::new();
    let cache = StrCache::<u32>::builder()
        .clock(clock.clone())
        .cache_failures_for(Duration::from_secs(5))
        .build();
    let calls = AtomicUsize::new(0);
    let down = || {
        calls.fetch_add(1, Ordering::Relaxed);
        Err::<&str, _>(format!("down, call {}", calls.load(Ordering::Relaxed)))
    };
    for _ in 0..3 {
        let err = cache.try_get_or_insert_with(&7, down).unwrap_err();
        assert_eq!(err, LoadError::Load(Arc::new("down, call 1".to_string())));
    }
    let results = race(&cache, |cache| {
        cache.try_get_or_insert_with(&7, down).is_err()
    });
    assert!(results.into_iter().all(|r| r.unwrap()));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(cache.stats().loads.cached_failures, 2 + RACERS as u64);
    // The window ends: one more call, whose error is kept in turn.
    clock.advance(Duration::from_secs(5));
    let err = cache.try_get_or_insert_with(&7, down).unwrap_err();
    assert_eq!(err, LoadError::Load(Arc::new("down, call 2".to_string())));
    // A write ends the window at once: a caller with another error type
    // would load too, and so does the next caller after an insert.
    cache.insert(7, "written").unwrap();
    assert_eq!(cache.try_get_or_insert_with(&7, down).unwrap(), "written");
    cache.remove(&7);
    assert!(cache.try_get_or_insert_with(&7, down).is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    // A loader with another error type does not take the kept error: it
    // loads for itself.
    let other = cache.try_get_or_insert_with(&7, || Ok::<_, u8>("other loader"));
    assert_eq!(other.unwrap(), "other loader");
}

/// The async loader on tokio: any executor works, as the library depends
/// on none.
#[cfg(feature = "async")]
mod async_load {
    use std::{
        future::{pending, poll_fn, ready, Future},
        pin::pin,
        task::Poll,
    };

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_time()
            .build()
            .unwrap()
    }

    /// A failed async load's error goes to its caller and to the caller
    /// waiting for it, whose loader does not run; the failure is counted
    /// once and cached as nothing.
    #[test]
    fn a_failed_async_load_shares_its_error_with_its_waiter() {
        let cache = Arc::new(StrCache::<u32>::builder().build());
        runtime().block_on(async {
            let (started, is_started) = tokio::sync::oneshot::channel();
            let (fail, is_failed) = tokio::sync::oneshot::channel::<()>();
            let leader = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move {
                    let load = async {
                        started.send(()).unwrap();
                        is_failed.await.unwrap();
                        Err::<&str, _>("backend down")
                    };
                    let got = cache.try_get_or_insert_with_async(&7, load).await;
                    got.map(|v| v.to_string())
                })
            };
            is_started.await.unwrap();
            let load = async {
                panic!("the waiter's loader ran: it shares the error");
                #[allow(unreachable_code)]
                Ok::<&str, &str>("never")
            };
            let mut waiter = pin!(cache.try_get_or_insert_with_async(&7, load));
            // Polled once, the waiter misses and joins the flight, which
            // cannot end before `fail`: pending, it waits for that load.
            let first = poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
            assert!(first, "the waiter waits for the leader's load");
            fail.send(()).unwrap();
            let down = Err(LoadError::Load(Arc::new("backend down")));
            let led = tokio::time::timeout(PATIENCE, leader).await.unwrap();
            assert_eq!(led.unwrap(), down);
            let waited = tokio::time::timeout(PATIENCE, waiter).await.unwrap();
            assert_eq!(waited.map(|v| v.to_string()), down);
        });
        let loads = cache.stats().loads;
        assert_eq!((loads.failed, loads.succeeded, loads.waited), (1, 0, 1));
        assert!(cache.get_str(&7).is_none());
    }

    #[test]
    fn tasks_on_one_missing_key_run_one_loader() {
        let cache = Arc::new(StrCache::<u32>::builder().build());
        let calls = Arc::new(AtomicUsize::new(0));
        runtime().block_on(async {
            let tasks: Vec<_> = (0..RACERS)
                .map(|_| {
                    let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                    // `spawn` needs a `Send` future.
                    tokio::spawn(async move {
                        let v = cache
                            .get_or_insert_with_async(&7, async {
                                calls.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                "seven"
                            })
                            .await
                            .unwrap();
                        v.to_string()
                    })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.unwrap(), "seven");
            }
        });
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_dropped_load_hands_over_to_a_waiter() {
        let cache = Arc::new(StrCache::<u32>::builder().build());
        runtime().block_on(async {
            let (started, is_started) = tokio::sync::oneshot::channel();
            let leader = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move {
                    let _ = cache
                        .get_or_insert_with_async(&7, async {
                            started.send(()).unwrap();
                            pending::<&str>().await
                        })
                        .await;
                })
            };
            is_started.await.unwrap();
            let waiter = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move {
                    let v = cache
                        .get_or_insert_with_async(&7, async { "taken over" })
                        .await
                        .unwrap();
                    v.to_string()
                })
            };
            // Cancelling the leader's task drops its loading future.
            leader.abort();
            assert!(leader.await.unwrap_err().is_cancelled());
            let v = tokio::time::timeout(PATIENCE, waiter).await.unwrap();
            assert_eq!(v.unwrap(), "taken over");
        });
        assert_eq!(cache.get_str(&7).unwrap(), "taken over");
    }

    /// The async timeout bounds waiting only: a waiter gives up when its
    /// timer fires, the load it waited for still publishes, and a leader
    /// is not interrupted even by a timer that has fired already.
    #[test]
    fn an_async_timeout_bounds_the_wait_not_the_load() {
        let cache = Arc::new(StrCache::<u32>::builder().build());
        runtime().block_on(async {
            let (started, is_started) = tokio::sync::oneshot::channel();
            let (finish, is_finished) = tokio::sync::oneshot::channel::<()>();
            let leader = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move {
                    let load = async {
                        started.send(()).unwrap();
                        is_finished.await.unwrap();
                        Ok::<_, ()>("loaded")
                    };
                    let got =
                        (cache.try_get_or_insert_with_async_timeout(&7, ready(()), load)).await;
                    got.map(|v| v.to_string())
                })
            };
            is_started.await.unwrap();
            let never = async { panic!("the waiter's loader ran") as Result<&str, ()> };
            let waited = cache
                .try_get_or_insert_with_async_timeout(&7, ready(()), never)
                .await;
            assert_eq!(waited.unwrap_err(), LoadError::<()>::Cache(Error::Timeout));
            finish.send(()).unwrap();
            let led = tokio::time::timeout(PATIENCE, leader).await.unwrap();
            assert_eq!(led.unwrap().unwrap(), "loaded");
        });
        assert_eq!(cache.get_str(&7).unwrap(), "loaded");
        let loads = cache.stats().loads;
        assert_eq!((loads.timed_out, loads.succeeded), (1, 1));
    }
}

/// A write of a key while its load is in flight, as a loader that writes
/// its own key makes it: deterministic, on one thread.
#[derive(Debug, Clone, Copy)]
enum Write {
    Insert,
    Remove,
    Clear,
    Retain,
}

/// A write that lands while a load of the same key is in flight wins: the
/// load's value goes to its own caller but is not cached over the write
/// (#19). Each kind of write runs inside the loader, after the load began
/// and before it returns.
#[test]
fn a_write_during_a_load_wins_over_it() {
    for write in [Write::Insert, Write::Remove, Write::Clear, Write::Retain] {
        let cache = StrCache::<u32>::builder().build();
        cache.insert(8, "neighbour").unwrap();
        let loaded = cache.get_or_insert_with(&7, || {
            match write {
                Write::Insert => assert!(cache.insert(7, "written").is_ok()),
                Write::Remove => assert!(cache.remove(&7).is_none()),
                Write::Clear => cache.clear(),
                Write::Retain => {
                    cache.insert(7, "written").unwrap();
                    cache.retain(|&k, _| k != 7);
                }
            }
            "loaded"
        });
        assert_eq!(
            loaded.unwrap(),
            "loaded",
            "{write:?}: the load's own caller"
        );
        let now = cache.get_str(&7).map(|v| v.to_string());
        match write {
            Write::Insert => assert_eq!(now.as_deref(), Some("written"), "{write:?}"),
            Write::Remove | Write::Clear | Write::Retain => assert_eq!(now, None, "{write:?}"),
        }
        assert_eq!(cache.stats().loads.superseded, 1, "{write:?}");
        // The next load of the key runs its loader and is cached.
        if now.is_none() {
            assert_eq!(cache.get_or_insert_with(&7, || "again").unwrap(), "again");
            assert_eq!(cache.get_str(&7).unwrap(), "again");
        }
    }
}
