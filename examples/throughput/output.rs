//! The report on stdout: a markdown table per workload with strcache's
//! ratios, and the verdict; and the `--csv` file and `--charts`.

use std::error::Error;

use crate::{
    report,
    verdict::{self, Ratio, Standing},
    Config, Pair, Row, MIXES, OWN_ROWS,
};

/// strcache against the fastest peer in each column of a workload's
/// table (its own variants are not peers).
fn standings(workload: &str, rows: &[Row]) -> Vec<Standing> {
    let (ours, peers) = (&rows[0], &rows[OWN_ROWS..]);
    (0..ours.cells.len())
        .map(|c| {
            let best = peers
                .iter()
                .max_by(|a, b| a.cells[c].median.total_cmp(&b.cells[c].median))
                .expect("peers");
            Standing {
                group: format!("{workload} {}", MIXES[c % MIXES.len()].0),
                threads: c / MIXES.len() + 1,
                peer: best.name,
                ratio: Ratio::of(ours.cells[c], best.cells[c]),
            }
        })
        .collect()
}

/// Prints one workload's table in markdown, with strcache's ratios.
pub(crate) fn print_table(name: &str, title: &str, columns: &[String], rows: &[Row]) {
    println!("\n### {title} (Mops/s)\n");
    println!("| crate | {} |", columns.join(" | "));
    println!("|:--|{}", "--:|".repeat(columns.len()));
    for row in rows {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|m| format!("{:.2}", m.median))
            .collect();
        println!("| {} | {} |", row.name, cells.join(" | "));
    }
    let (ours, rest) = rows.split_first().expect("strcache comes first");
    let (counted, rest) = rest.split_first().expect("then strcache (reads counted)");
    let (bounded, rest) = rest.split_first().expect("then strcache (bounded)");
    let (string_keys, peers) = rest.split_first().expect("then strcache (String keys)");
    let papaya = peers.iter().find(|r| r.name == "papaya").expect("papaya");
    let vs_best: Vec<String> = standings(name, rows)
        .iter()
        .map(|s| format!("{} ({})", s.ratio, s.peer))
        .collect();
    let vs_papaya: Vec<String> = (0..columns.len())
        .map(|c| Ratio::of(ours.cells[c], papaya.cells[c]).to_string())
        .collect();
    let vs_ours = |other: &Row| -> Vec<String> {
        (0..columns.len())
            .map(|c| Ratio::of(other.cells[c], ours.cells[c]).to_string())
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
    println!(
        "| String keys / CompactString keys strcache | {} |",
        vs_ours(string_keys).join(" | ")
    );
    println!("| strcache / papaya | {} |", vs_papaya.join(" | "));
}

/// Prints the verdict: where strcache leads and trails its fastest peer
/// (ties, the ratios marked `~`, apart), and what its own options cost,
/// from the pairs measured in turns.
pub(crate) fn print_verdict(config: &Config, tables: &[(&str, String, Vec<Row>)], pairs: &[Pair]) {
    println!("\n### Verdict\n");
    if config.quick {
        println!(
            "Quick mode: each cell ran once, so no spread is known and no ratio is marked; \
             run without `--quick` before relying on this.\n"
        );
    }
    let peers: Vec<&str> = (tables[0].2[OWN_ROWS..].iter())
        .map(|row| row.name)
        .collect();
    println!(
        "strcache against the fastest of its peers ({}) in each cell:\n",
        peers.join(", ")
    );
    let standings: Vec<Standing> = (tables.iter())
        .flat_map(|(name, _, rows)| standings(name, rows))
        .collect();
    for line in verdict::verdict(&standings) {
        println!("{line}");
    }
    println!(
        "- measured in turns, read-only: the unsynchronized floor, and strcache's options and key types:"
    );
    let mut names: Vec<&str> = Vec::new();
    for pair in pairs {
        if !names.contains(&pair.name) {
            names.push(pair.name);
        }
    }
    for name in names {
        let measured: Vec<String> = (pairs.iter())
            .filter(|p| p.name == name)
            .map(|p| format!("{} ({}, {}t)", Ratio::of(p.a, p.b), p.short, p.threads))
            .collect();
        println!("  - {name}: {}", measured.join(", "));
    }
}

/// Writes the `--csv` file and draws the `--charts`, where asked for.
/// `tables` holds each workload's name, title and rows.
pub(crate) fn write_reports(
    config: &Config,
    tables: &[(&str, String, Vec<Row>)],
) -> Result<(), Box<dyn Error>> {
    // The median of `threads` threads under `MIXES[mix]`, in `columns` order.
    let cell =
        |row: &Row, threads: usize, mix: usize| row.cells[(threads - 1) * MIXES.len() + mix].median;
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
