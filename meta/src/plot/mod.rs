//! PNG charts drawn with plotters' bitmap backend, with a bundled font so text renders anywhere.

pub mod axis;
pub mod bar;
pub mod heatmap;
pub mod legend;
pub mod line;
pub mod style;

pub use bar::{BarChart, BarSeries};
pub use line::{Figure, LineChart, Series};
pub use style::{Marker, Style};

use plotters::style::{FontStyle, RGBColor, register_font};
use std::path::{Path, PathBuf};
use std::sync::Once;
use thiserror::Error;

/// The font family name charts use; `register_fonts` binds it to the bundled DejaVu Sans.
pub const FONT: &str = "sans-serif";

/// Distinguishable series colours, used in order.
pub const PALETTE: [RGBColor; 10] = [
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

/// A chart that could not be drawn or written.
#[derive(Debug, Error)]
#[error("cannot write chart `{path}`: {reason}")]
pub struct PlotError {
    /// The PNG being written.
    pub path: PathBuf,
    /// What failed.
    pub reason: String,
}

impl PlotError {
    /// A `PlotError` for `path` from any displayable failure.
    pub fn new(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self { path: path.to_path_buf(), reason: reason.to_string() }
    }
}

/// `v` with about three significant digits, in scientific notation only when very large or small.
pub fn short_number(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.2e}");
    }
    let rounded: f64 = format!("{v:.2e}").parse().unwrap_or(v);
    rounded.to_string()
}

/// Means of `points` over windows of `window` consecutive points, one every half window, each at
/// the x of its window's middle point (all points when `window` is 1 or less).
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    (0..points.len().saturating_sub(window - 1))
        .step_by(window.div_ceil(2))
        .map(|i| {
            let part = &points[i..i + window];
            (part[window / 2].0, part.iter().map(|p| p.1).sum::<f64>() / window as f64)
        })
        .collect()
}

/// Registers the bundled DejaVu Sans as `FONT` (once per process).
pub fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let bytes = include_bytes!("../../assets/DejaVuSans.ttf");
        if register_font(FONT, FontStyle::Normal, bytes).is_err() {
            unreachable!("the bundled font is a valid TrueType font");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{moving_average, short_number};

    #[test]
    fn short_numbers_keep_three_significant_digits() {
        let cases = [(2.5491, "2.55"), (0.63096, "0.631"), (1000.0, "1000"), (1.2e-5, "1.20e-5")];
        for (v, want) in cases {
            assert_eq!(short_number(v), want);
        }
    }

    #[test]
    fn moving_averages_step_by_half_a_window() {
        let points: Vec<(f64, f64)> = (0..7).map(|i| (i as f64, i as f64 * 2.0)).collect();
        assert_eq!(moving_average(&points, 4), [(2.0, 3.0), (4.0, 7.0)]);
        assert_eq!(moving_average(&points, 1), points);
        assert!(moving_average(&points, 9).is_empty());
    }
}
