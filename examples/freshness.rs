//! Read latency while keys expire: strcache's `LoadingCache` with
//! refresh-ahead, the same cache without it, and moka, side by side on one
//! workload in one run (issue 19).
//!
//! ```text
//! cargo run --release --example freshness               # 5 s per configuration, about 30 s
//! cargo run --release --example freshness -- --quick    # 1 s per configuration, about 8 s
//! cargo run --release --example freshness -- --ttl-ms 200
//! cargo run --release --example freshness -- --readers 1 --reverse
//! ```
//!
//! `--readers N` changes the number of reader threads; `--reverse` runs the
//! configurations last to first (the report keeps its order), to tell drift
//! in the machine from a difference between them.
//!
//! # What is measured
//! The latency of single reads, in percentiles (p50, p99, p99.9, p99.99,
//! max), from a cache whose every key expires several times during the
//! run:
//! - a backend whose every call sleeps 1 ms and returns the key's
//!   `VALUE_LEN`-byte JSON string, and counts its calls (and those made on
//!   a reader's thread, where a reader waits for them);
//! - 1,000 `u64` keys, read by 4 threads (`--readers`), each key drawn uniformly at
//!   random (a seeded RNG per thread, drawn before the clock starts), so
//!   that every key is hot;
//! - a time to live of 1 s (`--ttl-ms` changes it); the readers first run
//!   untimed for two TTLs, at most 5 s (one, at most 1 s, in quick
//!   mode), which loads every key and lets the first expiries spread out;
//!   then each read is timed with `Instant::now()` into the thread's own
//!   `hdrhistogram::Histogram`, in nanoseconds, for 5 s (1 s in quick
//!   mode); the histograms are merged at the end. The backend and refresh counts cover the timed window only.
//!
//! The readers never pause, so hits outnumber the reads that wait for the
//! backend by several thousand to one (1,000 expiries a second against
//! millions of hits): p99 and p99.9 are hit latencies in every configuration, and a
//! wait for the backend shows at p99.99 and in the count of reads that took
//! 1 ms or more. That count also holds reads preempted by the scheduler,
//! which four spinning readers on a small machine make common: compare it
//! with a run with a TTL no read outlives (`--ttl-ms 1000000`).
//!
//! The configurations, in the order they run:
//! 1. strcache `LoadingCache`, refresh-ahead on: `refresh_after` at 3/4 of
//!    the TTL, `serve_stale_for` one TTL, `Pipeline::threads(2)` (queue
//!    1,024);
//! 2. strcache `LoadingCache` with the same TTL and no refresh: a read of
//!    an expired key loads it on the reader's thread (concurrent readers of
//!    the key wait for that one load);
//! 3. moka 0.12 `sync::Cache` with `time_to_live(TTL)`, read with
//!    `get_with(key, || backend)`, which loads a missing or expired key on
//!    the reader's thread, single flight too;
//! 4. strcache `LoadingCache` with `refresh_after` only, no stale window.
//!
//! Why a TTL of 1 s and not less: two refresh workers reload at most about
//! 2,000 keys a second (1 ms each, more when a woken worker waits for a
//! CPU: the report gives the mean time of a backend call), and
//! refresh-ahead asks for 1,000 keys every 3/4 TTL, 1,333 a second at 1 s.
//! At 200 ms it would ask for 6,667: the queue backs up, keys expire past
//! their stale window while their reload waits in it, and their readers
//! wait too, as `--ttl-ms 200` shows.
//!
//! # Output
//! stdout holds the report in markdown: one table with the reads, the
//! percentiles in µs, how many reads took 1 ms or more, the backend calls
//! (all, those on readers' threads, and their mean time), the stale reads,
//! and each percentile over moka's; then what each refresh pipeline did.
//! Progress goes to stderr, one line per configuration.
//!
//! The machine is shared and noisy: compare within one run, and look at
//! the spread of several runs before trusting a tail percentile.

