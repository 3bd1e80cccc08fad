//! Grouped bar charts of positive values on a log y axis, each bar drawn from a baseline (such as
//! a ratio of 1) so that bars above and below it read at a glance.

use super::axis::Axis;
use super::legend::{self, Entry, Glyph};
use super::{FONT, PALETTE, PlotError, register_fonts, short_number};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One named set of bars, one value per category.
#[derive(Clone, Debug, PartialEq)]
pub struct BarSeries {
    /// Legend entry.
    pub name: String,
    /// One value per category; +inf is drawn to the top of the axis, 0 to the bottom, NaN not
    /// at all, each labelled with its value.
    pub values: Vec<f64>,
}

/// Bars for several series side by side in each category, on a log10 y axis.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The value bars start from, marked by a horizontal line.
    pub baseline: f64,
    /// Category names under the groups of bars.
    pub categories: Vec<String>,
    /// The series, drawn left to right in each group.
    pub series: Vec<BarSeries>,
}

impl BarChart {
    /// An empty chart over `categories` with bars starting from `baseline`.
    pub fn new(title: &str, y_label: &str, baseline: f64, categories: Vec<String>) -> Self {
        Self {
            title: title.into(),
            y_label: y_label.into(),
            baseline,
            categories,
            series: Vec::new(),
        }
    }

    /// Adds a series.
    pub fn with_series(mut self, name: &str, values: Vec<f64>) -> Self {
        self.series.push(BarSeries { name: name.into(), values });
        self
    }

    /// The log10 range covering the baseline and every finite positive value, padded by 12% of
    /// the span (at least a quarter decade) below and above.
    fn log_range(&self) -> (f64, f64) {
        let base = self.baseline.log10();
        let (lo, hi) = self
            .series
            .iter()
            .flat_map(|s| &s.values)
            .map(|v| v.log10())
            .filter(|l| l.is_finite())
            .fold((base, base), |(lo, hi), l| (lo.min(l), hi.max(l)));
        let span = (hi - lo).max(0.25);
        (lo - 0.12 * span, hi + 0.12 * span)
    }

    /// Writes the chart as a `width x height` PNG, its legend beside the bars.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
        register_fonts();
        let fail = |e: &dyn std::fmt::Display| PlotError::new(path, e);
        if self.categories.is_empty() || self.series.is_empty() {
            return Err(fail(&"no bars to draw"));
        }
        if !(self.baseline.is_finite() && self.baseline > 0.0) {
            return Err(fail(&format!("baseline {} is not a positive number", self.baseline)));
        }
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let entries: Vec<Entry> = (self.series.iter().enumerate())
            .map(|(j, s)| Entry { name: s.name.clone(), glyph: Glyph::Patch(colour(j)) })
            .collect();
        let (bars, side) = root.split_horizontally(width - legend::width(&root, &entries));
        self.draw(&bars).map_err(|e| fail(&e))?;
        legend::draw(&side, &entries, 50, WHITE).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))
    }

    /// Draws the bars, their values, the axes and the category names into `area`.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let n = self.categories.len() as f64;
        let (lo, hi) = self.log_range();
        let axis = Axis::log(10f64.powf(lo), 10f64.powf(hi));
        let (lo, hi) = (axis.range.start, axis.range.end);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..n, axis.clone())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(&self.y_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .bold_line_style(RGBColor(220, 220, 220))
            .y_label_formatter(&|v| axis.label(*v))
            .draw()?;
        let base = self.baseline.log10();
        let width = 0.8 / self.series.len() as f64;
        let value_style = TextStyle::from((FONT, 12).into_font());
        for (j, series) in self.series.iter().enumerate() {
            let bars =
                series.values.iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, &v)| {
                    let x = i as f64 + 0.1 + j as f64 * width;
                    let top = v.log10().clamp(lo, hi);
                    Rectangle::new([(x, base), (x + width, top)], colour(j).filled())
                });
            chart.draw_series(bars)?;
            for (i, &v) in series.values.iter().enumerate() {
                let x = i as f64 + 0.1 + (j as f64 + 0.5) * width;
                let end = if v.is_nan() { base } else { v.log10().clamp(lo, hi) };
                // Beyond the bar's end, or in white just inside it where the bar fills the axis.
                let clipped = end >= hi || end <= lo;
                let above = (end >= base) != clipped;
                let (px, py) = chart.backend_coord(&(x, end));
                let anchor = Pos::new(HPos::Center, if above { VPos::Bottom } else { VPos::Top });
                let offset = if above { -3 } else { 3 };
                let style = value_style.pos(anchor).color(if clipped { &WHITE } else { &BLACK });
                area.draw(&Text::new(short_number(v), (px, py + offset), style))?;
            }
        }
        chart.draw_series([PathElement::new([(0.0, base), (n, base)], BLACK.stroke_width(2))])?;
        let label_style =
            TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, name) in self.categories.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, lo));
            area.draw(&Text::new(name.as_str(), (px, py + 8), label_style.clone()))?;
        }
        Ok(())
    }
}

/// The colour of the `j`-th series.
fn colour(j: usize) -> RGBColor {
    PALETTE[j % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_bars_around_the_baseline_and_rejects_empty_charts() {
        let dir = std::env::temp_dir().join(format!("pesto-bar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bars.png");
        let categories = vec!["00 a".to_string(), "01 b".into(), "02 c".into()];
        let chart = BarChart::new("ratios", "ratio", 1.0, categories.clone())
            .with_series("train", vec![0.5, 2.0, f64::INFINITY])
            .with_series("test", vec![1.2, f64::NAN, 0.0]);
        let (lo, hi) = chart.log_range();
        let log2 = 2f64.log10();
        assert!((lo + 1.24 * log2).abs() < 1e-12, "0.5 less 12% of the span: {lo}");
        assert!((hi - 1.24 * log2).abs() < 1e-12, "2 plus 12% of the span: {hi}");
        chart.write_png(&path, 640, 400).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let empty = BarChart::new("t", "y", 1.0, Vec::new()).with_series("s", Vec::new());
        let err = empty.write_png(&path, 64, 64).unwrap_err().to_string();
        assert_eq!(err, format!("cannot write chart `{}`: no bars to draw", path.display()));
        let negative = BarChart::new("t", "y", -1.0, categories).with_series("s", vec![1.0; 3]);
        let err = negative.write_png(&path, 64, 64).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot write chart `{}`: baseline -1 is not a positive number",
                path.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
