//! `stats()`: every counter against the operations that produced it, the
//! striped read counters under threads, and the `serde` and `metrics`
//! exports.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    thread,
    time::Duration,
};

use strcache::{ManualClock, StrCache};

#[path = "support/collect.rs"]
mod collect;
use collect::collect_until;

#[test]
fn counters_match_a_single_threaded_script() {
    let clock = ManualClock::new();
    let cache = StrCache::<u32>::builder()
        .max_entries(3)
        .clock(clock.clone())
        .record_reads(true)
        .build();
    for k in 1..=3 {
        cache.insert(k, "v").unwrap();
    }
    cache.insert(2, "w").unwrap();
    assert!(cache.get_str(&1).is_some());
    assert!(cache.get_str(&9).is_none());
    assert!(cache.get_bytes(&2).is_some());
    assert!(cache.pin().get_str(&3).is_some());
    assert!(cache.contains_key(&1), "not counted as a read");
    cache.insert(4, "v").unwrap(); // evicts one entry
    let present = (1..=4).find(|k| cache.contains_key(k)).unwrap();
    assert!(cache.remove(&present).is_some());
    cache
        .insert_with_ttl(5, "v", Duration::from_secs(1))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert!(cache.get_str(&5).is_none(), "expired: a miss");
    cache.purge_expired();
    assert_eq!(cache.len(), 2);
    cache.retain(|_, _| false);
    cache.insert(6, "v").unwrap();
    cache.clear();
    assert_eq!(cache.get_or_insert_with(&7, || "v").unwrap(), "v");
    assert_eq!(cache.get_or_insert_with(&7, || "x").unwrap(), "v");
    assert!(cache
        .try_get_or_insert_with(&8, || Err::<&str, _>(()))
        .is_err());
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        cache.get_or_insert_with(&8, || -> &str { panic!("loader") })
    }));
    assert!(panicked.is_err());

    let stats = cache.stats();
    assert!(stats.reads_recorded);
    assert_eq!((stats.hits, stats.misses), (4, 5));
    assert_eq!((stats.inserts, stats.updates), (7, 1));
    assert_eq!(
        (stats.evictions, stats.expirations, stats.removals),
        (1, 1, 4)
    );
    assert_eq!(
        (
            stats.loads.succeeded,
            stats.loads.failed,
            stats.loads.panicked
        ),
        (1, 1, 1)
    );
    assert_eq!((stats.entries, stats.weight), (1, Some(1)));
}

#[test]
fn clear_counts_expired_entries_as_expirations() {
    let clock = ManualClock::new();
    let cache = StrCache::<u32>::builder().clock(clock.clone()).build();
    cache.insert(1, "v").unwrap();
    cache
        .insert_with_ttl(2, "v", Duration::from_secs(1))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    cache.clear();
    let stats = cache.stats();
    assert_eq!((stats.removals, stats.expirations), (1, 1));
    assert_eq!((stats.entries, stats.weight), (0, None));
    assert!(!stats.reads_recorded);
    assert_eq!((stats.hits, stats.misses), (0, 0));
}

/// A listener that panics at the first report still leaves every cleared
/// entry counted: the counts are taken under each shard's lock, before any
/// report.
#[test]
fn clear_counts_every_entry_when_the_listener_panics() {
    let cache = StrCache::<u32>::builder()
        .shards(4)
        .on_evict(|_: &u32, _, _| panic!("listener"))
        .build();
    for k in 0..100 {
        cache.insert(k, "v").unwrap();
    }
    assert!(catch_unwind(AssertUnwindSafe(|| cache.clear())).is_err());
    let stats = cache.stats();
    assert_eq!(
        (stats.inserts, stats.removals, stats.entries),
        (100, 100, 0)
    );
}

/// The counts of inserts and unlinks change only under their shard's lock,
/// with a load and a store: writers on every thread, on keys of every
/// shard, lose none of them. In the bounded cache, victims of one shard
/// are evicted by writers of others.
#[test]
fn writer_counts_are_exact_under_concurrent_writers() {
    let (threads, keys) = if cfg!(miri) { (3, 20) } else { (4, 5_000) };
    for bound in [None, Some(u64::from(keys))] {
        let builder = StrCache::<u32>::builder().shards(8);
        let cache = match bound {
            Some(max) => builder.max_entries(max).build(),
            None => builder.build(),
        };
        thread::scope(|s| {
            for t in 0..threads {
                let cache = &cache;
                s.spawn(move || {
                    let mine = (0..keys).map(|i| i * threads + t);
                    for k in mine.clone() {
                        cache.insert(k, "v").unwrap();
                    }
                    for k in mine.clone().filter(|k| k % 2 == 0) {
                        cache.remove(&k);
                    }
                });
            }
        });
        let stats = cache.stats();
        let total = u64::from(threads * keys);
        assert_eq!(stats.inserts, total, "{bound:?}");
        assert_eq!(stats.updates, 0, "{bound:?}");
        let left = stats.removals + stats.evictions + stats.expirations;
        assert_eq!(stats.inserts - left, stats.entries, "{bound:?}");
        if bound.is_none() {
            assert_eq!((stats.removals, stats.evictions), (total / 2, 0));
        } else {
            assert!(stats.evictions > 0, "{stats:?}");
        }
    }
}

