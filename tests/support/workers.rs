//! Readers racing writers on one cache, shared by `tests/concurrency.rs`
//! and the soak run in `tests/alloc.rs`: every value a reader sees belongs
//! to its key, is complete, and per key never goes back in version.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Barrier,
    },
    thread,
    time::{Duration, Instant},
};

use strcache::StrCache;

/// Keys the writers own.
const KEYS: u64 = if cfg!(miri) { 8 } else { 256 };
/// Writer threads; key `k` belongs to writer `k % WRITERS`.
const WRITERS: u64 = 2;
/// Keys the churner inserts, then removes, in one round: enough to make
/// a shard's table grow and then fill with tombstones.
const CHURN: u64 = if cfg!(miri) { 16 } else { 64 };
/// Under Miri the churner runs this many rounds instead of a duration.
/// Miri's clock advances with the interpreter's steps, which schedules
/// spread differently between the threads; a round count is the same
/// churn under every schedule that `-Zmiri-many-seeds` tries.
const MIRI_ROUNDS: u64 = 2;

/// `key|version|padding|END`, with padding of a length that depends on the
/// version, so a torn or mixed read shows up as a wrong length or marker.
fn value(key: u64, version: u64) -> String {
    let pad = "x".repeat((version % 97) as usize);
    format!("{key}|{version}|{pad}|END")
}

/// Checks a value read for `key` and returns its version.
fn check(key: u64, text: &str) -> u64 {
    let parts: Vec<&str> = text.split('|').collect();
    assert_eq!(parts.len(), 4, "torn value {text:?}");
    assert_eq!(
        parts[0].parse::<u64>().unwrap(),
        key,
        "value of another key: {text:?}"
    );
    let version: u64 = parts[1].parse().unwrap();
    assert_eq!(parts[2].len() as u64, version % 97, "torn value {text:?}");
    assert_eq!(parts[3], "END", "torn value {text:?}");
    version
}

/// Runs 2 writers, `readers` readers and a churner on one cache for
/// `duration` (for [`MIRI_ROUNDS`] under Miri), checking every value
/// read; returns the operations done.
/// With `max_entries`, the cache is bounded and writes also evict.
pub(crate) fn run(
    duration: Duration,
    shards: usize,
    readers: usize,
    max_entries: Option<u64>,
) -> u64 {
    let builder = StrCache::builder().shards(shards);
    let cache: StrCache<u64> = match max_entries {
        Some(max) => builder.max_entries(max).build(),
        None => builder.build(),
    };
    for key in 0..KEYS {
        cache.insert(key, value(key, 0)).unwrap();
    }
    let stop = AtomicBool::new(false);
    let start = Barrier::new(WRITERS as usize + readers + 1);
    let ops = AtomicU64::new(0);
    thread::scope(|s| {
        // Each key has one writer, so its versions rise with time.
        for w in 0..WRITERS {
            let (cache, stop, start, ops) = (&cache, &stop, &start, &ops);
            s.spawn(move || {
                start.wait();
                let mut version = 0;
                while !stop.load(Ordering::Relaxed) {
                    version += 1;
                    for key in (w..KEYS).step_by(WRITERS as usize) {
                        if (key + version) % 11 == 0 {
                            cache.remove(&key);
                        } else {
                            cache.insert(key, value(key, version)).unwrap();
                        }
                    }
                }
                ops.fetch_add(version * KEYS / WRITERS, Ordering::Relaxed);
            });
        }
        for r in 0..readers {
            let (cache, stop, start, ops) = (&cache, &stop, &start, &ops);
            s.spawn(move || {
                start.wait();
                let mut last: HashMap<u64, u64> = HashMap::new();
                let (mut hits, mut reads) = (0u64, 0u64);
                // At least one full pass, even if the run ends first.
                loop {
                    for key in 0..KEYS {
                        let version = if r == 0 {
                            let pinned = cache.pin();
                            pinned.get_str(&key).map(|t| check(key, t))
                        } else {
                            cache.get_str(&key).map(|t| check(key, &t))
                        };
                        if let Some(version) = version {
                            hits += 1;
                            let prev = last.insert(key, version).unwrap_or(0);
                            assert!(version >= prev, "key {key}: saw {version} after {prev}");
                        }
                    }
                    reads += KEYS;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                assert!(hits > 0, "reader {r} saw no value at all");
                ops.fetch_add(reads, Ordering::Relaxed);
            });
        }
        // A churner inserts and removes other keys, forcing resizes of the
        // shards the readers are probing.
        let (cache, stop_flag) = (&cache, &stop);
        start.wait();
        let started = Instant::now();
        let churning = |extra: u64| {
            if cfg!(miri) {
                extra < KEYS + CHURN * MIRI_ROUNDS
            } else {
                started.elapsed() < duration
            }
        };
        let mut extra = KEYS;
        while churning(extra) {
            for k in extra..extra + CHURN {
                cache.insert(k, value(k, 1)).unwrap();
            }
            for k in extra..extra + CHURN {
                // A bounded cache may have evicted it.
                assert!(cache.remove(&k).is_some() || max_entries.is_some());
            }
            extra += CHURN;
        }
        stop_flag.store(true, Ordering::Relaxed);
        ops.fetch_add((extra - KEYS) * 2, Ordering::Relaxed);
    });
    assert!(cache.len() as u64 <= max_entries.unwrap_or(KEYS).min(KEYS));
    ops.into_inner()
}
