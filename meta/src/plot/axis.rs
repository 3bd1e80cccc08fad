//! Axis ranges, ticks and tick labels: linear axes tick at a 1, 2 or 5 multiple of a power of
//! ten, log axes at 1-2-5 values or at decades; all labels of one axis share one number format
//! (plain decimals or scientific notation, never both).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// A labelled tick at a position in drawing coordinates (log10 of the value on a log axis).
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Position in drawing coordinates.
    pub at: f64,
    /// The label.
    pub label: String,
}

/// One axis of a chart: its drawn range, labelled ticks and unlabelled grid lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The drawn range in drawing coordinates.
    pub range: Range<f64>,
    /// Labelled ticks, in increasing order.
    pub ticks: Vec<Tick>,
    /// Positions of light grid lines between the ticks (log axes: 2 to 9 times each decade).
    pub minor: Vec<f64>,
}

/// Values at or beyond these magnitudes are labelled in scientific notation, and then every
/// label of their axis is.
const PLAIN: Range<f64> = 1e-3..1e5;

/// The most labelled ticks an axis gets.
const MAX_TICKS: usize = 10;

/// `mantissa * 10^exponent`.
fn value(mantissa: i64, exponent: i32) -> f64 {
    mantissa as f64 * 10f64.powi(exponent)
}

impl Axis {
    /// A linear axis over `lo..hi` (`lo < hi`) with ticks at multiples of the smallest step 1, 2
    /// or 5 times a power of ten that spans the range in at most seven steps.
    pub fn linear(lo: f64, hi: f64) -> Self {
        let span = hi - lo;
        let base = (span / 7.0).log10().floor() as i32;
        let (mantissa, exponent) = [(1, base), (2, base), (5, base)]
            .into_iter()
            .find(|&(m, e)| span / value(m, e) <= 7.0)
            .unwrap_or((1, base + 1));
        let step = value(mantissa, exponent);
        let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        let ticks: Vec<i64> = (first..=last).map(|i| i * mantissa).collect();
        let largest = ticks.iter().map(|&n| value(n, exponent).abs()).fold(0.0, f64::max);
        let plain = largest < PLAIN.end && (exponent >= -3 || largest == 0.0);
        let label = |n: i64| {
            let v = value(n, exponent);
            if plain {
                format!("{v:.*}", (-exponent).max(0) as usize)
            } else {
                let digits = (largest.log10().floor() as i32 - exponent).max(0) as usize;
                format!("{v:.digits$e}")
            }
        };
        Self {
            range: lo..hi,
            ticks: ticks
                .iter()
                .map(|&n| Tick { at: value(n, exponent), label: label(n) })
                .collect(),
            minor: Vec::new(),
        }
    }

    /// A log axis covering the positive values `lo..=hi`, widened one 1-2-5 value at a time
    /// (the nearer end first) until at least three such values lie inside; ticks at 1-2-5
    /// values, or at every decade (every n-th for wide ranges) when those would be more than ten.
    pub fn log(lo: f64, hi: f64) -> Self {
        let (mut a, mut b) = (lo.log10(), hi.log10());
        while log_ticks(a, b).len() < 3 {
            let down = one_two_five(10f64.powf(a), Round::Down).log10();
            let up = one_two_five(10f64.powf(b), Round::Up).log10();
            if a - down <= up - b { a = down } else { b = up }
        }
        let ticks = log_ticks(a, b);
        let decades = a.floor() as i32..=b.ceil() as i32;
        let minor = if b - a <= 6.0 {
            let labelled: Vec<f64> = ticks.iter().map(|t| t.at).collect();
            decades
                .flat_map(|d| (1..10).map(move |m| value(m, d).log10()))
                .filter(|t| (a..=b).contains(t) && !labelled.iter().any(|l| (l - t).abs() < 1e-9))
                .collect()
        } else {
            decades.map(f64::from).filter(|t| (a..=b).contains(t)).collect()
        };
        Self { range: a..b, ticks, minor }
    }

    /// The label of the tick at `at` (drawing coordinates), or an empty string between ticks.
    pub fn label(&self, at: f64) -> String {
        let close = |t: &&Tick| (t.at - at).abs() <= 1e-9 * (1.0 + at.abs());
        self.ticks.iter().find(close).map_or_else(String::new, |t| t.label.clone())
    }

    /// The tick positions, for plotters' key points.
    pub fn positions(&self) -> Vec<f64> {
        self.ticks.iter().map(|t| t.at).collect()
    }
}

