//! Allocation counts: `get_str`, and a loader's hit, allocate nothing, a
//! write of an inline key or of a `String` with spare capacity allocates
//! its entry alone, overwrites reuse the blocks of the entries they
//! retire, and retired memory stays bounded under endless overwrites with
//! concurrent readers.

use std::{
    cell::Cell,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex, MutexGuard, PoisonError,
    },
    thread,
};

use compact_str::CompactString;
use strcache::{StrCache, Utf8Bytes};

#[path = "support/counting.rs"]
mod counting;
use counting::{Counting, ALLOCS, LIVE};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this file measure process-wide counts, so they run one at
/// a time: a writer in one test would make the collector allocate inside
/// another test's reads.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn allocs_in(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// The default key type, `CompactString`, keeps keys of up to 24 bytes
/// inline and hashes and borrows as `str`: the cache is read with a
/// `&str`, and a write of a present key allocates the new entry alone,
/// where a `String` key allocates its bytes too. (The shard's first
/// replaced entry allocates the list of its batch, `batch.rs`, which
/// lasts until 64 entries fill it: the first overwrite is not counted.)
#[test]
fn a_write_of_an_inline_key_allocates_the_entry_alone() {
    let _serial = serial();
    let key = "tenant:0042:obj:000123";
    let inline: StrCache = StrCache::new();
    let owned = StrCache::<String>::builder().build();
    for value in ["first", "again"] {
        inline.insert(key.into(), value).unwrap();
        owned.insert(key.into(), value).unwrap();
    }
    // Hand what this thread deferred so far to the collector, so that the
    // writes below add to an empty bag and allocate none for it.
    crossbeam_epoch::pin().flush();
    let inline_allocs = allocs_in(|| {
        inline.insert(CompactString::from(key), "second").unwrap();
    });
    crossbeam_epoch::pin().flush();
    let owned_allocs = allocs_in(|| {
        owned.insert(String::from(key), "second").unwrap();
    });
    assert_eq!(inline.get_str(key).unwrap(), "second");
    assert_eq!(owned.get_str(key).unwrap(), "second");
    assert_eq!((inline_allocs, owned_allocs), (1, 2));
}

/// A `String` is copied straight from its buffer: an overwrite with one
/// that has spare capacity, as `serde_json::to_string`'s output often
/// has, allocates the entry alone, as one of exact capacity does.
#[test]
fn a_string_with_spare_capacity_costs_no_allocation_of_its_own() {
    let _serial = serial();
    let cache: StrCache = StrCache::new();
    for value in ["first", "again"] {
        cache.insert("k".into(), value).unwrap();
    }
    let text = r#"{"id":7,"name":"Ada"}"#;
    for capacity in [text.len(), 128] {
        let mut value = String::with_capacity(capacity);
        value.push_str(text);
        crossbeam_epoch::pin().flush();
        let allocs = allocs_in(|| {
            cache.insert("k".into(), value).unwrap();
        });
        assert_eq!(allocs, 1, "a String of capacity {capacity}");
        assert_eq!(cache.get_str("k").unwrap(), text);
    }
}

#[test]
fn reads_allocate_nothing() {
    let _serial = serial();
    reads_of_allocate_nothing(StrCache::new());
}

#[test]
fn reads_allocate_nothing_with_read_counting_on() {
    let _serial = serial();
    let cache = StrCache::builder().record_reads(true).build();
    let reads = reads_of_allocate_nothing(cache);
    assert!(reads > 0);
}

/// Reads `cache` under an allocation count that must stay 0; returns the
/// reads its stats counted.
fn reads_of_allocate_nothing(cache: StrCache) -> u64 {
    let keys: Vec<String> = (0..if cfg!(miri) { 8 } else { 64 })
        .map(|i| format!("key:{i}"))
        .collect();
    for k in &keys {
        cache
            .insert(k.as_str().into(), format!("{{\"k\":\"{k}\"}}"))
            .unwrap();
    }
    // The first pin registers this thread with the epoch collector, and the
    // first counted read takes the thread's stripe.
    drop(cache.get_str("key:0"));
    // Free what earlier writers (another test of this binary) retired: the
    // collector, which a read runs every 128 pins, may allocate while it
    // frees (see the crate docs, *Allocation*).
    for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
        crossbeam_epoch::pin().flush();
    }
    let mut total = 0;
    let n = allocs_in(|| {
        for _ in 0..if cfg!(miri) { 2 } else { 100 } {
            for k in &keys {
                total += cache.get_str(k.as_str()).map_or(0, |v| v.len());
                total += usize::from(cache.get_str("missing").is_none());
                total += usize::from(cache.contains_key(k.as_str()));
            }
            let pinned = cache.pin();
            for k in &keys {
                total += pinned.get_str(k.as_str()).unwrap().len();
            }
            drop(pinned);
            // A loader's hit takes the key by reference: it makes no owned
            // key, and the loader does not run.
            for k in &keys {
                let hit = cache.get_or_insert_with(k.as_str(), || -> &str { unreachable!() });
                total += hit.unwrap().len();
            }
        }
    });
    assert!(total > 0);
    assert_eq!(n, 0, "reads allocated {n} times");
    let stats = cache.stats();
    stats.hits + stats.misses
}

