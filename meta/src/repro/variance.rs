//! The variance of unbiased estimators at equal compute: each sample is the sum of an
//! estimator's estimates over one whole inner problem (N T inner steps for every estimator),
//! which for ES, PES and NRES is an unbiased estimate of the smoothed meta-gradient.

use super::{ReproError, summary_json, write_file};
use crate::estimators::{
    AnyEstimator, Estimator, EstimatorConfig, EstimatorError, EstimatorKind, MethodKind,
};
use crate::plot::BarChart;
use crate::unrolled::UnrolledSystem;
use pesto_tasks::rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Sample mean and variance per coordinate of repeated estimates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of samples.
    pub samples: usize,
    /// Sample mean per coordinate.
    pub mean: Vec<f64>,
    /// Unbiased sample variance per coordinate.
    pub variance: Vec<f64>,
}

impl Moments {
    /// Mean and variance of `samples` (at least two, all of one dimension).
    pub fn of(samples: &[Vec<f64>]) -> Self {
        let n = samples.len() as f64;
        let dim = samples[0].len();
        let mean: Vec<f64> =
            (0..dim).map(|j| samples.iter().map(|s| s[j]).sum::<f64>() / n).collect();
        let variance = (0..dim)
            .map(|j| samples.iter().map(|s| (s[j] - mean[j]).powi(2)).sum::<f64>() / (n - 1.0))
            .collect();
        Self { samples: samples.len(), mean, variance }
    }

    /// Standard error of the mean per coordinate.
    pub fn std_error(&self) -> Vec<f64> {
        self.variance.iter().map(|v| (v / self.samples as f64).sqrt()).collect()
    }

    /// Total variance: the sum over coordinates.
    pub fn total_variance(&self) -> f64 {
        self.variance.iter().sum()
    }
}

/// The sum of a fresh estimator's estimates at fixed `theta` over the outer steps that take its
/// particles through one whole inner problem from step 0 (one step for full ES, ceil(T/K)
/// otherwise); also returns the inner steps used.
pub fn inner_problem_estimate<S: UnrolledSystem>(
    kind: EstimatorKind,
    config: EstimatorConfig,
    system: &S,
    theta: &[f32],
) -> Result<(Vec<f64>, u64), EstimatorError> {
    let config = EstimatorConfig { stagger: false, ..config };
    let truncation = config.truncation;
    let mut estimator = AnyEstimator::new(kind, config, system)?;
    let horizon = system
        .horizon(&system.init_state(0, 0))
        .ok_or(EstimatorError::InfiniteHorizon(kind.name()))?;
    let outer_steps = if kind == EstimatorKind::Es { 1 } else { horizon.div_ceil(truncation) };
    let mut sum = vec![0.0; theta.len()];
    let mut inner_steps = 0;
    for step in 0..outer_steps {
        let estimate = estimator.estimate(system, theta, step);
        sum.iter_mut().zip(&estimate.grad).for_each(|(s, &g)| *s += f64::from(g));
        inner_steps += estimate.inner_steps;
    }
    Ok((sum, inner_steps))
}

/// `reps` independent inner-problem estimates (seeds derived from `config.seed` and the
/// repetition, computed in parallel, returned in repetition order); also returns the inner steps
/// of one estimate.
pub fn estimator_samples<S: UnrolledSystem>(
    kind: EstimatorKind,
    config: &EstimatorConfig,
    system: &S,
    theta: &[f32],
    reps: usize,
) -> Result<(Vec<Vec<f64>>, u64), EstimatorError> {
    let samples = (0..reps as u64)
        .into_par_iter()
        .map(|rep| {
            let seed = rng::derive(config.seed, &[rep]);
            inner_problem_estimate(kind, EstimatorConfig { seed, ..config.clone() }, system, theta)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inner_steps = samples.first().map_or(0, |(_, steps)| *steps);
    Ok((samples.into_iter().map(|(sum, _)| sum).collect(), inner_steps))
}

/// Moments of `reps` independent inner-problem estimates (`estimator_samples`); also returns
/// the inner steps of one estimate.
pub fn estimator_moments<S: UnrolledSystem>(
    kind: EstimatorKind,
    config: &EstimatorConfig,
    system: &S,
    theta: &[f32],
    reps: usize,
) -> Result<(Moments, u64), EstimatorError> {
    let (samples, inner_steps) = estimator_samples(kind, config, system, theta, reps)?;
    Ok((Moments::of(&samples), inner_steps))
}

/// Settings of the equal-compute variance comparison on the toy regression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VarianceSettings {
    /// The theta at which every estimator is evaluated.
    pub theta: [f32; 2],
    /// Independent inner-problem estimates per estimator.
    pub reps: usize,
    /// Estimator settings (stagger is ignored: each sample starts at step 0).
    pub estimator: EstimatorConfig,
}

impl Default for VarianceSettings {
    /// The paper's start theta = (-4, -4) and estimator settings (N = 100, K = 10,
    /// sigma = 0.3), 1000 repetitions.
    fn default() -> Self {
        let estimator =
            EstimatorConfig { particles: 100, sigma: 0.3, truncation: 10, stagger: false, seed: 0 };
        Self { theta: [-4.0, -4.0], reps: 1000, estimator }
    }
}

/// One estimator's row of the variance table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VarianceRow {
    /// The estimator.
    pub estimator: EstimatorKind,
    /// Inner steps behind one sample.
    pub inner_steps: u64,
    /// Mean, variance and sample count of the inner-problem estimates.
    pub moments: Moments,
}

