//! Bounded caches: the bound holds after every insert, oversized entries
//! are refused without a change, the policy resists scans and does not
//! depend on the shard count, and the listener hears every departure but
//! those of the entries dropped with the cache. Memory that pinned readers
//! hold is outside the bound. (That a reader keeps an evicted value alive
//! until it unpins is in `tests/drops.rs`.)

use std::{
    collections::hash_map::DefaultHasher,
    hash::BuildHasherDefault,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use strcache::{entry_overhead, Error, EvictionCause, InsertOutcome, StrCache};

type Fixed = BuildHasherDefault<DefaultHasher>;

fn bounded(max: u64) -> StrCache<u64> {
    StrCache::builder().max_entries(max).build()
}

#[test]
fn the_entry_bound_holds_after_every_insert() {
    let cache = bounded(50);
    for i in 0..if cfg!(miri) { 100 } else { 1_000 } {
        cache.insert(i, format!("value {i}")).unwrap();
        assert!(
            cache.len() <= 50,
            "{} entries after insert {i}",
            cache.len()
        );
    }
    assert_eq!(cache.len(), 50);
}

#[test]
fn the_byte_bound_counts_keys_values_and_overhead() {
    let max = 20_000;
    let cache: StrCache<String> = StrCache::builder().max_bytes(max).build();
    let weigh = |k: &str, v: &str| (k.len() + v.len() + entry_overhead::<String>()) as u64;
    for i in 0..if cfg!(miri) { 60 } else { 500 } {
        let (key, value) = (format!("key:{i}"), "v".repeat(i % 300));
        cache.insert(key, value).unwrap();
        let total: u64 = cache.iter().map(|(k, v)| weigh(&k, &v)).sum();
        assert!(total <= max, "{total} bytes after insert {i}");
    }
}

#[test]
fn an_entry_heavier_than_the_bound_is_refused_and_changes_nothing() {
    let cache: StrCache<String> = StrCache::builder()
        .max_weight(10, |_: &String, v: &str| v.len() as u64)
        .build();
    cache.insert("k".into(), "small").unwrap();
    let err = cache.insert("k".into(), "x".repeat(11)).unwrap_err();
    assert_eq!(
        err,
        Error::TooLarge {
            weight: 11,
            max: 10
        }
    );
    assert_eq!(
        err.to_string(),
        "entry weighs 11, more than the cache's whole bound of 10"
    );
    assert_eq!(cache.get_str("k").unwrap(), "small");
    assert_eq!(cache.len(), 1);
    // Exactly the bound fits.
    assert_eq!(
        cache.insert("k".into(), "x".repeat(10)),
        Ok(InsertOutcome::Replaced)
    );
}

#[test]
fn a_panicking_weigher_changes_nothing_and_locks_nothing() {
    let cache: StrCache<u32> = StrCache::builder()
        .max_weight(100, |k: &u32, _: &str| {
            assert!(*k != 13, "unlucky key");
            1
        })
        .build();
    cache.insert(1, "one").unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| cache.insert(13, "thirteen")));
    assert!(panicked.is_err());
    assert!(!cache.contains_key(&13));
    cache.insert(2, "two").unwrap();
    assert_eq!(cache.len(), 2);
}

/// Frequently read keys survive a one-time scan of never-repeated keys,
/// larger than the cache. The hot set is warmed as in real use: read while
/// other keys keep the cache full, so the policy sees its reads.
#[test]
fn a_scan_does_not_flush_the_frequently_read_set() {
    let scale = if cfg!(miri) { 20 } else { 1 };
    let cache = bounded(1_000 / scale);
    let hot = 0..500 / scale;
    let get_or_insert = |k: u64| {
        if cache.get_str(&k).is_none() {
            cache.insert(k, "v").unwrap();
        }
    };
    let mut one_off = 1_000_000u64;
    for _ in 0..20 / scale.min(4) {
        for k in hot.clone() {
            get_or_insert(k);
            get_or_insert(one_off);
            one_off += 1;
        }
    }
    for k in 2_000_000..2_000_000 + 10_000 / scale {
        get_or_insert(k);
    }
    let kept = hot.clone().filter(|k| cache.contains_key(k)).count() as u64;
    assert!(
        kept * 10 >= hot.end * 9,
        "only {kept} of {} hot keys survived the scan",
        hot.end
    );
}

