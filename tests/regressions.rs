//! Bugs found by the fuzz targets in `fuzz/` and by review, each reduced
//! to a deterministic test that runs on stable.

use std::{
    collections::HashSet,
    hash::{BuildHasher, BuildHasherDefault, Hasher},
};

use strcache::{InsertOutcome, StrCache};

#[path = "support/collect.rs"]
mod collect;
#[path = "support/watch.rs"]
mod watch;
use collect::collect_until;
use watch::watched;

/// A fixed hasher, so every run places keys in the same slots.
type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// Found by the `threads` target ("iteration yielded key 0 twice"): a key
/// removed and re-inserted while an iteration was under way was yielded
/// twice, because the re-insert skipped the key's tombstone and landed in a
/// later empty slot that the cursor had yet to reach. Inserts now revive the
/// first tombstone with the key's tag, which puts the key back in its old
/// slot. The `ops` input that found it is the unit test
/// `check::tests::ops_reinsert_during_iteration`.
#[test]
fn iteration_yields_a_reinserted_key_at_most_once() {
    // One key per fresh cache, so at least one of them has a home slot
    // before the table's last, where the re-insert moves it forward.
    for key in 0..8u64 {
        let cache: StrCache<u64, Fixed> = StrCache::builder()
            .shards(1)
            .hasher(Fixed::default())
            .build();
        cache.insert(key, "first").unwrap();
        let pinned = cache.pin();
        let mut iter = pinned.iter();
        let (&first, _) = iter.next().expect("the key");
        assert_eq!(first, key);
        cache.remove(&key);
        cache.insert(key, "second").unwrap();
        let mut seen = HashSet::from([first]);
        for (k, v) in iter {
            assert!(
                seen.insert(*k),
                "Pinned::iter: key {k} yielded twice (then as {v:?})"
            );
        }
        drop(pinned);

        // `iter()` walks the table with the same cursor.
        let mut iter = cache.iter();
        let (first, _) = iter.next().expect("the key");
        cache.remove(&first);
        cache.insert(first, "third").unwrap();
        let mut seen = HashSet::from([first]);
        for (k, v) in iter {
            assert!(
                seen.insert(k),
                "iter: key {k} yielded twice (then as {v:?})"
            );
        }
    }
}

/// A hasher under which every key hashes to `HASH`: legal under the `Hash`
/// contract, which asks only that equal keys hash alike. `u64::MAX` puts
/// every key's home in a table's last slot, so probes wrap around to 0.
#[derive(Clone, Copy, Default)]
struct Colliding<const HASH: u64>;

impl<const HASH: u64> BuildHasher for Colliding<HASH> {
    type Hasher = Colliding<HASH>;

    fn build_hasher(&self) -> Self {
        *self
    }
}

impl<const HASH: u64> Hasher for Colliding<HASH> {
    fn finish(&self) -> u64 {
        HASH
    }

    fn write(&mut self, _: &[u8]) {}
}

fn colliding<const HASH: u64>() -> StrCache<u64, Colliding<HASH>> {
    StrCache::builder()
        .shards(1)
        .hasher(Colliding::<HASH>)
        .build()
}

/// Found by review (#17, defect 3): a writer's probe stopped at the first
/// tombstone with the key's tag, though with colliding hashes the key
/// could be live further along, so `remove` missed a live key.
#[test]
fn remove_finds_a_colliding_key_past_a_tombstone() {
    let cache = colliding::<42>();
    cache.insert(1, "one").unwrap();
    cache.insert(2, "two").unwrap();
    cache.remove(&1);
    assert_eq!(cache.remove(&2).as_deref(), Some("two"));
    assert!(cache.get_str(&2).is_none());
    assert!(cache.is_empty());
}

/// Found by review (#17, defect 3): the same early stop made an insert
/// revive the tombstone while the key was live further along, so the key
/// was live twice, `len` counted both, `iter` yielded both, and removing
/// one brought the older value back.
#[test]
fn an_insert_replaces_a_colliding_key_past_a_tombstone() {
    let cache = colliding::<42>();
    cache.insert(1, "one").unwrap();
    cache.insert(2, "old").unwrap();
    cache.remove(&1);
    assert_eq!(cache.insert(2, "new"), Ok(InsertOutcome::Replaced));
    assert_eq!(cache.len(), 1);
    let all: Vec<(u64, String)> = cache.iter().map(|(k, v)| (k, v.to_string())).collect();
    assert_eq!(all, [(2, "new".to_string())]);
    assert_eq!(cache.remove(&2).as_deref(), Some("new"));
    assert!(cache.get_str(&2).is_none());
}

