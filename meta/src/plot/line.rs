//! Line charts: panels of named series over a shared x axis (optionally a log y axis), with
//! bands, markers, dashes and reference lines, laid out in a figure with one legend beside them.

use super::axis::Axis;
use super::legend::{self, Entry, Glyph};
use super::style::Style;
use super::{FONT, PALETTE, PlotError, register_fonts};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// One named line, with an optional band around it.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) points of a shaded band drawn under the line; empty for none.
    pub band: Vec<(f64, f64, f64)>,
    /// How the line looks.
    pub style: Style,
}

impl Series {
    /// A series without a band.
    pub fn new(name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        Self { name: name.into(), points, band: Vec::new(), style }
    }

    /// The same series with a band from `low` to `high` at each x.
    pub fn with_band(self, band: Vec<(f64, f64, f64)>) -> Self {
        Self { band, ..self }
    }
}

/// A horizontal reference line, drawn dashed in black and named in the legend.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Its height.
    pub y: f64,
    /// Legend entry.
    pub name: String,
}

/// One panel: several series over a shared x axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// Title above the panel.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Draw x on a log10 scale (non-positive values are left out).
    pub log_x: bool,
    /// Draw y on a log10 scale (non-positive values are left out).
    pub log_y: bool,
    /// The lines, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Horizontal reference lines.
    pub references: Vec<Reference>,
    /// The most the y axis may cover; lines leaving it are cut at its edge.
    pub y_window: Option<(f64, f64)>,
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

    /// Adds a solid series in the next palette colour.
    pub fn with_series(self, name: &str, points: Vec<(f64, f64)>) -> Self {
        let style = Style::solid(PALETTE[self.series.len() % PALETTE.len()]);
        self.with(Series::new(name, points, style))
    }

    /// Adds a series as it is.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a horizontal reference line at `y`.
    pub fn with_reference(mut self, y: f64, name: &str) -> Self {
        self.references.push(Reference { y, name: name.into() });
        self
    }

    /// Sets the log-y option.
    pub fn log_x(mut self, log_x: bool) -> Self {
        self.log_x = log_x;
        self
    }

    /// The same chart with y on a log10 scale or not.
    pub fn log_y(mut self, log_y: bool) -> Self {
        self.log_y = log_y;
        self
    }

    /// Limits the y axis to at most `lo..hi`.
    pub fn y_window(mut self, lo: f64, hi: f64) -> Self {
        self.y_window = Some((lo, hi));
        self
    }

    /// Writes the chart alone as a `width x height` PNG, its legend beside it.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
        let panel = LineChart { title: String::new(), ..self.clone() };
        Figure::new(&self.title, 1).with_panel(panel).write_png(path, width, height)
    }

    /// `v` in drawing coordinates: log10 on a log axis, left out where not finite there.
    fn y(&self, v: f64) -> Option<f64> {
        let y = if self.log_y { v.log10() } else { v };
        y.is_finite().then_some(y)
    }

    /// `v` in drawing coordinates on the x axis, as `y` does on the y axis.
    fn x(&self, v: f64) -> Option<f64> {
        let x = if self.log_x { v.log10() } else { v };
        x.is_finite().then_some(x)
    }

    /// The drawable points of a series in drawing coordinates.
    fn drawable(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        points.iter().filter_map(|&(x, v)| Some((self.x(x)?, self.y(v)?))).collect()
    }

    /// The drawable band of a series in drawing coordinates.
    fn drawable_band(&self, band: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
        band.iter()
            .filter_map(|&(x, lo, hi)| Some((self.x(x)?, self.y(lo)?, self.y(hi)?)))
            .collect()
    }

    /// The window in drawing coordinates.
    fn window(&self) -> (f64, f64) {
        let (lo, hi) = self.y_window.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let map = |v: f64| if self.log_y { v.max(0.0).log10() } else { v };
        (map(lo), map(hi))
    }

    /// The x and y axes covering every drawable point, band and reference line, within the
    /// y window; `None` when there is nothing to draw.
    fn axes(&self) -> Option<(Axis, Axis)> {
        let (wlo, whi) = self.window();
        let mut points: Vec<(f64, f64)> = Vec::new();
        for s in &self.series {
            points.extend(self.drawable(&s.points));
            for (x, lo, hi) in self.drawable_band(&s.band) {
                points.extend([(x, lo), (x, hi)]);
            }
        }
        let xs = points.iter().map(|p| p.0).collect::<Vec<_>>();
        let (x0, x1) = span(xs.iter().copied())?;
        let ys = points.iter().map(|p| p.1.clamp(wlo, whi));
        let refs = self.references.iter().filter_map(|r| self.y(r.y));
        let (y0, y1) = span(ys.chain(refs))?;
        let (x0, x1) = pad(x0, x1);
        let (y0, y1) = pad(y0, y1);
        let (y0, y1) = (y0.max(wlo), y1.min(whi));
        let axis = |log: bool, lo: f64, hi: f64| match log {
            true => Axis::log(10f64.powf(lo), 10f64.powf(hi)),
            false => Axis::linear(lo, hi),
        };
        Some((axis(self.log_x, x0, x1), axis(self.log_y, y0, y1)))
    }

    /// Draws the panel into `area`.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let Some((x, y)) = self.axes() else {
            let style = TextStyle::from((FONT, 15).into_font());
            return area.draw(&Text::new(
                format!("{}: nothing to draw", self.title),
                (20, 20),
                style,
            ));
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 17))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x.clone(), y.clone())?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(RGBColor(205, 205, 205))
            .light_line_style(RGBColor(238, 238, 238))
            .x_label_formatter(&|v| x.label(*v))
            .y_label_formatter(&|v| y.label(*v))
            .draw()?;
        let (lo, hi) = (y.range.start, y.range.end);
        for s in &self.series {
            let band = self.drawable_band(&s.band);
            if !band.is_empty() {
                let upper = band.iter().map(|&(x, _, h)| (x, h.clamp(lo, hi)));
                let lower = band.iter().rev().map(|&(x, l, _)| (x, l.clamp(lo, hi)));
                let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
                chart.draw_series([Polygon::new(outline, s.style.colour.mix(0.18).filled())])?;
            }
        }
        let (x0, x1) = (x.range.start, x.range.end);
        for r in &self.references {
            if let Some(v) = self.y(r.y).filter(|v| (lo..=hi).contains(v)) {
                let style = BLACK.stroke_width(1);
                chart.draw_series(DashedLineSeries::new([(x0, v), (x1, v)], 6, 4, style))?;
            }
        }
        // Dashed lines go over solid ones, so a dashed line and a solid one under it both show;
        // markers go over every line.
        let drawn: Vec<Vec<(f64, f64)>> =
            self.series.iter().map(|s| self.drawable(&s.points)).collect();
        let order = (0..self.series.len()).filter(|&i| !self.series[i].style.dashed);
        for i in order.chain((0..self.series.len()).filter(|&i| self.series[i].style.dashed)) {
            let style = self.series[i].style;
            for run in clip(&drawn[i], &x.range, &y.range) {
                if style.dashed {
                    chart.draw_series(DashedLineSeries::new(run, 9, 6, style.stroke()))?;
                } else {
                    chart.draw_series(LineSeries::new(run, style.stroke()))?;
                }
            }
        }
        let count = self.series.len();
        for (i, (s, points)) in self.series.iter().zip(&drawn).enumerate() {
            if let Some(marker) = s.style.marker {
                // Markers every eighth of the line, each series shifted, so coinciding lines
                // show all their markers.
                let every = (points.len() / 8).max(1);
                let phase = i * every / count;
                let marked = points.iter().skip(phase).step_by(every);
                for &p in marked.filter(|p| (lo..=hi).contains(&p.1)) {
                    marker.draw(chart.plotting_area(), p, s.style.rgba(), 4)?;
                }
            }
        }
        Ok(())
    }

    /// The legend entries of this panel's series and reference lines.
    fn legend(&self) -> Vec<Entry> {
        let lines =
            self.series.iter().map(|s| Entry { name: s.name.clone(), glyph: Glyph::Line(s.style) });
        let reference = Style { width: 1, dashed: true, ..Style::solid(BLACK) };
        let refs = self
            .references
            .iter()
            .map(move |r| Entry { name: r.name.clone(), glyph: Glyph::Line(reference) });
        lines.chain(refs).collect()
    }
}

