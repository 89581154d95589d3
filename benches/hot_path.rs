//! Single-threaded cost of one cache operation on the hot path, against the
//! maps a user would pick instead.
//!
//! Every map holds the same 100k `String` keys (10 to 22 bytes) with distinct
//! 128-byte values and hashes with `ahash::RandomState`, strcache's default.
//! One iteration runs 1,000,000 operations on keys drawn before timing from
//! Zipf(0.99) with a seeded RNG, so criterion's throughput is operations per
//! second. A lookup touches the value's length and first byte, so a lazy
//! handle is not free.
//!
//! Groups:
//! - `get_hit`: lookups of present keys. `hashmap_unsync` is an
//!   unsynchronized `std::collections::HashMap`, the floor; `strcache_pinned`
//!   and `papaya_pin_per_iter` take one pin per iteration, the rest one per
//!   lookup.
//! - `get_miss`: the same contenders, keys that are absent.
//! - `get_bytes`: strcache handing out a shared `Bytes` handle.
//! - `insert_overwrite`: overwriting present keys. strcache stores a clone of
//!   a pre-built `Utf8Bytes`, the others of a pre-built `Arc<str>`: one
//!   reference-count increment plus one key allocation each.
//! - `load_hit`: a hit through `get_or_insert_with` against `get_str`.
//! - `load_miss`: the latency of loading one missing key, by one thread and
//!   by two threads racing on it (per race, from the start signal until
//!   both have the value; the two threads spin, so run it on an idle
//!   machine with at least two cores).
//!
//! Run with `cargo bench --bench hot_path`; it takes about two minutes.

use std::{
    collections::HashMap,
    hint::{self, black_box},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    thread,
    time::{Duration, Instant},
};

use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion,
    SamplingMode, Throughput,
};
use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use strcache::{StrCache, Utf8Bytes};

#[path = "support/workload.rs"]
mod workload;
use workload::{key, touch, value_for};

/// The hasher every map uses.
type Hasher = ahash::RandomState;

/// Keys present in every map.
const KEYS: usize = 100_000;

/// Operations per iteration.
const OPS: usize = 1_000_000;

/// Keys, values and the pre-drawn key sequence.
struct Data {
    /// Present keys; `values[i]` belongs to `hits[i]`.
    hits: Vec<String>,
    /// Absent keys of the same shape as `hits`.
    misses: Vec<String>,
    /// Each value in the form strcache stores and in the form the others do.
    values: Vec<(Utf8Bytes, Arc<str>)>,
    /// Indices into `hits` or `misses`, Zipf(0.99)-distributed.
    sequence: Vec<u32>,
}

impl Data {
    fn new() -> Data {
        let hits: Vec<String> = (0..KEYS).map(key).collect();
        let misses = (KEYS..2 * KEYS).map(key).collect();
        let values = hits
            .iter()
            .map(|k| {
                let text = value_for(k);
                (Utf8Bytes::from(text.clone()), Arc::from(text))
            })
            .collect();
        let zipf = Zipf::new(KEYS as f64, 0.99).expect("valid Zipf parameters");
        let mut rng = SmallRng::seed_from_u64(0x5eed);
        // Zipf yields 1..=KEYS.
        let sequence = (0..OPS).map(|_| zipf.sample(&mut rng) as u32 - 1).collect();
        Data {
            hits,
            misses,
            values,
            sequence,
        }
    }
}

/// The maps under test, each filled with every key of [`Data::hits`].
struct Maps {
    strcache: StrCache,
    floor: HashMap<String, Arc<str>, Hasher>,
    locked: RwLock<HashMap<String, Arc<str>, Hasher>>,
    dashmap: dashmap::DashMap<String, Arc<str>, Hasher>,
    papaya: papaya::HashMap<String, Arc<str>, Hasher>,
}

