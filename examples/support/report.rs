//! CSV files and SVG line charts for the comparison examples
//! (`throughput/`, `hit_ratio.rs`), so that BENCHMARKS.md can show a
//! chart beside each table.
//!
//! Charts use plotters' SVG backend without a font feature: labels become
//! `<text>` elements whose font the viewer picks, so drawing needs no system
//! fonts.

use std::{error::Error, fs, ops::Range, path::Path};

use plotters::{
    coord::ranged1d::{AsRangedCoord, ValueFormatter},
    prelude::*,
};

/// Size of every chart, in pixels.
const SIZE: (u32, u32) = (960, 540);
/// Width of the legend's strip right of the plot, in pixels.
const LEGEND_WIDTH: u32 = 190;
/// At most this many labelled ticks on the x axis.
const MAX_X_TICKS: usize = 12;

/// Writes `header` and then `rows` to `path` as CSV, creating its folder.
/// A field holding a comma, quote or line break is quoted.
pub(crate) fn write_csv(
    path: &Path,
    header: &[&str],
    rows: &[Vec<String>],
) -> Result<(), Box<dyn Error>> {
    let quote = |field: &str| {
        if field.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    };
    let mut text = header.join(",") + "\n";
    for row in rows {
        let fields: Vec<String> = row.iter().map(|field| quote(field)).collect();
        text += &(fields.join(",") + "\n");
    }
    create_parent(path)?;
    Ok(fs::write(path, text)?)
}

/// One line of a chart.
pub(crate) struct Series {
    /// Its legend entry.
    pub(crate) name: String,
    /// Its (x, y) points, in x order.
    pub(crate) points: Vec<(f64, f64)>,
}

/// The labels and x scale of a chart.
pub(crate) struct Chart<'a> {
    /// The caption above the plot.
    pub(crate) title: &'a str,
    /// The x axis description.
    pub(crate) x_label: &'a str,
    /// The y axis description.
    pub(crate) y_label: &'a str,
    /// A logarithmic x axis, for values that grow by factors (capacities).
    pub(crate) log_x: bool,
}

impl Chart<'_> {
    /// Draws `series` to an SVG file at `path`, creating its folder: one
    /// line per series with its points marked, a legend right of the plot,
    /// y from 0, and x ticks at the x values of the points (at round values
    /// on a linear axis), at most [`MAX_X_TICKS`] of them.
    ///
    /// # Errors
    /// If no series has a point, or the file cannot be written.
    pub(crate) fn draw(&self, path: &Path, series: &[Series]) -> Result<(), Box<dyn Error>> {
        let points = || series.iter().flat_map(|s| s.points.iter().copied());
        let mut xs: Vec<f64> = points().map(|(x, _)| x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let (Some(&lo), Some(&hi)) = (xs.first(), xs.last()) else {
            return Err(format!("no points to draw in {}", path.display()).into());
        };
        let step = xs.len().div_ceil(MAX_X_TICKS);
        let ticks: Vec<f64> = xs.iter().step_by(step).copied().collect();
        let tick_count = ticks.len();
        let y_max = points().map(|(_, y)| y).fold(0.0, f64::max);
        let y = 0.0..if y_max > 0.0 { 1.1 * y_max } else { 1.0 };
        create_parent(path)?;
        // Padding keeps the end points' marks off the frame.
        if self.log_x {
            let x = (lo / 1.2..hi * 1.2).log_scale().with_key_points(ticks);
            self.draw_on(path, series, x, y, tick_count)
        } else {
            // plotters can bind key points to a linear f64 axis but then
            // cannot format them, so this axis picks round values itself.
            let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
            self.draw_on(path, series, lo - pad..hi + pad, y, tick_count)
        }
    }

    /// [`Chart::draw`] on the x coordinate `x`, linear or logarithmic,
    /// with at most `x_ticks` ticks unless `x` binds its own.
    fn draw_on<X>(
        &self,
        path: &Path,
        series: &[Series],
        x: X,
        y: Range<f64>,
        x_ticks: usize,
    ) -> Result<(), Box<dyn Error>>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let root = SVGBackend::new(path, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        // The legend gets a strip of its own, where it hides no line.
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot)
            .caption(self.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_labels(x_ticks)
            .max_light_lines(0)
            .x_label_formatter(&|&x| number(x))
            .y_label_formatter(&|&y| number(y))
            .draw()?;
        let font = ("sans-serif", 15).into_font();
        for (i, s) in series.iter().enumerate() {
            let style = Palette99::pick(i).stroke_width(2);
            let points = s.points.iter().copied();
            chart.draw_series(LineSeries::new(points, style).point_size(3))?;
            let y = 50 + 24 * i as i32;
            legend.draw(&PathElement::new([(0, y), (24, y)], style))?;
            legend.draw(&Circle::new((12, y), 3, style))?;
            legend.draw(&Text::new(s.name.as_str(), (32, y - 7), font.clone()))?;
        }
        root.present()?;
        Ok(())
    }
}

/// `x` with at most two decimals and no trailing zeros: `4096`, `2.5`.
fn number(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Creates the folder that `path` is in, if it has one.
fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs::create_dir_all(dir),
        _ => Ok(()),
    }
}