/// The smallest and largest of `values`, or `None` when there are none.
fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

/// `lo..hi` widened by 3% of its span each side, or around a single value by half its size
/// (at least 0.5).
fn pad(lo: f64, hi: f64) -> (f64, f64) {
    let pad = if hi > lo { 0.03 * (hi - lo) } else { 0.5 * lo.abs().max(1.0) };
    (lo - pad, hi + pad)
}

/// The pieces of the polyline `points` inside the rectangle `x` times `y`, cut where it
/// crosses the edges (Liang-Barsky clipping of each segment).
pub fn clip(points: &[(f64, f64)], x: &Range<f64>, y: &Range<f64>) -> Vec<Vec<(f64, f64)>> {
    let inside =
        |p: (f64, f64)| (x.start..=x.end).contains(&p.0) && (y.start..=y.end).contains(&p.1);
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    if let Some(&first) = points.first().filter(|&&p| inside(p)) {
        runs.push(vec![first]);
        open = true;
    }
    for pair in points.windows(2) {
        let (p, q) = (pair[0], pair[1]);
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let at = |t: f64| (p.0 + t * dx, p.1 + t * dy);
        let edges =
            [(-dx, p.0 - x.start), (dx, x.end - p.0), (-dy, p.1 - y.start), (dy, y.end - p.1)];
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (along, room) in edges {
            if along == 0.0 {
                if room < 0.0 {
                    (t0, t1) = (1.0, 0.0);
                }
            } else if along < 0.0 {
                t0 = t0.max(room / along);
            } else {
                t1 = t1.min(room / along);
            }
        }
        if t0 > t1 {
            open = false;
            continue;
        }
        if !(open && t0 == 0.0) {
            runs.push(vec![at(t0)]);
        }
        runs.last_mut().expect("a run is open").push(at(t1));
        open = t1 == 1.0;
    }
    runs
}

