//! Reads only, for counting their instructions (and, with callgrind's cache
//! simulator, their cache misses): `n` hits by one map, on 16 hot keys or
//! on a table of many keys.
//!
//! ```text
//! cargo build --release --example reads
//! valgrind --tool=callgrind target/release/examples/reads strcache 16 1000
//! valgrind --tool=callgrind target/release/examples/reads strcache 16 101000
//! valgrind --tool=callgrind --cache-sim=yes target/release/examples/reads strcache 1000000 1000
//! valgrind --tool=callgrind --cache-sim=yes target/release/examples/reads strcache 1000000 101000
//! ```
//!
//! The arguments are the map (`strcache`, `pinned` for one `Pinned` over
//! every read, `papaya`, `dashmap`, `hashmap` for `std`'s unsynchronized
//! one), the number of keys, and `n`. Every map holds the same 23-byte
//! `String` keys and 128-byte values, hashes with `ahash::RandomState` under fixed seeds, and
//! is filled the same way; each read looks up the key a xorshift sequence
//! picks, the same sequence for every map. The difference of two totals
//! over the difference of the `n`s is the cost of one hit, start-up, the
//! fill and the key choice (the same for every map) included only in
//! both.

use std::{collections::HashMap, hint::black_box, sync::Arc};

use strcache::StrCache;

type Hasher = ahash::RandomState;

/// A fixed-key hasher: the same probe paths in every run, so that two
/// runs' totals differ only by their reads.
fn hasher() -> Hasher {
    ahash::RandomState::with_seeds(1, 2, 3, 4)
}

/// The `i`th key: 23 bytes.
fn key(i: usize) -> String {
    format!("user:{i:018}")
}

/// The key index of read `r` among `keys`: a xorshift step, cheap and the
/// same for every map.
fn pick(state: &mut u64, keys: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % keys as u64) as usize
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: reads strcache|pinned|papaya|dashmap|hashmap KEYS N";
    let map = args.next().expect(usage);
    let keys: usize = args.next().and_then(|k| k.parse().ok()).expect(usage);
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let names: Vec<String> = (0..keys).map(key).collect();
    let value: Arc<str> = "v".repeat(128).into();
    let mut state = 0x9E37_79B9_7F4A_7C15;
    let mut total = 0;
    match map.as_str() {
        "strcache" | "pinned" => {
            let cache: StrCache<String, Hasher> = StrCache::builder()
                .hasher(hasher())
                .initial_capacity(keys)
                .build();
            for name in &names {
                cache.insert(name.clone(), Arc::clone(&value)).unwrap();
            }
            if map == "pinned" {
                let pinned = cache.pin();
                for _ in 0..n {
                    let name = &names[pick(&mut state, keys)];
                    total += black_box(pinned.get_str(name.as_str()).map_or(0, str::len));
                }
            } else {
                for _ in 0..n {
                    let name = &names[pick(&mut state, keys)];
                    total += black_box(cache.get_str(name.as_str()).map_or(0, |v| v.len()));
                }
            }
        }
        "papaya" => {
            let map = papaya::HashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.pin().insert(name.clone(), Arc::clone(&value));
            }
            for _ in 0..n {
                let name = &names[pick(&mut state, keys)];
                total += black_box(map.pin().get(name.as_str()).map_or(0, |v| v.len()));
            }
        }
        "dashmap" => {
            let map = dashmap::DashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.insert(name.clone(), Arc::clone(&value));
            }
            for _ in 0..n {
                let name = &names[pick(&mut state, keys)];
                total += black_box(map.get(name.as_str()).map_or(0, |v| v.len()));
            }
        }
        "hashmap" => {
            let mut map = HashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.insert(name.clone(), Arc::clone(&value));
            }
            for _ in 0..n {
                let name = &names[pick(&mut state, keys)];
                total += black_box(map.get(name.as_str()).map_or(0, |v| v.len()));
            }
        }
        other => panic!("unknown map {other:?}; {usage}"),
    }
    assert_eq!(total, 128 * n, "every read hits");
}
