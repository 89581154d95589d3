//! Hit ratio on the ARC paper's traces (`traces/`), one thread, capacity in
//! entries, as a get-or-insert replay: each request reads its key and, on
//! a miss, inserts it. strcache beside an exact LRU (the `lru` crate),
//! moka and quick_cache, all replayed in the same run.
//!
//! ```text
//! cargo run --release --example hit_ratio            # all 11 points
//! cargo run --release --example hit_ratio -- OLTP    # one trace
//! cargo run --release --example hit_ratio -- P6 65536 strcache
//! ```
//!
//! Each argument is a trace name, a capacity or a cache name (`lru`,
//! `moka`, `quick_cache`, `strcache`); the run keeps the points and the
//! caches that match the arguments of each kind given, and skips the
//! columns of caches left out.

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

/// The caches of the comparison, by the name an argument selects them with.
const CACHES: [&str; 4] = ["lru", "moka", "quick_cache", "strcache"];

/// A new cache named `name` (one of [`CACHES`]) of `capacity` entries.
fn cache(name: &str, capacity: u64) -> Box<dyn Replay> {
    let n = NonZeroUsize::new(capacity as usize).expect("capacities are positive");
    match name {
        "lru" => Box::new(Lru(lru::LruCache::new(n))),
        "moka" => Box::new(Moka(moka::sync::Cache::new(capacity))),
        "quick_cache" => Box::new(QuickCache(quick_cache::sync::Cache::new(capacity as usize))),
        _ => Box::new(Strcache(
            strcache::StrCache::builder().max_entries(capacity).build(),
        )),
    }
}

/// Whether `value` passes the filter `wanted`: it is in it, or it is empty.
fn selected<T: PartialEq>(wanted: &[T], value: &T) -> bool {
    wanted.is_empty() || wanted.contains(value)
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let mut traces = Vec::new();
    let mut capacities = Vec::new();
    let mut caches = Vec::new();
    for arg in &args {
        if let Some(&name) = CACHES.iter().find(|&&name| name == arg) {
            caches.push(name);
        } else if let Ok(capacity) = arg.replace(',', "").parse::<u64>() {
            capacities.push(capacity);
        } else if POINTS.iter().any(|&(trace, _)| trace == arg) {
            traces.push(arg.as_str());
        } else {
            panic!("{arg:?} is no trace, capacity or cache of {POINTS:?}, {CACHES:?}");
        }
    }
    let columns: Vec<&str> = CACHES
        .into_iter()
        .filter(|name| selected(&caches, name))
        .collect();
    let titles: Vec<&str> = columns
        .iter()
        .map(|&name| match name {
            "lru" => "LRU",
            "moka" => "moka 0.12",
            "quick_cache" => "quick_cache 0.7",
            other => other,
        })
        .collect();
    println!("| trace | capacity | {} |", titles.join(" | "));
    println!("|---|--:|{}", "--:|".repeat(columns.len()));
    let started = Instant::now();
    for &(trace, trace_capacities) in POINTS {
        if !selected(&traces, &trace) {
            continue;
        }
        let keys = traces::requests(trace);
        for &capacity in trace_capacities {
            if !selected(&capacities, &capacity) {
                continue;
            }
            let ratios: Vec<String> = columns
                .iter()
                .map(|&name| format!("{:.2}", replay(cache(name, capacity).as_mut(), &keys)))
                .collect();
            println!("| {trace} | {capacity} | {} |", ratios.join(" | "));
        }
    }
    eprintln!("replayed in {:.0?}", started.elapsed());
}