/// A `LoadingCache`'s hit, fresh or stale, takes the key by reference
/// and allocates nothing; only a due read that queues a reload does.
#[test]
fn loading_cache_hits_allocate_nothing() {
    let _serial = serial();
    let clock = strcache::ManualClock::new();
    let down = std::sync::Arc::new(AtomicBool::new(false));
    let cache = {
        let down = std::sync::Arc::clone(&down);
        StrCache::<String>::builder()
            .clock(clock.clone())
            .time_to_live(std::time::Duration::from_secs(60))
            .serve_stale_for(std::time::Duration::from_secs(60))
            .cache_failures_for(std::time::Duration::from_secs(60))
            .refresh_pipeline(strcache::Pipeline::threads(1))
            .build_loading(move |key: &String| match down.load(Ordering::Relaxed) {
                true => Err("down"),
                false => Ok(format!("{{\"k\":\"{key}\"}}")),
            })
    };
    let keys: Vec<String> = (0..8).map(|i| format!("key:{i}")).collect();
    let read_all = |stale: bool| {
        let mut total = 0;
        for k in &keys {
            let v = cache.get(k.as_str()).unwrap();
            assert_eq!(v.is_stale(), stale);
            total += v.len();
        }
        assert!(total > 0);
    };
    read_all(false);
    let settle = || {
        for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
            crossbeam_epoch::pin().flush();
        }
    };
    settle();
    let n = allocs_in(|| (0..if cfg!(miri) { 2 } else { 100 }).for_each(|_| read_all(false)));
    assert_eq!(n, 0, "fresh hits allocated {n} times");
    // Stale, and the backend down: the first read of each key queues a
    // reload, which fails and is kept; the stale reads after it queue
    // nothing and allocate nothing.
    down.store(true, Ordering::Relaxed);
    clock.advance(std::time::Duration::from_secs(60));
    read_all(true);
    cache.await_refreshes();
    settle();
    let n = allocs_in(|| (0..if cfg!(miri) { 2 } else { 100 }).for_each(|_| read_all(true)));
    assert_eq!(n, 0, "stale hits allocated {n} times");
    let refreshes = cache.stats().refreshes;
    assert_eq!((refreshes.scheduled, refreshes.failed), (8, 8));
}

/// An overwrite builds its entry in a block kept from an entry of the
/// same size that its shard retired, once the collector has freed that
/// entry's batch (`spare.rs`): in a steady run of overwrites most write
/// nothing to the allocator. The blocks kept are bounded, and the cache's
/// drop frees them with the rest: had it leaked them, most of what the
/// shards kept would still be allocated.
#[test]
fn overwrites_build_in_the_blocks_of_retired_entries() {
    let _serial = serial();
    let (shards, writes) = if cfg!(miri) { (4, 400) } else { (64, 40_000) };
    let keys: Vec<String> = (0..shards * 4).map(|k| format!("key {k}")).collect();
    let values = ["x".repeat(100), "y".repeat(100)];
    let live = LIVE.load(Ordering::Relaxed);
    let cache: StrCache = StrCache::builder().shards(shards).build();
    let write = |i: usize| {
        let value: &str = &values[i / keys.len() % 2];
        let key = keys[i % keys.len()].as_str();
        cache.insert(key.into(), value.to_owned()).unwrap();
    };
    (0..writes).for_each(write);
    let allocs = allocs_in(|| (0..writes).for_each(write));
    // Each write allocates its `String`; an entry of its own would make it
    // two.
    assert!(
        allocs < writes * 5 / 4,
        "{allocs} allocations for {writes} overwrites"
    );
    let kept = usize::try_from(cache.stats().retired_bytes).unwrap();
    assert!(
        kept <= shards * (16 << 10) + (64 << 10),
        "{kept} bytes retired or kept by {shards} shards"
    );
    assert!(kept > shards * 1024, "only {kept} bytes kept");
    drop(cache);
    for _ in 0..16 {
        crossbeam_epoch::pin().flush();
    }
    let left = LIVE.load(Ordering::Relaxed).saturating_sub(live);
    assert!(
        left < kept / 2,
        "{left} of the {kept} bytes kept are left after the cache's drop"
    );
}