/// Hit ratio of a get-or-insert replay of a skewed key sequence.
fn hit_ratio(cache: &StrCache<u64, Fixed>, keys: &[u64]) -> f64 {
    let mut hits = 0;
    for &k in keys {
        if cache.get_str(&k).is_some() {
            hits += 1;
        } else {
            cache.insert(k, "v").unwrap();
        }
    }
    hits as f64 / keys.len() as f64
}

/// A deterministic skewed sequence: key `i` about `1/i` as often as key 1.
fn skewed(n: usize, universe: u64) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            (universe as f64).powf(u) as u64
        })
        .collect()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn sharding_costs_no_hit_ratio() {
    let keys = skewed(200_000, 100_000);
    for capacity in [300, 5_000] {
        let one = StrCache::builder()
            .shards(1)
            .max_entries(capacity)
            .hasher(Fixed::default())
            .build();
        let many = StrCache::builder()
            .max_entries(capacity)
            .hasher(Fixed::default())
            .build();
        let (one, many) = (hit_ratio(&one, &keys), hit_ratio(&many, &keys));
        assert!(
            (one - many).abs() <= 0.01,
            "capacity {capacity}: one shard {one:.4}, default shards {many:.4}"
        );
    }
}

type Log = Arc<Mutex<Vec<(u64, String, EvictionCause)>>>;

fn logged(max: u64) -> (StrCache<u64>, Log) {
    let log = Log::default();
    let sink = Arc::clone(&log);
    let cache = StrCache::builder()
        .max_entries(max)
        .on_evict(move |k: &u64, v, cause| sink.lock().unwrap().push((*k, v.to_string(), cause)))
        .build();
    (cache, log)
}

#[test]
fn the_listener_hears_every_departure_once() {
    let (cache, log) = logged(10);
    for i in 0..100 {
        cache.insert(i, format!("v{i}")).unwrap();
    }
    cache.insert(99, "again").unwrap();
    cache.remove(&99);
    let log = log.lock().unwrap();
    let count = |c| log.iter().filter(|(_, _, cause)| *cause == c).count();
    assert_eq!(count(EvictionCause::Replaced), 1);
    assert_eq!(count(EvictionCause::Removed), 1);
    // Every key inserted is either still cached or was reported gone.
    assert_eq!(count(EvictionCause::Size) + cache.len() + 1, 100);
    assert!(log.contains(&(99, "v99".into(), EvictionCause::Replaced)));
    assert!(log.contains(&(99, "again".into(), EvictionCause::Removed)));
    for (k, v, cause) in log.iter() {
        if *cause == EvictionCause::Size {
            assert_eq!(*v, format!("v{k}"), "the evicted value of {k}");
            assert!(!cache.contains_key(k));
        }
    }
}

/// The listener runs after every lock is released, so it may read, write
/// and inspect the cache: each size eviction removes the key inserted just
/// before the evicted one (present, so the removal takes the policy and
/// shard locks) and reads `stats()` and `{:?}` (the policy lock again).
#[test]
fn the_listener_may_use_the_cache() {
    let removed = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&removed);
    let cache: Arc<StrCache<u64>> = Arc::new_cyclic(|weak: &std::sync::Weak<StrCache<u64>>| {
        let weak = weak.clone();
        StrCache::builder()
            .max_entries(4)
            .on_evict(move |k: &u64, _, cause| {
                let Some(cache) = weak.upgrade() else { return };
                match cause {
                    EvictionCause::Size => {
                        assert!(cache.get_str(k).is_none());
                        assert!(cache.stats().weight.is_some());
                        assert!(format!("{cache:?}").contains("StrCache"));
                        if let Some(neighbour) = k.checked_sub(1) {
                            cache.remove(&neighbour);
                        }
                    }
                    EvictionCause::Removed => log.lock().unwrap().push(*k),
                    _ => {}
                }
            })
            .build()
    });
    for i in 0..50 {
        cache.insert(i, "v").unwrap();
    }
    assert!(cache.len() <= 4);
    let removed = removed.lock().unwrap();
    assert!(
        !removed.is_empty(),
        "no removal from inside the listener found its key"
    );
    for k in removed.iter() {
        assert!(!cache.contains_key(k), "{k} removed, yet present");
    }
}

