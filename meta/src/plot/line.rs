//! Line charts: several named series over a shared x axis, optionally with log axes.

use super::{FONT, PALETTE, PlotError, register_fonts, short_number};
use plotters::prelude::*;
use std::path::Path;

/// One named line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart of several series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Draw x on a log10 scale (non-positive values are left out).
    pub log_x: bool,
    /// Draw y on a log10 scale (non-positive values are left out).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
}

impl LineChart {
    /// An empty chart with a title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Self::default()
        }
    }

    /// Adds a series.
    pub fn with_series(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { name: name.into(), points });
        self
    }

    /// Sets the log-x option.
    pub fn log_x(mut self, log_x: bool) -> Self {
        self.log_x = log_x;
        self
    }

    /// Sets the log-y option.
    pub fn log_y(mut self, log_y: bool) -> Self {
        self.log_y = log_y;
        self
    }

    /// The drawable points of a series: finite, and mapped to log10 on a log axis.
    fn drawable(&self, series: &Series) -> Vec<(f64, f64)> {
        let map = |log: bool, v: f64| if log { v.log10() } else { v };
        series
            .points
            .iter()
            .map(|&(x, y)| (map(self.log_x, x), map(self.log_y, y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    }

    /// Writes the chart as a `width x height` PNG.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
        register_fonts();
        let fail = |e: &dyn std::fmt::Display| PlotError::new(path, e);
        let lines: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| self.drawable(s)).collect();
        let (x, y) =
            bounds(lines.iter().flatten()).ok_or_else(|| fail(&"no finite points to draw"))?;
        let y = if self.log_y { at_least_a_decade(y) } else { y };
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let (log_x, log_y) = (self.log_x, self.log_y);
        let tick = |log: bool, v: f64| short_number(if log { 10f64.powf(v) } else { v });
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 14))
            .x_label_formatter(&|v| tick(log_x, *v))
            .y_label_formatter(&|v| tick(log_y, *v))
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, (series, points)) in self.series.iter().zip(lines).enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(1)))
                .map_err(|e| fail(&e))?
                .label(&series.name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))
    }
}

/// A log10 range widened about its centre to span at least one decade, so that small
/// differences do not fill the whole axis.
fn at_least_a_decade((lo, hi): (f64, f64)) -> (f64, f64) {
    let centre = 0.5 * (lo + hi);
    (lo.min(centre - 0.5), hi.max(centre + 0.5))
}

/// The x and y ranges covering `points`, widened where they would be empty.
fn bounds<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<((f64, f64), (f64, f64))> {
    let widen = |(lo, hi): (f64, f64)| {
        let pad = if hi > lo { 0.02 * (hi - lo) } else { 0.5 * lo.abs().max(1.0) };
        (lo - pad, hi + pad)
    };
    let mut range = None;
    for &(x, y) in points {
        let ((x0, x1), (y0, y1)) = range.unwrap_or(((x, x), (y, y)));
        range = Some(((x0.min(x), x1.max(x)), (y0.min(y), y1.max(y))));
    }
    range.map(|(x, y)| (widen(x), widen(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_with_a_log_axis_and_rejects_empty_charts() {
        let dir = std::env::temp_dir().join(format!("pesto-line-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.png");
        let decay: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, (-0.1 * i as f64).exp())).collect();
        let chart = LineChart::new("loss", "step", "loss")
            .log_y(true)
            .with_series("train", decay.clone())
            .with_series("held-out", decay.iter().map(|&(x, y)| (x, 2.0 * y)).collect());
        chart.write_png(&path, 640, 400).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let empty = LineChart::new("t", "x", "y").log_y(true).with_series("s", vec![(0.0, -1.0)]);
        let err = empty.write_png(&path, 64, 64).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot write chart `{}`: no finite points to draw", path.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_range_spans_at_least_a_decade() {
        assert_eq!(at_least_a_decade((3.0, 3.25)), (2.625, 3.625));
        assert_eq!(at_least_a_decade((1.0, 4.0)), (1.0, 4.0));
    }

    #[test]
    fn log_axes_map_both_coordinates_and_drop_non_positive_points() {
        let chart = LineChart::new("t", "x", "y").log_x(true).log_y(true);
        let series = Series { name: "s".into(), points: vec![(100.0, 1000.0), (0.0, 1.0)] };
        assert_eq!(chart.drawable(&series), vec![(2.0, 3.0)]);
        let linear_x = LineChart::new("t", "x", "y").log_y(true);
        assert_eq!(linear_x.drawable(&series), vec![(100.0, 3.0), (0.0, 0.0)]);
    }
}
