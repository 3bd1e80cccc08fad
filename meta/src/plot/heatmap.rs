//! A heat map of a function of two variables on a log colour scale, with paths drawn over it,
//! a colour bar and a legend beside them.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

use super::axis::{Axis, log_ticks};
use super::legend::{self, Entry, Glyph};
use super::line::clip;
use super::style::{Marker, Style};
use super::{FONT, PlotError};

/// Values of a positive function on a regular grid over `x` times `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct Surface {
    /// Range of the first variable.
    pub x: Range<f64>,
    /// Range of the second variable.
    pub y: Range<f64>,
    /// Grid points along each axis.
    pub resolution: usize,
    /// Values in row-major order: `values[iy * resolution + ix]`, cell centres.
    pub values: Vec<f64>,
}

impl Surface {
    /// Evaluates `f` at the centres of a `resolution` x `resolution` grid.
    pub fn sample(
        x: Range<f64>,
        y: Range<f64>,
        resolution: usize,
        f: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Self {
        use rayon::prelude::*;
        let values = (0..resolution * resolution)
            .into_par_iter()
            .map(|i| {
                let (cx, cy) = cell_centre(&x, &y, resolution, i);
                f(cx, cy)
            })
            .collect();
        Self { x, y, resolution, values }
    }

    /// The point (x, y) at the centre of cell `i` of `values`.
    pub fn centre(&self, i: usize) -> (f64, f64) {
        cell_centre(&self.x, &self.y, self.resolution, i)
    }
}

/// The centre of cell `i` (row-major, `resolution` cells a row) of a grid over `x` times `y`.
fn cell_centre(x: &Range<f64>, y: &Range<f64>, resolution: usize, i: usize) -> (f64, f64) {
    let (dx, dy) = ((x.end - x.start) / resolution as f64, (y.end - y.start) / resolution as f64);
    let (ix, iy) = (i % resolution, i / resolution);
    (x.start + (ix as f64 + 0.5) * dx, y.start + (iy as f64 + 0.5) * dy)
}

/// A named path drawn over the heat map.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Legend entry.
    pub label: String,
    /// Points in order.
    pub points: Vec<(f64, f64)>,
}

/// What the figure says about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Label of the horizontal axis.
    pub x: &'a str,
    /// Label of the vertical axis.
    pub y: &'a str,
    /// Label of the colour bar.
    pub value: &'a str,
}

/// Colours of the paths, chosen to stand out on the viridis map.
const PATH_COLOURS: [RGBColor; 11] = [
    RGBColor(255, 255, 255),
    RGBColor(228, 26, 28),
    RGBColor(255, 127, 0),
    RGBColor(247, 129, 191),
    RGBColor(0, 0, 0),
    RGBColor(166, 86, 40),
    RGBColor(55, 126, 184),
    RGBColor(152, 78, 163),
    RGBColor(255, 255, 51),
    RGBColor(0, 255, 255),
    RGBColor(128, 128, 128),
];

/// The styles of `n` paths: their colours, an end marker each, and widths from 6 pixels for the
/// first down to 2 for the last.
fn path_styles(n: usize) -> impl Iterator<Item = Style> {
    (0..n).map(move |i| Style {
        width: (2 + 4 * (n - 1 - i) / (n - 1).max(1)) as u32,
        marker: Some(Marker::ALL[i % Marker::ALL.len()]),
        ..Style::solid(PATH_COLOURS[i % PATH_COLOURS.len()])
    })
}

