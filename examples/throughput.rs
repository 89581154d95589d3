//! Multi-threaded throughput of strcache against the maps and caches a user
//! would pick instead, all measured side by side in one run.
//!
//! ```text
//! cargo run --release --example throughput               # full run, a few minutes
//! cargo run --release --example throughput -- --quick    # CI smoke run, well under a minute
//! cargo run --release --example throughput -- --threads 4
//! cargo run --release --example throughput -- --csv throughput.csv --charts charts
//! ```
//!
//! `--csv PATH` also writes every cell to a CSV file, one row per
//! `workload,mix,threads,contender,mops`; `--charts DIR` draws one SVG per
//! workload and mix (`throughput-zipf-read-only.svg`, `-95-5`, `-50-50`,
//! for `zipf`, `uniform` and `hot`): Mops/s against threads, one line per
//! contender.
//!
//! # What is measured
//! Operations per second, for every combination of
//! - thread count, 1 to `available_parallelism` (or `--threads N`);
//! - mix: read-only, 95% reads / 5% writes, 50% / 50%; every write
//!   overwrites a key that is already present, so the key set never changes;
//! - key distribution: Zipf(0.99) over 100k keys; uniform over 1M keys
//!   (100k in quick mode); and a hot set of 16 keys read by every thread,
//!   which shows what the synchronization itself costs, where the large
//!   tables mostly measure memory latency.
//!
//! Each cell fills a fresh map with every key, starts one thread per
//! sequence behind a barrier, lets them run for a fixed time (300 ms, or
//! 100 ms in quick mode) and reports the median of 3 runs (1 in quick mode)
//! in millions of operations per second, summed over threads. Then pairs
//! are measured in turns, read-only, each turn on newly filled maps, so
//! that drift in the machine and where the entries lie in memory hit both
//! sides alike: a single-threaded hot-key read against an unsynchronized
//! `std::collections::HashMap`, the floor that no concurrent map can beat;
//! hot-key reads on every thread with read counting (`record_reads(true)`)
//! against without; and, on the hot keys and on Zipf, reads on one thread
//! and on every thread of a bounded cache against an unbounded one.
//!
//! # Keeping the comparison fair
//! - Keys are `String`s of 10 to 22 bytes (`"key:000123"`,
//!   `"tenant:0042:obj:000123"`); lookups pass a `&str`.
//! - Every value is a distinct, pre-built 128-byte string. Each contender
//!   stores the shared-buffer type it would naturally store, so a write costs
//!   one reference-count increment plus one key `String` allocation
//!   everywhere: strcache a clone of a pre-built [`Utf8Bytes`], every other
//!   contender a clone of a pre-built `Arc<str>`.
//! - Every map hashes with `ahash::RandomState`, strcache's default, so the
//!   numbers compare the data structures rather than the hash functions.
//! - A read touches the value's first byte and its length and adds them to a
//!   `black_box`ed sum, so a lookup that returns a lazy handle is not free.
//!   moka and quick_cache return a cloned `Arc<str>`: that is their read API.
//! - moka and quick_cache are sized to hold every key, and the run checks
//!   after filling that no contender lost one.
//! - The key sequences (per workload, mix and thread) are drawn from a seeded
//!   RNG before anything is timed and are the same for every contender.
//!
//! The machine is shared and noisy: compare within one run and read the
//! ratios, not the absolute numbers.

use std::{
    collections::HashMap,
    error::Error,
    hint::black_box,
    path::PathBuf,
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Barrier, RwLock,
    },
    thread,
    time::{Duration, Instant},
};

