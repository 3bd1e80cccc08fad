//! The toy-regression experiment of docs/estimators.md: meta-learn a learning-rate schedule with
//! each estimator (ES family and gradient-based) from theta = (-4, -4), and plot the
//! trajectories over the meta-objective surface.

use super::runner::{self, Storage};
use super::{ReproError, summary_json, write_file};
use crate::estimators::{AnyMethod, EstimatorConfig, GradientConfig, GradientKind, MethodKind};
use crate::observe::OuterRecord;
use crate::outer::{OuterConfig, OuterOptimizer};
use crate::plot::heatmap::{self, Labels, Surface, Trajectory};
use crate::systems::ToyRegression;
use crate::trainer::{Evaluation, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The experiment's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToyRegressionSettings {
    /// Outer steps per estimator.
    pub outer_steps: u64,
    /// Outer steps between two logged points of the trajectory.
    pub log_every: u64,
    /// Estimator settings shared by all estimators (gradient-based ones use K and, for the
    /// reparameterisation gradient and PES + analytic, N and sigma; ARTBP cuts with
    /// probability 1/(K + 1)).
    pub estimator: EstimatorConfig,
    /// The outer optimizer.
    pub outer: OuterConfig,
    /// Inner steps RTRL and UORO take per outer step; `None`: K, like every other estimator
    /// (the paper's reference code takes 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_truncation: Option<u64>,
}

impl Default for ToyRegressionSettings {
    /// The paper's setting: 20000 outer steps, N = 100, K = 10, sigma = 0.3, outer Adam with
    /// lr 1e-2 and beta1 = 0.99.
    fn default() -> Self {
        Self {
            outer_steps: 20_000,
            log_every: 100,
            estimator: EstimatorConfig {
                particles: 100,
                sigma: 0.3,
                truncation: 10,
                stagger: true,
                seed: 0,
            },
            outer: OuterConfig {
                optimizer: OuterOptimizer::Adam { lr: 1e-2, beta1: 0.99, beta2: 0.999, eps: 1e-8 },
                clip_value: None,
                clip_norm: None,
            },
            online_truncation: None,
        }
    }
}

/// One logged point of a trajectory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    /// Outer steps taken.
    pub step: u64,
    /// theta after those steps.
    pub theta: [f32; 2],
    /// The full-horizon meta-objective at theta.
    pub meta_objective: f64,
}

/// The result of meta-training with one estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimatorRun {
    /// The estimator.
    pub estimator: MethodKind,
    /// Final theta.
    pub theta: [f32; 2],
    /// Full-horizon meta-objective at the final theta.
    pub meta_objective: f64,
    /// Wall time of this session's part of the run in seconds.
    pub seconds: f64,
    /// theta every `log_every` outer steps, from step 0 to the end.
    #[serde(skip)]
    pub trajectory: Vec<TrajectoryPoint>,
}

/// Meta-trains theta of the toy regression with `kind` under `settings`, in memory or in its
/// directory under `storage` (see `runner::train`), evaluating the meta-objective every
/// `log_every` outer steps.
pub fn run(
    kind: impl Into<MethodKind>,
    settings: &ToyRegressionSettings,
    storage: Option<&Storage>,
    stop: &AtomicBool,
) -> Result<EstimatorRun, ReproError> {
    let kind = kind.into();
    let started = Instant::now();
    let system = ToyRegression::default();
    let mut config = GradientConfig::from(settings.estimator.clone());
    let online = matches!(kind, MethodKind::Gradient(GradientKind::Rtrl | GradientKind::Uoro));
    if let (true, Some(steps)) = (online, settings.online_truncation) {
        config.estimator.truncation = steps;
    }
    let estimator = AnyMethod::new(kind, config, &system)?;
    let state = TrainState::new(system.initial_theta(), estimator, &settings.outer)?;
    let log_every = settings.log_every.max(1);
    let evaluate = Box::new(|system: &ToyRegression, theta: &[f32]| system.meta_objective(theta));
    let mut trainer = Trainer::new(system, settings.outer, state)
        .with_evaluation(Evaluation { every: log_every, evaluate })
        .with_max_skipped_updates(u64::MAX);
    let key = serde_json::json!({ "estimator": kind, "settings": resumable(settings) });
    let records =
        runner::train(&mut trainer, settings.outer_steps, kind.name(), &key, storage, stop)?;
    let system = trainer.system();
    let (start, state) = (system.initial_theta(), trainer.state());
    let trajectory = trajectory(&start, &records, (state.step, &state.theta), |theta| {
        system.meta_objective(theta)
    });
    let last = trajectory[trajectory.len() - 1].clone();
    Ok(EstimatorRun {
        estimator: kind,
        theta: last.theta,
        meta_objective: last.meta_objective,
        seconds: started.elapsed().as_secs_f64(),
        trajectory,
    })
}

/// The trajectory of a 2-D theta (`runner::evaluated_path`), its meta-objective from the
/// records' held-out losses and, where they have none, from `objective`.
pub(super) fn trajectory(
    start: &[f32],
    records: &[OuterRecord],
    last: (u64, &[f32]),
    objective: impl Fn(&[f32]) -> f64,
) -> Vec<TrajectoryPoint> {
    let path = runner::evaluated_path(start, records, last, objective);
    let point = |(step, theta, meta_objective): (u64, &[f32], f64)| TrajectoryPoint {
        step,
        theta: [theta[0], theta[1]],
        meta_objective,
    };
    path.into_iter().map(point).collect()
}

/// `settings` without its outer-step count, which a resumed run may extend.
fn resumable(settings: &ToyRegressionSettings) -> ToyRegressionSettings {
    ToyRegressionSettings { outer_steps: 0, ..settings.clone() }
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a ToyRegressionSettings,
    runs: &'a [EstimatorRun],
    total_seconds: f64,
}

/// Writes `trajectory.csv`, `summary.json` and `toy_regression.png` into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &ToyRegressionSettings,
    runs: &[EstimatorRun],
) -> Result<(), ReproError> {
    let mut csv = String::from("step,estimator,theta0,theta1,meta_objective\n");
    for run in runs {
        for p in &run.trajectory {
            let [t0, t1] = p.theta;
            let _ = writeln!(csv, "{},{},{t0},{t1},{}", p.step, run.estimator, p.meta_objective);
        }
    }
    write_file(dir, "trajectory.csv", csv)?;
    let total_seconds = runs.iter().map(|r| r.seconds).sum();
    write_file(dir, "summary.json", summary_json(&Summary { settings, runs, total_seconds }))?;
    draw_figure(&dir.join("toy_regression.png"), runs)
}

/// The meta-objective over theta in [-5, 5]^2 with each run's trajectory drawn on it.
fn draw_figure(file: &Path, runs: &[EstimatorRun]) -> Result<(), ReproError> {
    let system = ToyRegression::default();
    let surface = Surface::sample(-5.0..5.0, -5.0..5.0, 200, |t0, t1| {
        system.meta_objective(&[t0 as f32, t1 as f32])
    });
    let paths: Vec<Trajectory> = runs
        .iter()
        .map(|run| Trajectory {
            label: run.estimator.name().to_uppercase(),
            points: run
                .trajectory
                .iter()
                .map(|p| (f64::from(p.theta[0]), f64::from(p.theta[1])))
                .collect(),
        })
        .collect();
    let labels = Labels {
        title: "Toy regression: meta-objective and theta trajectories",
        x: "theta0 (log initial learning rate)",
        y: "theta1 (log final learning rate)",
        value: "meta-objective",
    };
    Ok(heatmap::draw(file, &surface, &paths, &labels)?)
}
