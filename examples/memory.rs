//! Heap bytes per entry beyond the key and value bytes, for strcache and
//! the maps a user would pick instead.
//!
//! Every contender is filled with the same `N` entries (23-byte `String`
//! keys and 128-byte `String` values, each of a capacity equal to its
//! length), and a counting global allocator reports the live heap they
//! hold. Figures are requested bytes, so allocator rounding is not
//! included. strcache's keys are `CompactString`s, its default key type,
//! which keeps up to 24 bytes inline: the key's bytes then lie in the
//! entry with no allocation of their own. The rows marked "CompactString
//! keys" give a peer the same keys, and "strcache, String keys" gives
//! strcache the peers' `String`s.
//!
//! ```text
//! cargo run --release --example memory                         # 1,000,000 entries
//! cargo run --release --example memory -- 100000               # ENTRIES entries
//! cargo run --release --example memory -- --charts charts      # also draw memory.svg
//! ```
//!
//! `--charts DIR` also draws `DIR/memory.svg`: one bar per contender,
//! bytes per entry beyond key and value.

use std::{
    cell::RefCell,
    collections::HashMap,
    error::Error,
    hint::black_box,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::atomic::Ordering,
};

#[path = "support/bars.rs"]
mod bars;
#[path = "../tests/support/counting.rs"]
mod counting;
use compact_str::CompactString;
use counting::{Counting, LIVE};

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY_LEN: usize = 23;
const VALUE_LEN: usize = 128;

/// The `i`th key: 23 bytes, its capacity equal to its length (`format!`
/// reserves 26), so that no spare capacity counts as overhead.
fn key(i: usize) -> String {
    let mut k = format!("user:session:{i:010}");
    k.shrink_to_fit();
    debug_assert_eq!((k.len(), k.capacity()), (KEY_LEN, KEY_LEN));
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

/// Printed for `--help` and after a bad argument.
const USAGE: &str = "usage: memory [ENTRIES] [--charts DIR]
  ENTRIES       entries per contender (default: 1000000)
  --charts DIR  also draw a bar chart, DIR/memory.svg";

/// Parses the arguments of [`USAGE`] into the entry count and the charts'
/// folder; `Err` carries the message to print, empty for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(usize, Option<PathBuf>), String> {
    let (mut n, mut charts) = (1_000_000, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--charts" => charts = Some(args.next().ok_or("--charts needs a folder")?.into()),
            "-h" | "--help" => return Err(String::new()),
            entries => {
                n = entries
                    .parse()
                    .map_err(|_| format!("ENTRIES is a number, not `{entries}`"))?;
            }
        }
    }
    Ok((n, charts))
}

/// Draws `rows`, measured over `n` entries each, to `dir/memory.svg`.
fn draw_chart(dir: &Path, n: usize, rows: &[(String, f64)]) -> Result<(), Box<dyn Error>> {
    let chart = bars::Bars {
        title: &format!("Heap bytes per entry beyond key and value, {n} entries"),
        x_label: "bytes per entry",
    };
    chart.draw(&dir.join("memory.svg"), rows)
}

fn main() -> ExitCode {
    let (n, charts) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    println!("heap overhead per entry beyond key and value bytes, {n} entries");
    println!("| crate | bytes/entry |");
    println!("|---|--:|");
    let mut rows = Vec::new();
    let mut row = |name: &str, bytes: f64| {
        println!("| {name} | {bytes:.1} |");
        rows.push((name.to_owned(), bytes));
    };
    row(
        "strcache",
        measure(n, strcache::StrCache::new, |m, k, v| {
            m.insert(k.into(), v).unwrap();
        }),
    );
    row(
        "strcache (bounded, max_entries = entries)",
        measure(
            n,
            || {
                strcache::StrCache::<CompactString>::builder()
                    .max_entries(n as u64)
                    .build()
            },
            |m, k, v| {
                m.insert(k.into(), v).unwrap();
            },
        ),
    );
    row(
        "strcache, String keys",
        measure(
            n,
            || strcache::StrCache::<String>::builder().build(),
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
        "papaya, CompactString keys",
        measure(n, papaya::HashMap::new, |m, k, v| {
            m.pin().insert(CompactString::from(k), v);
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
    row(
        "quick_cache, CompactString keys",
        measure(
            n,
            || quick_cache::sync::Cache::new(n),
            |m: &quick_cache::sync::Cache<CompactString, String>, k, v| {
                m.insert(CompactString::from(k), v);
            },
        ),
    );
    if let Some(dir) = charts {
        if let Err(error) = draw_chart(&dir, n, &rows) {
            eprintln!("drawing the chart: {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