/// With colliding hashes, the tombstone a re-insert revives may be another
/// key's. Reviving the first one on the probe path, which wraps around
/// from the last slot to 0, put a key yielded from slot 0 back in the last
/// slot, ahead of the cursor; the lowest-indexed one is at or before the
/// key's own old slot, which the cursor has passed.
#[test]
fn iteration_yields_a_colliding_reinserted_key_at_most_once() {
    let cache = colliding::<{ u64::MAX }>();
    cache.insert(1, "last slot").unwrap();
    cache.insert(2, "slot 0").unwrap();
    let pinned = cache.pin();
    let mut iter = pinned.iter();
    let (&first, _) = iter.next().expect("a key");
    assert_eq!(first, 2, "the probe wraps around: key 2 is in slot 0");
    cache.remove(&1);
    cache.remove(&2);
    cache.insert(2, "again").unwrap();
    let rest: Vec<u64> = iter.map(|(k, _)| *k).collect();
    assert!(!rest.contains(&2), "key 2 yielded twice: then {rest:?}");
    drop(pinned);
    assert_eq!(cache.get_str(&2).as_deref(), Some("again"));
}

/// Found by review (#17, defect 2): the policy summed weights in plain
/// `u64`. Weights near 2^63 overflowed: a panic with the new entry already
/// linked in debug builds, a wrapped total and an ignored bound in release
/// builds. Bounds are now at most `MAX_WEIGHT` (2^62), and a heavier entry
/// is refused, so no sum can overflow.
#[test]
fn weights_near_u64_max_neither_overflow_nor_break_the_bound() {
    use strcache::{Error, MAX_WEIGHT};

    let cache: StrCache<u64> = StrCache::builder()
        .max_weight((1 << 63) + 1, |_: &u64, _: &str| 1 << 63)
        .build();
    assert_eq!(
        cache.insert(1, "v"),
        Err(Error::TooLarge {
            weight: 1 << 63,
            max: MAX_WEIGHT
        })
    );
    assert!(cache.is_empty());

    let cache: StrCache<u64> = StrCache::builder()
        .max_weight(u64::MAX, |_: &u64, _: &str| MAX_WEIGHT)
        .build();
    for key in 0..1_000 {
        cache.insert(key, "v").unwrap();
        assert_eq!(cache.len(), 1, "after insert {key}");
    }
    assert_eq!(cache.stats().weight, Some(MAX_WEIGHT));

    // Many entries whose weights sum past u64::MAX were all the bound
    // taken as a plain sum.
    let cache: StrCache<u64> = StrCache::builder()
        .max_weight(u64::MAX, |_: &u64, _: &str| MAX_WEIGHT / 3)
        .build();
    for key in 0..100 {
        cache.insert(key, "v").unwrap();
        assert!(
            cache.len() <= 3,
            "{} entries after insert {key}",
            cache.len()
        );
    }
    assert!(cache.stats().weight.unwrap() <= MAX_WEIGHT);
}

/// Found by the `ops` target once it drew colliding hashes: a key removed
/// during an iteration lost its old slot to another key with the same hash,
/// which revived the tombstone; re-inserted, it went to a later slot, where
/// the cursor met it again. An insert that finds its tag's slot taken that
/// way now goes into a new table, which the cursor does not walk.
#[test]
fn iteration_yields_a_key_whose_slot_a_colliding_key_took_at_most_once() {
    for pinned in [true, false] {
        let cache = colliding::<42>();
        cache.insert(1, "first").unwrap();
        let pin = cache.pin();
        let mut borrowed = pin.iter().map(|(k, _)| *k);
        let mut owned = cache.iter().map(|(k, _)| k);
        let iter: &mut dyn Iterator<Item = u64> = if pinned { &mut borrowed } else { &mut owned };
        assert_eq!(iter.next(), Some(1));
        cache.remove(&1);
        cache.insert(2, "took the slot").unwrap();
        cache.insert(1, "again").unwrap();
        let rest: Vec<u64> = iter.collect();
        assert!(!rest.contains(&1), "key 1 yielded twice: then {rest:?}");
        assert_eq!(cache.get_str(&1).as_deref(), Some("again"));
        assert_eq!(cache.get_str(&2).as_deref(), Some("took the slot"));
        assert_eq!(cache.len(), 2);
    }
}

