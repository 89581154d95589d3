//! Model checks of the publish / read / retire protocol, and of the hand-off
//! between a loader and its waiters, under loom.
//!
//! Run with:
//! `RUSTFLAGS="--cfg strcache_loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2
//!  CARGO_TARGET_DIR=target/loom cargo test --release --test loom -- --test-threads=1`
#![cfg(strcache_loom)]

use std::{
    collections::{hash_map::DefaultHasher, HashSet},
    future::{pending, Future},
    hash::BuildHasherDefault,
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use loom::{
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};
use strcache::{Clock, InsertOutcome, LoadError, ManualClock, StrCache};

/// A fixed hasher: loom replays executions, so hashing must not be random.
type Fixed = BuildHasherDefault<DefaultHasher>;

fn cache() -> Arc<StrCache<u32, Fixed>> {
    Arc::new(
        StrCache::builder()
            .shards(1)
            .hasher(Fixed::default())
            .build(),
    )
}

/// A cache holding key 1 with "old", and a thread that replaces it with
/// "new".
fn old_then_new() -> (Arc<StrCache<u32, Fixed>>, thread::JoinHandle<()>) {
    let cache = cache();
    cache.insert(1, "old").unwrap();
    let writer = {
        let cache = cache.clone();
        thread::spawn(move || assert_eq!(cache.insert(1, "new"), Ok(InsertOutcome::Replaced)))
    };
    (cache, writer)
}

/// A reader racing a replacement sees the old or the new value, whole.
#[test]
fn read_races_replace() {
    loom::model(|| {
        let (cache, writer) = old_then_new();
        let seen = cache.get_str(&1).map(|v| v.to_string());
        assert!(matches!(seen.as_deref(), Some("old" | "new")), "{seen:?}");
        writer.join().unwrap();
        assert_eq!(cache.get_str(&1).unwrap(), "new");
    });
}

/// A reader racing a resize still finds an existing key; a reader of the
/// new key sees it whole or not at all.
#[test]
fn read_races_resize() {
    loom::model(|| {
        let cache = cache();
        // The table starts with 8 slots and resizes on the 7th entry.
        for k in 0..6 {
            cache.insert(k, "v").unwrap();
        }
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || cache.insert(6, "six").unwrap())
        };
        assert_eq!(cache.get_str(&0).unwrap(), "v");
        if let Some(v) = cache.get_str(&6) {
            assert_eq!(v, "six");
        }
        assert_eq!(writer.join().unwrap(), InsertOutcome::Inserted);
        assert_eq!(cache.len(), 7);
        assert_eq!(cache.get_str(&6).unwrap(), "six");
    });
}

/// `get_bytes` of a copied value racing its replacement and reclamation:
/// the `Bytes` holds a reference to the entry, taken under the reader's
/// pin, and reads a value whole after the writer's pins have let the
/// collector release the cache's reference. (The second replacement fills
/// the shard's batch, which loom's build makes two entries long, and
/// retires both.)
#[test]
fn get_bytes_races_replace_and_reclamation() {
    loom::model(|| {
        let cache = cache();
        cache.insert(1, "old").unwrap();
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.insert(1, "new").unwrap();
                cache.insert(1, "newer").unwrap();
                // Each pin under loom flushes, so the collector may run the
                // deferred release of the old entries here.
                drop(cache.get_str(&1));
            })
        };
        let bytes = cache.get_bytes(&1).unwrap();
        writer.join().unwrap();
        drop(cache.get_str(&1));
        assert!(
            [&b"old"[..], b"new", b"newer"].contains(&&bytes[..]),
            "{bytes:?}"
        );
    });
}

/// An entry that one thread's write unlinked, and another thread's write
/// retired with its own (loom's build makes a shard's batch two entries
/// long), stays readable as long as a reader of that other thread holds
/// it: the retiring write defers the free after the unlink, while the
/// reader is pinned.
#[test]
fn an_entry_retired_by_another_write_outlives_its_readers() {
    loom::model(|| {
        let (cache, writer) = old_then_new();
        let held = cache.get_str(&1).unwrap();
        cache.insert(1, "last").unwrap();
        // A reference to the entry, counted in its header: an atomic that
        // loom sees, which it reports if the entry is already freed.
        let bytes = held.to_bytes();
        drop(held);
        assert!(&bytes[..] == b"old" || &bytes[..] == b"new", "{bytes:?}");
        writer.join().unwrap();
        assert_eq!(cache.stats().updates, 2);
    });
}

