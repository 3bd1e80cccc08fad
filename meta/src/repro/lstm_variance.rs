//! The variance of truncated ES, PES and full ES on a character-level LSTM as the truncation
//! length K varies (docs/estimators.md, "Gradient variance on an LSTM"). Each sample is the sum
//! of an estimator's estimates over one whole inner problem at fixed theta (N T inner steps for
//! every estimator and K), and its squared distance to a ground truth, the mean of many full-ES
//! estimates, is measured relative to the ground truth's squared norm.

use super::variance::{Moments, estimator_samples};
use super::{ReproError, summary_json, write_file};
use crate::estimators::{EstimatorConfig, EstimatorError, EstimatorKind};
use crate::plot::{LineChart, Marker, PALETTE, Series, Style};
use crate::systems::{CharLstm, TextStart};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::data::text;
use pesto_tasks::rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Settings of the LSTM variance experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LstmVarianceSettings {
    /// Hidden size H of the LSTM.
    pub hidden: usize,
    /// Horizon T: characters scored per inner problem.
    pub horizon: u64,
    /// Truncation lengths K at which truncated ES and PES are measured.
    pub truncations: Vec<u64>,
    /// Number N of particles of every estimate.
    pub particles: usize,
    /// Perturbation scale sigma.
    pub sigma: f32,
    /// Independent samples per estimator and K.
    pub reps: usize,
    /// Full-ES estimates averaged into the ground truth.
    pub ground_truth_estimates: usize,
    /// Where each inner problem starts in the text.
    pub start: TextStart,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for LstmVarianceSettings {
    /// The reference's LSTM (H = 5), N = 1000 and sigma = 1e-3 on one fixed sequence (the text's
    /// first T + 1 characters), with T = 200 instead of 1000 and its K list cut at T; 50 samples,
    /// and a ground truth of 100 full-ES estimates (100,000 particles).
    fn default() -> Self {
        Self {
            hidden: 5,
            horizon: 200,
            truncations: vec![1, 2, 5, 10, 20, 50, 100, 200],
            particles: 1000,
            sigma: 1e-3,
            reps: 50,
            ground_truth_estimates: 100,
            start: TextStart::Fixed(0),
            seed: 0,
        }
    }
}

/// The ground truth g*: the mean of many full-ES estimates, with its own spread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Moments of the full-ES estimates; `mean` is g*.
    pub moments: Moments,
    /// |g*|^2, the normaliser of every squared error.
    pub squared_norm: f64,
    /// The expected |g* - E g*|^2 relative to |g*|^2 (the trace of the mean's covariance): what
    /// the ground truth's own noise adds to every squared error.
    pub relative_variance: f64,
}

/// One estimator at one K.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LstmVarianceRow {
    /// The estimator.
    pub estimator: EstimatorKind,
    /// Truncation length K (T for full ES).
    pub truncation: u64,
    /// Truncations per inner problem, ceil(T / K) (1 for full ES).
    pub unrolls: u64,
    /// Inner steps behind one sample.
    pub inner_steps: u64,
    /// Mean, variance and sample count of the inner-problem estimates.
    pub moments: Moments,
    /// Total variance relative to |g*|^2.
    pub relative_variance: f64,
    /// Mean over samples of |g - g*|^2 / |g*|^2: the paper's plotted variance.
    pub relative_squared_error: f64,
    /// Standard error of `relative_squared_error`.
    pub relative_squared_error_se: f64,
    /// The squared bias relative to |g*|^2: |mean - g*|^2 / |g*|^2 less the noise of both means
    /// (the relative variances over the sample counts), so about 0 for an unbiased estimator
    /// (and then as often slightly negative as positive).
    pub relative_squared_bias: f64,
}

/// The system the experiment measures: the LSTM on the bundled text.
pub fn system(settings: &LstmVarianceSettings) -> CharLstm {
    CharLstm::new(text::liber_primus(), settings.hidden, settings.horizon, settings.start)
}

/// The estimator settings of one measurement, its seed derived from the experiment's `seed`
/// and `path`.
fn config(settings: &LstmVarianceSettings, truncation: u64, path: &[u64]) -> EstimatorConfig {
    EstimatorConfig {
        particles: settings.particles,
        sigma: settings.sigma,
        truncation,
        stagger: false,
        seed: rng::derive(settings.seed, path),
    }
}