/// A key whose `Clone` loads another key through the cache it is a key of.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Reentrant {
    id: u32,
    reenter: bool,
}

static REENTRANT: std::sync::OnceLock<StrCache<Reentrant>> = std::sync::OnceLock::new();

impl Clone for Reentrant {
    fn clone(&self) -> Self {
        if self.reenter {
            let cache = REENTRANT.get().expect("the cache");
            let inner = Reentrant {
                id: self.id + 1_000,
                reenter: false,
            };
            let loaded = cache.get_or_insert_with(&inner, || "inner").unwrap();
            assert_eq!(&*loaded, "inner");
        }
        Reentrant {
            id: self.id,
            reenter: self.reenter,
        }
    }
}

/// Found by review (#17, defect 6): a load cloned its key into its flight
/// while holding the shard's flight-list lock, so a key whose `Clone` used
/// the cache deadlocked on that lock. The clone now runs before the lock.
/// The load runs on a thread of its own, watched: a deadlock fails the test
/// instead of hanging the run.
#[test]
fn a_key_whose_clone_uses_the_cache_loads_without_deadlock() {
    REENTRANT.get_or_init(|| StrCache::builder().shards(1).build());
    let value = watched(|| {
        let cache = REENTRANT.get().unwrap();
        let key = Reentrant {
            id: 1,
            reenter: true,
        };
        let value = cache.get_or_insert_with(&key, || "outer").unwrap();
        value.to_string()
    });
    assert_eq!(value, "outer");
    let cache = REENTRANT.get().unwrap();
    let inner = Reentrant {
        id: 1_001,
        reenter: false,
    };
    assert_eq!(cache.get_str(&inner).as_deref(), Some("inner"));
}

/// The cache of [`a_waiter_is_never_handed_a_value_removed_before_it_began`],
/// reachable from its eviction listener.
#[cfg(feature = "async")]
static REMOVING: std::sync::OnceLock<StrCache<String>> = std::sync::OnceLock::new();

/// A load started by hand.
#[cfg(feature = "async")]
type Load = std::pin::Pin<Box<dyn std::future::Future<Output = String>>>;

#[cfg(feature = "async")]
thread_local! {
    /// The second caller's load, started from inside the listener: its
    /// value if it ended at once, else the load still pending.
    static SECOND: std::cell::RefCell<Option<Result<String, Load>>> =
        const { std::cell::RefCell::new(None) };
}

/// Polls `future` once with a waker that does nothing.
#[cfg(feature = "async")]
fn poll_once(future: &mut Load) -> Option<String> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => Some(value),
        std::task::Poll::Pending => None,
    }
}

