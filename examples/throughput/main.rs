//! Multi-threaded throughput of strcache against the maps and caches a user
//! would pick instead, all measured side by side in one run.
//!
//! ```text
//! cargo run --release --example throughput               # full run, a few minutes
//! cargo run --release --example throughput -- --quick    # CI smoke run, well under a minute
//! cargo run --release --example throughput -- --threads 4
//! cargo run --release --example throughput -- --workload hot
//! cargo run --release --example throughput -- --peer-keys compact
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
//! Each run of a cell fills a fresh map with every key, starts one thread
//! per sequence behind a barrier, lets them run for a fixed time (300 ms,
//! or 70 ms in quick mode); a cell reports the median of 3 runs (1 in
//! quick mode) in millions of operations per second, summed over threads.
//! The contenders run interleaved: cell by cell, each repeat runs every
//! contender once, in an order rotated by one from one repeat (and cell)
//! to the next, so drift in the machine hits them all alike and none
//! always runs first. Then pairs
//! are measured in turns, read-only, each turn on newly filled maps, so
//! that drift in the machine and where the entries lie in memory hit both
//! sides alike: a single-threaded hot-key read against an unsynchronized
//! `std::collections::HashMap`, the floor that no concurrent map can beat;
//! hot-key reads on every thread with read counting (`record_reads(true)`)
//! against without; on the hot keys and on Zipf, reads on one thread
//! and on every thread of a bounded cache against an unbounded one; and,
//! on Zipf and uniform keys, one thread's reads of a cache with `String`
//! keys against one with the default `CompactString` keys.
//!
//! # Keeping the comparison fair
//! - Keys are 10 to 22 bytes (`"key:000123"`, `"tenant:0042:obj:000123"`);
//!   lookups pass a `&str`, and a write passes one that the contender makes
//!   its key of. strcache's keys are `CompactString`s, its default key
//!   type, which keeps them inline (in its entry); the peers' are `String`s,
//!   the type a user of a generic map picks, whose bytes are an allocation
//!   of their own. `--peer-keys compact` gives the peers `CompactString`
//!   keys too, to tell what the key type buys from what the map does.
//! - Every value is a distinct 128-byte string. A write hands the
//!   contender a fresh `String`, copied from the pre-built text inside the
//!   timed loop, as a writer that serializes each new value would, and
//!   the key's text. Each contender stores the shared-buffer type it
//!   would naturally store: strcache takes the `String` (and copies it into
//!   its entry), every other contender makes an `Arc<str>` of it. A shared
//!   pre-built buffer per value, cloned for every write, would cost a
//!   reference-count increment alone and let readers read the same bytes
//!   forever, which no real writer does.
//! - Every map hashes with `ahash::RandomState`, strcache's default, so the
//!   numbers compare the data structures rather than the hash functions.
//! - A read touches the value's first byte and its length and adds them to a
//!   `black_box`ed sum, so a lookup that returns a lazy handle is not free.
//!   moka and quick_cache return a cloned `Arc<str>`: that is their read API.
//! - moka and quick_cache are sized to hold every key, and the run checks
//!   after filling that no contender lost one.
//! - The key sequences (per workload, mix and thread) are drawn from a seeded
//!   RNG before anything is timed and are the same for every contender.
//! - Zipf ranks map to keys through a seeded permutation, not rank `i` to
//!   the `i`th key inserted, so the hottest keys do not lie together in
//!   memory in the maps that allocate per entry.
//!
//! The machine is shared and noisy: compare within one run and read the
//! ratios, not the absolute numbers. Every cell keeps the range of its
//! runs, and a ratio is marked `~` when the runs of either of its two cells
//! spread wider than the difference it shows: such a ratio does not tell
//! the two apart. (In quick mode each cell runs once, so no spread is
//! known and nothing is marked.)
//!
//! # Output
//! stdout holds the report, in markdown: a table per workload, the
//! alternated pairs, and a verdict, a few lines on where strcache leads its
//! peers, where it trails them, and against whom, leaving out the ratios
//! marked `~`. Progress goes to stderr: on a terminal one line redrawn in
//! place (how far, the time spent and left, which workload, contender and
//! cell), elsewhere a line per workload and cell.

use std::{
    collections::HashMap,
    hint::black_box,
    path::PathBuf,
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Barrier,
    },
    thread,
    time::{Duration, Instant},
};