use std::{
    cell::Cell,
    convert::Infallible,
    hint::black_box,
    process::ExitCode,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use rand::{rngs::SmallRng, RngExt, SeedableRng};
use strcache::{LoadingCache, Pipeline, RefreshStats, StrCache};

#[path = "../benches/support/workload.rs"]
mod workload;
use workload::{key, touch, value_for, VALUE_LEN};

/// How many keys the readers read.
const KEYS: u64 = 1_000;
/// How many threads read, unless `--readers` says.
const READERS: usize = 4;
/// How long every backend call takes.
const BACKEND_LATENCY: Duration = Duration::from_millis(1);
/// Threads of the refresh pipeline.
const REFRESH_THREADS: usize = 2;
/// The largest latency the histograms hold, in ns; longer reads are
/// recorded as this.
const MAX_NANOS: u64 = 60_000_000_000;

/// The readers' phases, in [`Run::phase`].
const WARMING: u8 = 0;
const TIMING: u8 = 1;
const STOPPED: u8 = 2;

/// Printed for `--help` and after a bad argument.
const USAGE: &str = "usage: freshness [--quick] [--ttl-ms N] [--readers N] [--reverse]
  --quick       1 s per configuration instead of 5 s (for CI)
  --ttl-ms N    the keys' time to live, in ms (default 1000)
  --readers N   reader threads (default 4)
  --reverse     run the configurations in reverse order, to see drift";

thread_local! {
    /// Whether this thread is a reader, for [`Backend::calls_on_readers`].
    static READER: Cell<bool> = const { Cell::new(false) };
}

/// The settings of one run, from the command line.
struct Config {
    /// Reader threads.
    readers: usize,
    /// Run the configurations last to first.
    reverse: bool,
    /// The keys' time to live.
    ttl: Duration,
    /// How long the readers run before the timed window.
    warmup: Duration,
    /// How long the timed window lasts.
    duration: Duration,
}

impl Config {
    /// The settings `args` ask for, or what is wrong with them.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut quick = false;
        let mut reverse = false;
        let mut readers = READERS;
        let mut ttl = Duration::from_secs(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--reverse" => reverse = true,
                "--ttl-ms" => ttl = Duration::from_millis(positive(&arg, args.next())?),
                "--readers" => {
                    readers =
                        usize::try_from(positive(&arg, args.next())?).map_err(|e| e.to_string())?;
                }
                "--help" | "-h" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Config {
            readers,
            reverse,
            ttl,
            // Capped, so that `--ttl-ms` with a long TTL (a run of hits
            // only) does not wait for it.
            warmup: if quick {
                ttl.min(Duration::from_secs(1))
            } else {
                (2 * ttl).min(Duration::from_secs(5))
            },
            duration: Duration::from_secs(if quick { 1 } else { 5 }),
        })
    }
}

/// The value of `flag`, a positive number, or what is wrong with it.
fn positive(flag: &str, value: Option<String>) -> Result<u64, String> {
    value
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{flag} needs a positive number"))
}

/// The slow service behind every cache: sleeps, then serializes.
#[derive(Default)]
struct Backend {
    /// Every call.
    calls: AtomicU64,
    /// The calls made on a reader's thread, which that reader waited for.
    calls_on_readers: AtomicU64,
    /// The time all calls took, in ns: more than [`BACKEND_LATENCY`] each
    /// when a thread waits for a CPU after its sleep.
    nanos: AtomicU64,
}

impl Backend {
    /// The value of `id`, after [`BACKEND_LATENCY`].
    fn call(&self, id: u64) -> String {
        let start = Instant::now();
        thread::sleep(BACKEND_LATENCY);
        let id = usize::try_from(id).unwrap_or(usize::MAX);
        let value = value_for(&key(id));
        self.calls.fetch_add(1, Ordering::Relaxed);
        if READER.with(Cell::get) {
            self.calls_on_readers.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        value
    }

    /// The calls and their time so far.
    fn counts(&self) -> Calls {
        Calls {
            all: self.calls.load(Ordering::Relaxed),
            on_readers: self.calls_on_readers.load(Ordering::Relaxed),
            nanos: self.nanos.load(Ordering::Relaxed),
        }
    }
}

/// What [`Backend`] counted.
#[derive(Clone, Copy, Default)]
struct Calls {
    /// Every call.
    all: u64,
    /// The calls on readers' threads.
    on_readers: u64,
    /// The time they took, in ns.
    nanos: u64,
}

impl Calls {
    /// The calls from `before` to `self`.
    fn since(self, before: Calls) -> Calls {
        Calls {
            all: self.all - before.all,
            on_readers: self.on_readers - before.on_readers,
            nanos: self.nanos - before.nanos,
        }
    }

    /// The mean time of a call, in ms.
    fn mean_ms(self) -> f64 {
        self.nanos as f64 / 1e6 / self.all.max(1) as f64
    }
}

/// A cache under test, loading from a [`Backend`].
trait Contender: Sync {
    /// Reads `id`, loading it if the cache must, and [`touch`]es the value;
    /// whether it was served stale.
    fn read(&self, id: u64) -> Result<bool, String>;
    /// What the refresh pipeline did so far; zero without one.
    fn refreshes(&self) -> RefreshStats;
}

impl Contender for LoadingCache<u64, Infallible> {
    fn read(&self, id: u64) -> Result<bool, String> {
        let served = self.get(&id).map_err(|e| e.to_string())?;
        black_box(touch(served.as_bytes()));
        Ok(served.is_stale())
    }
    fn refreshes(&self) -> RefreshStats {
        self.stats().refreshes
    }
}

/// moka, with the backend it loads from.
struct Moka {
    cache: moka::sync::Cache<u64, Arc<str>, ahash::RandomState>,
    backend: Arc<Backend>,
}

impl Contender for Moka {
    fn read(&self, id: u64) -> Result<bool, String> {
        let value = self.cache.get_with(id, || Arc::from(self.backend.call(id)));
        black_box(touch(value.as_bytes()));
        Ok(false)
    }
    fn refreshes(&self) -> RefreshStats {
        RefreshStats::default()
    }
}

/// The configurations compared, in the order they run and print.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    RefreshAhead,
    NoRefresh,
    Moka,
    RefreshOnly,
}

