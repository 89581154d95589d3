//! SVG horizontal bar charts for the examples that report one figure per
//! contender (`memory.rs`, `criterion_charts.rs`), so that BENCHMARKS.md can
//! show a chart beside each such table.
//!
//! A module of its own, apart from `report.rs`, because each example
//! includes its support modules whole and would warn about the parts it
//! does not use. Like `report.rs`, it draws with plotters' SVG backend
//! without a font feature: labels become `<text>` elements whose font the
//! viewer picks.

use std::{error::Error, fs, path::Path};

use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

/// Width of every bar chart, in pixels; the height grows with the bars.
const WIDTH: u32 = 960;
/// Height of one bar's row, in pixels.
const ROW_HEIGHT: u32 = 34;
/// Height of the caption, x axis and margins together, in pixels, so that
/// every row is about [`ROW_HEIGHT`] high.
const FRAME_HEIGHT: u32 = 100;
/// Font size of the bar labels and values, in pixels.
const LABEL_SIZE: u32 = 14;
/// A generous width of one label character at [`LABEL_SIZE`], in pixels:
/// the viewer picks the font, so plotters cannot measure the text.
const CHAR_WIDTH: f64 = 0.62 * LABEL_SIZE as f64;

/// The captions of a horizontal bar chart.
pub(crate) struct Bars<'a> {
    /// The caption above the plot.
    pub(crate) title: &'a str,
    /// The x axis description, with the unit of the values.
    pub(crate) x_label: &'a str,
}

impl Bars<'_> {
    /// Draws `bars` to an SVG file at `path`, creating its folder: one
    /// horizontal bar per `(label, value)`, top to bottom in the given
    /// order, labels left of the axis, each value printed at its bar's
    /// end, x from 0.
    ///
    /// # Errors
    /// If `bars` is empty, or the file cannot be written.
    pub(crate) fn draw(&self, path: &Path, bars: &[(String, f64)]) -> Result<(), Box<dyn Error>> {
        let Some(last) = bars.len().checked_sub(1) else {
            return Err(format!("no bars to draw in {}", path.display()).into());
        };
        let longest = bars.iter().map(|(label, _)| label.chars().count()).max();
        let label_width = (CHAR_WIDTH * longest.unwrap_or(0) as f64) as u32 + 20;
        let x_max = bars.iter().map(|&(_, value)| value).fold(0.0, f64::max);
        // Room right of the longest bar for its value.
        let x = 0.0..if x_max > 0.0 { 1.15 * x_max } else { 1.0 };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let height = FRAME_HEIGHT + ROW_HEIGHT * bars.len() as u32;
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        // The y axis counts rows up from the bottom: bar `i` fills row
        // `last - i`, so the first bar is drawn on top.
        let row = |i: usize| (last - i) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(45)
            .y_label_area_size(label_width)
            .build_cartesian_2d(x, 0.0..bars.len() as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .max_light_lines(0)
            .label_style(("sans-serif", LABEL_SIZE))
            .axis_desc_style(("sans-serif", 15))
            .x_desc(self.x_label)
            .x_label_formatter(&|&x| tick(x))
            .draw()?;
        let fill = Palette99::pick(0).filled();
        chart.draw_series(bars.iter().enumerate().map(|(i, &(_, value))| {
            let mut bar = Rectangle::new([(0.0, row(i)), (value, row(i) + 1.0)], fill);
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
        let font = TextStyle::from(("sans-serif", LABEL_SIZE).into_font());
        let at_end = font.pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(bars.iter().enumerate().map(|(i, &(_, value))| {
            EmptyElement::at((value, row(i) + 0.5))
                + Text::new(number(value), (5, 0), at_end.clone())
        }))?;
        // plotters labels a numeric axis at values it picks, so the bar
        // labels are placed by hand, right-aligned left of the axis.
        let at_axis = font.pos(Pos::new(HPos::Right, VPos::Center));
        for (i, (label, _)) in bars.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, row(i) + 0.5));
            root.draw(&Text::new(label.as_str(), (x - 8, y), at_axis.clone()))?;
        }
        root.present()?;
        Ok(())
    }
}

/// `x` with two decimals below 10, one below 1000, else none: `7.99`,
/// `108.6`, `1112`.
fn number(x: f64) -> String {
    let decimals = match x.abs() {
        x if x >= 1000.0 || x == 0.0 => 0,
        x if x >= 10.0 => 1,
        _ => 2,
    };
    format!("{x:.decimals$}")
}

/// `x` with at most two decimals and no trailing zeros: `4096`, `2.5`.
fn tick(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