use rand::{rngs::SmallRng, seq::SliceRandom, RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use strcache::StrCache;

#[path = "../../benches/support/workload.rs"]
mod workload;
use workload::{key, touch, value_for, VALUE_LEN};

#[path = "../support/progress.rs"]
mod progress;
#[path = "../support/report.rs"]
mod report;
#[path = "../support/verdict.rs"]
mod verdict;
use progress::Progress;
use verdict::{Cell, Ratio};

mod contenders;
mod output;
use contenders::{
    Contender, Dash, Hasher, Locked, Moka, Papaya, PeerKey, Quick, Scc, StringKeys, Variant,
    BOUNDED, COUNTED,
};

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
const USAGE: &str = "usage: throughput [--quick] [--threads N] [--workload zipf|uniform|hot] [--peer-keys string|compact] [--csv PATH] [--charts DIR]
  --quick       short runs, one repeat, 100k uniform keys (for CI)
  --threads N   measure 1..=N threads (default: available parallelism)
  --workload W  measure that workload alone (default: all three)
  --peer-keys   the peers' key type: String (default) or CompactString, strcache's
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
    /// The peers' keys are `CompactString`s, as strcache's are, instead of
    /// `String`s.
    compact_peer_keys: bool,
    /// The one workload to measure, if not all (`--workload`).
    workload: Option<String>,
}