impl Setup {
    const ALL: [Setup; 4] = [
        Setup::RefreshAhead,
        Setup::NoRefresh,
        Setup::Moka,
        Setup::RefreshOnly,
    ];

    /// The row label in the report.
    fn name(self) -> &'static str {
        match self {
            Setup::RefreshAhead => "strcache, refresh-ahead + stale window",
            Setup::NoRefresh => "strcache, no refresh",
            Setup::Moka => "moka `get_with`",
            Setup::RefreshOnly => "strcache, `refresh_after` only",
        }
    }

    /// The cache, empty, loading from `backend`, its keys living `ttl`.
    fn build(self, ttl: Duration, backend: &Arc<Backend>) -> Box<dyn Contender> {
        if self == Setup::Moka {
            let cache = moka::sync::Cache::builder()
                .time_to_live(ttl)
                .build_with_hasher(ahash::RandomState::new());
            let backend = Arc::clone(backend);
            return Box::new(Moka { cache, backend });
        }
        let builder = StrCache::<u64>::builder().time_to_live(ttl);
        let builder = match self {
            Setup::RefreshAhead => builder.refresh_after(ttl * 3 / 4).serve_stale_for(ttl),
            Setup::RefreshOnly => builder.refresh_after(ttl * 3 / 4),
            Setup::NoRefresh | Setup::Moka => builder,
        };
        let builder = if self == Setup::NoRefresh {
            builder
        } else {
            builder.refresh_pipeline(Pipeline::threads(REFRESH_THREADS))
        };
        let backend = Arc::clone(backend);
        Box::new(builder.build_loading(move |id: &u64| Ok::<_, Infallible>(backend.call(*id))))
    }
}

/// What one configuration measured, over its timed window.
struct Outcome {
    setup: Setup,
    /// Every timed read's latency, in ns.
    latency: Histogram<u64>,
    /// Timed reads that returned a stale value.
    stale: u64,
    /// Backend calls.
    calls: Calls,
    /// What the refresh pipeline did.
    refreshes: RefreshStats,
}

/// What one reader measured.
struct ReaderOutcome {
    latency: Histogram<u64>,
    stale: u64,
}

/// The phase the readers are in, set by the thread that times the run.
struct Run {
    phase: AtomicU8,
}

/// Runs `setup` on a new cache: warm-up, then the timed window.
fn measure(setup: Setup, config: &Config) -> Result<Outcome, String> {
    let backend = Arc::new(Backend::default());
    let cache = setup.build(config.ttl, &backend);
    let run = Run {
        phase: AtomicU8::new(WARMING),
    };
    let (readers, before, after) = thread::scope(|s| {
        let handles: Vec<_> = (0..config.readers)
            .map(|i| {
                let (cache, run) = (&*cache, &run);
                s.spawn(move || read(cache, run, i as u64))
            })
            .collect();
        thread::sleep(config.warmup);
        let before = (backend.counts(), cache.refreshes());
        run.phase.store(TIMING, Ordering::Relaxed);
        thread::sleep(config.duration);
        run.phase.store(STOPPED, Ordering::Relaxed);
        let after = (backend.counts(), cache.refreshes());
        let readers: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a reader panicked".to_owned())?)
            .collect();
        (readers, before, after)
    });
    let mut latency = histogram()?;
    let mut stale = 0;
    for reader in readers {
        let reader = reader?;
        latency.add(&reader.latency).map_err(|e| e.to_string())?;
        stale += reader.stale;
    }
    let (calls_before, r0) = before;
    let (calls_after, r1) = after;
    let mut refreshes = RefreshStats::default();
    refreshes.scheduled = r1.scheduled - r0.scheduled;
    refreshes.dropped = r1.dropped - r0.dropped;
    refreshes.succeeded = r1.succeeded - r0.succeeded;
    refreshes.failed = r1.failed - r0.failed;
    refreshes.stale_served = r1.stale_served - r0.stale_served;
    Ok(Outcome {
        setup,
        latency,
        stale,
        calls: calls_after.since(calls_before),
        refreshes,
    })
}

/// An empty histogram of latencies from 1 ns to [`MAX_NANOS`], 3
/// significant digits.
fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, MAX_NANOS, 3).map_err(|e| e.to_string())
}

