//! Writes only, for counting their instructions with callgrind: `n` inserts
//! of new keys, `n` overwrites, `n` removals and `n` re-inserts into an
//! unbounded cache of 8 shards.
//!
//! ```text
//! cargo build --release --example writes
//! valgrind --tool=callgrind target/release/examples/writes 1000
//! valgrind --tool=callgrind target/release/examples/writes 101000
//! ```
//!
//! The difference of the two totals over 400,000 is the cost of one write,
//! start-up and the harness's loop excluded.

use strcache::StrCache;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("usage: writes N");
    let cache: StrCache<u64> = StrCache::builder().shards(8).build();
    for i in 0..n {
        cache.insert(i, "value").unwrap();
    }
    for i in 0..n {
        cache.insert(i, "other").unwrap();
    }
    for i in 0..n {
        cache.remove(&i);
    }
    for i in 0..n {
        cache.insert(i, "again").unwrap();
    }
    std::hint::black_box(cache.len());
}
