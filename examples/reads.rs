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
//! every read, `get_or_insert_with` for strcache's hits through a loader,
//! `string_keys` for a `StrCache<String>`, `papaya`, `dashmap`, `hashmap`
//! for `std`'s unsynchronized one), the number of keys, and `n`. Every map
//! holds the same 23-byte keys and 128-byte values (strcache's keys are
//! `CompactString`s, its default key type, and the others' `String`s),
//! hashes with `ahash::RandomState` under fixed seeds, and
//! is filled the same way; each read looks up the key a xorshift sequence
//! picks, the same sequence for every map. The difference of two totals
//! over the difference of the `n`s is the cost of one hit, start-up, the
//! fill and the key choice (the same for every map) included only in
//! both.

use std::{collections::HashMap, hint::black_box, sync::Arc};

use strcache::{CompactString, StrCache};

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

/// Reads `n` keys of `names` through `read`, each picked by [`pick`], and
/// returns the sum of what `read` returned.
///
/// Not inlined, and generic over `read`: each map's loop is a function of
/// its own, compiled apart from the others, so that adding a map to this
/// harness cannot change another's code (inlining decisions in one large
/// `main` did: 36 instructions more a hit for `strcache` once a third
/// strcache loop joined it).
#[inline(never)]
fn run(names: &[String], n: usize, mut read: impl FnMut(&str) -> usize) -> usize {
    let mut state = 0x9E37_79B9_7F4A_7C15;
    let mut total = 0;
    for _ in 0..n {
        let name = &names[pick(&mut state, names.len())];
        total += black_box(read(name.as_str()));
    }
    total
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: reads strcache|pinned|get_or_insert_with|string_keys|papaya|dashmap|hashmap KEYS N";
    let map = args.next().expect(usage);
    let keys: usize = args.next().and_then(|k| k.parse().ok()).expect(usage);
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let names: Vec<String> = (0..keys).map(key).collect();
    let value: Arc<str> = "v".repeat(128).into();
    let total = match map.as_str() {
        "strcache" | "pinned" | "get_or_insert_with" => {
            let cache: StrCache<CompactString, Hasher> = StrCache::builder()
                .hasher(hasher())
                .initial_capacity(keys)
                .build();
            for name in &names {
                cache
                    .insert(name.as_str().into(), Arc::clone(&value))
                    .unwrap();
            }
            match map.as_str() {
                "pinned" => {
                    let pinned = cache.pin();
                    run(&names, n, |name| pinned.get_str(name).map_or(0, str::len))
                }
                "get_or_insert_with" => run(&names, n, |name| {
                    let hit = cache
                        .get_or_insert_with(name, || -> &str { unreachable!("every read hits") });
                    hit.map_or(0, |v| v.len())
                }),
                _ => run(&names, n, |name| cache.get_str(name).map_or(0, |v| v.len())),
            }
        }
        "string_keys" => {
            let cache: StrCache<String, Hasher> = StrCache::builder()
                .hasher(hasher())
                .initial_capacity(keys)
                .build();
            for name in &names {
                cache.insert(name.clone(), Arc::clone(&value)).unwrap();
            }
            run(&names, n, |name| cache.get_str(name).map_or(0, |v| v.len()))
        }
        "papaya" => {
            let map = papaya::HashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.pin().insert(name.clone(), Arc::clone(&value));
            }
            run(&names, n, |name| map.pin().get(name).map_or(0, |v| v.len()))
        }
        "dashmap" => {
            let map = dashmap::DashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.insert(name.clone(), Arc::clone(&value));
            }
            run(&names, n, |name| map.get(name).map_or(0, |v| v.len()))
        }
        "hashmap" => {
            let mut map = HashMap::with_capacity_and_hasher(keys, hasher());
            for name in &names {
                map.insert(name.clone(), Arc::clone(&value));
            }
            run(&names, n, |name| map.get(name).map_or(0, |v| v.len()))
        }
        other => panic!("unknown map {other:?}; {usage}"),
    };
    assert_eq!(total, 128 * n, "every read hits");
}