/// A reader: reads random keys until stopped, timing the reads of the
/// timed window.
fn read(cache: &dyn Contender, run: &Run, seed: u64) -> Result<ReaderOutcome, String> {
    READER.with(|r| r.set(true));
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut latency = histogram()?;
    let mut stale = 0;
    loop {
        let phase = run.phase.load(Ordering::Relaxed);
        if phase == STOPPED {
            return Ok(ReaderOutcome { latency, stale });
        }
        let id = rng.random_range(0..KEYS);
        let start = Instant::now();
        let was_stale = cache.read(id)?;
        let nanos = start.elapsed().as_nanos();
        if phase == TIMING {
            latency.saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
            stale += u64::from(was_stale);
        }
    }
}

fn main() -> ExitCode {
    let config = match Config::parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let mut setups = Setup::ALL;
    if config.reverse {
        setups.reverse();
    }
    let mut outcomes = Vec::new();
    for setup in setups {
        eprintln!("measuring {} ...", setup.name());
        match measure(setup, &config) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                eprintln!("{}: {e}", setup.name());
                return ExitCode::FAILURE;
            }
        }
    }
    outcomes.sort_by_key(|o| Setup::ALL.iter().position(|&s| s == o.setup));
    report(&config, &outcomes);
    ExitCode::SUCCESS
}

/// The percentiles reported, as (column label, quantile); `None` is the
/// maximum. p99.99 is there because a read that waits for the backend is
/// rarer than one in a thousand here (see the module docs).
const PERCENTILES: [(&str, Option<f64>); 5] = [
    ("p50", Some(0.5)),
    ("p99", Some(0.99)),
    ("p99.9", Some(0.999)),
    ("p99.99", Some(0.9999)),
    ("max", None),
];

/// The percentile `q` of `h` (its maximum for `None`), in ns.
fn percentile(h: &Histogram<u64>, q: Option<f64>) -> u64 {
    q.map_or_else(|| h.max(), |q| h.value_at_quantile(q))
}

/// Prints the report in markdown.
fn report(config: &Config, outcomes: &[Outcome]) {
    println!(
        "{KEYS} keys of {VALUE_LEN} bytes, uniform, {} readers, TTL {} ms, \
         backend {} ms a call, timed window {} s after {} s of warm-up{}\n",
        config.readers,
        config.ttl.as_millis(),
        BACKEND_LATENCY.as_millis(),
        config.duration.as_secs_f64(),
        config.warmup.as_secs_f64(),
        if config.reverse {
            ", run last to first"
        } else {
            ""
        },
    );
    let moka = outcomes.iter().find(|o| o.setup == Setup::Moka);
    let labels: Vec<_> = PERCENTILES.iter().map(|(label, _)| *label).collect();
    println!(
        "| configuration | reads | {} (µs) | reads ≥ 1 ms | backend calls | on readers | ms a call | stale reads | {} |",
        labels.join(" (µs) | "),
        labels.join(" / moka | ") + " / moka",
    );
    println!("|---|{}", "--:|".repeat(2 * PERCENTILES.len() + 6));
    for o in outcomes {
        let h = &o.latency;
        let values: Vec<_> = PERCENTILES
            .iter()
            .map(|&(_, q)| micros(percentile(h, q)))
            .collect();
        let ratios: Vec<_> = PERCENTILES
            .iter()
            .map(|&(_, q)| {
                moka.map_or("-".to_owned(), |m| {
                    ratio(percentile(h, q), percentile(&m.latency, q))
                })
            })
            .collect();
        let slow = h.count_between(BACKEND_LATENCY.as_nanos() as u64, MAX_NANOS);
        let stale = if o.setup == Setup::Moka {
            "-".to_owned()
        } else {
            o.stale.to_string()
        };
        println!(
            "| {} | {} | {} | {slow} | {} | {} | {:.2} | {stale} | {} |",
            o.setup.name(),
            h.len(),
            values.join(" | "),
            o.calls.all,
            o.calls.on_readers,
            o.calls.mean_ms(),
            ratios.join(" | "),
        );
    }
    println!("\nThe refresh pipelines, over the timed window:\n");
    println!(
        "| configuration | reloads queued | dropped (queue full) | succeeded | failed | stale served |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    for o in outcomes.iter().filter(|o| o.setup != Setup::Moka) {
        let r = &o.refreshes;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            o.setup.name(),
            r.scheduled,
            r.dropped,
            r.succeeded,
            r.failed,
            r.stale_served,
        );
    }
}

/// `nanos` in µs: two decimals below 10 µs, none above.
fn micros(nanos: u64) -> String {
    let us = nanos as f64 / 1e3;
    if us < 10.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.0}")
    }
}

/// `a` over `b`, as `1.23x`.
fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".to_owned()
    } else {
        format!("{:.2}x", a as f64 / b as f64)
    }
}