/// g* from `settings.ground_truth_estimates` full-ES estimates at `theta` (seeds independent
/// of every sample's).
pub fn ground_truth(
    settings: &LstmVarianceSettings,
    system: &CharLstm,
    theta: &[f32],
) -> Result<GroundTruth, EstimatorError> {
    let config = config(settings, settings.horizon, &[u64::MAX]);
    let reps = settings.ground_truth_estimates;
    let (samples, _) = estimator_samples(EstimatorKind::Es, &config, system, theta, reps)?;
    let moments = Moments::of(&samples);
    let squared_norm = moments.mean.iter().map(|g| g * g).sum::<f64>();
    let relative_variance = moments.total_variance() / reps as f64 / squared_norm;
    Ok(GroundTruth { moments, squared_norm, relative_variance })
}

/// `reps` samples of `estimator` at truncation `truncation`, compared with `truth`.
fn measure(
    settings: &LstmVarianceSettings,
    (system, theta): (&CharLstm, &[f32]),
    truth: &GroundTruth,
    estimator: EstimatorKind,
    truncation: u64,
) -> Result<LstmVarianceRow, EstimatorError> {
    let path =
        [EstimatorKind::ALL.iter().position(|&k| k == estimator).unwrap() as u64, truncation];
    let config = config(settings, truncation, &path);
    let (samples, inner_steps) =
        estimator_samples(estimator, &config, system, theta, settings.reps)?;
    let distance = |g: &[f64]| {
        let star = &truth.moments.mean;
        g.iter().zip(star).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / truth.squared_norm
    };
    let errors: Vec<Vec<f64>> = samples.iter().map(|g| vec![distance(g)]).collect();
    let error = Moments::of(&errors);
    let moments = Moments::of(&samples);
    Ok(LstmVarianceRow {
        estimator,
        truncation,
        unrolls: match estimator {
            EstimatorKind::Es => 1,
            _ => settings.horizon.div_ceil(truncation),
        },
        inner_steps,
        relative_variance: moments.total_variance() / truth.squared_norm,
        relative_squared_error: error.mean[0],
        relative_squared_error_se: error.std_error()[0],
        relative_squared_bias: distance(&moments.mean)
            - moments.total_variance() / truth.squared_norm / settings.reps as f64
            - truth.relative_variance,
        moments,
    })
}

/// The ground truth and the rows: full ES once (it does not depend on K), then truncated ES and
/// PES at each K. Needs `reps` and `ground_truth_estimates` of at least 2.
pub fn measure_all(
    settings: &LstmVarianceSettings,
) -> Result<(GroundTruth, Vec<LstmVarianceRow>), EstimatorError> {
    let system = system(settings);
    let theta = system.initial_theta();
    let truth = ground_truth(settings, &system, &theta)?;
    let at = (&system, &theta[..]);
    let mut rows = vec![measure(settings, at, &truth, EstimatorKind::Es, settings.horizon)?];
    for &k in &settings.truncations {
        for estimator in [EstimatorKind::Tes, EstimatorKind::Pes] {
            rows.push(measure(settings, at, &truth, estimator, k)?);
        }
    }
    Ok((truth, rows))
}

/// The rows as CSV, one line per estimator and K.
pub fn to_csv(rows: &[LstmVarianceRow]) -> String {
    let mut csv = String::from(
        "estimator,truncation,unrolls,inner_steps,samples,relative_squared_error,\
         relative_squared_error_se,relative_variance,relative_squared_bias,total_variance\n",
    );
    for r in rows {
        csv += &format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.estimator,
            r.truncation,
            r.unrolls,
            r.inner_steps,
            r.moments.samples,
            r.relative_squared_error,
            r.relative_squared_error_se,
            r.relative_variance,
            r.relative_squared_bias,
            r.moments.total_variance()
        );
    }
    csv
}

/// What `summary.json` holds for one row: everything but the per-coordinate moments.
#[derive(Serialize)]
struct SummaryRow {
    estimator: EstimatorKind,
    truncation: u64,
    unrolls: u64,
    inner_steps: u64,
    samples: usize,
    relative_squared_error: f64,
    relative_squared_error_se: f64,
    relative_variance: f64,
    relative_squared_bias: f64,
    total_variance: f64,
}