impl Config {
    /// Parses the arguments of [`USAGE`]; `Err` carries the message to print.
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut quick = false;
        let mut threads = thread::available_parallelism().map_or(1, |n| n.get());
        let (mut csv, mut charts, mut compact_peer_keys) = (None, None, false);
        let mut workload = None;
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
                "--peer-keys" => {
                    compact_peer_keys = match args.next().as_deref() {
                        Some("string") => false,
                        Some("compact") => true,
                        _ => return Err("--peer-keys needs `string` or `compact`".into()),
                    };
                }
                "--workload" => {
                    workload = args
                        .next()
                        .filter(|w| ["zipf", "uniform", "hot"].contains(&w.as_str()));
                    if workload.is_none() {
                        return Err("--workload needs `zipf`, `uniform` or `hot`".into());
                    }
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
            // Quick mode fills a fresh map for every cell as the full run
            // does, which costs it about a third more time; 70 ms cells
            // (100 before) keep its total within a tenth of what it was.
            duration: Duration::from_millis(if quick { 70 } else { 300 }),
            repeats: if quick { 1 } else { 3 },
            ops_per_thread: if quick { 1 << 18 } else { 1 << 20 },
            csv,
            charts,
            compact_peer_keys,
            workload,
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

/// The workloads of a run, in report order: all three, or the one
/// `--workload` names.
fn specs(config: &Config) -> Vec<Spec> {
    let uniform = if config.quick { 100_000 } else { 1_000_000 };
    let all = [
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
    ];
    all.into_iter()
        .filter(|spec| config.workload.as_deref().is_none_or(|w| w == spec.name))
        .collect()
}

/// Keys, values and every thread's op sequence for one workload.
struct Workload {
    /// Name in the CSV and chart file names.
    name: &'static str,
    /// Title of the workload's table.
    title: String,
    /// The keys, each present in every map for the whole workload.
    keys: Vec<String>,
    /// `values[i]` is the text of `keys[i]`'s value, both when filling and
    /// writing; every write copies it into a fresh `String`.
    values: Vec<String>,
    /// `ops[mix][thread]`: what that thread runs under that mix.
    ops: Vec<Vec<Vec<Op>>>,
}

impl Workload {
    /// Builds the data and draws the op sequences from seeded RNGs.
    fn new(spec: Spec, config: &Config) -> Workload {
        let keys: Vec<String> = (0..spec.keys).map(key).collect();
        let values = keys.iter().map(|key| value_for(key)).collect();
        // Zipf over n items with exponent 0 is uniform; it yields 1..=n.
        let dist = Zipf::new(spec.keys as f64, spec.zipf).expect("valid Zipf parameters");
        let rank_to_key = rank_to_key(spec.keys, spec.zipf);
        let ops = (0..MIXES.len())
            .map(|mix| {
                (0..config.threads)
                    .map(|thread| {
                        let seed = (spec.keys as u64) << 32 | (mix as u64) << 16 | thread as u64;
                        let mut rng = SmallRng::seed_from_u64(seed);
                        (0..config.ops_per_thread)
                            .map(|_| {
                                let key = rank_to_key[dist.sample(&mut rng) as usize - 1];
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

/// Which key each Zipf rank draws, rank 0 the most frequent: a seeded
/// permutation of the key indexes, the same for every contender. Without
/// it rank `i` would be key `i`, the `i`th inserted, and the hottest keys
/// would lie together in memory in a store that allocates per entry. The
/// identity when `zipf` is 0, where every rank is drawn alike.
fn rank_to_key(keys: usize, zipf: f64) -> Vec<u32> {
    let mut ranks: Vec<u32> = (0..keys as u32).collect();
    if zipf != 0.0 {
        ranks.shuffle(&mut SmallRng::seed_from_u64(0x5eed_2a4f ^ keys as u64));
    }
    ranks
}

/// One contender's results for one workload, in [`columns`] order.
struct Row {
    /// The contender's name.
    name: &'static str,
    /// Mops/s per column.
    cells: Vec<Cell>,
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
        map.insert(key, value.clone());
    }
    let missing = workload.keys.iter().filter(|k| map.get(k) == 0).count();
    assert_eq!(missing, 0, "{} lost keys while being filled", C::NAME);
    map
}

/// One run of one cell on a fresh map: fills a new map with the
/// workload's keys and runs `sequences` on it for `duration`, reads and
/// writes alike. Returns Mops/s.
///
/// `spent` holds the map of the run before, if any: it is dropped on
/// another thread while this run fills its own, and this run's map takes
/// its place, so that neither filling nor dropping is timed and the two
/// overlap.
type Measure = fn(&Workload, &[Vec<Op>], Duration, &mut Option<Spent>) -> f64;

/// A map whose run is over, waiting to be dropped.
type Spent = Box<dyn Send>;

/// [`Measure`] for contender `C`.
fn measure<C: Contender + Send + 'static>(
    workload: &Workload,
    sequences: &[Vec<Op>],
    duration: Duration,
    spent: &mut Option<Spent>,
) -> f64 {
    let map: C = thread::scope(|s| {
        let spent = spent.take();
        s.spawn(move || drop(spent));
        filled(workload)
    });
    let apply = |op| match op {
        Op::Read(i) => map.get(&workload.keys[i as usize]),
        Op::Write(i) => {
            map.insert(
                &workload.keys[i as usize],
                workload.values[i as usize].clone(),
            );
            0
        }
    };
    let mops = run_cell(sequences, duration, apply);
    *spent = Some(Box::new(map));
    mops
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

/// The rows of strcache at the head of every table: strcache and its three
/// variants; the peers follow.
const OWN_ROWS: usize = 4;

/// The contenders of every table, in report order: strcache, its three
/// variants, then the peers, with `K` keys (the report relies on this
/// order, and on [`OWN_ROWS`]).
const fn contenders<K: PeerKey>() -> [(&'static str, Measure); 10] {
    [
        (<StrCache as Contender>::NAME, measure::<StrCache>),
        (
            <Variant<COUNTED> as Contender>::NAME,
            measure::<Variant<COUNTED>>,
        ),
        (
            <Variant<BOUNDED> as Contender>::NAME,
            measure::<Variant<BOUNDED>>,
        ),
        (<StringKeys as Contender>::NAME, measure::<StringKeys>),
        (<Locked<K> as Contender>::NAME, measure::<Locked<K>>),
        (<Dash<K> as Contender>::NAME, measure::<Dash<K>>),
        (<Papaya<K> as Contender>::NAME, measure::<Papaya<K>>),
        (<Scc<K> as Contender>::NAME, measure::<Scc<K>>),
        (<Moka<K> as Contender>::NAME, measure::<Moka<K>>),
        (<Quick<K> as Contender>::NAME, measure::<Quick<K>>),
    ]
}

/// The contenders, the peers with `String` keys.
const CONTENDERS: [(&str, Measure); 10] = contenders::<String>();
/// The contenders, the peers with `CompactString` keys.
const COMPACT_CONTENDERS: [(&str, Measure); 10] = contenders::<strcache::CompactString>();

impl Config {
    /// The contenders this run measures.
    fn contenders(&self) -> &'static [(&'static str, Measure); 10] {
        if self.compact_peer_keys {
            &COMPACT_CONTENDERS
        } else {
            &CONTENDERS
        }
    }
}

/// The order in which `contenders` contenders (by index in report order)
/// run on turn `turn`: report order rotated left by `turn`, so that across
/// turns each contender runs in each position alike and none always runs
/// first.
fn run_order(contenders: usize, turn: usize) -> Vec<usize> {
    (0..contenders).map(|i| (turn + i) % contenders).collect()
}

/// Measures every contender on one workload, interleaved: for each cell
/// (thread count and mix), each repeat runs every contender once, in the
/// [`run_order`] of that turn (turns counted across cells and repeats), so
/// drift in the machine hits every contender alike, as in the pairs. Every
/// run fills a fresh map. Returns the rows in report order.
fn measure_all(workload: &Workload, config: &Config, progress: &Progress) -> Vec<Row> {
    let contenders = config.contenders();
    let mut runs = vec![Vec::new(); contenders.len()];
    let (mut turn, mut spent) = (0, None);
    for threads in 1..=config.threads {
        for ((mix, ..), ops) in MIXES.iter().zip(&workload.ops) {
            progress.stage(format!("{}: {threads}t {mix}", workload.name));
            let mut cell = vec![Vec::with_capacity(config.repeats); contenders.len()];
            for repeat in 0..config.repeats {
                for c in run_order(contenders.len(), turn) {
                    let (name, run) = contenders[c];
                    let mops = run(workload, &ops[..threads], config.duration, &mut spent);
                    cell[c].push(mops);
                    progress.step(&format!("{name}, run {}", repeat + 1));
                }
                turn += 1;
            }
            for (runs, cell) in runs.iter_mut().zip(&cell) {
                runs.push(Cell::of(cell));
            }
        }
    }
    (contenders.iter().zip(runs))
        .map(|(&(name, _), cells)| Row { name, cells })
        .collect()
}

/// The runs of a whole run, for the progress line: every cell of every
/// table, then the pairs' turns.
fn total_runs(config: &Config, workloads: usize) -> usize {
    let tables =
        workloads * config.contenders().len() * config.threads * MIXES.len() * config.repeats;
    // The floor and read counting on the hot keys, bounded against
    // unbounded at each pair thread count on the hot keys and Zipf, and
    // the key types on Zipf and uniform keys.
    let pairs = 2 + 2 * pair_threads(config).len() + 2;
    tables + pairs * 2 * turns(config)
}

/// Two contenders measured in turns on one workload, read-only.
struct Pair {
    /// What is compared with what, as `a / b`.
    name: &'static str,
    /// The workload's name in file names.
    short: &'static str,
    /// The workload's title.
    workload: String,
    /// Threads reading.
    threads: usize,
    /// Mops/s of the first side.
    a: Cell,
    /// Mops/s of the second side, strcache as the other rows build it.
    b: Cell,
}

/// The thread counts of the bounded / unbounded pairs: one thread, and
/// every thread.
fn pair_threads(config: &Config) -> Vec<usize> {
    let mut threads = vec![1, config.threads];
    threads.dedup();
    threads
}

/// The pairs measured in turns on `workload`, read-only: on the hot keys,
/// one thread against the unsynchronized floor, and on every thread read
/// counting against none; on the hot keys and Zipf, on one thread and on
/// every thread, a bounded cache against an unbounded one; on Zipf and
/// uniform keys, on one thread, `String` keys against the default
/// `CompactString` ones.
fn measure_pairs<'w>(workload: &'w Workload, config: &Config, progress: &Progress) -> Vec<Pair> {
    let ours = || reader::<StrCache>(workload);
    let mut pairs = Vec::new();
    let mut pair = |name, threads: usize, a: &dyn Fn() -> Reader<'w>| {
        progress.stage(format!("{}: {name}, {threads}t, in turns", workload.name));
        let sequences = &workload.ops[0][..threads];
        let (a, b) = alternated(sequences, config, a, &ours, progress);
        pairs.push(Pair {
            name,
            short: workload.name,
            workload: workload.title.clone(),
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
                .map(|(k, v)| (k.clone(), Arc::from(v.as_str())))
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
    if workload.name == "hot" || workload.name == "zipf" {
        for threads in pair_threads(config) {
            pair("bounded / unbounded", threads, &|| {
                reader::<Variant<BOUNDED>>(workload)
            });
        }
    }
    if workload.name == "zipf" || workload.name == "uniform" {
        pair("String keys / CompactString keys", 1, &|| {
            reader::<StringKeys>(workload)
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

/// The turns of each side of a pair: `2 * repeats + 1`.
fn turns(config: &Config) -> usize {
    2 * config.repeats + 1
}

/// Runs readers built by `a` and `b` on `sequences` in turns, [`turns`]
/// times each, so drift in the machine hits both. Each turn reads a new
/// map, and every map stays alive until the last turn, so each turn's
/// entries lie at new addresses: where one map's few hot entries happen to
/// fall in memory moves its reads by up to a quarter, on identical
/// instructions. Returns both sides' cells in Mops/s.
fn alternated<'a>(
    sequences: &[Vec<Op>],
    config: &Config,
    a: &dyn Fn() -> Reader<'a>,
    b: &dyn Fn() -> Reader<'a>,
    progress: &Progress,
) -> (Cell, Cell) {
    let (mut a_runs, mut b_runs, mut maps) = (Vec::new(), Vec::new(), Vec::new());
    for turn in 0..turns(config) {
        for (build, runs) in [(a, &mut a_runs), (b, &mut b_runs)] {
            let read = build();
            runs.push(run_cell(sequences, config.duration, &read));
            maps.push(read);
            progress.step(&format!("turn {}", turn + 1));
        }
    }
    (Cell::of(&a_runs), Cell::of(&b_runs))
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
    let columns = columns(&config);
    let specs = specs(&config);
    let progress = Progress::new(total_runs(&config, specs.len()));
    let (mut tables, mut pairs) = (Vec::new(), Vec::new());
    for spec in specs {
        progress.stage(format!(
            "{}: generating the keys and op sequences",
            spec.name
        ));
        let workload = Workload::new(spec, &config);
        let rows = measure_all(&workload, &config, &progress);
        pairs.extend(measure_pairs(&workload, &config, &progress));
        tables.push((workload.name, workload.title, rows));
    }
    progress.finish();

    println!("# strcache throughput\n");
    println!(
        "{} mode: {} ms per cell, median of {}, threads 1..={} (available parallelism: {}), \
         {VALUE_LEN}-byte values, {} ops pre-generated per thread; strcache's keys are \
         `CompactString`s, its default, the peers' `{}`s.",
        if config.quick { "quick" } else { "full" },
        config.duration.as_millis(),
        config.repeats,
        config.threads,
        thread::available_parallelism().map_or(1, |n| n.get()),
        config.ops_per_thread,
        if config.compact_peer_keys {
            "CompactString"
        } else {
            "String"
        },
    );
    println!("Columns: `Nt mix` = N threads; read = read-only, 95/5 and 50/50 = reads/writes.");
    println!(
        "Millions of operations per second, summed over threads: higher is better. A ratio \
         marked `~` is within the noise: the runs of one of its two cells spread wider than \
         the difference it shows."
    );
    for (name, title, rows) in &tables {
        output::print_table(name, title, &columns, rows);
    }
    println!("\n### Alternated pairs, read-only\n");
    println!("| a / b | workload | threads | a | b | a / b |");
    println!("|:--|:--|--:|--:|--:|--:|");
    for p in &pairs {
        let (name, workload, threads) = (p.name, &p.workload, p.threads);
        let (a, b, ratio) = (p.a.median, p.b.median, Ratio::of(p.a, p.b));
        println!("| {name} | {workload} | {threads} | {a:.2} | {b:.2} | {ratio} |");
    }
    output::print_verdict(&config, &tables, &pairs);
    if let Err(error) = output::write_reports(&config, &tables) {
        eprintln!("writing the report: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_turn_runs_each_contender_once_rotated() {
        assert_eq!(run_order(4, 0), [0, 1, 2, 3]);
        assert_eq!(run_order(4, 1), [1, 2, 3, 0]);
        assert_eq!(run_order(4, 5), [1, 2, 3, 0]);
        // Over as many turns as contenders, each runs once in each position.
        for position in 0..CONTENDERS.len() {
            let mut seen: Vec<usize> = (0..CONTENDERS.len())
                .map(|turn| run_order(CONTENDERS.len(), turn)[position])
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..CONTENDERS.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn zipf_ranks_map_to_a_fixed_permutation_of_the_keys() {
        let ranks = rank_to_key(1000, 0.99);
        assert_eq!(ranks, rank_to_key(1000, 0.99), "seeded");
        let mut sorted = ranks.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>(), "a permutation");
        assert_ne!(
            ranks[..16],
            sorted[..16],
            "the hottest ranks are not the first keys"
        );
        assert_eq!(rank_to_key(16, 0.0), (0..16).collect::<Vec<u32>>());
    }

    #[test]
    fn workload_picks_one_workload_and_refuses_an_unknown_one() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let config = Config::from_args(args(&["--workload", "hot"]).into_iter()).unwrap();
        let names: Vec<_> = specs(&config).iter().map(|spec| spec.name).collect();
        assert_eq!(names, ["hot"]);
        let all = Config::from_args(std::iter::empty()).unwrap();
        assert_eq!(specs(&all).len(), 3);
        let err = Config::from_args(args(&["--workload", "warm"]).into_iter()).err();
        assert_eq!(
            err.as_deref(),
            Some("--workload needs `zipf`, `uniform` or `hot`")
        );
    }
}
