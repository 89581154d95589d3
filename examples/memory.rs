//! Heap bytes per entry beyond the key and value bytes, for strcache and
//! the maps a user would pick instead.
//!
//! Every contender is filled with the same `N` entries (23-byte `String`
//! keys, 128-byte `String` values whose length equals their capacity), and
//! a counting global allocator reports the live heap they hold. Figures are
//! requested bytes, so allocator rounding is not included.
//!
//! Run with `cargo run --release --example memory [-- ENTRIES]`.

use std::{cell::RefCell, collections::HashMap, hint::black_box, sync::atomic::Ordering};

#[path = "../tests/support/counting.rs"]
mod counting;
use counting::{Counting, LIVE};

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY_LEN: usize = 23;
const VALUE_LEN: usize = 128;

fn key(i: usize) -> String {
    let k = format!("user:session:{i:010}");
    debug_assert_eq!(k.len(), KEY_LEN);
    k
}

fn value(i: usize) -> String {
    let mut v = String::with_capacity(VALUE_LEN);
    v.push_str(&format!("{{\"id\":{i}"));
    while v.len() < VALUE_LEN - 1 {
        v.push(' ');
    }
    v.push('}');
    v
}

/// Fills a map built by `build` and returns its overhead per entry.
fn measure<M>(n: usize, build: impl FnOnce() -> M, insert: impl Fn(&M, String, String)) -> f64 {
    measure_settled(n, build, insert, |_| ())
}

/// As `measure`, running `settle` (a cache's deferred bookkeeping) before
/// counting.
fn measure_settled<M>(
    n: usize,
    build: impl FnOnce() -> M,
    insert: impl Fn(&M, String, String),
    settle: impl Fn(&M),
) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let map = build();
    for i in 0..n {
        insert(&map, key(i), value(i));
    }
    settle(&map);
    let held = LIVE.load(Ordering::Relaxed) - before;
    black_box(&map);
    drop(map);
    (held as f64 - (n * (KEY_LEN + VALUE_LEN)) as f64) / n as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().expect("ENTRIES is a number"));
    println!("heap overhead per entry beyond key and value bytes, {n} entries");
    println!("| crate | bytes/entry |");
    println!("|---|--:|");
    let row = |name: &str, bytes: f64| println!("| {name} | {bytes:.1} |");
    row(
        "strcache",
        measure(n, strcache::StrCache::new, |m, k, v| {
            m.insert(k, v).unwrap();
        }),
    );
    row(
        "strcache (bounded, max_entries = entries)",
        measure(
            n,
            || strcache::StrCache::builder().max_entries(n as u64).build(),
            |m, k, v| {
                m.insert(k, v).unwrap();
            },
        ),
    );
    row(
        "std HashMap (unsynchronized)",
        measure(
            n,
            || RefCell::new(HashMap::new()),
            |m, k, v| {
                m.borrow_mut().insert(k, v);
            },
        ),
    );
    row(
        "dashmap",
        measure(n, dashmap::DashMap::new, |m, k, v| {
            m.insert(k, v);
        }),
    );
    row(
        "papaya",
        measure(n, papaya::HashMap::new, |m, k, v| {
            m.pin().insert(k, v);
        }),
    );
    row(
        "scc",
        measure(n, scc::HashMap::new, |m, k, v| {
            let _ = m.upsert_sync(k, v);
        }),
    );
    row(
        "moka",
        measure_settled(
            n,
            || moka::sync::Cache::new(u64::MAX),
            |m: &moka::sync::Cache<String, String>, k, v| m.insert(k, v),
            moka::sync::Cache::run_pending_tasks,
        ),
    );
    row(
        "quick_cache",
        measure(
            n,
            || quick_cache::sync::Cache::new(n),
            |m: &quick_cache::sync::Cache<String, String>, k, v| m.insert(k, v),
        ),
    );
}
