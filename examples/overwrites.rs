//! Overwrites only, for counting their instructions with callgrind: `n`
//! overwrites of 16 present keys, each with a fresh 128-byte `String`, by
//! one map, as the throughput example's writes do.
//!
//! ```text
//! cargo build --release --example overwrites
//! valgrind --tool=callgrind target/release/examples/overwrites strcache 1000
//! valgrind --tool=callgrind target/release/examples/overwrites strcache 101000
//! ```
//!
//! With `--threaded` after `N`, the example first starts a thread and
//! joins it: glibc's allocator then takes the paths of a multi-threaded
//! process, with its arenas' locks, as it does under the throughput
//! example's writers.
//!
//! The map is `strcache` (its default `CompactString` keys),
//! `string_keys` (a `StrCache<String>`), `dashmap` or `papaya`; the peers
//! store each value as an `Arc<str>` of the `String`, with `String` keys.
//! Every map hashes with `ahash::RandomState` under fixed seeds. The
//! difference of two totals over 100,000 is one overwrite, with the
//! value's `String` and the key made of its text included, as a writer
//! pays them, and the reclamation of the value it replaces.

use std::{hint::black_box, sync::Arc};

use strcache::{CompactString, StrCache};

type Hasher = ahash::RandomState;

/// A fixed-key hasher, so that two runs differ only by their writes.
fn hasher() -> Hasher {
    ahash::RandomState::with_seeds(1, 2, 3, 4)
}

/// Runs `n` writes through `write`, each of key `i % 16` and a fresh copy
/// of `value`. Not inlined, so that each map's loop is compiled apart.
#[inline(never)]
fn run(names: &[String], value: &str, n: usize, mut write: impl FnMut(&str, String)) {
    for i in 0..n {
        write(&names[i % names.len()], value.to_owned());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: overwrites strcache|string_keys|dashmap|papaya N [--threaded]";
    let map = args.next().expect(usage);
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect(usage);
    match args.next().as_deref() {
        None => {}
        Some("--threaded") => std::thread::spawn(|| {}).join().unwrap(),
        Some(other) => panic!("unknown option {other:?}; {usage}"),
    }
    let names: Vec<String> = (0..16).map(|i| format!("user:{i:018}")).collect();
    let value = "v".repeat(128);
    match map.as_str() {
        "strcache" => {
            let cache: StrCache<CompactString, Hasher> =
                StrCache::builder().hasher(hasher()).build();
            run(&names, &value, n, |k, v| {
                cache.insert(k.into(), v).unwrap();
            });
            black_box(cache.len());
        }
        "string_keys" => {
            let cache: StrCache<String, Hasher> = StrCache::builder().hasher(hasher()).build();
            run(&names, &value, n, |k, v| {
                cache.insert(k.to_owned(), v).unwrap();
            });
            black_box(cache.len());
        }
        "dashmap" => {
            let map = dashmap::DashMap::with_hasher(hasher());
            run(&names, &value, n, |k, v| {
                map.insert(k.to_owned(), Arc::<str>::from(v));
            });
            black_box(map.len());
        }
        "papaya" => {
            let map = papaya::HashMap::with_hasher(hasher());
            run(&names, &value, n, |k, v| {
                map.pin().insert(k.to_owned(), Arc::<str>::from(v));
            });
            black_box(map.len());
        }
        other => panic!("unknown map {other:?}; {usage}"),
    }
}
