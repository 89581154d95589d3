//! Hit ratio on the ARC paper's traces (`traces/`), one thread, capacity in
//! entries, as a get-or-insert replay: each request reads its key and, on
//! a miss, inserts it. strcache beside an exact LRU (the `lru` crate),
//! moka and quick_cache, all replayed in the same run. quick_cache runs
//! twice: as `Cache::new` builds it, with its default shards (four per
//! core, fewer at small capacities; each with its own part of the capacity
//! and its own policy), and with one shard, the fair setting for a trace
//! that one thread replays.
//!
//! ```text
//! cargo run --release --example hit_ratio            # all 11 points
//! cargo run --release --example hit_ratio -- OLTP    # one trace
//! cargo run --release --example hit_ratio -- P6 65536 strcache
//! cargo run --release --example hit_ratio -- P6 65536 --runs 10
//! cargo run --release --example hit_ratio -- OLTP --csv hit_ratio.csv --charts charts
//! ```
//!
//! Each other argument is a trace name, a capacity or a cache name (`lru`,
//! `moka`, `quick_cache`, `quick_cache_1shard`, `strcache`); the run keeps
//! the points and the caches that match the arguments of each kind given,
//! and skips the columns of caches left out. One more cache runs only when
//! named: `quick_cache_1shard_pinned`, quick_cache with one shard whose
//! `get` and `insert` each run under a pin of crossbeam-epoch, as
//! strcache's `get_str` and `insert` each pin: what the pin alone costs a
//! replay (docs/engine-v2.md, "What the per-call pin costs quick_cache's
//! replay").
//!
//! ```text
//! cargo run --release --example hit_ratio -- OLTP 1000 quick_cache_1shard quick_cache_1shard_pinned --runs 5
//! ```
//!
//! `--runs N` replays every point N times on new caches and reports the
//! mean with the least and greatest run (default 1). Every cache but `lru`
//! seeds its hasher at random when it is built, and the hash decides which
//! keys share a shard, a sketch counter or a ghost, so one run's figure
//! can differ from the next by up to a point; the mean of a few runs is
//! what tells two close policies apart. The runs at a point take turns:
//! run 1 of every cache, then run 2 of every cache, and so on.
//!
//! A second table follows, of replay speed: for each point and cache, the
//! median over the runs of the requests replayed per second, in millions,
//! timed over the requests alone (not building the cache or reading the
//! trace). It ends with strcache's median over quick_cache's, for each
//! quick_cache setting that ran beside strcache, and with the pinned
//! quick_cache's over its own, when both ran. One thread replays, so
//! the figures are a single core's; on a shared machine they are noisy,
//! and taking turns spreads the machine's drift over every cache alike.
//!
//! `--csv PATH` also writes every cell to a CSV file, one row per
//! `trace,capacity,cache,hit_ratio,min,max,mreq_s` (hit ratios in percent,
//! as in the table; `hit_ratio` is the mean; `mreq_s` is the median speed
//! in millions of requests per second);
//! `--charts DIR` draws one SVG per trace (`hit_ratio-oltp.svg`): hit ratio
//! against capacity on a log scale, one line per cache.

use std::{
    env,
    error::Error,
    fmt,
    num::NonZeroUsize,
    path::{Path, PathBuf},
    time::Instant,
};

#[path = "../tests/support/traces.rs"]
mod traces;

#[path = "support/report.rs"]
mod report;

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

/// quick_cache with one shard, each call under a pin of crossbeam-epoch's
/// default collector, as each of strcache's calls pins.
struct QuickCachePinned(quick_cache::sync::Cache<u64, ()>);

impl Replay for QuickCachePinned {
    fn request(&mut self, key: u64) -> bool {
        {
            let _pin = crossbeam_epoch::pin();
            if self.0.get(&key).is_some() {
                return true;
            }
        }
        let _pin = crossbeam_epoch::pin();
        self.0.insert(key, ());
        false
    }
}

replay!(Lru(lru::LruCache<u64, ()>), put);
replay!(Moka(moka::sync::Cache<u64, ()>), insert);
replay!(QuickCache(quick_cache::sync::Cache<u64, ()>), insert);

/// Replays `keys` into `cache`: its hit ratio in percent, and the requests
/// it served per second, timed over the requests alone.
fn replay(cache: &mut dyn Replay, keys: &[u64]) -> (f64, f64) {
    let started = Instant::now();
    let hits = keys.iter().filter(|&&k| cache.request(k)).count();
    let per_second = keys.len() as f64 / started.elapsed().as_secs_f64();
    (100.0 * hits as f64 / keys.len() as f64, per_second)
}

/// Hit ratios and replay speed of one cache at one point over several runs.
struct Cell {
    mean: f64,
    min: f64,
    max: f64,
    /// The median of the runs' speeds (the mean of the middle two of an
    /// even count), in millions of requests per second.
    mreq_s: f64,
}