/// A block that the free of a retired batch keeps for its shard
/// (`spare.rs`) is built into by a later write only once no reader holds
/// its old entry: the writer's replacements seal a batch (two entries
/// under loom) and flush it, and its next write takes a block of the same
/// size when the collector has freed the batch, while the reader's value
/// stays whole.
#[test]
fn a_kept_block_is_reused_only_after_its_readers() {
    loom::model(|| {
        let cache = cache();
        cache.insert(1, "a").unwrap();
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || {
                for value in ["b", "c", "d"] {
                    cache.insert(1, value).unwrap();
                }
            })
        };
        let held = cache.get_str(&1).unwrap();
        let seen = held.to_string();
        thread::yield_now();
        assert_eq!(&*held, seen, "a value changed under its reader");
        drop(held);
        writer.join().unwrap();
        assert_eq!(cache.get_str(&1).unwrap(), "d");
    });
}

/// A cache dropped while the collector frees an entry it retired: the
/// shard's count of retired bytes, which the entry's deferred free holds,
/// is freed by whichever lets go last, the cache's drop or that free, in
/// whichever thread (a pin flushes under loom, and a thread's handle runs
/// what is left when the thread ends).
#[test]
fn a_cache_dropped_while_its_retired_entry_is_freed() {
    loom::model(|| {
        // A loom `Arc`: its last drop, in either thread, then happens after
        // the other thread's writes, as `std`'s does outside the model.
        let cache = loom::sync::Arc::new(Arc::into_inner(cache()).unwrap());
        cache.insert(1, "old").unwrap();
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || {
                // Two replacements fill the shard's batch (two entries
                // under loom), which retires both.
                cache.insert(1, "new").unwrap();
                assert_eq!(cache.insert(1, "newer"), Ok(InsertOutcome::Replaced));
                drop(cache);
            })
        };
        drop(cache.get_str(&1));
        drop(cache);
        writer.join().unwrap();
    });
}

/// Inserts key 1 from two threads at once and checks that one insert
/// added it and the other replaced it, leaving one entry.
fn race_two_inserts(cache: &Arc<StrCache<u32, Fixed>>) {
    let other = {
        let cache = cache.clone();
        thread::spawn(move || cache.insert(1, "a").unwrap())
    };
    let mine = cache.insert(1, "b").unwrap();
    let theirs = other.join().unwrap();
    let mut outcomes = [mine, theirs];
    outcomes.sort_by_key(|o| *o == InsertOutcome::Replaced);
    assert_eq!(outcomes, [InsertOutcome::Inserted, InsertOutcome::Replaced]);
    assert_eq!(cache.len(), 1);
}

/// Two writers inserting the same new key: one inserts, one replaces, and
/// exactly one entry results.
#[test]
fn writers_race_on_one_key() {
    loom::model(|| {
        let cache = cache();
        race_two_inserts(&cache);
        let v = cache.get_str(&1).unwrap();
        assert!(v == "a" || v == "b");
    });
}

/// A reader racing a remove sees the whole value or nothing.
#[test]
fn remove_races_read() {
    loom::model(|| {
        let cache = cache();
        cache.insert(1, "one").unwrap();
        let remover = {
            let cache = cache.clone();
            thread::spawn(move || cache.remove(&1).map(|v| v.to_string()))
        };
        if let Some(v) = cache.get_str(&1) {
            assert_eq!(v, "one");
        }
        assert_eq!(remover.join().unwrap().as_deref(), Some("one"));
        assert!(cache.get_str(&1).is_none());
        assert!(cache.is_empty());
    });
}

/// A remove racing an insert of another key in the same table: both take
/// effect and the count stays exact.
#[test]
fn remove_races_insert() {
    loom::model(|| {
        let cache = cache();
        cache.insert(1, "one").unwrap();
        let remover = {
            let cache = cache.clone();
            thread::spawn(move || cache.remove(&1).is_some())
        };
        assert_eq!(cache.insert(2, "two"), Ok(InsertOutcome::Inserted));
        assert!(remover.join().unwrap());
        assert!(cache.get_str(&1).is_none());
        assert_eq!(cache.get_str(&2).unwrap(), "two");
        assert_eq!(cache.len(), 1);
    });
}