/// Found by review (#17, defect 4): between a loader's publish and the end
/// of its flight, user code runs (here the listener told that the loaded
/// value replaced an expired one). The listener removes the key, and a
/// second caller then starts a load of it. That caller joined the flight,
/// still listed, and was handed the removed value while the cache held
/// nothing. A flight now leaves its shard's list in the critical section
/// that links its value, so the second caller finds no flight, misses, and
/// loads its own.
///
/// The second caller is an async load polled by hand on this thread, so
/// the interleaving is exact and nothing blocks.
#[cfg(feature = "async")]
#[test]
fn a_waiter_is_never_handed_a_value_removed_before_it_began() {
    use std::time::Duration;

    let clock = strcache::ManualClock::new();
    let cache = REMOVING.get_or_init(|| {
        StrCache::builder()
            .clock(clock.clone())
            .on_evict(|key: &String, _, cause| {
                if cause != strcache::EvictionCause::Expired {
                    return;
                }
                let cache = REMOVING.get().expect("the cache");
                let removed = cache
                    .remove(key.as_str())
                    .expect("the loaded value is present");
                assert_eq!(removed.as_str(), "loaded first");
                let key = key.clone();
                let mut second = Box::pin(async move {
                    cache
                        .get_or_insert_with_async(&key, async { "loaded second" })
                        .await
                        .unwrap()
                        .to_string()
                }) as Load;
                let started = poll_once(&mut second).ok_or(second);
                SECOND.with(|s| *s.borrow_mut() = Some(started));
            })
            .build()
    });
    cache
        .insert_with_ttl("k".into(), "expires", Duration::from_secs(1))
        .unwrap();
    clock.advance(Duration::from_secs(2));
    let first = cache.get_or_insert_with("k", || "loaded first").unwrap();
    assert_eq!(&*first, "loaded first");
    drop(first);
    let second = match SECOND.with(|s| s.borrow_mut().take()) {
        Some(Ok(value)) => value,
        Some(Err(mut pending)) => poll_once(&mut pending).expect("the first load has ended"),
        None => panic!("the listener started the second load"),
    };
    assert_eq!(
        second, "loaded second",
        "a load that began after the removal was handed the removed value"
    );
    assert_eq!(cache.get_str("k").as_deref(), Some("loaded second"));
}

/// The cache of [`a_clock_that_reads_the_cache_runs_under_no_lock`].
static CLOCKED: std::sync::OnceLock<StrCache<u32>> = std::sync::OnceLock::new();

/// A clock that reads the statistics and the `Debug` form of its own
/// cache, both of which lock a bounded cache's policy.
#[derive(Debug)]
struct Inspecting(strcache::ManualClock);

impl strcache::Clock for Inspecting {
    fn now(&self) -> std::time::Duration {
        if let Some(cache) = CLOCKED.get() {
            let _ = cache.stats();
            let _ = format!("{cache:?}");
        }
        self.0.now()
    }
}

/// Found by review (#17, defect 6): the clock ran under the shard lock
/// (judging a replaced entry, unlinking expired ones) and under the policy
/// lock (judging a victim), so a clock that read `stats()` or `{:?}`
/// deadlocked. A write now reads the clock once, before any lock. Every
/// write path runs on a watched thread: a deadlock fails the test.
#[test]
fn a_clock_that_reads_the_cache_runs_under_no_lock() {
    use std::time::Duration;

    let clock = strcache::ManualClock::new();
    CLOCKED.get_or_init(|| {
        StrCache::builder()
            .shards(1)
            .max_entries(4)
            .time_to_live(Duration::from_secs(10))
            .clock(Inspecting(clock.clone()))
            .build()
    });
    let stats = watched(move || {
        let cache = CLOCKED.get().unwrap();
        for k in 0..8 {
            cache.insert(k, "first").unwrap();
        }
        clock.advance(Duration::from_secs(11));
        for k in 0..8 {
            cache.insert(k, "second").unwrap();
        }
        cache.remove(&7);
        clock.advance(Duration::from_secs(11));
        cache.purge_expired();
        cache.insert(1, "third").unwrap();
        cache.retain(|_, _| true);
        cache.clear();
        cache.stats()
    });
    assert_eq!(stats.entries, 0);
    assert!(stats.evictions > 0, "{stats:?}");
    assert!(stats.expirations > 0, "{stats:?}");
}