/// What `summary.json` holds about the ground truth.
#[derive(Serialize)]
struct SummaryTruth {
    estimates: usize,
    particles: usize,
    squared_norm: f64,
    relative_variance: f64,
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a LstmVarianceSettings,
    theta_dim: usize,
    ground_truth: SummaryTruth,
    rows: Vec<SummaryRow>,
}

/// Writes `variance.csv` (`to_csv`), `summary.json` (the settings, the ground truth's squared
/// norm and relative variance, and every row) and `lstm_variance.png` (`chart`) into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &LstmVarianceSettings,
    truth: &GroundTruth,
    rows: &[LstmVarianceRow],
) -> Result<(), ReproError> {
    write_file(dir, "variance.csv", to_csv(rows))?;
    let summary = Summary {
        settings,
        theta_dim: truth.moments.mean.len(),
        ground_truth: SummaryTruth {
            estimates: truth.moments.samples,
            particles: truth.moments.samples * settings.particles,
            squared_norm: truth.squared_norm,
            relative_variance: truth.relative_variance,
        },
        rows: rows
            .iter()
            .map(|r| SummaryRow {
                estimator: r.estimator,
                truncation: r.truncation,
                unrolls: r.unrolls,
                inner_steps: r.inner_steps,
                samples: r.moments.samples,
                relative_squared_error: r.relative_squared_error,
                relative_squared_error_se: r.relative_squared_error_se,
                relative_variance: r.relative_variance,
                relative_squared_bias: r.relative_squared_bias,
                total_variance: r.moments.total_variance(),
            })
            .collect(),
    };
    write_file(dir, "summary.json", summary_json(&summary))?;
    Ok(chart(settings, truth, rows).write_png(&dir.join("lstm_variance.png"), 1100, 650)?)
}