/// Viridis, sampled at five points and interpolated linearly; `u` in [0, 1].
fn viridis(u: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let pos = u.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let w = pos - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + w * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Writes a PNG of `surface` (log10 colour scale) with `paths` over it, a colour bar and a legend
/// beside them.
pub fn draw(
    file: &Path,
    surface: &Surface,
    paths: &[Trajectory],
    labels: &Labels<'_>,
) -> Result<(), PlotError> {
    super::register_fonts();
    let error = |e: &dyn std::fmt::Display| PlotError::new(file, e);
    let root = BitMapBackend::new(file, (1100 + LEGEND, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let (main, side) = root.split_horizontally(940);
    let (bar, legend_area) = side.split_horizontally(160);
    let logs: Vec<f64> = surface.values.iter().map(|v| v.max(f64::MIN_POSITIVE).log10()).collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let colour = |l: f64| viridis((l - lo) / (hi - lo).max(f64::EPSILON));
    draw_map(&main, surface, &logs, &colour, paths, labels).map_err(|e| error(&e))?;
    draw_colour_bar(&bar, lo..hi, &colour, labels.value).map_err(|e| error(&e))?;
    let entries: Vec<Entry> = paths
        .iter()
        .zip(path_styles(paths.len()))
        .map(|(path, style)| Entry { name: path.label.clone(), glyph: Glyph::Line(style) })
        .collect();
    legend::draw(&legend_area, &entries, 58, RGBColor(190, 190, 190)).map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))
}

/// Pixels of width of the legend strip.
const LEGEND: u32 = 190;

type DrawResult<'b> =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'b> as DrawingBackend>::ErrorType>>;

/// The heat map and the paths.
fn draw_map<'b>(
    area: &DrawingArea<BitMapBackend<'b>, Shift>,
    surface: &Surface,
    logs: &[f64],
    colour: &impl Fn(f64) -> RGBColor,
    paths: &[Trajectory],
    labels: &Labels<'_>,
) -> DrawResult<'b> {
    let (x, y) = (
        Axis::linear(surface.x.start, surface.x.end),
        Axis::linear(surface.y.start, surface.y.end),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(labels.title, (FONT, 28))
        .margin(15)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(x.clone(), y.clone())?;
    let n = surface.resolution;
    let dx = (surface.x.end - surface.x.start) / n as f64;
    let dy = (surface.y.end - surface.y.start) / n as f64;
    chart.draw_series(logs.iter().enumerate().map(|(i, &l)| {
        let x = surface.x.start + (i % n) as f64 * dx;
        let y = surface.y.start + (i / n) as f64 * dy;
        Rectangle::new([(x, y), (x + dx, y + dy)], colour(l).filled())
    }))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(labels.x)
        .y_desc(labels.y)
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 22))
        .x_label_formatter(&|v| x.label(*v))
        .y_label_formatter(&|v| y.label(*v))
        .draw()?;
    // Earlier paths are drawn wider, so a path lying on an earlier one leaves it showing at its
    // sides; each path ends in its own marker shape.
    for (i, (path, style)) in paths.iter().zip(path_styles(paths.len())).enumerate() {
        for run in clip(&path.points, &surface.x, &surface.y) {
            chart.draw_series(LineSeries::new(run, style.stroke()))?;
        }
        let end =
            path.points.last().filter(|p| surface.x.contains(&p.0) && surface.y.contains(&p.1));
        if let (Some(&end), Some(marker)) = (end, style.marker) {
            let size = 7 + (paths.len() - i) as i32 / 3;
            marker.draw(chart.plotting_area(), end, style.rgba(), size)?;
        }
    }
    Ok(())
}

/// A vertical colour bar over `range` (log10 values) with ticks at 1-2-5 values or decades,
/// headed by `label` and "(log scale)".
fn draw_colour_bar<'b>(
    area: &DrawingArea<BitMapBackend<'b>, Shift>,
    range: Range<f64>,
    colour: &impl Fn(f64) -> RGBColor,
    label: &str,
) -> DrawResult<'b> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(58)
        .margin_bottom(75)
        .margin_right(90)
        .build_cartesian_2d(0.0..1.0, range.clone())?;
    let steps = 200;
    let step = (range.end - range.start) / steps as f64;
    chart.draw_series((0..steps).map(|i| {
        let l = range.start + i as f64 * step;
        Rectangle::new([(0.0, l), (1.0, l + step)], colour(l + 0.5 * step).filled())
    }))?;
    let style = TextStyle::from((FONT, 18).into_font());
    let centred = style.pos(Pos::new(HPos::Left, VPos::Center));
    let (base_x, base_y) = area.get_base_pixel();
    let local = |(x, y): (i32, i32)| (x - base_x, y - base_y);
    for tick in log_ticks(range.start, range.end) {
        let (x, y) = local(chart.backend_coord(&(1.0, tick.at)));
        area.draw(&PathElement::new([(x, y), (x + 6, y)], BLACK))?;
        area.draw(&Text::new(tick.label, (x + 9, y), centred.clone()))?;
    }
    let (x, y) = local(chart.backend_coord(&(0.0, range.end)));
    area.draw(&Text::new(label.to_string(), (x - 10, y - 50), style.clone()))?;
    area.draw(&Text::new("(log scale)", (x - 10, y - 28), style))
}