/// Two writers re-inserting a removed key race to revive its tombstone:
/// one inserts, one replaces, and the key lives in one slot.
#[test]
fn writers_race_to_revive_a_tombstone() {
    loom::model(|| {
        let cache = cache();
        cache.insert(1, "old").unwrap();
        cache.remove(&1);
        race_two_inserts(&cache);
        assert_eq!(cache.pin().iter().count(), 1);
    });
}

/// Two callers load one missing key: one loader runs, both get its value,
/// whether the second arrives before, during or after the load.
///
/// Explored with at most one preemption: each caller pins four times, and
/// at two preemptions the epoch bookkeeping alone takes this model past
/// ten minutes. The hand-off itself is checked at two preemptions below.
#[test]
fn loaders_race_on_one_key() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let cache = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        let load = |cache: &StrCache<u32, Fixed>, calls: &AtomicUsize| {
            let v = cache
                .get_or_insert_with(&1, || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    "v"
                })
                .unwrap();
            assert_eq!(v, "v");
        };
        let other = {
            let (cache, calls) = (cache.clone(), calls.clone());
            thread::spawn(move || load(&cache, &calls))
        };
        load(&cache, &calls);
        other.join().unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    });
}

/// A loader fails while another caller arrives whose loader has another
/// error type (none): the failure reaches its own caller only, and the
/// other caller gets a value (its own loader's, or a hit), never the error
/// and never a hang.
#[test]
fn a_failed_load_hands_over() {
    loom::model(|| {
        let cache = cache();
        let other = {
            let cache = cache.clone();
            thread::spawn(move || {
                let v = cache.get_or_insert_with(&1, || "second").unwrap();
                assert_eq!(v, "second");
            })
        };
        let first = cache.try_get_or_insert_with(&1, || Err::<&str, _>("failed"));
        match first {
            Err(e) => assert_eq!(e, LoadError::Load("failed".into())),
            Ok(v) => assert_eq!(v, "second"),
        }
        other.join().unwrap();
        assert_eq!(cache.get_str(&1).unwrap(), "second");
    });
}

/// An async load dropped while it loads hands over to a waiter, which an
/// async wake-up (not a thread notification) resumes.
#[test]
fn a_cancelled_async_load_hands_over() {
    loom::model(|| {
        let cache = cache();
        let other = {
            let cache = cache.clone();
            thread::spawn(move || {
                let v = loom::future::block_on(cache.get_or_insert_with_async(&1, async { "b" }));
                assert_eq!(v.unwrap(), "b");
            })
        };
        {
            let mut cx = Context::from_waker(Waker::noop());
            let mut load = pin!(cache.get_or_insert_with_async(&1, pending::<&str>()));
            if let Poll::Ready(v) = load.as_mut().poll(&mut cx) {
                assert_eq!(v.unwrap(), "b");
            }
        }
        other.join().unwrap();
        assert_eq!(cache.get_str(&1).unwrap(), "b");
    });
}

/// A load that begins after a remove took the loaded value out is never
/// handed that value: the remover's own load runs its loader, whether the
/// remove lands before the first load's flight ends or after (#17,
/// defect 4). A remove that finds nothing came before the first load
/// published, which it then beat or did not overlap. Explored with at most
/// one preemption: at two it takes over six minutes.
#[test]
fn a_load_after_a_remove_never_gets_the_removed_value() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let cache = cache();
        let remover = {
            let cache = cache.clone();
            thread::spawn(move || {
                let removed = cache.remove(&1).is_some();
                if removed {
                    let v = cache.get_or_insert_with(&1, || "second").unwrap();
                    assert_eq!(v, "second", "handed a value removed before the load began");
                }
                removed
            })
        };
        let first = cache.get_or_insert_with(&1, || "first").unwrap();
        assert_eq!(first, "first");
        drop(first);
        let removed = remover.join().unwrap();
        let now = cache.get_str(&1).map(|v| v.to_string());
        if removed {
            assert_eq!(now.as_deref(), Some("second"));
        } else {
            assert!(matches!(now.as_deref(), None | Some("first")), "{now:?}");
        }
    });
}