use rand::{rngs::SmallRng, RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use strcache::{StrCache, Utf8Bytes};

#[path = "../benches/support/workload.rs"]
mod workload;
use workload::{key, touch, value_for, VALUE_LEN};

#[path = "support/report.rs"]
mod report;

/// The hasher every contender uses.
type Hasher = ahash::RandomState;

/// `std`'s map behind one reader-writer lock.
type Locked = RwLock<HashMap<String, Arc<str>, Hasher>>;
/// dashmap: a fixed set of `RwLock`ed shards.
type Dash = dashmap::DashMap<String, Arc<str>, Hasher>;
/// papaya: lock-free reads, memory reclaimed through seize.
type Papaya = papaya::HashMap<String, Arc<str>, Hasher>;
/// scc: bucket-level locks, epoch-based reclamation (sdd).
type Scc = scc::HashMap<String, Arc<str>, Hasher>;
/// moka: a TinyLFU cache; every read records into the policy.
type Moka = moka::sync::Cache<String, Arc<str>, Hasher>;
/// quick_cache: an S3-FIFO cache, `RwLock`ed shards.
type Quick = quick_cache::sync::Cache<String, Arc<str>, quick_cache::UnitWeighter, Hasher>;

/// Ops a worker runs between two looks at the stop flag.
const CHECK_EVERY: usize = 256;

/// The read/write mixes, as (column label, name in the CSV and chart file
/// names, percentage of writes).
const MIXES: [(&str, &str, u32); 3] = [
    ("read", "read-only", 0),
    ("95/5", "95-5", 5),
    ("50/50", "50-50", 50),
];

/// Printed for `--help` and after a bad argument.
const USAGE: &str = "usage: throughput [--quick] [--threads N] [--csv PATH] [--charts DIR]
  --quick       short runs, one repeat, 100k uniform keys (for CI)
  --threads N   measure 1..=N threads (default: available parallelism)
  --csv PATH    also write the results to PATH as CSV
  --charts DIR  also draw one SVG chart per workload and mix into DIR";

/// The settings of one run, from the command line.
struct Config {
    /// Short cells, one repeat and a smaller uniform table.
    quick: bool,
    /// The largest thread count measured.
    threads: usize,
    /// How long one cell runs.
    duration: Duration,
    /// Runs per cell; the median is reported.
    repeats: usize,
    /// Length of each thread's pre-generated op sequence.
    ops_per_thread: usize,
    /// Where to write the results as CSV, if anywhere.
    csv: Option<PathBuf>,
    /// Where to draw the charts, if anywhere.
    charts: Option<PathBuf>,
}

impl Config {
    /// Parses the arguments of [`USAGE`]; `Err` carries the message to print.
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut quick = false;
        let mut threads = thread::available_parallelism().map_or(1, |n| n.get());
        let (mut csv, mut charts) = (None, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--threads" => {
                    threads = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--threads needs a positive number")?;
                }
                "--csv" => csv = Some(args.next().ok_or("--csv needs a path")?.into()),
                "--charts" => charts = Some(args.next().ok_or("--charts needs a folder")?.into()),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(Config {
            quick,
            threads,
            duration: Duration::from_millis(if quick { 100 } else { 300 }),
            repeats: if quick { 1 } else { 3 },
            ops_per_thread: if quick { 1 << 18 } else { 1 << 20 },
            csv,
            charts,
        })
    }
}

/// One operation of a pre-generated sequence, naming a key by its index.
#[derive(Clone, Copy)]
enum Op {
    /// Look the key up and touch its value.
    Read(u32),
    /// Overwrite the key's value.
    Write(u32),
}

/// One 128-byte value, pre-built in the form each contender stores.
struct Value {
    /// What strcache stores; a clone bumps a reference count.
    bytes: Utf8Bytes,
    /// What every other contender stores; a clone bumps a reference count.
    shared: Arc<str>,
}

/// A key distribution and its title in the report.
struct Spec {
    /// Name in the CSV and chart file names.
    name: &'static str,
    /// Title of the workload's table.
    title: String,
    /// Number of distinct keys.
    keys: usize,
    /// Zipf exponent; 0 draws every key with equal probability.
    zipf: f64,
}

