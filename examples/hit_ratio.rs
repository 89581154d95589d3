//! Hit ratio on the ARC paper's traces (`traces/`), one thread, capacity in
//! entries, as a get-or-insert replay: each request reads its key and, on
//! a miss, inserts it. strcache beside an exact LRU (the `lru` crate),
//! moka and quick_cache, all replayed in the same run.
//!
//! ```text
//! cargo run --release --example hit_ratio            # all 11 points
//! cargo run --release --example hit_ratio -- OLTP    # one trace
//! ```

use std::{env, num::NonZeroUsize, time::Instant};

#[path = "../tests/support/traces.rs"]
mod traces;

/// The points of the comparison: each trace at the capacities the ARC
/// paper reports.
const POINTS: &[(&str, &[u64])] = &[
    ("OLTP", &[1_000, 2_000, 5_000, 10_000, 15_000]),
    ("P3", &[4_096, 16_384, 65_536]),
    ("P6", &[4_096, 16_384, 65_536]),
];

/// A cache as the replay sees it.
trait Replay {
    /// Reads `key`; on a miss inserts it. Returns whether it was a hit.
    fn request(&mut self, key: u64) -> bool;
}

struct Strcache(strcache::StrCache<u64>);

impl Replay for Strcache {
    fn request(&mut self, key: u64) -> bool {
        if self.0.get_str(&key).is_some() {
            return true;
        }
        self.0.insert(key, "").expect("weight 1 fits");
        false
    }
}

/// Implements [`Replay`] for a peer's single-key get and insert methods.
macro_rules! replay {
    ($name:ident($cache:ty), $insert:ident) => {
        struct $name($cache);

        impl Replay for $name {
            fn request(&mut self, key: u64) -> bool {
                if self.0.get(&key).is_some() {
                    return true;
                }
                self.0.$insert(key, ());
                false
            }
        }
    };
}

replay!(Lru(lru::LruCache<u64, ()>), put);
replay!(Moka(moka::sync::Cache<u64, ()>), insert);
replay!(QuickCache(quick_cache::sync::Cache<u64, ()>), insert);

/// Hit ratio in percent of `cache` over `keys`.
fn replay(cache: &mut dyn Replay, keys: &[u64]) -> f64 {
    let hits = keys.iter().filter(|&&k| cache.request(k)).count();
    100.0 * hits as f64 / keys.len() as f64
}

fn main() {
    let only: Vec<String> = env::args().skip(1).collect();
    println!("| trace | capacity | LRU | moka 0.12 | quick_cache 0.7 | strcache |");
    println!("|---|--:|--:|--:|--:|--:|");
    let started = Instant::now();
    for &(trace, capacities) in POINTS {
        if !only.is_empty() && !only.iter().any(|t| t == trace) {
            continue;
        }
        let keys = traces::requests(trace);
        for &capacity in capacities {
            let n = NonZeroUsize::new(capacity as usize).expect("capacities are positive");
            let mut caches: [Box<dyn Replay>; 4] = [
                Box::new(Lru(lru::LruCache::new(n))),
                Box::new(Moka(moka::sync::Cache::new(capacity))),
                Box::new(QuickCache(quick_cache::sync::Cache::new(capacity as usize))),
                Box::new(Strcache(
                    strcache::StrCache::builder().max_entries(capacity).build(),
                )),
            ];
            let ratios: Vec<String> = caches
                .iter_mut()
                .map(|c| format!("{:.2}", replay(c.as_mut(), &keys)))
                .collect();
            println!("| {trace} | {capacity} | {} |", ratios.join(" | "));
        }
    }
    eprintln!("replayed in {:.0?}", started.elapsed());
}