/// The entries of `cache` in key order, as one pass of `pin().iter()`
/// yields them, checked to have distinct keys. One pin, so that the final
/// checks of a model cost loom one epoch registration.
fn contents(cache: &StrCache<u32, Fixed>) -> Vec<(u32, String)> {
    let pinned = cache.pin();
    let mut entries: Vec<_> = pinned.iter().map(|(k, v)| (*k, v.to_string())).collect();
    entries.sort();
    let mut keys: Vec<_> = entries.iter().map(|(k, _)| *k).collect();
    keys.dedup();
    assert_eq!(
        keys.len(),
        entries.len(),
        "a key yielded twice: {entries:?}"
    );
    entries
}

/// Two writers of a bounded cache (one entry) insert keys of different
/// shards while a key of one of them is cached: each write locks the
/// policy, then its key's shard, then evicts, still under the policy lock,
/// a victim that may live in the other shard. No deadlock; the cache ends
/// within its bound, with a whole value; every key inserted is live or
/// counted as evicted.
///
/// With the `Fixed` hasher and two shards, key 2 lives in shard 0, keys 5
/// and 7 in shard 1. Inserting and removing keys 2 and 5 beforehand makes
/// them more frequent than key 7 (key 5 most), so each newcomer wins its
/// admission duel: if key 2 is written first, it evicts key 7 from shard 1
/// and key 5 then evicts it from shard 0.
///
/// Every removal and eviction here seals a batch (two entries under loom)
/// and flushes it, and each flush hands a bag to the collector's queue;
/// walking that queue when the last handle goes takes an execution past
/// loom's default of 1,000 branches, so the model allows 10,000.
#[test]
fn bounded_writers_evict_across_shards() {
    let mut model = loom::model::Builder::new();
    model.max_branches = 10_000;
    model.check(|| {
        let cache: Arc<StrCache<u32, Fixed>> = Arc::new(
            StrCache::builder()
                .shards(2)
                .hasher(Fixed::default())
                .max_entries(1)
                .build(),
        );
        for k in [2, 5, 5] {
            cache.insert(k, "warm").unwrap();
            cache.remove(&k);
        }
        cache.insert(7, "seven").unwrap();
        let other = {
            let cache = cache.clone();
            thread::spawn(move || cache.insert(5, "five").unwrap())
        };
        assert_eq!(cache.insert(2, "two"), Ok(InsertOutcome::Inserted));
        assert_eq!(other.join().unwrap(), InsertOutcome::Inserted);
        assert_eq!(cache.len(), 1);
        let left = contents(&cache);
        assert!(
            matches!(
                left.iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>()[..],
                [(2, "two") | (5, "five") | (7, "seven")]
            ),
            "{left:?}"
        );
        let stats = cache.stats();
        assert_eq!((stats.inserts, stats.removals, stats.evictions), (6, 3, 2));
        assert_eq!(stats.evictions + stats.entries, 3, "keys 2, 5 and 7");
        assert_eq!(stats.weight, Some(1));
    });
}

/// One thread moves the clock to an entry's deadline, reads the key and
/// inserts another (a write that unlinks expired entries), while another
/// thread replaces the key. The first thread never reads the expired value
/// once its own clock move has happened; a replacement judges the value it
/// replaces by its own clock reading (`Inserted` once that reading has
/// reached the deadline, `Replaced` before), and counts it as expired or
/// updated to match; the entry count is exact at the end.
#[test]
fn expiry_races_replace() {
    loom::model(|| {
        let clock = ManualClock::new();
        let cache: Arc<StrCache<u32, Fixed>> = Arc::new(
            StrCache::builder()
                .shards(1)
                .hasher(Fixed::default())
                .clock(clock.clone())
                .build(),
        );
        let ttl = Duration::from_nanos(10);
        cache.insert_with_ttl(1, "old", ttl).unwrap();
        let other = {
            let (cache, clock) = (cache.clone(), clock.clone());
            thread::spawn(move || {
                clock.advance(ttl);
                let seen = cache.get_str(&1).map(|v| v.to_string());
                assert!(matches!(seen.as_deref(), None | Some("new")), "{seen:?}");
                assert_eq!(cache.insert(2, "two"), Ok(InsertOutcome::Inserted));
            })
        };
        let before = clock.now();
        let outcome = cache.insert(1, "new").unwrap();
        let after = clock.now();
        if before >= ttl {
            assert_eq!(
                outcome,
                InsertOutcome::Inserted,
                "replaced an expired value"
            );
        }
        if after < ttl {
            assert_eq!(
                outcome,
                InsertOutcome::Replaced,
                "judged a live value expired"
            );
        }
        other.join().unwrap();
        assert_eq!(cache.len(), 2);
        let expected = [(1, "new"), (2, "two")];
        assert_eq!(contents(&cache), expected.map(|(k, v)| (k, v.to_string())));
        let stats = cache.stats();
        let expected = match outcome {
            InsertOutcome::Inserted => (3, 0, 1),
            InsertOutcome::Replaced => (2, 1, 0),
            other => panic!("unknown outcome {other:?}"),
        };
        assert_eq!((stats.inserts, stats.updates, stats.expirations), expected);
    });
}