impl Maps {
    fn new(data: &Data) -> Maps {
        let pairs = || {
            data.hits
                .iter()
                .cloned()
                .zip(data.values.iter().map(|(_, shared)| shared.clone()))
        };
        let strcache = StrCache::builder().initial_capacity(KEYS).build();
        for (k, (bytes, _)) in data.hits.iter().zip(&data.values) {
            strcache.insert(k.as_str().into(), bytes.clone()).unwrap();
        }
        let papaya = papaya::HashMap::with_capacity_and_hasher(KEYS, Hasher::new());
        {
            let papaya = papaya.pin();
            pairs().for_each(|(k, v)| {
                papaya.insert(k, v);
            });
        }
        Maps {
            strcache,
            floor: pairs().collect(),
            locked: RwLock::new(pairs().collect()),
            dashmap: pairs().collect(),
            papaya,
        }
    }
}

/// Runs `op` on every index of `sequence`, summing what it returns.
#[inline]
fn sweep(sequence: &[u32], mut op: impl FnMut(usize) -> usize) -> usize {
    sequence
        .iter()
        .fold(0, |sum, &i| sum.wrapping_add(op(i as usize)))
}

/// A group measured in operations per second, one sample per few iterations.
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(OPS as u64));
    group.sampling_mode(SamplingMode::Flat);
    group
}

/// Lookups of `keys[i]` for each `i` of the sequence, in every map.
fn lookups(c: &mut Criterion, name: &str, maps: &Maps, keys: &[String], sequence: &[u32]) {
    let mut g = group(c, name);
    g.bench_function("strcache_get_str", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.strcache
                    .get_str(keys[i].as_str())
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("strcache_pinned", |b| {
        b.iter(|| {
            let pinned = maps.strcache.pin();
            sweep(sequence, |i| {
                pinned
                    .get_str(keys[i].as_str())
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("hashmap_unsync", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.floor.get(&keys[i]).map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("rwlock_hashmap", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                let map = maps.locked.read().expect("not poisoned");
                map.get(&keys[i]).map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("dashmap", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.dashmap
                    .get(&keys[i])
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("papaya_pin_per_iter", |b| {
        b.iter(|| {
            let pinned = maps.papaya.pin();
            sweep(sequence, |i| {
                pinned.get(&keys[i]).map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("papaya_pin_per_call", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.papaya
                    .pin()
                    .get(&keys[i])
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.finish();
}

/// strcache's `get_bytes`, which clones a `Bytes` handle per hit.
fn get_bytes(c: &mut Criterion, maps: &Maps, data: &Data) {
    let mut g = group(c, "get_bytes");
    g.bench_function("strcache_get_bytes", |b| {
        b.iter(|| {
            sweep(&data.sequence, |i| {
                maps.strcache
                    .get_bytes(data.hits[i].as_str())
                    .map_or(0, |v| touch(&v))
            })
        })
    });
    g.finish();
}

/// Overwrites of present keys with their own (pre-built) values.
fn insert_overwrite(c: &mut Criterion, maps: &Maps, data: &Data) {
    let (keys, values, sequence) = (&data.hits, &data.values, &data.sequence);
    let mut g = group(c, "insert_overwrite");
    // An iteration takes up to ~400 ms here: 10 samples need more than the
    // 3 s the lookup groups get.
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("strcache", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.strcache
                    .insert(keys[i].as_str().into(), values[i].0.clone())
                    .unwrap();
                0
            })
        })
    });
    g.bench_function("rwlock_hashmap", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                let mut map = maps.locked.write().expect("not poisoned");
                map.insert(keys[i].clone(), values[i].1.clone());
                0
            })
        })
    });
    g.bench_function("dashmap", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.dashmap.insert(keys[i].clone(), values[i].1.clone());
                0
            })
        })
    });
    g.bench_function("papaya", |b| {
        b.iter(|| {
            sweep(sequence, |i| {
                maps.papaya
                    .pin()
                    .insert(keys[i].clone(), values[i].1.clone());
                0
            })
        })
    });
    g.finish();
}

/// `get_str` hits on four caches holding the same entries: unbounded
/// without expiry, counting hits and misses (`record_reads`), bounded
/// (readers mark the entries they read), and with a time to live on every
/// entry (each hit reads the clock).
fn get_hit_variants(c: &mut Criterion, maps: &Maps, data: &Data) {
    let filled = |cache: StrCache| {
        for (k, (bytes, _)) in data.hits.iter().zip(&data.values) {
            cache.insert(k.as_str().into(), bytes.clone()).unwrap();
        }
        cache
    };
    // Sized up front like `Maps::strcache`, so only the variant differs.
    let counted = filled(
        StrCache::builder()
            .initial_capacity(KEYS)
            .record_reads(true)
            .build(),
    );
    let bounded = filled(
        StrCache::builder()
            .initial_capacity(KEYS)
            .max_entries(2 * KEYS as u64)
            .build(),
    );
    let expiring = filled(
        StrCache::builder()
            .initial_capacity(KEYS)
            .time_to_live(Duration::from_secs(3_600))
            .build(),
    );
    let mut g = group(c, "get_hit_variants");
    for (name, cache) in [
        ("unbounded", &maps.strcache),
        ("reads_counted", &counted),
        ("bounded", &bounded),
        ("ttl", &expiring),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                sweep(&data.sequence, |i| {
                    cache
                        .get_str(data.hits[i].as_str())
                        .map_or(0, |v| touch(v.as_bytes()))
                })
            })
        });
    }
    g.finish();
}

