//! The learned optimizer scored against the best Adam grid point: per-task loss ratios and the
//! steps Adam needs to match it, and the suite's geometric mean, interquartile mean, worst ratio
//! and win count.

use super::Entry;
use crate::inner::Curve;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The learned optimizer against the best Adam grid point on one task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskScore {
    /// Learned / best-Adam final training loss (see [`loss_ratio`]).
    #[serde(serialize_with = "ratio_json")]
    pub train_ratio: f64,
    /// Learned / best-Adam final held-out loss, the Adam grid point being the one chosen by
    /// training loss (see [`loss_ratio`]).
    #[serde(serialize_with = "ratio_json")]
    pub test_ratio: f64,
    /// Inner steps the best Adam needs to reach the learned final training loss, over the
    /// horizon T (see [`adam_steps_over_t`]); `None` if it never does within T, the smallest
    /// value w / T if the learned run diverged.
    pub speedup_adam_steps_over_t: Option<f64>,
}

impl TaskScore {
    /// Scores `learned` against `adam`; `window` is the tail of steps the final loss averages.
    pub fn of(learned: &Entry, adam: &Entry, window: usize) -> Self {
        let target =
            if learned.final_train.is_finite() { learned.final_train } else { f64::INFINITY };
        Self {
            train_ratio: loss_ratio(learned.final_train, adam.final_train),
            test_ratio: loss_ratio(learned.final_heldout, adam.final_heldout),
            speedup_adam_steps_over_t: adam_steps_over_t(&adam.curves, target, window),
        }
    }

    /// Whether the learned final training loss is below the best Adam's.
    pub fn win(&self) -> bool {
        self.train_ratio < 1.0
    }
}

/// `learned / adam` for non-negative losses, where a diverged (non-finite) learned loss gives
/// +inf, a diverged Adam loss (with a finite learned one) gives 0, and equal losses give 1.
pub fn loss_ratio(learned: f64, adam: f64) -> f64 {
    if !learned.is_finite() {
        f64::INFINITY
    } else if !adam.is_finite() {
        0.0
    } else if learned == adam {
        1.0
    } else {
        learned / adam
    }
}

/// `(t + 1) / T` for the first step index t at which A_w(t) <= `target`, where A is the mean over
/// seeds of the per-step training loss, A_w(t) = mean of A over steps t - w + 1 ..= t (full
/// windows only, so t >= w - 1 and the smallest value is w / T) and T is the shortest curve's
/// length; `None` if no step qualifies.
pub fn adam_steps_over_t(curves: &[Curve], target: f64, window: usize) -> Option<f64> {
    let mean = mean_curve(curves);
    let steps = mean.len();
    let window = window.max(1);
    if steps < window {
        return None;
    }
    (window - 1..steps)
        .find(|&t| mean[t + 1 - window..=t].iter().sum::<f64>() / window as f64 <= target)
        .map(|t| (t + 1) as f64 / steps as f64)
}

/// The mean over curves of the training loss at each step, up to the shortest curve's length.
pub fn mean_curve(curves: &[Curve]) -> Vec<f64> {
    let steps = curves.iter().map(|c| c.train.len()).min().unwrap_or(0);
    (0..steps)
        .map(|t| curves.iter().map(|c| f64::from(c.train[t])).sum::<f64>() / curves.len() as f64)
        .collect()
}

/// The suite-level comparison of the learned optimizer with the best Adam of each task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteSummary {
    /// Number of tasks.
    pub tasks: usize,
    /// Tasks where the learned final training loss is below the best Adam's.
    pub wins: usize,
    /// Geometric mean over tasks of the training-loss ratios (+inf if any is +inf).
    #[serde(serialize_with = "ratio_json", deserialize_with = "ratio_from_json")]
    pub geomean_train_ratio: f64,
    /// Geometric mean over tasks of the held-out-loss ratios (+inf if any is +inf).
    #[serde(serialize_with = "ratio_json", deserialize_with = "ratio_from_json")]
    pub geomean_test_ratio: f64,
    /// The largest training-loss ratio.
    #[serde(serialize_with = "ratio_json", deserialize_with = "ratio_from_json")]
    pub worst_train_ratio: f64,
    /// Interquartile mean of the training-loss ratios (see [`interquartile_mean`]).
    #[serde(serialize_with = "ratio_json", deserialize_with = "ratio_from_json")]
    pub iqm_train_ratio: f64,
    /// Number of ratios the interquartile mean averages.
    pub iqm_count: usize,
    /// Mean over tasks of the final training loss: learned, best Adam, best momentum.
    pub mean_final_train: [f64; 3],
}

impl SuiteSummary {
    /// Summarises the per-task scores; `mean_final_train` is passed through.
    pub fn of(scores: &[TaskScore], mean_final_train: [f64; 3]) -> Self {
        let train: Vec<f64> = scores.iter().map(|s| s.train_ratio).collect();
        let test: Vec<f64> = scores.iter().map(|s| s.test_ratio).collect();
        Self {
            tasks: scores.len(),
            wins: scores.iter().filter(|s| s.win()).count(),
            geomean_train_ratio: geometric_mean(&train),
            geomean_test_ratio: geometric_mean(&test),
            worst_train_ratio: largest(&train),
            iqm_train_ratio: interquartile_mean(&train),
            iqm_count: train.len() - 2 * (train.len() / 4),
            mean_final_train,
        }
    }
}

