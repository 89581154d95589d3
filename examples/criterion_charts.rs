//! Bar charts and markdown tables of the latest criterion results, for
//! BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench hot_path && cargo bench --bench json
//! cargo run --example criterion_charts -- charts                    # reads target/criterion
//! cargo run --example criterion_charts -- CRITERION_DIR CHARTS_DIR
//! ```
//!
//! # What it reads
//! Every folder in `CRITERION_DIR` (default `target/criterion`) is one
//! benchmark group (criterion writes `serialize/struct_1k` as
//! `serialize_struct_1k`). Below it, every folder with a `new/` holds one
//! benchmark's latest run: `new/estimates.json` gives its median time per
//! iteration (`median.point_estimate`, in ns), and `new/benchmark.json` its
//! names (`group_id`, `function_id`, `value_str`) and `throughput`
//! (`{"Elements": n}`, `{"Bytes": n}` or null).
//!
//! # What it writes
//! One `CHARTS_DIR/criterion-<folder>.svg` per group, one bar per benchmark
//! in name order: millions of elements per second if every benchmark of the
//! group counts elements, MiB/s if every one counts bytes, else the median
//! time per iteration in ns, µs, ms or s, whichever suits the slowest.
//! The same figures go to stdout as one markdown table per group.

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::Value;

#[path = "support/bars.rs"]
mod bars;

/// Printed for `--help` and after a bad argument.
const USAGE: &str = "usage: criterion_charts [CRITERION_DIR] CHARTS_DIR
  CRITERION_DIR  criterion's output folder (default: target/criterion)
  CHARTS_DIR     where to draw one criterion-<group>.svg per group";

/// Units of time per iteration, in nanoseconds each.
const TIME_UNITS: [(f64, &str); 4] = [(1.0, "ns"), (1e3, "µs"), (1e6, "ms"), (1e9, "s")];

/// What one iteration of a benchmark processes, from its `throughput`.
#[derive(Clone, Copy)]
enum Throughput {
    /// This many elements (operations).
    Elements(f64),
    /// This many bytes.
    Bytes(f64),
    /// Not declared.
    None,
}

/// One benchmark's latest run.
struct Bench {
    /// Its name within the group: `function_id`, `/value_str` if any.
    name: String,
    /// Median time per iteration, in nanoseconds.
    median_ns: f64,
    /// What one iteration processes.
    throughput: Throughput,
}

/// What a group's bars show.
enum Measure {
    /// Millions of elements per second.
    Elements,
    /// MiB per second.
    Bytes,
    /// Time per iteration in a unit of [`TIME_UNITS`].
    Time(f64, &'static str),
}

impl Measure {
    /// Elements or bytes per second if every benchmark of `benches`
    /// declares that throughput, else time in the unit that suits the
    /// slowest.
    fn of(benches: &[Bench]) -> Measure {
        let all = |f: fn(Throughput) -> bool| benches.iter().all(|b| f(b.throughput));
        if all(|t| matches!(t, Throughput::Elements(_))) {
            Measure::Elements
        } else if all(|t| matches!(t, Throughput::Bytes(_))) {
            Measure::Bytes
        } else {
            let slowest = benches.iter().map(|b| b.median_ns).fold(0.0, f64::max);
            let (scale, unit) = TIME_UNITS
                .into_iter()
                .rfind(|&(scale, _)| slowest >= scale)
                .unwrap_or(TIME_UNITS[0]);
            Measure::Time(scale, unit)
        }
    }

    /// The axis and column description.
    fn label(&self) -> String {
        match self {
            Measure::Elements => "million elements per second (median)".to_owned(),
            Measure::Bytes => "MiB per second (median)".to_owned(),
            Measure::Time(_, unit) => format!("{unit} per iteration (median)"),
        }
    }