/// An axis is a plotters coordinate whose bold mesh lines are its ticks and whose light ones its
/// minor grid lines.
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.minor.clone() } else { self.positions() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Which way `one_two_five` rounds.
#[derive(Clone, Copy)]
enum Round {
    Down,
    Up,
}

/// The nearest value 1, 2 or 5 times a power of ten below (`Down`) or above (`Up`) `v > 0`, by
/// more than a relative 1e-9.
fn one_two_five(v: f64, round: Round) -> f64 {
    let d = v.log10().floor() as i32;
    let candidates =
        [value(5, d - 1), value(1, d), value(2, d), value(5, d), value(1, d + 1), value(2, d + 1)];
    let tolerance = 1e-9 * v;
    match round {
        Round::Down => candidates.into_iter().rfind(|&c| c < v - tolerance),
        Round::Up => candidates.into_iter().find(|&c| c > v + tolerance),
    }
    .unwrap_or(v)
}

/// Labelled ticks between `a` and `b` (log10 of the values): at 1, 2 and 5 times each power of
/// ten, or at decades (every n-th, at multiples of n) when those would be more than ten.
pub fn log_ticks(a: f64, b: f64) -> Vec<Tick> {
    let inside = |m: i64, d: i32| {
        let t = value(m, d).log10();
        t >= a - 1e-9 && t <= b + 1e-9
    };
    let decades = a.floor() as i32..=b.ceil() as i32;
    let mut chosen: Vec<(i64, i32)> = decades
        .clone()
        .flat_map(|d| [1, 2, 5].map(|m| (m, d)))
        .filter(|&(m, d)| inside(m, d))
        .collect();
    if chosen.len() > MAX_TICKS {
        let count = decades.clone().filter(|&d| inside(1, d)).count();
        let every = count.div_ceil(MAX_TICKS).max(1) as i32;
        chosen =
            decades.filter(|&d| inside(1, d) && d.rem_euclid(every) == 0).map(|d| (1, d)).collect();
    }
    let plain = chosen.iter().all(|&(m, d)| PLAIN.contains(&value(m, d)));
    chosen
        .into_iter()
        .map(|(m, d)| {
            let label = if plain {
                format!("{:.*}", (-d).max(0) as usize, value(m, d))
            } else {
                format!("{m}e{d}")
            };
            Tick { at: value(m, d).log10(), label }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(axis: &Axis) -> Vec<&str> {
        axis.ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn linear_ticks_share_one_format() {
        assert_eq!(
            labels(&Axis::linear(-0.1, 300.0)),
            ["0", "50", "100", "150", "200", "250", "300"]
        );
        assert_eq!(labels(&Axis::linear(-5.0, 5.0)), ["-4", "-2", "0", "2", "4"]);
        assert_eq!(labels(&Axis::linear(-0.3, 0.62)), ["-0.2", "0.0", "0.2", "0.4", "0.6"]);
        assert_eq!(labels(&Axis::linear(0.0, 4e5)), ["0e0", "1e5", "2e5", "3e5", "4e5"]);
        assert_eq!(
            labels(&Axis::linear(1e5, 2e5)),
            ["1.0e5", "1.2e5", "1.4e5", "1.6e5", "1.8e5", "2.0e5"]
        );
    }

    #[test]
    fn log_ticks_are_one_two_five_or_decades() {
        assert_eq!(labels(&Axis::log(0.15, 3.0)), ["0.2", "0.5", "1", "2"]);
        assert_eq!(
            labels(&Axis::log(1e-5, 300.0)),
            ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1", "1e2"]
        );
        assert_eq!(
            labels(&Axis::log(0.02, 40.0)),
            ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10", "20"]
        );
        let wide = Axis::log(1e-30, 1e30);
        assert_eq!(
            labels(&wide),
            ["1e-28", "1e-21", "1e-14", "1e-7", "1e0", "1e7", "1e14", "1e21", "1e28"]
        );
        assert!(wide.minor.len() > 50, "the other decades get light lines");
    }

    #[test]
    fn a_narrow_log_axis_widens_to_the_one_two_five_values_around_it() {
        let axis = Axis::log(0.57, 2.6);
        assert_eq!(labels(&axis), ["0.5", "1", "2"]);
        assert!((axis.range.start - 0.5f64.log10()).abs() < 1e-12);
        assert!((axis.range.end - 2.6f64.log10()).abs() < 1e-12);
        assert_eq!(labels(&Axis::log(1.2, 1.9)), ["0.5", "1", "2"]);
        assert_eq!(labels(&Axis::log(1.0, 1.0)), ["0.5", "1", "2"]);
        assert_eq!(axis.label(2f64.log10()), "2");
        assert_eq!(axis.label(0.1), "");
        assert!(axis.minor.iter().any(|m| (m - 0.7f64.log10()).abs() < 1e-9), "{:?}", axis.minor);
    }
}