/// The variance of every estimator of the registry's ES family on the toy regression at equal
/// compute (one inner problem per sample).
pub fn toy_regression_variance(
    settings: &VarianceSettings,
) -> Result<Vec<VarianceRow>, EstimatorError> {
    let system = crate::systems::ToyRegression::default();
    EstimatorKind::ALL
        .into_iter()
        .map(|estimator| {
            let (moments, inner_steps) = estimator_moments(
                estimator,
                &settings.estimator,
                &system,
                &settings.theta,
                settings.reps,
            )?;
            Ok(VarianceRow { estimator, inner_steps, moments })
        })
        .collect()
}

/// The table as CSV: estimator, inner steps, then mean, standard error and variance per
/// coordinate, and the total variance.
pub fn to_csv(rows: &[VarianceRow]) -> String {
    let mut csv =
        String::from("estimator,inner_steps,mean0,se0,var0,mean1,se1,var1,total_variance\n");
    for row in rows {
        let m = &row.moments;
        let se = m.std_error();
        csv += &format!(
            "{},{},{},{},{},{},{},{},{}\n",
            row.estimator,
            row.inner_steps,
            m.mean[0],
            se[0],
            m.variance[0],
            m.mean[1],
            se[1],
            m.variance[1],
            m.total_variance()
        );
    }
    csv
}

/// What `summary.json` holds for one estimator.
#[derive(Serialize)]
struct SummaryRow<'a> {
    estimator: EstimatorKind,
    inner_steps: u64,
    samples: usize,
    mean: &'a [f64],
    std_error: Vec<f64>,
    variance: &'a [f64],
    total_variance: f64,
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a VarianceSettings,
    rows: Vec<SummaryRow<'a>>,
}

/// Writes `variance.csv` (`to_csv`), `summary.json` (the settings and each estimator's mean,
/// standard error and variance per coordinate and total variance) and `variance.png` (the
/// variances as bars on a log axis) into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &VarianceSettings,
    rows: &[VarianceRow],
) -> Result<(), ReproError> {
    write_file(dir, "variance.csv", to_csv(rows))?;
    let summary = Summary {
        settings,
        rows: rows
            .iter()
            .map(|r| SummaryRow {
                estimator: r.estimator,
                inner_steps: r.inner_steps,
                samples: r.moments.samples,
                mean: &r.moments.mean,
                std_error: r.moments.std_error(),
                variance: &r.moments.variance,
                total_variance: r.moments.total_variance(),
            })
            .collect(),
    };
    write_file(dir, "summary.json", summary_json(&summary))?;
    Ok(chart(settings, rows).write_png(&dir.join("variance.png"), 1100, 600)?)
}

/// Bars of each estimator's variance per coordinate and in total, rising from the power of ten
/// below the smallest of them.
fn chart(settings: &VarianceSettings, rows: &[VarianceRow]) -> BarChart {
    let per = |f: fn(&Moments) -> f64| rows.iter().map(|r| f(&r.moments)).collect::<Vec<f64>>();
    let (theta0, theta1, total) =
        (per(|m| m.variance[0]), per(|m| m.variance[1]), per(Moments::total_variance));
    let smallest = theta0.iter().chain(&theta1).copied().filter(|v| *v > 0.0).fold(1.0, f64::min);
    let [t0, t1] = settings.theta;
    let e = &settings.estimator;
    let title = format!(
        "variance at equal compute: theta = ({t0}, {t1}), N = {}, K = {}, {} samples",
        e.particles, e.truncation, settings.reps
    );
    let names = rows.iter().map(|r| match MethodKind::from(r.estimator).unbiased() {
        true => r.estimator.to_string(),
        false => format!("{} (biased)", r.estimator),
    });
    BarChart::new(
        &title,
        "variance of the gradient summed over one inner problem (log scale)",
        10f64.powf(smallest.log10().floor()),
        names.collect(),
    )
    .with_series("theta0", theta0)
    .with_series("theta1", theta1)
    .with_series("total", total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_table_the_summary_and_the_chart() {
        let dir = std::env::temp_dir().join(format!("pesto-variance-{}", std::process::id()));
        let settings = VarianceSettings { reps: 3, ..Default::default() };
        let rows = toy_regression_variance(&settings).unwrap();
        write_outputs(&dir, &settings, &rows).unwrap();
        let csv = std::fs::read_to_string(dir.join("variance.csv")).unwrap();
        assert_eq!(csv, to_csv(&rows));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(json["settings"]["reps"], 3);
        let summary_rows = json["rows"].as_array().unwrap();
        assert_eq!(summary_rows.len(), EstimatorKind::ALL.len());
        assert_eq!(summary_rows[1]["estimator"], "tes");
        assert_eq!(summary_rows[1]["samples"], 3);
        assert_eq!(summary_rows[1]["variance"].as_array().unwrap().len(), 2);
        assert_eq!(summary_rows[1]["total_variance"], rows[1].moments.total_variance());
        assert_eq!(&std::fs::read(dir.join("variance.png")).unwrap()[1..4], b"PNG");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