#[test]
fn retired_memory_stays_bounded_under_overwrites() {
    let _serial = serial();
    let (writes, keys): (usize, usize) = if cfg!(miri) {
        (500, 16)
    } else {
        (10_000_000, 1_000)
    };
    let value: Utf8Bytes = "v".repeat(128).into();
    let cache: StrCache<usize> = StrCache::builder().initial_capacity(keys).build();
    for k in 0..keys {
        cache.insert(k, value.clone()).unwrap();
    }
    let base = LIVE.load(Ordering::Relaxed);
    let peak = AtomicUsize::new(base);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut seen = 0;
                while !stop.load(Ordering::Relaxed) {
                    for k in 0..keys {
                        seen += cache.get_str(&k).map_or(0, |v| v.len());
                    }
                }
                assert!(seen > 0);
            });
        }
        for i in 0..writes {
            cache.insert(i % keys, value.clone()).unwrap();
            if i % 1024 == 0 {
                peak.fetch_max(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let growth = peak.load(Ordering::Relaxed) - base;
    // Each overwrite retires a 64-byte entry; kept, 10M of them would hold
    // over 500 MiB. The collector keeps the backlog to what a few epochs
    // retire; a reader preempted while pinned (this machine is shared)
    // holds an epoch back for its time slice, hence the margin.
    eprintln!("retired memory grew by at most {growth} bytes over {writes} overwrites");
    assert!(
        growth < 64 << 20,
        "retired memory grew by {growth} bytes over {writes} overwrites"
    );
    assert_eq!(cache.len(), keys);
}

/// A `Bytes` that `get_bytes` hands out over a copied value holds a
/// reference to its entry: it reads the value whole after the key is
/// replaced and the cache dropped and collected, and the entry's memory is
/// freed by the last such `Bytes`, not before.
#[test]
fn get_bytes_of_a_copied_value_outlives_its_entry() {
    let _serial = serial();
    let text = "x".repeat(1_000);
    let cache: StrCache<u32> = StrCache::builder().build();
    cache.insert(1, text.clone()).unwrap();
    let first = cache.get_bytes(&1).unwrap();
    let clone = first.clone();
    let last = cache.get_str(&1).unwrap().to_bytes();
    cache.insert(1, "other").unwrap();
    drop(cache);
    for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
        crossbeam_epoch::pin().flush();
    }
    assert_eq!(first, text.as_bytes());
    assert_eq!(clone, text.as_bytes());
    let live = LIVE.load(Ordering::Relaxed);
    drop((first, clone));
    let freed_first = live - LIVE.load(Ordering::Relaxed);
    assert_eq!(last, text.as_bytes());
    let live = LIVE.load(Ordering::Relaxed);
    drop(last);
    let freed_last = live - LIVE.load(Ordering::Relaxed);
    assert!(
        freed_first < text.len() && freed_last > text.len(),
        "the first holder freed {freed_first} bytes, the last {freed_last}"
    );
}

/// `insert_json` serializes into a reused per-thread buffer and copies the
/// text from there into the entry: it allocates as much as a plain insert
/// of the same text. Past 4 KiB the text gets an exact-size buffer of its
/// own, one allocation more than a plain insert, which keeps the `String`.
#[cfg(feature = "json")]
#[test]
fn insert_json_allocates_as_a_plain_insert_does() {
    let _serial = serial();
    let cache: StrCache<u32> = StrCache::builder().initial_capacity(64).build();
    // Replace each key once, so that every shard involved has the list of
    // its batch of replaced entries (`batch.rs`), which a shard allocates
    // at its first replaced entry.
    for value in ["warm", "again"] {
        for key in 0..3 {
            cache.insert(key, value).unwrap();
        }
    }
    for (fields, extra) in [(20, 0), (400, 1)] {
        let value: std::collections::BTreeMap<String, u32> =
            (0..fields).map(|i| (format!("field_{i}"), i)).collect();
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(text.len() > 4096, extra == 1, "{} bytes", text.len());
        // Warm the per-thread scratch buffer.
        cache.insert_json(0, &value).unwrap();
        let copy = text.clone();
        let plain = allocs_in(|| {
            cache.insert(1, copy).unwrap();
        });
        let json = allocs_in(|| {
            cache.insert_json(2, &value).unwrap();
        });
        assert_eq!(cache.get_str(&2).unwrap(), text);
        assert_eq!(json, plain + extra, "insert_json: {json}, insert: {plain}");
    }
}