/// One Adam rate used on every task of a suite, scored against each task's best Adam: what
/// tuning the rate per task is worth, beside what the learned optimizer scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SingleRate {
    /// The rate with the lowest geometric mean among those tried on every task.
    pub lr: f32,
    /// Geometric mean over tasks of its final training loss over the best Adam's (see
    /// [`loss_ratio`]).
    #[serde(serialize_with = "ratio_json")]
    pub geomean_train_ratio: f64,
    /// The largest of those ratios.
    #[serde(serialize_with = "ratio_json")]
    pub worst_train_ratio: f64,
}

impl SingleRate {
    /// The best single rate, from each task's Adam grid as (rate, final training loss) pairs
    /// and its best Adam's final training loss; none when no rate was tried on every task.
    pub fn best(tasks: &[(Vec<(f32, f64)>, f64)]) -> Option<Self> {
        let (first, _) = tasks.first()?;
        let on_every_task = |lr: f32| {
            let ratios: Option<Vec<f64>> = tasks
                .iter()
                .map(|(grid, best)| {
                    grid.iter().find(|(rate, _)| *rate == lr).map(|(_, l)| loss_ratio(*l, *best))
                })
                .collect();
            ratios.map(|r| Self {
                lr,
                geomean_train_ratio: geometric_mean(&r),
                worst_train_ratio: largest(&r),
            })
        };
        first
            .iter()
            .filter_map(|&(lr, _)| on_every_task(lr))
            .min_by(|a, b| a.geomean_train_ratio.total_cmp(&b.geomean_train_ratio))
    }
}

/// The largest value (a NaN among others is passed over), NaN for no values: a suite's worst
/// ratio.
pub fn largest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

/// exp(mean(ln r)): +inf if any value is +inf, 0 if any is 0, NaN for no values.
pub fn geometric_mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

/// Mean of the middle values after sorting: floor(n / 4) are dropped from each end (n = 8 keeps
/// the middle 4, n = 5 the middle 3, n < 4 keeps all), as scipy's `trim_mean(r, 0.25)`; NaN for
/// no values.
pub fn interquartile_mean(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted.len() / 4;
    let middle = &sorted[cut..sorted.len() - cut];
    if middle.is_empty() {
        return f64::NAN;
    }
    middle.iter().sum::<f64>() / middle.len() as f64
}

/// The median of `values` (the mean of the middle two for an even count); NaN for none. NaN
/// values sort last.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A ratio as a JSON number, or the string "inf" or "nan" where JSON has no number for it.
fn ratio_json<S: Serializer>(ratio: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    match *ratio {
        r if r.is_finite() => serializer.serialize_f64(r),
        r if r.is_nan() => serializer.serialize_str("nan"),
        r if r > 0.0 => serializer.serialize_str("inf"),
        _ => serializer.serialize_str("-inf"),
    }
}

