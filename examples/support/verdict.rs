//! Comparisons judged by their own noise. A measured cell keeps the range
//! of its runs beside their median; a ratio of two cells is marked when
//! either range is wider than the difference the ratio shows, since such a
//! ratio does not say which side is faster; and a verdict sums up, in a few
//! lines, where strcache leads its peers, where it trails them, and whom
//! against.

use std::fmt;

/// One measured cell: the median of its runs, and the slowest and fastest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    /// The median run (the upper one of an even count).
    pub(crate) median: f64,
    /// The slowest run.
    pub(crate) low: f64,
    /// The fastest run.
    pub(crate) high: f64,
}

impl Cell {
    /// The cell of `runs`, at least one.
    pub(crate) fn of(runs: &[f64]) -> Cell {
        let mut sorted = runs.to_vec();
        sorted.sort_by(f64::total_cmp);
        Cell {
            median: sorted[sorted.len() / 2],
            low: sorted[0],
            high: sorted[sorted.len() - 1],
        }
    }

    /// How far apart the runs were: 0 for a single run.
    fn spread(self) -> f64 {
        self.high - self.low
    }
}

/// `a / b` of two cells' medians, and whether either cell's runs spread
/// wider than the difference between the medians.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ratio {
    /// `a / b`.
    pub(crate) value: f64,
    /// Whether the difference is within the spread: then the ratio does
    /// not tell the two apart.
    pub(crate) noisy: bool,
}

impl Ratio {
    /// The ratio of `a` to `b`.
    pub(crate) fn of(a: Cell, b: Cell) -> Ratio {
        Ratio {
            value: a.median / b.median,
            noisy: a.spread().max(b.spread()) > (a.median - b.median).abs(),
        }
    }
}

/// `1.23x`, and `1.23x~` when noisy.
impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.noisy { "~" } else { "" };
        write!(f, "{:.2}x{mark}", self.value)
    }
}

/// strcache against the fastest peer in one cell of a table.
pub(crate) struct Standing {
    /// The workload and mix, such as `zipf 95/5`.
    pub(crate) group: String,
    /// The threads of the cell.
    pub(crate) threads: usize,
    /// The fastest peer in the cell.
    pub(crate) peer: &'static str,
    /// strcache / that peer.
    pub(crate) ratio: Ratio,
}

/// Whether strcache leads, trails or ties in a [`Standing`].
#[derive(Clone, Copy, PartialEq)]
enum Class {
    Leads,
    Trails,
    Ties,
}

impl Standing {
    fn class(&self) -> Class {
        match self.ratio {
            Ratio { noisy: true, .. } => Class::Ties,
            Ratio { value, .. } if value > 1.0 => Class::Leads,
            _ => Class::Trails,
        }
    }
}

/// The verdict over `standings`, in markdown: a line for the cells where
/// strcache leads, one where it trails, one where it ties, each followed by
/// a line per group of cells with their threads, the range of the ratios
/// and the peers.
///
/// ```text
/// - leads in 10 of 18 cells:
///   - zipf read at 1,2t: 1.31x-1.52x over papaya
/// ```
pub(crate) fn verdict(standings: &[Standing]) -> Vec<String> {
    let classes = [
        (Class::Leads, "leads", "over"),
        (Class::Trails, "trails", "against"),
        (Class::Ties, "ties", "with"),
    ];
    let mut lines = Vec::new();
    for (class, verb, preposition) in classes {
        let cells: Vec<&Standing> = standings.iter().filter(|s| s.class() == class).collect();
        if cells.is_empty() {
            continue;
        }
        // Groups in order of first appearance, each with its cells.
        let mut groups: Vec<(&str, Vec<&Standing>)> = Vec::new();
        for cell in &cells {
            match groups.iter_mut().find(|(group, _)| *group == cell.group) {
                Some((_, members)) => members.push(cell),
                None => groups.push((&cell.group, vec![cell])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(group, members)| {
                let threads: Vec<String> = members.iter().map(|m| m.threads.to_string()).collect();
                let ratios = members.iter().map(|m| m.ratio.value);
                let low = ratios.clone().fold(f64::INFINITY, f64::min);
                let high = ratios.fold(0.0, f64::max);
                let range = if high - low < 0.005 {
                    format!("{low:.2}x")
                } else {
                    format!("{low:.2}x-{high:.2}x")
                };
                let mut peers: Vec<&str> = members.iter().map(|m| m.peer).collect();
                peers.sort_unstable();
                peers.dedup();
                format!(
                    "  - {group} at {}t: {range} {preposition} {}",
                    threads.join(","),
                    peers.join(", ")
                )
            })
            .collect();
        let of = standings.len();
        let noise = if class == Class::Ties {
            " (the runs spread wider than the difference)"
        } else {
            ""
        };
        lines.push(format!("- {verb} in {} of {of} cells{noise}:", cells.len()));
        lines.extend(parts);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_within_the_spread_is_noisy() {
        let a = Cell::of(&[9.0, 10.0, 13.0]);
        let b = Cell::of(&[10.5, 11.0, 11.5]);
        let ratio = Ratio::of(a, b);
        assert!(ratio.noisy, "spread 4 against a difference of 1");
        assert_eq!(ratio.to_string(), "0.91x~");
        let c = Cell::of(&[20.0, 21.0, 22.0]);
        assert_eq!(Ratio::of(c, b).to_string(), "1.91x");
    }

    #[test]
    fn the_verdict_groups_cells_by_class() {
        let cell = |median| Cell::of(&[median]);
        let standing = |group: &str, threads, peer, ours| Standing {
            group: group.into(),
            threads,
            peer,
            ratio: Ratio::of(cell(ours), cell(10.0)),
        };
        let noisy = Standing {
            ratio: Ratio::of(Cell::of(&[9.0, 10.5, 12.0]), cell(10.0)),
            ..standing("hot 50/50", 1, "dashmap", 0.0)
        };
        let lines = verdict(&[
            standing("zipf read", 1, "papaya", 15.0),
            standing("zipf read", 2, "scc::HashMap", 12.0),
            standing("uniform 50/50", 2, "scc::HashMap", 8.0),
            noisy,
        ]);
        assert_eq!(
            lines,
            [
                "- leads in 2 of 4 cells:",
                "  - zipf read at 1,2t: 1.20x-1.50x over papaya, scc::HashMap",
                "- trails in 1 of 4 cells:",
                "  - uniform 50/50 at 2t: 0.80x against scc::HashMap",
                "- ties in 1 of 4 cells (the runs spread wider than the difference):",
                "  - hot 50/50 at 1t: 1.05x with dashmap",
            ]
        );
    }
}