impl Cell {
    /// Replays `keys` `runs` times on a new cache of each of `names`, of
    /// `capacity` entries, and returns their cells in `names` order. The
    /// caches take turns, one run each, so that a change in the machine's
    /// speed during the point slows them alike.
    fn measure(names: &[&str], capacity: u64, keys: &[u64], runs: u32) -> Vec<Self> {
        let mut measured = vec![(Vec::new(), Vec::new()); names.len()];
        for _ in 0..runs {
            for (name, (ratios, speeds)) in names.iter().zip(&mut measured) {
                let (ratio, speed) = replay(cache(name, capacity).as_mut(), keys);
                ratios.push(ratio);
                speeds.push(speed);
            }
        }
        measured
            .iter()
            .map(|(ratios, speeds)| Self::of(ratios, speeds))
            .collect()
    }

    /// The cell of one cache's runs: `ratios` holds their hit ratios in run
    /// order, `speeds` their requests per second.
    fn of(ratios: &[f64], speeds: &[f64]) -> Self {
        let mut sorted = speeds.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        Self {
            mean: ratios.iter().sum::<f64>() / ratios.len() as f64,
            min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            max: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mreq_s: (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0 / 1e6,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.mean)?;
        if self.max > self.min {
            write!(f, " ({:.2}-{:.2})", self.min, self.max)?;
        }
        Ok(())
    }
}

/// The caches of the comparison, by the name an argument selects them with.
const CACHES: [&str; 6] = [
    "lru",
    "moka",
    "quick_cache",
    "quick_cache_1shard",
    "quick_cache_1shard_pinned",
    "strcache",
];

/// The caches of [`CACHES`] that run only when named.
const ON_REQUEST: [&str; 1] = ["quick_cache_1shard_pinned"];

/// A new cache named `name` (one of [`CACHES`]) of `capacity` entries.
fn cache(name: &str, capacity: u64) -> Box<dyn Replay> {
    let n = NonZeroUsize::new(capacity as usize).expect("capacities are positive");
    match name {
        "lru" => Box::new(Lru(lru::LruCache::new(n))),
        "moka" => Box::new(Moka(moka::sync::Cache::new(capacity))),
        "quick_cache" => Box::new(QuickCache(quick_cache::sync::Cache::new(capacity as usize))),
        "quick_cache_1shard" | "quick_cache_1shard_pinned" => {
            let options = quick_cache::OptionsBuilder::new()
                .shards(1)
                .estimated_items_capacity(capacity as usize)
                .weight_capacity(capacity)
                .build()
                .expect("every option is set");
            let cache = quick_cache::sync::Cache::with_options(
                options,
                Default::default(),
                Default::default(),
                Default::default(),
            );
            if name == "quick_cache_1shard" {
                Box::new(QuickCache(cache))
            } else {
                Box::new(QuickCachePinned(cache))
            }
        }
        _ => Box::new(Strcache(
            strcache::StrCache::builder().max_entries(capacity).build(),
        )),
    }
}

/// Whether `value` passes the filter `wanted`: it is in it, or it is empty.
fn selected<T: PartialEq>(wanted: &[T], value: &T) -> bool {
    wanted.is_empty() || wanted.contains(value)
}

/// One row of the tables: a trace, a capacity and the cell of each cache
/// column.
type Row = (&'static str, u64, Vec<Cell>);

/// The ratios that end the speed table: strcache's median over each
/// quick_cache setting's, and the pinned quick_cache's over its own, by
/// cache name.
const SPEED_RATIOS: [(&str, &str); 3] = [
    ("strcache", "quick_cache"),
    ("strcache", "quick_cache_1shard"),
    ("quick_cache_1shard_pinned", "quick_cache_1shard"),
];

/// Prints the replay speed of `rows` over `runs` runs as a Markdown table:
/// one column per cache (`columns` by name, `titles` as headed), then each
/// of [`SPEED_RATIOS`] whose two caches both ran.
fn print_speed_table(columns: &[&str], titles: &[&str], rows: &[Row], runs: u32) {
    let column = |name| columns.iter().position(|&c| c == name);
    let ratios: Vec<(String, usize, usize)> = SPEED_RATIOS
        .iter()
        .filter_map(|&(a, b)| Some((format!("{a} / {b}"), column(a)?, column(b)?)))
        .collect();
    let runs = match runs {
        1 => "one run".to_owned(),
        n => format!("the median of {n} runs"),
    };
    println!();
    println!(
        "Replay speed in millions of requests per second: one thread, {runs}; \
         timing is noisy on a shared machine."
    );
    println!();
    let ratio_titles = ratios.iter().map(|(title, _, _)| title.as_str());
    let headings: Vec<&str> = titles.iter().copied().chain(ratio_titles).collect();
    println!("| trace | capacity | {} |", headings.join(" | "));
    println!("|---|--:|{}", "--:|".repeat(headings.len()));
    for (trace, capacity, cells) in rows {
        let speeds = cells.iter().map(|cell| format!("{:.2}", cell.mreq_s));
        let quotients = ratios
            .iter()
            .map(|&(_, a, b)| format!("{:.2}x", cells[a].mreq_s / cells[b].mreq_s));
        let text: Vec<String> = speeds.chain(quotients).collect();
        println!("| {trace} | {capacity} | {} |", text.join(" | "));
    }
}

/// Writes `rows` to `path` as CSV, one line per cell; `columns` names the
/// caches.
fn write_table_csv(path: &Path, columns: &[&str], rows: &[Row]) -> Result<(), Box<dyn Error>> {
    let lines: Vec<Vec<String>> = rows
        .iter()
        .flat_map(|(trace, capacity, cells)| {
            columns.iter().zip(cells).map(move |(cache, cell)| {
                vec![
                    trace.to_string(),
                    capacity.to_string(),
                    cache.to_string(),
                    format!("{:.4}", cell.mean),
                    format!("{:.4}", cell.min),
                    format!("{:.4}", cell.max),
                    format!("{:.4}", cell.mreq_s),
                ]
            })
        })
        .collect();
    let header = [
        "trace",
        "capacity",
        "cache",
        "hit_ratio",
        "min",
        "max",
        "mreq_s",
    ];
    report::write_csv(path, &header, &lines)
}

/// Draws one chart per trace of `rows` into `dir`, one line per cache;
/// `titles` names the caches in the legend.
fn draw_charts(dir: &Path, titles: &[&str], rows: &[Row]) -> Result<(), Box<dyn Error>> {
    for &(trace, _) in POINTS {
        let points: Vec<&Row> = rows.iter().filter(|row| row.0 == trace).collect();
        if points.is_empty() {
            continue;
        }
        let series: Vec<report::Series> = titles
            .iter()
            .enumerate()
            .map(|(column, title)| report::Series {
                name: title.to_string(),
                points: points
                    .iter()
                    .map(|(_, capacity, cells)| (*capacity as f64, cells[column].mean))
                    .collect(),
            })
            .collect();
        let chart = report::Chart {
            title: &format!("Hit ratio on the {trace} trace"),
            x_label: "capacity (entries, log scale)",
            y_label: "hit ratio (%)",
            log_x: true,
        };
        let path = dir.join(format!("hit_ratio-{}.svg", trace.to_lowercase()));
        chart.draw(&path, &series)?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = env::args().skip(1);
    let mut traces = Vec::new();
    let mut capacities = Vec::new();
    let mut caches = Vec::new();
    let (mut csv, mut charts, mut runs) = (None, None, 1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            let n = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
            runs = n.ok_or("--runs needs a positive number")?;
        } else if arg == "--csv" || arg == "--charts" {
            let path = args.next().map(PathBuf::from);
            let path = Some(path.ok_or(format!("{arg} needs a path"))?);
            if arg == "--csv" {
                csv = path;
            } else {
                charts = path;
            }
        } else if let Some(&name) = CACHES.iter().find(|&&name| name == arg) {
            caches.push(name);
        } else if let Ok(capacity) = arg.replace(',', "").parse::<u64>() {
            capacities.push(capacity);
        } else if let Some(&(trace, _)) = POINTS.iter().find(|&&(trace, _)| trace == arg) {
            traces.push(trace);
        } else {
            panic!("{arg:?} is no trace, capacity or cache of {POINTS:?}, {CACHES:?}");
        }
    }
    let columns: Vec<&str> = CACHES
        .into_iter()
        .filter(|name| {
            if caches.is_empty() {
                !ON_REQUEST.contains(name)
            } else {
                caches.contains(name)
            }
        })
        .collect();
    let titles: Vec<&str> = columns
        .iter()
        .map(|&name| match name {
            "lru" => "LRU",
            "moka" => "moka 0.12",
            "quick_cache" => "quick_cache 0.7",
            "quick_cache_1shard" => "quick_cache 0.7 (1 shard)",
            "quick_cache_1shard_pinned" => "quick_cache 0.7 (1 shard, pinned)",
            other => other,
        })
        .collect();
    println!("| trace | capacity | {} |", titles.join(" | "));
    println!("|---|--:|{}", "--:|".repeat(columns.len()));
    let started = Instant::now();
    let mut rows = Vec::new();
    for &(trace, trace_capacities) in POINTS {
        if !selected(&traces, &trace) {
            continue;
        }
        let keys = traces::requests(trace);
        for &capacity in trace_capacities {
            if !selected(&capacities, &capacity) {
                continue;
            }
            let cells = Cell::measure(&columns, capacity, &keys, runs);
            let text: Vec<String> = cells.iter().map(Cell::to_string).collect();
            println!("| {trace} | {capacity} | {} |", text.join(" | "));
            rows.push((trace, capacity, cells));
        }
    }
    eprintln!("replayed {runs} times each in {:.0?}", started.elapsed());
    print_speed_table(&columns, &titles, &rows, runs);
    if let Some(path) = csv {
        write_table_csv(&path, &columns, &rows)?;
    }
    if let Some(dir) = charts {
        draw_charts(&dir, &titles, &rows)?;
    }
    Ok(())
}