#[test]
fn the_listener_hears_nothing_of_entries_dropped_with_the_cache() {
    let (cache, log) = logged(10);
    for i in 0..5 {
        cache.insert(i, "v").unwrap();
    }
    cache.remove(&0);
    drop(cache);
    let log = log.lock().unwrap();
    assert_eq!(*log, [(0, "v".to_string(), EvictionCause::Removed)]);
}

#[test]
fn a_panicking_listener_skips_the_rest_of_that_calls_reports() {
    let reports = Arc::new(AtomicUsize::new(0));
    let heard = Arc::clone(&reports);
    let cache: StrCache<u64> = StrCache::builder()
        .on_evict(move |_: &u64, _, _| {
            heard.fetch_add(1, Ordering::Relaxed);
            panic!("listener fails");
        })
        .build();
    for i in 0..5 {
        cache.insert(i, "v").unwrap();
    }
    assert!(catch_unwind(AssertUnwindSafe(|| cache.clear())).is_err());
    // Five entries left; the first report panicked and ended the others.
    assert_eq!(reports.load(Ordering::Relaxed), 1);
    assert!(cache.is_empty());
    // The listener stays installed: the next call reports again.
    cache.insert(7, "v").unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| cache.remove(&7))).is_err());
    assert_eq!(reports.load(Ordering::Relaxed), 2);
}

#[test]
fn a_pinned_reader_holds_memory_outside_the_bound() {
    let cache: StrCache<u64> = StrCache::builder().max_entries(1).build();
    let big = "x".repeat(1 << 16);
    cache.insert(0, big.clone()).unwrap();
    let held = cache.get_str(&0).unwrap();
    let mut next = 1;
    while cache.contains_key(&0) {
        assert!(next < 10_000, "key 0 was never evicted");
        cache.insert(next, "y").unwrap();
        next += 1;
    }
    // One entry in the bound, and the evicted 64 KiB still readable, and
    // still allocated, for as long as the reader's pin lives.
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.weight), (1, Some(1)));
    assert!(stats.retired_bytes >= 1 << 16, "{stats:?}");
    assert_eq!(*held, big);
}

#[test]
fn a_panicking_listener_leaves_the_cache_consistent() {
    let armed = AtomicBool::new(true);
    let cache: StrCache<u64> = StrCache::builder()
        .max_entries(3)
        .on_evict(move |_: &u64, _, _| {
            assert!(
                !armed.swap(false, Ordering::Relaxed),
                "listener panics once"
            )
        })
        .build();
    let mut panics = 0;
    for i in 0..20 {
        if catch_unwind(AssertUnwindSafe(|| cache.insert(i, "v"))).is_err() {
            panics += 1;
        }
    }
    assert_eq!(panics, 1);
    assert_eq!(cache.len(), 3);
    // Nothing stays locked: writes still go through.
    cache.insert(100, "after").unwrap();
    assert_eq!(cache.len(), 3);
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn clear_and_retain_keep_the_policy_in_step() {
    let (cache, log) = logged(10);
    for i in 0..10 {
        cache.insert(i, "v").unwrap();
    }
    cache.retain(|k, _| k % 2 == 0);
    assert_eq!(cache.len(), 5);
    cache.clear();
    assert!(cache.is_empty());
    let removed = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, c)| *c == EvictionCause::Removed)
        .count();
    assert_eq!(removed, 10);
    // The whole bound is free again.
    for i in 100..110 {
        cache.insert(i, "v").unwrap();
    }
    assert_eq!(cache.len(), 10);
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .all(|(_, _, c)| *c != EvictionCause::Size));
}