/// A write racing the insert that resizes the table: the replacement of
/// one existing key and the removal of another both take effect, whether
/// they land in the old table before the resize or in the new one after
/// it, and the resize keeps every other key once.
#[test]
fn writes_race_resize() {
    loom::model(|| {
        let cache = cache();
        for k in 0..6 {
            cache.insert(k, "v").unwrap();
        }
        let resizer = {
            let cache = cache.clone();
            thread::spawn(move || cache.insert(6, "six").unwrap())
        };
        assert_eq!(cache.insert(0, "new"), Ok(InsertOutcome::Replaced));
        assert_eq!(cache.remove(&1).as_deref(), Some("v"));
        assert_eq!(resizer.join().unwrap(), InsertOutcome::Inserted);
        assert_eq!(cache.len(), 6);
        let expected = [
            (0, "new"),
            (2, "v"),
            (3, "v"),
            (4, "v"),
            (5, "v"),
            (6, "six"),
        ];
        assert_eq!(contents(&cache), expected.map(|(k, v)| (k, v.to_string())));
    });
}

/// An iteration racing the removal and re-insertion of a key yields each
/// key at most once, every key present throughout, and whole values.
///
/// Keys 0 and 1 share home slot 0 and key 2's is slot 1, so the keys fill
/// slots 0, 1 and 2 and the removal leaves a tombstone in slot 1 with slot
/// 3 empty after it: a re-insert into that empty slot instead of the
/// tombstone would put key 1 after an iterator that already yielded it.
#[test]
fn iteration_races_reinsert() {
    loom::model(|| {
        let cache = cache();
        for k in 0..3 {
            cache.insert(k, "v").unwrap();
        }
        let churner = {
            let cache = cache.clone();
            thread::spawn(move || {
                assert_eq!(cache.remove(&1).as_deref(), Some("v"));
                assert_eq!(cache.insert(1, "again"), Ok(InsertOutcome::Inserted));
            })
        };
        let mut seen = HashSet::new();
        for (k, v) in cache.pin().iter() {
            assert!(seen.insert(*k), "key {k} yielded twice");
            match k {
                1 => assert!(v == "v" || v == "again", "{v:?}"),
                _ => assert_eq!(v, "v"),
            }
        }
        assert!(seen.contains(&0) && seen.contains(&2), "{seen:?}");
        churner.join().unwrap();
        let expected = [(0, "v"), (1, "again"), (2, "v")];
        assert_eq!(contents(&cache), expected.map(|(k, v)| (k, v.to_string())));
    });
}

/// An insert racing a load of the same key wins, whether it lands before
/// the load's miss, while the loader runs, or after the load published:
/// the load's caller gets its own value or the written one, and the cache
/// ends with the written one (#19).
#[test]
fn an_insert_during_a_load_wins() {
    loom::model(|| {
        let cache = cache();
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || assert!(cache.insert(1, "written").is_ok()))
        };
        let got = cache
            .get_or_insert_with(&1, || "loaded")
            .unwrap()
            .to_string();
        assert!(matches!(got.as_str(), "loaded" | "written"), "{got}");
        writer.join().unwrap();
        assert_eq!(cache.get_str(&1).unwrap(), "written");
    });
}