/// Loading: a hit through `get_or_insert_with` against `get_str`, on a
/// cache with `u64` keys so neither pays for building an owned key; then
/// the latency of a miss loaded by one thread alone and by two threads
/// racing on it (one runs the loader, the other waits for its value).
fn load(c: &mut Criterion, data: &Data) {
    let cache: StrCache<u64> = StrCache::builder().initial_capacity(KEYS).build();
    for (i, (bytes, _)) in data.values.iter().enumerate() {
        cache.insert(i as u64, bytes.clone()).unwrap();
    }
    let mut g = group(c, "load_hit");
    g.bench_function("get_str", |b| {
        b.iter(|| {
            sweep(&data.sequence, |i| {
                cache
                    .get_str(&(i as u64))
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.bench_function("get_or_insert_with", |b| {
        b.iter(|| {
            sweep(&data.sequence, |i| {
                cache
                    .get_or_insert_with(&(i as u64), || -> &str { unreachable!("a hit") })
                    .map_or(0, |v| touch(v.as_bytes()))
            })
        })
    });
    g.finish();

    // Each iteration loads one fresh key and removes it again, so the
    // table stays the same size; the value is built by the loader.
    let mut g = c.benchmark_group("load_miss");
    let value = |k: u64| value_for(&key(k as usize));
    g.bench_function("1_thread", |b| {
        let mut next = 1 << 40;
        b.iter(|| {
            next += 1;
            let len = cache
                .get_or_insert_with(&next, || value(next))
                .unwrap()
                .len();
            cache.remove(&next);
            len
        })
    });
    // The two threads meet by spinning on a counter, not on a blocking
    // barrier, whose sleep and wake-up would cost more than the load.
    g.bench_function("2_threads_racing", |b| {
        b.iter_custom(|iters| {
            let (started, finished) = (AtomicU64::new(0), AtomicU64::new(0));
            let base = 1 << 41;
            thread::scope(|s| {
                s.spawn(|| {
                    for k in base..base + iters {
                        while started.load(Ordering::Acquire) != k {
                            hint::spin_loop();
                        }
                        black_box(cache.get_or_insert_with(&k, || value(k)).unwrap().len());
                        finished.store(k, Ordering::Release);
                    }
                });
                let began = Instant::now();
                for k in base..base + iters {
                    started.store(k, Ordering::Release);
                    black_box(cache.get_or_insert_with(&k, || value(k)).unwrap().len());
                    while finished.load(Ordering::Acquire) != k {
                        hint::spin_loop();
                    }
                    cache.remove(&k);
                }
                began.elapsed()
            })
        })
    });
    g.finish();
}

/// Builds the data once and runs every group on it.
fn hot_path(c: &mut Criterion) {
    let data = Data::new();
    let maps = Maps::new(&data);
    lookups(c, "get_hit", &maps, &data.hits, &data.sequence);
    lookups(c, "get_miss", &maps, &data.misses, &data.sequence);
    get_bytes(c, &maps, &data);
    get_hit_variants(c, &maps, &data);
    insert_overwrite(c, &maps, &data);
    load(c, &data);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = hot_path
}
criterion_main!(benches);