/// A clock that panics once armed.
#[derive(Debug, Clone, Default)]
struct Failing(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl strcache::Clock for Failing {
    fn now(&self) -> std::time::Duration {
        assert!(
            !self.0.load(std::sync::atomic::Ordering::Relaxed),
            "the clock fails"
        );
        std::time::Duration::ZERO
    }
}

/// Found by review (#17, defect 6): a write judged the entry it replaced
/// by the clock after unlinking it, so a clock that panicked there left the
/// unlinked entry never retired, its key and value never dropped. The
/// clock is now read before anything changes, so its panic changes
/// nothing.
#[test]
fn a_panicking_clock_changes_nothing_and_leaks_nothing() {
    let fails = Failing::default();
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let value = |text: &'static str| {
        struct Counted(&'static str, std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl AsRef<[u8]> for Counted {
            fn as_ref(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        strcache::Utf8Bytes::try_from(bytes::Bytes::from_owner(Counted(text, drops.clone())))
            .unwrap()
    };
    let cache: StrCache<u32> = StrCache::builder().clock(fails.clone()).build();
    cache
        .insert_with_ttl(1, value("old"), std::time::Duration::from_secs(1))
        .unwrap();
    fails.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let replaced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.insert(1, value("new")).unwrap();
    }));
    assert!(replaced.is_err(), "the clock panics");
    let removed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.remove(&1)));
    assert!(removed.is_err(), "the clock panics");
    fails.0.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(cache.get_str(&1).as_deref(), Some("old"), "nothing changed");
    assert_eq!(cache.len(), 1);
    drop(cache);
    collect_until(|| drops.load(std::sync::atomic::Ordering::Relaxed) == 2);
}

/// Found by review: a write, a removal or a `retain` that sealed a batch
/// of retired entries handed it to the collector only after the listener
/// had heard of the entries it unlinked, so a listener that panicked left
/// the batch in the thread's bag until 63 more deferred functions filled
/// it. Its memory counted as retired all that time, however often other
/// threads collected. The batch now goes to the collector first.
#[test]
fn a_panicking_listener_does_not_hold_back_retired_memory() {
    let overwrite = |cache: &StrCache, i: usize| {
        cache
            .insert(format!("key {}", i % 4).into(), "v".repeat(100))
            .unwrap();
    };
    // Every write but the first of each key replaced an entry, whose
    // report panicked.
    assert_eq!(retired_after_panicking_reports(overwrite), CALLS - 4);
    // A removed key's return revives its tombstone: no rehash, whose
    // retired table would hand the thread's bag over.
    let remove = |cache: &StrCache, i: usize| {
        let key = format!("key {}", i % 4);
        cache.insert(key.as_str().into(), "v".repeat(100)).unwrap();
        cache.remove(key.as_str());
    };
    assert_eq!(retired_after_panicking_reports(remove), CALLS);
    let retain = |cache: &StrCache, i: usize| {
        let key = format!("key {}", i % 4);
        cache.insert(key.as_str().into(), "v".repeat(100)).unwrap();
        cache.retain(|_, _| false);
    };
    assert_eq!(retired_after_panicking_reports(retain), CALLS);
}

/// Calls of each operation in
/// `a_panicking_listener_does_not_hold_back_retired_memory`.
const CALLS: usize = if cfg!(miri) { 200 } else { 600 };

/// Runs `op` [`CALLS`] times on a thread of its own, on a one-shard cache
/// whose listener panics, and returns how many calls panicked, once the
/// bytes still retired are down to what the shard may hold: its open
/// batch (at most 4 KiB) and the blocks it keeps for its next writes (at
/// most 8 KiB). This thread collects while the other stays alive and
/// unpinned (a thread's exit would hand its bag over anyway). A thread
/// that held its batches back left 78 KiB more after 600 overwrites or
/// removals of entries of about 150 bytes, and 5 KiB more after 600
/// `retain`s, each of which seals a batch of one entry.
fn retired_after_panicking_reports(op: impl Fn(&StrCache, usize) + Sync) -> usize {
    use std::{panic, sync::mpsc};

    let cache: StrCache = StrCache::builder()
        .shards(1)
        .on_evict(|_, _, _| {
            // `resume_unwind`: a panic that runs no hook and prints nothing.
            panic::resume_unwind(Box::new("listener"));
        })
        .build();
    let (done, finished) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let (cache, op) = (&cache, &op);
        s.spawn(move || {
            let calls =
                (0..CALLS).map(|i| panic::catch_unwind(panic::AssertUnwindSafe(|| op(cache, i))));
            done.send(calls.filter(Result::is_err).count()).unwrap();
            // Returns once `release` is dropped.
            let _ = released.recv();
        });
        // Dropped when this closure ends, also by a panic of
        // `collect_until`: the writer then ends, and the scope joins it.
        let _release = release;
        let panics = finished.recv().unwrap();
        collect_until(|| cache.stats().retired_bytes <= 12 << 10);
        panics
    })
}