/// Panels in a grid under one title, with one legend for all of them on the right.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// Title above the panels.
    pub title: String,
    /// Panels per row.
    pub columns: usize,
    /// The panels, row by row.
    pub panels: Vec<LineChart>,
}

impl Figure {
    /// An empty figure with `columns` panels per row.
    pub fn new(title: &str, columns: usize) -> Self {
        Self { title: title.into(), columns: columns.max(1), panels: Vec::new() }
    }

    /// Adds a panel.
    pub fn with_panel(mut self, panel: LineChart) -> Self {
        self.panels.push(panel);
        self
    }

    /// The legend: every series and reference name once, in order of first appearance.
    fn legend(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for entry in self.panels.iter().flat_map(LineChart::legend) {
            if !entries.iter().any(|e| e.name == entry.name) {
                entries.push(entry);
            }
        }
        entries
    }

    /// Writes the figure as a `width x height` PNG. Fails when no panel has a point to draw.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
        register_fonts();
        let fail = |e: &dyn std::fmt::Display| PlotError::new(path, e);
        if self.panels.iter().all(|p| p.axes().is_none()) {
            return Err(fail(&"no finite points to draw"));
        }
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let entries = self.legend();
        let title = if self.title.is_empty() { 8 } else { 40 };
        let (head, body) = root.split_vertically(title);
        if !self.title.is_empty() {
            let style =
                TextStyle::from((FONT, 21).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
            head.draw(&Text::new(self.title.as_str(), (width as i32 / 2, 20), style))
                .map_err(|e| fail(&e))?;
        }
        let legend_width = legend::width(&root, &entries).min(width / 3);
        let (plots, side) = body.split_horizontally(width - legend_width);
        let rows = self.panels.len().div_ceil(self.columns);
        let cells = plots.split_evenly((rows, self.columns));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            panel.draw(cell).map_err(|e| fail(&e))?;
        }
        legend::draw(&side, &entries, 10, WHITE).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::style::Marker;

    #[test]
    fn writes_a_png_with_a_log_axis_and_rejects_empty_charts() {
        let dir = std::env::temp_dir().join(format!("pesto-line-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.png");
        let decay: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, (-0.1 * i as f64).exp())).collect();
        let band = decay.iter().map(|&(x, y)| (x, 0.5 * y, 2.0 * y)).collect();
        let dashed =
            Style { dashed: true, marker: Some(Marker::Cross), ..Style::solid(PALETTE[1]) };
        let chart = LineChart::new("loss", "step", "loss")
            .log_y(true)
            .with_series("train", decay.clone())
            .with(Series::new("held-out", decay.clone(), dashed).with_band(band))
            .with_reference(0.1, "target");
        chart.write_png(&path, 640, 400).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let names: Vec<String> = chart.legend().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["train", "held-out", "target"]);
        let empty = LineChart::new("t", "x", "y").log_y(true).with_series("s", vec![(0.0, -1.0)]);
        let err = empty.write_png(&path, 64, 64).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot write chart `{}`: no finite points to draw", path.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_window_limits_the_axis_and_cuts_lines_at_its_edges() {
        let chart = LineChart::new("theta", "step", "theta")
            .with_series("diverges", vec![(0.0, 0.5), (1.0, 3.0), (2.0, 1e7)])
            .with_reference(-1.0 / 6.0, "theta*")
            .y_window(-1.0, 4.0);
        let (_, y) = chart.axes().unwrap();
        assert!(y.range.start >= -1.0 && y.range.start < -1.0 / 6.0 && y.range.end == 4.0);
        let points = [(0.0, 0.5), (1.0, 3.0), (2.0, 5.0), (3.0, 2.0), (4.0, 10.0)];
        let runs = clip(&points, &(0.0..4.0), &(-1.0..4.0));
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 0.5), (1.0, 3.0), (1.5, 4.0)],
                vec![(2.0 + 1.0 / 3.0, 4.0), (3.0, 2.0), (3.25, 4.0)]
            ]
        );
    }

    #[test]
    fn a_figure_shares_one_legend_between_its_panels() {
        let panel = |title: &str| {
            LineChart::new(title, "x", "y")
                .with_series("a", vec![(0.0, 1.0), (1.0, 2.0)])
                .with_series("b", vec![(0.0, 2.0), (1.0, 1.0)])
        };
        let figure = Figure::new("two", 2)
            .with_panel(panel("left"))
            .with_panel(panel("right").with_reference(1.5, "c"));
        let names: Vec<String> = figure.legend().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let path = std::env::temp_dir().join(format!("pesto-figure-{}.png", std::process::id()));
        figure.write_png(&path, 800, 400).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[1..4], b"PNG");
        std::fs::remove_file(&path).unwrap();
    }
}