/// A ratio written by `ratio_json`: a number, or "inf", "-inf" or "nan".
fn ratio_from_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ratio {
        Number(f64),
        Word(String),
    }
    match Ratio::deserialize(deserializer)? {
        Ratio::Number(r) => Ok(r),
        Ratio::Word(word) => match word.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(D::Error::custom(format!("`{other}` is not a ratio"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_takes_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[f64::INFINITY, 1.0, 2.0]), 2.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn the_single_rate_is_the_one_tried_on_every_task_with_the_lowest_geometric_mean() {
        // Task 0 is best at 1e-2 (loss 1), task 1 at 1e-3 (loss 2); 1e-1 grew on task 0 only.
        let tasks = vec![
            (vec![(1e-3, 4.0), (1e-2, 1.0), (1e-1, 1.5)], 1.0),
            (vec![(1e-3, 2.0), (1e-2, 8.0)], 2.0),
        ];
        // 1e-3: ratios 4 and 1, geomean 2; 1e-2: 1 and 4, geomean 2 too: the first one wins.
        let best = SingleRate::best(&tasks).unwrap();
        assert_eq!((best.lr, best.worst_train_ratio), (1e-3, 4.0));
        assert!((best.geomean_train_ratio - 2.0).abs() < 1e-12);
        let diverged = vec![(vec![(1e-3, f64::NAN), (1e-2, 3.0)], 1.0)];
        let best = SingleRate::best(&diverged).unwrap();
        assert_eq!(best.lr, 1e-2, "a diverged rate scores +inf");
        assert!((best.geomean_train_ratio - 3.0).abs() < 1e-12);
        assert_eq!(SingleRate::best(&[]), None);
        assert_eq!(SingleRate::best(&[(vec![(1e-3, 1.0)], 1.0), (vec![], 1.0)]), None);
    }

    fn score(train_ratio: f64, test_ratio: f64) -> TaskScore {
        TaskScore { train_ratio, test_ratio, speedup_adam_steps_over_t: None }
    }

    fn curve(train: &[f32]) -> Curve {
        Curve { train: train.to_vec(), heldout: Vec::new() }
    }

    #[test]
    fn suite_statistics_of_eight_tasks() {
        let train = [0.5, 2.0, 1.0, 0.25, 4.0, 0.8, 1.25, 1.0];
        let test = [2.0, 2.0, 2.0, 2.0, 0.5, 0.5, 0.5, 0.5];
        let scores: Vec<TaskScore> = train.iter().zip(test).map(|(&a, b)| score(a, b)).collect();
        let summary = SuiteSummary::of(&scores, [0.1, 0.2, 0.3]);
        assert_eq!(summary.tasks, 8);
        assert_eq!(summary.wins, 3, "0.5, 0.25 and 0.8; a ratio of 1 is no win");
        // Both sets of ratios multiply to 1: 0.5*2 * 0.25*4 * 0.8*1.25 * 1*1 and 2^4 * 0.5^4.
        assert!((summary.geomean_train_ratio - 1.0).abs() < 1e-12);
        assert!((summary.geomean_test_ratio - 1.0).abs() < 1e-12);
        assert_eq!(summary.worst_train_ratio, 4.0);
        // Sorted: 0.25 0.5 | 0.8 1.0 1.0 1.25 | 2.0 4.0.
        assert_eq!(summary.iqm_count, 4);
        assert!((summary.iqm_train_ratio - 4.05 / 4.0).abs() < 1e-12);
        assert_eq!(summary.mean_final_train, [0.1, 0.2, 0.3]);
    }

    #[test]
    fn interquartile_mean_of_five_drops_one_at_each_end() {
        assert_eq!(interquartile_mean(&[9.0, 1.0, 3.0, 2.0, 100.0]), 14.0 / 3.0);
        assert_eq!(interquartile_mean(&[3.0, 1.0, 2.0]), 2.0);
        assert!(interquartile_mean(&[]).is_nan());
        assert!((geometric_mean(&[2.0, 8.0]) - 4.0).abs() < 1e-12);
        assert!(geometric_mean(&[]).is_nan());
    }

    #[test]
    fn a_diverged_learned_run_is_a_loss_with_an_infinite_ratio() {
        assert_eq!(loss_ratio(f64::NAN, 0.3), f64::INFINITY);
        assert_eq!(loss_ratio(0.2, f64::NAN), 0.0);
        assert_eq!(loss_ratio(0.0, 0.0), 1.0);
        assert_eq!(loss_ratio(0.3, 0.6), 0.5);
        let scores = [
            score(0.5, 0.5),
            score(loss_ratio(f64::NAN, 0.3), loss_ratio(f64::NAN, 0.4)),
            score(0.9, 1.1),
        ];
        let summary = SuiteSummary::of(&scores, [0.0; 3]);
        assert_eq!(summary.tasks, 3);
        assert_eq!(summary.wins, 2);
        assert_eq!(summary.geomean_train_ratio, f64::INFINITY);
        assert_eq!(summary.geomean_test_ratio, f64::INFINITY);
        assert_eq!(summary.worst_train_ratio, f64::INFINITY);
        assert_eq!(summary.iqm_train_ratio, f64::INFINITY, "n = 3 averages all three");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["geomean_train_ratio"], "inf");
        assert_eq!(json["wins"], 2);
    }

    #[test]
    fn adam_steps_are_counted_on_the_smoothed_mean_curve() {
        // Two seeds whose mean is 10, 9, ..., 1 over T = 10 steps; a window of 2 averages
        // neighbours: 9.5 after step 2, 8.5 after step 3, ..., 1.5 after step 10.
        let a: Vec<f32> = (1..=10).rev().map(|v| v as f32 - 1.0).collect();
        let b: Vec<f32> = (1..=10).rev().map(|v| v as f32 + 1.0).collect();
        let curves = [curve(&a), curve(&b)];
        assert_eq!(adam_steps_over_t(&curves, 5.5, 2), Some(0.6));
        assert_eq!(adam_steps_over_t(&curves, 5.4, 2), Some(0.7));
        assert_eq!(adam_steps_over_t(&curves, 1.5, 2), Some(1.0));
        assert_eq!(adam_steps_over_t(&curves, 1.4, 2), None, "never reached within T");
        assert_eq!(adam_steps_over_t(&curves, f64::INFINITY, 2), Some(0.2), "the first window");
        assert_eq!(adam_steps_over_t(&curves, 100.0, 20), None, "no full window");
        let diverged = [curve(&[1.0, 0.5, f32::NAN, f32::NAN])];
        assert_eq!(adam_steps_over_t(&diverged, 0.7, 2), None);
        assert_eq!(adam_steps_over_t(&diverged, 0.75, 2), Some(0.5));
    }
}