/// Log-log lines of E|g - g*|^2 / |g*|^2 against K: PES, truncated ES (and, dashed, its
/// variance alone, which leaves out its bias) and full ES (flat: it does not truncate), with
/// the ground truth's own relative variance as a reference line.
fn chart(
    settings: &LstmVarianceSettings,
    truth: &GroundTruth,
    rows: &[LstmVarianceRow],
) -> LineChart {
    let of = |kind: EstimatorKind, value: fn(&LstmVarianceRow) -> f64| {
        let rows = rows.iter().filter(move |r| r.estimator == kind);
        rows.map(|r| (r.truncation as f64, value(r))).collect::<Vec<_>>()
    };
    let style = |colour: usize, marker: Marker| Style {
        marker: Some(marker),
        ..Style::solid(PALETTE[colour])
    };
    let es = of(EstimatorKind::Es, |r| r.relative_squared_error)[0].1;
    let ks = &settings.truncations;
    let (first, last) =
        (*ks.iter().min().unwrap_or(&1) as f64, *ks.iter().max().unwrap_or(&1) as f64);
    let title = format!(
        "LSTM (H = {}, P = {}): gradient error over one inner problem, T = {}, N = {}, sigma = {}, {} samples",
        settings.hidden,
        truth.moments.mean.len(),
        settings.horizon,
        settings.particles,
        settings.sigma,
        settings.reps
    );
    LineChart::new(&title, "truncation length K (log scale)", "E|g - g*|^2 / |g*|^2 (log scale)")
        .log_x(true)
        .log_y(true)
        .with(Series::new(
            "PES",
            of(EstimatorKind::Pes, |r| r.relative_squared_error),
            style(0, Marker::Circle),
        ))
        .with(Series::new(
            "truncated ES (biased)",
            of(EstimatorKind::Tes, |r| r.relative_squared_error),
            style(1, Marker::Triangle),
        ))
        .with(Series::new(
            "truncated ES: variance alone",
            of(EstimatorKind::Tes, |r| r.relative_variance),
            Style { dashed: true, ..style(1, Marker::Ring) },
        ))
        .with(Series::new(
            "full ES (no truncation)",
            vec![(first, es), (last, es)],
            style(2, Marker::Square),
        ))
        .with_reference(truth.relative_variance, "the ground truth's own variance")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small setting: T = 20, N = 100, few samples.
    fn small() -> LstmVarianceSettings {
        LstmVarianceSettings {
            horizon: 20,
            truncations: vec![1, 4, 20],
            particles: 100,
            reps: 4,
            ground_truth_estimates: 8,
            ..Default::default()
        }
    }

    /// The mean over coordinates of the squared z-score of the difference between a row's mean
    /// and the ground truth; independent means of one distribution give 1 +- sqrt(2 / P).
    fn mean_z2(row: &LstmVarianceRow, truth: &GroundTruth) -> f64 {
        let (se, truth_se) = (row.moments.std_error(), truth.moments.std_error());
        let z2 = (0..se.len()).map(|j| {
            let d = row.moments.mean[j] - truth.moments.mean[j];
            d * d / (se[j] * se[j] + truth_se[j] * truth_se[j])
        });
        z2.sum::<f64>() / se.len() as f64
    }

    #[test]
    fn es_and_pes_agree_with_the_ground_truth_within_their_standard_errors() {
        let settings = LstmVarianceSettings { reps: 40, ground_truth_estimates: 40, ..small() };
        let system = system(&settings);
        let theta = system.initial_theta();
        let truth = ground_truth(&settings, &system, &theta).unwrap();
        let tolerance = 5.0 * (2.0 / theta.len() as f64).sqrt();
        for (estimator, k) in [(EstimatorKind::Es, 20), (EstimatorKind::Pes, 4)] {
            let row = measure(&settings, (&system, &theta), &truth, estimator, k).unwrap();
            let z2 = mean_z2(&row, &truth);
            assert!((z2 - 1.0).abs() < tolerance, "{estimator}: mean z^2 = {z2} +- {tolerance}");
            // Unbiased: a sample's squared error is its variance plus the ground truth's.
            let want = row.relative_variance + truth.relative_variance;
            let z = (row.relative_squared_error - want) / row.relative_squared_error_se;
            assert!(z.abs() < 5.0, "{estimator}: {} vs {want}", row.relative_squared_error);
        }
    }

    #[test]
    fn measurements_are_reproducible_and_do_not_depend_on_the_number_of_threads() {
        let settings = LstmVarianceSettings { start: TextStart::Drawn, ..small() };
        let (truth, rows) = measure_all(&settings).unwrap();
        assert_eq!(measure_all(&settings).unwrap(), (truth.clone(), rows.clone()));
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(one_thread.install(|| measure_all(&settings)).unwrap(), (truth, rows.clone()));
        assert_eq!(rows.len(), 1 + 2 * settings.truncations.len());
        let pes_k1 = rows.iter().find(|r| r.estimator == EstimatorKind::Pes && r.truncation == 1);
        assert_eq!(pes_k1.unwrap().unrolls, 20);
        assert!(rows.iter().all(|r| r.inner_steps >= 100 * 20));
    }

    #[test]
    fn both_members_of_a_pair_read_the_same_drawn_sequence() {
        // With eps = sigma z, a pair on one sequence estimates ((L+ - L-) / 2 sigma^2) eps, about
        // (z . grad L) z whatever sigma is; on two sequences, L+ - L- would not shrink with
        // sigma and the estimate would scale as 1 / sigma.
        let settings = LstmVarianceSettings { start: TextStart::Drawn, particles: 2, ..small() };
        let system = system(&settings);
        let theta = system.initial_theta();
        let norm = |sigma: f32| {
            let config = EstimatorConfig { sigma, ..config(&settings, 20, &[7]) };
            let (sum, _) = super::super::variance::inner_problem_estimate(
                EstimatorKind::Es,
                config,
                &system,
                &theta,
            )
            .unwrap();
            sum.iter().map(|g| g * g).sum::<f64>().sqrt()
        };
        let (small, large) = (norm(1e-3), norm(2e-3));
        assert!(small > 0.0 && (large / small - 1.0).abs() < 0.01, "{small} vs {large}");
    }

    #[test]
    fn writes_the_table_the_summary_and_the_chart() {
        let dir = std::env::temp_dir().join(format!("pesto-lstm-variance-{}", std::process::id()));
        let settings = small();
        let (truth, rows) = measure_all(&settings).unwrap();
        write_outputs(&dir, &settings, &truth, &rows).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("variance.csv")).unwrap(), to_csv(&rows));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(json["settings"]["reps"], 4);
        assert_eq!(json["ground_truth"]["particles"], 800);
        assert_eq!(json["rows"].as_array().unwrap().len(), rows.len());
        assert_eq!(&std::fs::read(dir.join("lstm_variance.png")).unwrap()[1..4], b"PNG");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