/// A remove that starts after the loader began leaves the key absent,
/// whether the load published before it or not (#19). Without the check,
/// under the lock, that a removed key is still absent, a remove whose
/// search missed a value published meanwhile left it cached.
#[test]
fn a_remove_during_a_load_wins() {
    loom::model(|| {
        let cache = cache();
        let began = Arc::new(AtomicUsize::new(0));
        let remover = {
            let (cache, began) = (cache.clone(), began.clone());
            thread::spawn(move || {
                // Acquire: pairs with the loader's Release store, so a
                // remove that sees it starts after the loader began.
                let during = began.load(Ordering::Acquire) == 1;
                cache.remove(&1);
                during
            })
        };
        let got = cache.get_or_insert_with(&1, || {
            began.store(1, Ordering::Release);
            "loaded"
        });
        assert_eq!(got.unwrap(), "loaded");
        let during = remover.join().unwrap();
        if during {
            assert!(
                cache.get_str(&1).is_none(),
                "the load was cached over the remove"
            );
        }
    });
}

/// A `LoadingCache` with one refresh worker (a loom thread), a manual
/// clock, and a loader that counts its calls and answers `"v{n}"`.
fn loading(
    clock: &ManualClock,
    calls: &Arc<AtomicUsize>,
) -> strcache::LoadingCache<u32, (), Fixed> {
    let calls = Arc::clone(calls);
    StrCache::builder()
        .shards(1)
        .hasher(Fixed::default())
        .clock(clock.clone())
        .time_to_live(Duration::from_secs(20))
        .refresh_after(Duration::from_secs(10))
        .refresh_pipeline(strcache::Pipeline::threads(1).queue(2))
        .build_loading(move |_: &u32| {
            // Relaxed: a count, read after the worker is joined.
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Ok::<_, ()>(format!("v{n}"))
        })
}

/// Two readers find a key due while the worker may be reloading it: the
/// key is reloaded once, not once per reader, even by a reader that read
/// the old value just before the reload published (it lists its reload
/// only if the key still holds the value it read). The drop joins the
/// worker. Explored with one preemption: three threads each pin, lock and
/// wait, and at two the model runs for many minutes.
#[test]
fn readers_of_a_due_key_schedule_one_reload() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let clock = ManualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(loading(&clock, &calls));
        assert_eq!(*cache.get(&1).unwrap(), "v1");
        clock.advance(Duration::from_secs(10));
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || cache.get(&1).unwrap().to_string())
        };
        let seen = cache.get(&1).unwrap().to_string();
        let other = reader.join().unwrap();
        for v in [seen, other] {
            assert!(matches!(v.as_str(), "v1" | "v2"), "{v}");
        }
        cache.await_refreshes();
        assert_eq!(cache.get_str(&1).unwrap(), "v2");
        drop(Arc::into_inner(cache).expect("the reader has ended"));
        assert_eq!(calls.load(Ordering::Relaxed), 2, "one load, one reload");
    });
}

/// An insert racing a due read and its reload wins: whether it lands
/// before the read, while the reload is queued or running, or after it
/// published, the cache ends with the written value (#19).
#[test]
fn an_insert_during_a_reload_wins() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let clock = ManualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(loading(&clock, &calls));
        cache.get(&1).unwrap();
        clock.advance(Duration::from_secs(10));
        let writer = {
            let cache = cache.clone();
            thread::spawn(move || assert!(cache.insert(1, "written").is_ok()))
        };
        let seen = cache.get(&1).unwrap().to_string();
        assert!(matches!(seen.as_str(), "v1" | "written"), "{seen}");
        writer.join().unwrap();
        cache.await_refreshes();
        assert_eq!(cache.get_str(&1).unwrap(), "written");
    });
}

/// A reader that misses a key whose reload is queued races the worker to
/// run it: one of them takes it, the other waits for it or skips it. The
/// backend is called once for the reload, and the reader gets its value
/// (#19: a miss never waits for the queue to reach a reload).
#[test]
fn a_miss_races_the_worker_for_a_queued_reload() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let clock = ManualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(loading(&clock, &calls));
        cache.get(&1).unwrap();
        // Due: a reload is queued. Then the value expires: whenever the
        // reload runs, its value is fresh at the end.
        clock.advance(Duration::from_secs(15));
        assert_eq!(*cache.get(&1).unwrap(), "v1");
        clock.advance(Duration::from_secs(5));
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || cache.get(&1).unwrap().to_string())
        };
        assert_eq!(reader.join().unwrap(), "v2");
        cache.await_refreshes();
        drop(Arc::into_inner(cache).expect("the reader has ended"));
        assert_eq!(calls.load(Ordering::Relaxed), 2, "one load, one reload");
    });
}