    /// The figure shown for `bench`.
    fn value(&self, bench: &Bench) -> f64 {
        let per_second = 1e9 / bench.median_ns;
        match (self, bench.throughput) {
            (Measure::Elements, Throughput::Elements(n)) => n * per_second / 1e6,
            (Measure::Bytes, Throughput::Bytes(n)) => n * per_second / (1024.0 * 1024.0),
            (Measure::Time(scale, _), _) => bench.median_ns / scale,
            _ => unreachable!("Measure::of picks a throughput every benchmark declares"),
        }
    }
}

/// Reads and parses the JSON file at `path`.
fn read_json(path: &Path) -> Result<Value, Box<dyn Error>> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Reads the run in `dir/new/`, returning it and its `group_id`.
fn read_bench(dir: &Path) -> Result<(Bench, String), Box<dyn Error>> {
    let estimates = read_json(&dir.join("new/estimates.json"))?;
    let benchmark = read_json(&dir.join("new/benchmark.json"))?;
    let median_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median", dir.display()))?;
    let text = |key: &str| benchmark[key].as_str().map(str::to_owned);
    let names: Vec<String> = [text("function_id"), text("value_str")]
        .into_iter()
        .flatten()
        .collect();
    let group = text("group_id").unwrap_or_default();
    let count = |n: &Value| n.as_f64().ok_or("throughput is not a number");
    let throughput = match &benchmark["throughput"] {
        Value::Null => Throughput::None,
        Value::Object(t) => match t.iter().next() {
            Some((kind, n)) if kind == "Elements" => Throughput::Elements(count(n)?),
            Some((kind, n)) if kind == "Bytes" || kind == "BytesDecimal" => {
                Throughput::Bytes(count(n)?)
            }
            Some((kind, n)) if kind == "ElementsAndBytes" => {
                Throughput::Elements(count(&n["elements"])?)
            }
            _ => Throughput::None,
        },
        other => return Err(format!("{}: throughput {other}", dir.display()).into()),
    };
    let name = if names.is_empty() {
        group.clone()
    } else {
        names.join("/")
    };
    let bench = Bench {
        name,
        median_ns,
        throughput,
    };
    Ok((bench, group))
}

/// The sorted subfolders of `dir`.
fn subfolders(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Appends every benchmark below `dir` to `benches`, with its group id:
/// a folder with a `new/benchmark.json` is one, any other folder but
/// criterion's `report` may hold some (a benchmark with a parameter lives
/// in `function/value/`).
fn collect(dir: &Path, benches: &mut Vec<(Bench, String)>) -> Result<(), Box<dyn Error>> {
    for sub in subfolders(dir)? {
        if sub.join("new/benchmark.json").is_file() {
            benches.push(read_bench(&sub)?);
        } else if !sub.ends_with("report") {
            collect(&sub, benches)?;
        }
    }
    Ok(())
}

/// Prints the table of one group and draws its chart into `charts`.
fn report(
    folder: &str,
    group: &str,
    benches: &[Bench],
    charts: &Path,
) -> Result<(), Box<dyn Error>> {
    let measure = Measure::of(benches);
    let bars: Vec<(String, f64)> = benches
        .iter()
        .map(|b| (b.name.clone(), measure.value(b)))
        .collect();
    let file = format!("criterion-{folder}.svg");
    println!("\n### {group} (`{file}`)\n");
    println!("| benchmark | {} |", measure.label());
    println!("|:--|--:|");
    for (name, value) in &bars {
        println!("| {name} | {value:.2} |");
    }
    let chart = bars::Bars {
        title: group,
        x_label: &measure.label(),
    };
    chart.draw(&charts.join(file), &bars)
}

/// Reports every group in `criterion` into `charts`.
fn run(criterion: &Path, charts: &Path) -> Result<(), Box<dyn Error>> {
    let mut groups = 0;
    for dir in subfolders(criterion)? {
        let mut found = Vec::new();
        collect(&dir, &mut found)?;
        let Some(folder) = dir.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(group) = found.first().map(|(_, group)| group.clone()) else {
            continue;
        };
        let benches: Vec<Bench> = found.into_iter().map(|(bench, _)| bench).collect();
        report(folder, &group, &benches, charts)?;
        groups += 1;
    }
    if groups == 0 {
        return Err(format!("no criterion results in {}", criterion.display()).into());
    }
    eprintln!("drew {groups} charts into {}", charts.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (criterion, charts) = match args.as_slice() {
        [charts] => ("target/criterion", charts),
        [criterion, charts] => (criterion.as_str(), charts),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = run(Path::new(criterion), Path::new(charts)) {
        eprintln!("criterion_charts: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