/// The workloads of a run, in report order.
fn specs(config: &Config) -> [Spec; 3] {
    let uniform = if config.quick { 100_000 } else { 1_000_000 };
    [
        Spec {
            name: "zipf",
            title: "Zipf(0.99) over 100k keys".into(),
            keys: 100_000,
            zipf: 0.99,
        },
        Spec {
            name: "uniform",
            title: if config.quick {
                "uniform over 100k keys (quick mode; the full run uses 1M)".into()
            } else {
                "uniform over 1M keys".into()
            },
            keys: uniform,
            zipf: 0.0,
        },
        Spec {
            name: "hot",
            title: "hot keys: every thread on the same 16 keys".into(),
            keys: 16,
            zipf: 0.0,
        },
    ]
}

/// Keys, values and every thread's op sequence for one workload.
struct Workload {
    /// Name in the CSV and chart file names.
    name: &'static str,
    /// Title of the workload's table.
    title: String,
    /// The keys, each present in every map for the whole workload.
    keys: Vec<String>,
    /// `values[i]` is the value of `keys[i]`, both when filling and writing.
    values: Vec<Value>,
    /// `ops[mix][thread]`: what that thread runs under that mix.
    ops: Vec<Vec<Vec<Op>>>,
}

impl Workload {
    /// Builds the data and draws the op sequences from seeded RNGs.
    fn new(spec: Spec, config: &Config) -> Workload {
        let keys: Vec<String> = (0..spec.keys).map(key).collect();
        let values = keys
            .iter()
            .map(|key| {
                let text = value_for(key);
                Value {
                    shared: Arc::from(text.as_str()),
                    bytes: Utf8Bytes::from(text),
                }
            })
            .collect();
        // Zipf over n items with exponent 0 is uniform; it yields 1..=n.
        let dist = Zipf::new(spec.keys as f64, spec.zipf).expect("valid Zipf parameters");
        let ops = (0..MIXES.len())
            .map(|mix| {
                (0..config.threads)
                    .map(|thread| {
                        let seed = (spec.keys as u64) << 32 | (mix as u64) << 16 | thread as u64;
                        let mut rng = SmallRng::seed_from_u64(seed);
                        (0..config.ops_per_thread)
                            .map(|_| {
                                let key = dist.sample(&mut rng) as u32 - 1;
                                if rng.random_ratio(MIXES[mix].2, 100) {
                                    Op::Write(key)
                                } else {
                                    Op::Read(key)
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Workload {
            name: spec.name,
            title: spec.title,
            keys,
            values,
            ops,
        }
    }
}

/// A concurrent map under test, from `String` keys to 128-byte values.
trait Contender: Sync + Sized {
    /// The row label in the report.
    const NAME: &'static str;
    /// An empty map that holds `keys` keys without evicting any.
    fn with_capacity(keys: usize) -> Self;
    /// Looks `key` up and [`touch`]es its value; 0 if it is absent.
    fn get(&self, key: &str) -> usize;
    /// Inserts or overwrites `key`, storing a clone of `value`.
    fn insert(&self, key: &str, value: &Value);
}

impl Contender for StrCache {
    const NAME: &'static str = "strcache";
    fn with_capacity(keys: usize) -> Self {
        StrCache::builder().initial_capacity(keys).build()
    }
    fn get(&self, key: &str) -> usize {
        self.get_str(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        self.insert(key.to_owned(), value.bytes.clone()).unwrap();
    }
}

/// strcache built another way: `Variant<COUNTED>` counts hits and misses
/// (`record_reads(true)`), what the per-thread read counters cost;
/// `Variant<BOUNDED>` has a bound (twice the key count, so nothing is
/// evicted while measuring), what readers pay for the policy's use marks
/// and writers for its lock.
struct Variant<const V: u8>(StrCache);

/// See [`Variant`].
const COUNTED: u8 = 0;
/// See [`Variant`].
const BOUNDED: u8 = 1;

impl<const V: u8> Contender for Variant<V> {
    const NAME: &'static str = ["strcache (reads counted)", "strcache (bounded)"][V as usize];
    fn with_capacity(keys: usize) -> Self {
        let builder = StrCache::builder().initial_capacity(keys);
        Variant(
            match V {
                COUNTED => builder.record_reads(true),
                _ => builder.max_entries(2 * keys as u64),
            }
            .build(),
        )
    }
    fn get(&self, key: &str) -> usize {
        self.0.get(key)
    }
    fn insert(&self, key: &str, value: &Value) {
        Contender::insert(&self.0, key, value);
    }
}

impl Contender for Locked {
    const NAME: &'static str = "RwLock<HashMap>";
    fn with_capacity(keys: usize) -> Self {
        RwLock::new(HashMap::with_capacity_and_hasher(keys, Hasher::new()))
    }
    fn get(&self, key: &str) -> usize {
        self.read()
            .expect("not poisoned")
            .get(key)
            .map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        let mut map = self.write().expect("not poisoned");
        map.insert(key.to_owned(), value.shared.clone());
    }
}

impl Contender for Dash {
    const NAME: &'static str = "dashmap";
    fn with_capacity(keys: usize) -> Self {
        dashmap::DashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        self.insert(key.to_owned(), value.shared.clone());
    }
}

impl Contender for Papaya {
    const NAME: &'static str = "papaya";
    fn with_capacity(keys: usize) -> Self {
        papaya::HashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.pin().get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        self.pin().insert(key.to_owned(), value.shared.clone());
    }
}

impl Contender for Scc {
    const NAME: &'static str = "scc::HashMap";
    fn with_capacity(keys: usize) -> Self {
        scc::HashMap::with_capacity_and_hasher(keys, Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.read_sync(key, |_, v| touch(v.as_bytes())).unwrap_or(0)
    }
    fn insert(&self, key: &str, value: &Value) {
        self.upsert_sync(key.to_owned(), value.shared.clone());
    }
}

impl Contender for Moka {
    const NAME: &'static str = "moka";
    fn with_capacity(keys: usize) -> Self {
        moka::sync::Cache::builder()
            .max_capacity(keys as u64)
            .initial_capacity(keys)
            .build_with_hasher(Hasher::new())
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        self.insert(key.to_owned(), value.shared.clone());
    }
}

impl Contender for Quick {
    const NAME: &'static str = "quick_cache";
    fn with_capacity(keys: usize) -> Self {
        // Twice the key count: capacity is split evenly over shards, and
        // keys are not, so an exact fit would evict from the fuller shards.
        quick_cache::sync::Cache::with(
            keys,
            2 * keys as u64,
            quick_cache::UnitWeighter,
            Hasher::new(),
            quick_cache::sync::DefaultLifecycle::default(),
        )
    }
    fn get(&self, key: &str) -> usize {
        self.get(key).map_or(0, |v| touch(v.as_bytes()))
    }
    fn insert(&self, key: &str, value: &Value) {
        self.insert(key.to_owned(), value.shared.clone());
    }
}

/// One contender's results for one workload, in [`columns`] order.
struct Row {
    /// The contender's name.
    name: &'static str,
    /// Median Mops/s per column.
    cells: Vec<f64>,
}

/// Column labels: thread counts outer, mixes inner.
fn columns(config: &Config) -> Vec<String> {
    (1..=config.threads)
        .flat_map(|threads| {
            MIXES
                .iter()
                .map(move |(mix, ..)| format!("{threads}t {mix}"))
        })
        .collect()
}

/// A fresh `C` holding every key of `workload`, checked to have kept them.
fn filled<C: Contender>(workload: &Workload) -> C {
    let map = C::with_capacity(workload.keys.len());
    for (key, value) in workload.keys.iter().zip(&workload.values) {
        map.insert(key, value);
    }
    let missing = workload.keys.iter().filter(|k| map.get(k) == 0).count();
    assert_eq!(missing, 0, "{} lost keys while being filled", C::NAME);
    map
}

/// Fills a fresh `C` with the workload's keys and measures every column.
fn measure<C: Contender>(workload: &Workload, config: &Config) -> Row {
    let map: C = filled(workload);
    let apply = |op| match op {
        Op::Read(i) => map.get(&workload.keys[i as usize]),
        Op::Write(i) => {
            map.insert(&workload.keys[i as usize], &workload.values[i as usize]);
            0
        }
    };
    let mut cells = Vec::new();
    for threads in 1..=config.threads {
        for ((mix, ..), ops) in MIXES.iter().zip(&workload.ops) {
            let runs: Vec<f64> = (0..config.repeats)
                .map(|_| run_cell(&ops[..threads], config.duration, apply))
                .collect();
            let mops = median(&runs);
            eprintln!(
                "{:<42} {:<16} {threads}t {mix:<6} {mops:>8.2} Mops/s",
                workload.title,
                C::NAME
            );
            cells.push(mops);
        }
    }
    Row {
        name: C::NAME,
        cells,
    }
}

/// Runs one thread per sequence, all released together, each applying its
/// ops in a loop until `duration` is up. Returns the total in Mops/s.
fn run_cell<F>(sequences: &[Vec<Op>], duration: Duration, apply: F) -> f64
where
    F: Fn(Op) -> usize + Sync,
{
    let start = Barrier::new(sequences.len() + 1);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let workers: Vec<_> = sequences
            .iter()
            .map(|ops| {
                let (start, stop, apply) = (&start, &stop, &apply);
                s.spawn(move || {
                    let mut done = 0usize;
                    let mut sum = 0usize;
                    start.wait();
                    let began = Instant::now();
                    'timed: loop {
                        for chunk in ops.chunks(CHECK_EVERY) {
                            for &op in chunk {
                                sum = sum.wrapping_add(apply(op));
                            }
                            done += chunk.len();
                            // Relaxed: a plain signal, nothing is published with it.
                            if stop.load(Ordering::Relaxed) {
                                break 'timed;
                            }
                        }
                    }
                    black_box(sum);
                    done as f64 / began.elapsed().as_secs_f64() / 1e6
                })
            })
            .collect();
        start.wait();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .sum()
    })
}

/// The median of `runs` (the upper one of an even count).
fn median(runs: &[f64]) -> f64 {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Measures every contender on one workload, in report order.
fn measure_all(workload: &Workload, config: &Config) -> Vec<Row> {
    vec![
        measure::<StrCache>(workload, config),
        measure::<Variant<COUNTED>>(workload, config),
        measure::<Variant<BOUNDED>>(workload, config),
        measure::<Locked>(workload, config),
        measure::<Dash>(workload, config),
        measure::<Papaya>(workload, config),
        measure::<Scc>(workload, config),
        measure::<Moka>(workload, config),
        measure::<Quick>(workload, config),
    ]
}

/// Two contenders measured in turns on one workload, read-only.
struct Pair {
    /// What is compared with what, as `a / b`.
    name: &'static str,
    /// The workload's title.
    workload: String,
    /// Threads reading.
    threads: usize,
    /// Median Mops/s of the first side.
    a: f64,
    /// Median Mops/s of the second side, strcache as the other rows build it.
    b: f64,
}

/// The pairs measured in turns on `workload`, read-only: on the hot keys,
/// one thread against the unsynchronized floor, and on every thread read
/// counting against none; on the hot keys and Zipf, on one thread and on
/// every thread, a bounded cache against an unbounded one.
fn measure_pairs<'w>(workload: &'w Workload, config: &Config) -> Vec<Pair> {
    if workload.name != "hot" && workload.name != "zipf" {
        return Vec::new();
    }
    let ours = || reader::<StrCache>(workload);
    let mut pairs = Vec::new();
    let mut pair = |name, threads: usize, a: &dyn Fn() -> Reader<'w>| {
        let (a, b) = alternated(&workload.ops[0][..threads], config, a, &ours);
        let workload = workload.title.clone();
        pairs.push(Pair {
            name,
            workload,
            threads,
            a,
            b,
        });
    };
    if workload.name == "hot" {
        let floor = || -> Reader<'w> {
            let floor: HashMap<String, Arc<str>, Hasher> = workload
                .keys
                .iter()
                .zip(&workload.values)
                .map(|(k, v)| (k.clone(), v.shared.clone()))
                .collect();
            Box::new(move |op| {
                let value = floor.get(read_key(workload, op));
                value.map_or(0, |v| touch(v.as_bytes()))
            })
        };
        pair("unsynchronized HashMap / strcache", 1, &floor);
        pair("reads counted / not counted", config.threads, &|| {
            reader::<Variant<COUNTED>>(workload)
        });
    }
    for threads in [1, config.threads] {
        pair("bounded / unbounded", threads, &|| {
            reader::<Variant<BOUNDED>>(workload)
        });
    }
    pairs
}

/// A read of one op of a read-only sequence, on a map it owns.
type Reader<'a> = Box<dyn Fn(Op) -> usize + Sync + 'a>;

/// A [`Reader`] on a new `C` filled with `workload`'s keys.
fn reader<'a, C: Contender + 'a>(workload: &'a Workload) -> Reader<'a> {
    let map: C = filled(workload);
    Box::new(move |op| map.get(read_key(workload, op)))
}

/// The key a read-only op reads.
fn read_key(workload: &Workload, op: Op) -> &str {
    match op {
        Op::Read(i) => workload.keys[i as usize].as_str(),
        Op::Write(_) => unreachable!("the read-only mix has no writes"),
    }
}

/// Runs readers built by `a` and `b` on `sequences` in turns,
/// `2 * repeats + 1` times each, so drift in the machine hits both. Each
/// turn reads a new map, and every map stays alive until the last turn,
/// so each turn's entries lie at new addresses: where one map's few hot
/// entries happen to fall in memory moves its reads by up to a quarter, on
/// identical instructions. Returns the medians in Mops/s.
fn alternated<'a>(
    sequences: &[Vec<Op>],
    config: &Config,
    a: &dyn Fn() -> Reader<'a>,
    b: &dyn Fn() -> Reader<'a>,
) -> (f64, f64) {
    let (mut a_runs, mut b_runs, mut maps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2 * config.repeats + 1 {
        for (build, runs) in [(a, &mut a_runs), (b, &mut b_runs)] {
            let read = build();
            runs.push(run_cell(sequences, config.duration, &read));
            maps.push(read);
        }
    }
    (median(&a_runs), median(&b_runs))
}

/// Prints one workload's table in markdown, with strcache's ratios.
fn print_table(title: &str, columns: &[String], rows: &[Row]) {
    println!("\n### {title} (Mops/s)\n");
    println!("| crate | {} |", columns.join(" | "));
    println!("|:--|{}", "--:|".repeat(columns.len()));
    for row in rows {
        let cells: Vec<String> = row.cells.iter().map(|m| format!("{m:.2}")).collect();
        println!("| {} | {} |", row.name, cells.join(" | "));
    }
    let (ours, rest) = rows.split_first().expect("strcache comes first");
    let (counted, rest) = rest.split_first().expect("then strcache (reads counted)");
    let (bounded, peers) = rest.split_first().expect("then strcache (bounded)");
    let papaya = peers.iter().find(|r| r.name == "papaya").expect("papaya");
    let vs_best: Vec<String> = (0..columns.len())
        .map(|c| {
            let best = peers
                .iter()
                .max_by(|a, b| a.cells[c].total_cmp(&b.cells[c]))
                .expect("peers");
            format!("{:.2}x ({})", ours.cells[c] / best.cells[c], best.name)
        })
        .collect();
    let vs_papaya: Vec<String> = (0..columns.len())
        .map(|c| format!("{:.2}x", ours.cells[c] / papaya.cells[c]))
        .collect();
    let vs_ours = |other: &Row| -> Vec<String> {
        (0..columns.len())
            .map(|c| format!("{:.2}x", other.cells[c] / ours.cells[c]))
            .collect()
    };
    println!("| strcache / best peer | {} |", vs_best.join(" | "));
    println!(
        "| bounded / unbounded strcache | {} |",
        vs_ours(bounded).join(" | ")
    );
    println!(
        "| reads counted / not counted | {} |",
        vs_ours(counted).join(" | ")
    );
    println!("| strcache / papaya | {} |", vs_papaya.join(" | "));
}

/// Writes the `--csv` file and draws the `--charts`, where asked for.
/// `tables` holds each workload's name, title and rows.
fn write_reports(
    config: &Config,
    tables: &[(&str, String, Vec<Row>)],
) -> Result<(), Box<dyn Error>> {
    // The cell of `threads` threads under `MIXES[mix]`, in `columns` order.
    let cell = |row: &Row, threads: usize, mix: usize| row.cells[(threads - 1) * MIXES.len() + mix];
    if let Some(path) = &config.csv {
        let mut lines = Vec::new();
        for (workload, _, rows) in tables {
            for (mix, (_, name, _)) in MIXES.iter().enumerate() {
                for threads in 1..=config.threads {
                    lines.extend(rows.iter().map(|row| {
                        vec![
                            workload.to_string(),
                            name.to_string(),
                            threads.to_string(),
                            row.name.to_owned(),
                            format!("{:.3}", cell(row, threads, mix)),
                        ]
                    }));
                }
            }
        }
        let header = ["workload", "mix", "threads", "contender", "mops"];
        report::write_csv(path, &header, &lines)?;
    }
    if let Some(dir) = &config.charts {
        for (workload, title, rows) in tables {
            for (mix, (_, name, writes)) in MIXES.iter().enumerate() {
                let series: Vec<report::Series> = rows
                    .iter()
                    .map(|row| report::Series {
                        name: row.name.to_owned(),
                        points: (1..=config.threads)
                            .map(|threads| (threads as f64, cell(row, threads, mix)))
                            .collect(),
                    })
                    .collect();
                let chart = report::Chart {
                    title: &format!("{title}, {writes}% writes"),
                    x_label: "threads",
                    y_label: "Mops/s",
                    log_x: false,
                };
                let path = dir.join(format!("throughput-{workload}-{name}.svg"));
                chart.draw(&path, &series)?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let began = Instant::now();
    let columns = columns(&config);
    let (mut tables, mut pairs) = (Vec::new(), Vec::new());
    for spec in specs(&config) {
        eprintln!("generating: {}", spec.title);
        let workload = Workload::new(spec, &config);
        let rows = measure_all(&workload, &config);
        pairs.extend(measure_pairs(&workload, &config));
        tables.push((workload.name, workload.title, rows));
    }

    println!("# strcache throughput\n");
    println!(
        "{} mode: {} ms per cell, median of {}, threads 1..={} (available parallelism: {}), \
         {VALUE_LEN}-byte values, {} ops pre-generated per thread.",
        if config.quick { "quick" } else { "full" },
        config.duration.as_millis(),
        config.repeats,
        config.threads,
        thread::available_parallelism().map_or(1, |n| n.get()),
        config.ops_per_thread,
    );
    println!("Columns: `Nt mix` = N threads; read = read-only, 95/5 and 50/50 = reads/writes.");
    for (_, title, rows) in &tables {
        print_table(title, &columns, rows);
    }
    println!("\n### Alternated pairs, read-only\n");
    println!("| a / b | workload | threads | a | b | a / b |");
    println!("|:--|:--|--:|--:|--:|--:|");
    for p in &pairs {
        let (name, workload, threads, a, b) = (p.name, &p.workload, p.threads, p.a, p.b);
        println!(
            "| {name} | {workload} | {threads} | {a:.2} | {b:.2} | {:.2}x |",
            a / b
        );
    }
    println!("\ntotal time: {:.1} s", began.elapsed().as_secs_f64());
    if let Err(error) = write_reports(&config, &tables) {
        eprintln!("writing the report: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
