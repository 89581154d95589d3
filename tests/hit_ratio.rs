//! Hit ratio on a real trace: strcache's policy keeps at least what an
//! exact LRU keeps on the OLTP trace (where recency matters most), replayed
//! side by side at two capacities. The full comparison with moka and
//! quick_cache is `examples/hit_ratio.rs`.

use std::num::NonZeroUsize;

use strcache::StrCache;

#[path = "support/traces.rs"]
mod traces;

/// Hits of a get-or-insert replay of `keys` on strcache.
fn strcache_hits(capacity: u64, keys: &[u64]) -> usize {
    let cache: StrCache<u64> = StrCache::builder().max_entries(capacity).build();
    keys.iter()
        .filter(|&&k| {
            let hit = cache.get_str(&k).is_some();
            if !hit {
                cache.insert(k, "").unwrap();
            }
            hit
        })
        .count()
}

/// Hits of the same replay on an exact LRU.
fn lru_hits(capacity: u64, keys: &[u64]) -> usize {
    let mut lru = lru::LruCache::new(NonZeroUsize::new(capacity as usize).unwrap());
    keys.iter()
        .filter(|&&k| {
            let hit = lru.get(&k).is_some();
            if !hit {
                lru.put(k, ());
            }
            hit
        })
        .count()
}

#[test]
#[cfg_attr(miri, ignore = "replays 900,000 requests")]
fn oltp_hit_ratio_is_at_least_lru() {
    let keys = traces::requests("OLTP");
    for capacity in [1_000, 5_000] {
        let (ours, lru) = (strcache_hits(capacity, &keys), lru_hits(capacity, &keys));
        let pct = |hits| 100.0 * hits as f64 / keys.len() as f64;
        assert!(
            ours >= lru,
            "OLTP at {capacity} entries: strcache {:.2}%, LRU {:.2}%",
            pct(ours),
            pct(lru)
        );
    }
}
