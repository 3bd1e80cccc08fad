//! A line chart: named series of (x, y) points, optionally on a log-scaled y axis, with a legend.

use super::heatmap::PlotError;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

/// A named curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub label: String,
    /// Points in order of x.
    pub points: Vec<(f64, f64)>,
}

/// What the chart says about itself and how its y axis is scaled.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Label of the horizontal axis.
    pub x: &'a str,
    /// Label of the vertical axis.
    pub y: &'a str,
    /// Scale the y axis logarithmically (non-positive values are dropped).
    pub log_y: bool,
}

/// Colours of the series (a colour-blind-friendly qualitative palette).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes a PNG of `series` on `chart`'s axes.
pub fn draw(file: &Path, chart: &LineChart<'_>, series: &[Series]) -> Result<(), PlotError> {
    super::register_fonts();
    let error = |e: &dyn std::fmt::Display| PlotError {
        path: file.display().to_string(),
        message: e.to_string(),
    };
    let kept: Vec<Series> = series
        .iter()
        .map(|s| Series {
            label: s.label.clone(),
            points: s
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!chart.log_y || y > 0.0))
                .collect(),
        })
        .collect();
    let points = || kept.iter().flat_map(|s| s.points.iter().copied());
    let bounds = |f: fn((f64, f64)) -> f64| {
        points()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let ((x0, x1), (y0, y1)) = (bounds(|p| p.0), bounds(|p| p.1));
    if !(x0 <= x1 && y0 <= y1) {
        return Err(error(&"no finite points to draw"));
    }
    let x = x0..x1.max(x0 + f64::EPSILON);
    let root = BitMapBackend::new(file, (1100, 750)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let drawn = if chart.log_y {
        let y = (y0 * 0.8)..(y1 * 1.25);
        plot(&root, x, y.log_scale(), chart, &kept)
    } else {
        let pad = 0.05 * (y1 - y0).max(f64::EPSILON);
        plot(&root, x, (y0 - pad)..(y1 + pad), chart, &kept)
    };
    drawn.map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))
}

type DrawResult<'b> =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'b> as DrawingBackend>::ErrorType>>;

/// The axes, the curves and the legend on `area`, with y coordinates `y`.
fn plot<'b, Y>(
    area: &DrawingArea<BitMapBackend<'b>, Shift>,
    x: std::ops::Range<f64>,
    y: Y,
    labels: &LineChart<'_>,
    series: &[Series],
) -> DrawResult<'b>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(labels.title, ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_desc(labels.x)
        .y_desc(labels.y)
        .label_style(("sans-serif", 20))
        .axis_desc_style(("sans-serif", 22))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (s, &c) in series.iter().zip(COLOURS.iter().cycle()) {
        let style = ShapeStyle { color: c.to_rgba(), filled: false, stroke_width: 2 };
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), style))?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 20))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}

/// A tick label: scientific notation for very large or small magnitudes, else at most three
/// decimals without trailing zeros.
fn tick(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.0e}");
    }
    let fixed = format!("{v:.3}");
    fixed.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_log_scale_chart_and_names_an_empty_one() {
        let dir = std::env::temp_dir().join(format!("pesto-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lines.png");
        let chart = LineChart { title: "t", x: "x", y: "y", log_y: true };
        let series = vec![
            Series {
                label: "a".into(),
                points: (1..50).map(|i| (i as f64, 1.0 / i as f64)).collect(),
            },
            Series { label: "b".into(), points: vec![(0.0, 0.0), (1.0, 3.0), (2.0, f64::NAN)] },
        ];
        draw(&file, &chart, &series).unwrap();
        assert!(std::fs::metadata(&file).unwrap().len() > 1000);
        let empty = vec![Series { label: "c".into(), points: vec![(0.0, -1.0)] }];
        let err = draw(&file, &chart, &empty).unwrap_err();
        assert!(err.to_string().ends_with("no finite points to draw"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ticks_are_short() {
        let labels = [0.0, 500.0, 0.25, 3e-7, 2e15, -1.5].map(tick);
        assert_eq!(labels, ["0", "500", "0.25", "3e-7", "2e15", "-1.5"]);
    }
}