#[cfg(feature = "async")]
#[test]
fn a_dropped_async_load_counts_as_cancelled() {
    use std::{future::Future, pin::pin, task};

    let cache: StrCache = StrCache::new();
    {
        let mut load = pin!(cache.get_or_insert_with_async("k", std::future::pending::<&str>()));
        let mut cx = task::Context::from_waker(task::Waker::noop());
        assert!(load.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(cache.stats().loads.cancelled, 1);
    assert!(cache.get_str("k").is_none());
}

#[test]
fn striped_read_counts_sum_exactly_across_threads() {
    let (threads, reads) = if cfg!(miri) { (3, 20) } else { (8, 20_000) };
    let cache = StrCache::<u32>::builder().record_reads(true).build();
    cache.insert(0, "hot").unwrap();
    thread::scope(|s| {
        for t in 0..threads {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..reads {
                    // Each thread hits on even steps and misses on odd ones.
                    let key = if i % 2 == 0 { 0 } else { 1 + t };
                    drop(cache.get_str(&key));
                }
            });
        }
    });
    let stats = cache.stats();
    let total = u64::from(threads * reads);
    assert_eq!((stats.hits, stats.misses), (total / 2, total / 2));
    assert_eq!(stats.hit_ratio(), Some(0.5));
}

#[test]
fn retired_bytes_are_counted_until_freed() {
    let cache: StrCache = StrCache::new();
    cache.insert("k".into(), "x".repeat(10_000)).unwrap();
    let held = cache.get_str("k").unwrap();
    cache.insert("k".into(), "new").unwrap();
    assert!(cache.stats().retired_bytes >= 10_000);
    assert_eq!(held.len(), 10_000);
    drop(held);
    collect_until(|| cache.stats().retired_bytes < 10_000);
}

#[test]
fn display_names_every_counter() {
    let cache = StrCache::<u32>::builder().record_reads(true).build();
    cache.insert(1, "v").unwrap();
    drop(cache.get_str(&1));
    let line = cache.stats().to_string();
    for part in [
        "hits 1, misses 0 (100.0% hit)",
        "inserts 1",
        "updates 0",
        "removals 0",
        "evictions 0",
        "expirations 0",
        "loads 0 ok 0 failed 0 panicked 0 cancelled 0 timed out 0 waited 0 superseded",
        "1 entries",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    assert!(!line.contains("weight"), "{line}");
    let off = StrCache::<u32>::builder().build().stats().to_string();
    assert!(off.starts_with("reads not recorded, inserts 0"), "{off}");
}

#[cfg(feature = "serde")]
#[test]
fn stats_serialize_with_every_field() {
    let cache = StrCache::<u32>::builder().max_entries(10).build();
    cache.insert(1, "v").unwrap();
    let json = serde_json::to_value(cache.stats()).unwrap();
    assert_eq!(json["inserts"], 1);
    assert_eq!(json["weight"], 1);
    assert_eq!(json["reads_recorded"], false);
    assert_eq!(json["loads"]["succeeded"], 0);
    assert_eq!(json["loads"]["cached_failures"], 0);
    assert_eq!(json["refreshes"]["stale_served"], 0);
    assert_eq!(json.as_object().unwrap().len(), 13);
}

#[cfg(feature = "metrics")]
mod metrics_export {
    use std::{
        collections::BTreeMap,
        sync::{Arc, Mutex},
    };

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder,
        SharedString, Unit,
    };

    /// Every value recorded, by name and sorted labels.
    type Values = Arc<Mutex<BTreeMap<String, f64>>>;

    /// A recorder that keeps the last value of each metric.
    #[derive(Default)]
    struct Last(Values);

    /// One metric of `Last`.
    struct Slot(String, Values);

    impl CounterFn for Slot {
        fn increment(&self, value: u64) {
            *self.1.lock().unwrap().entry(self.0.clone()).or_default() += value as f64;
        }
        fn absolute(&self, value: u64) {
            self.1.lock().unwrap().insert(self.0.clone(), value as f64);
        }
    }

    impl GaugeFn for Slot {
        fn increment(&self, value: f64) {
            *self.1.lock().unwrap().entry(self.0.clone()).or_default() += value;
        }
        fn decrement(&self, value: f64) {
            GaugeFn::increment(self, -value);
        }
        fn set(&self, value: f64) {
            self.1.lock().unwrap().insert(self.0.clone(), value);
        }
    }

    impl Last {
        fn slot(&self, key: &Key) -> Arc<Slot> {
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Arc::new(Slot(name, Arc::clone(&self.0)))
        }
    }

    impl Recorder for Last {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.slot(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.slot(key))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn export_sets_prometheus_style_counters_and_gauges() {
        let cache = strcache::StrCache::<u32>::builder()
            .record_reads(true)
            .max_entries(1)
            .build();
        cache.insert(1, "v").unwrap();
        cache.insert(2, "v").unwrap();
        drop(cache.get_str(&3));
        let recorder = Last::default();
        let values = Arc::clone(&recorder.0);
        metrics::with_local_recorder(&recorder, || cache.stats().export_metrics("users"));
        let values = values.lock().unwrap();
        let get = |name: &str| values.get(name).copied();
        assert_eq!(
            get("strcache_requests_total{cache=users,result=miss}"),
            Some(1.0)
        );
        assert_eq!(
            get("strcache_requests_total{cache=users,result=hit}"),
            Some(0.0)
        );
        assert_eq!(get("strcache_inserts_total{cache=users}"), Some(2.0));
        assert_eq!(
            get("strcache_evictions_total{cache=users,cause=size}"),
            Some(1.0)
        );
        assert_eq!(
            get("strcache_loads_total{cache=users,result=success}"),
            Some(0.0)
        );
        assert_eq!(get("strcache_entries{cache=users}"), Some(1.0));
        assert_eq!(get("strcache_weight{cache=users}"), Some(1.0));
        assert!(get("strcache_retired_bytes{cache=users}").is_some());
        assert_eq!(
            get("strcache_refreshes_total{cache=users,result=dropped}"),
            Some(0.0)
        );
        assert_eq!(get("strcache_stale_served_total{cache=users}"), Some(0.0));
        assert_eq!(values.len(), 23, "{values:#?}");
    }
}
