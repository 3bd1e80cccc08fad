//! The MNIST learning-rate schedule experiment of docs/estimators.md: meta-learn the initial
//! learning rate and the decay of `MnistSchedule` with PES and truncated ES at K = 10 and 100,
//! and draw their trajectories over the meta-objective on the paper's box of log10 decay in
//! [-2.2, 2.2] and log10 initial learning rate in [-3, -0.5].

use super::runner::{self, Storage};
use super::toy_regression::{self, TrajectoryPoint};
use super::{ReproError, summary_json, write_file};
use crate::estimators::{AnyEstimator, EstimatorConfig, EstimatorKind};
use crate::outer::{OuterConfig, OuterOptimizer};
use crate::plot::heatmap::{self, Labels, Surface, Trajectory};
use crate::systems::MnistSchedule;
use crate::trainer::{Evaluation, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::{rng, tags};
use serde::{Deserialize, Serialize};
use std::f64::consts::LN_10;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The heat map's horizontal range: log10 of the decay exponent exp(theta1).
pub const LOG_DECAY: Range<f64> = -2.2..2.2;
/// The heat map's vertical range: log10 of the initial learning rate exp(theta0).
pub const LOG_INIT_LR: Range<f64> = -3.0..-0.5;

/// One method of the experiment: an ES-family estimator and its truncation length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The estimator.
    pub kind: EstimatorKind,
    /// Truncation length K.
    pub truncation: u64,
}

impl Method {
    /// The legend label, e.g. `PES K=10`.
    pub fn label(&self) -> String {
        super::method_label(self.kind.name(), self.truncation)
    }
}

/// The experiment's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MnistScheduleSettings {
    /// Side of the average-pooled images: 28, 14 or 8.
    pub resolution: usize,
    /// Horizon T of an inner training run; the decay scale D equals it, as in the paper.
    pub horizon: u64,
    /// Outer steps per method.
    pub outer_steps: u64,
    /// Outer steps between two evaluated points of a trajectory.
    pub log_every: u64,
    /// Particles N of every method.
    pub particles: usize,
    /// Perturbation scale sigma.
    pub sigma: f32,
    /// Seed of every method and of the evaluation runs.
    pub seed: u64,
    /// Training runs (seeds) averaged in each meta-objective value, on the grid and the paths.
    pub eval_runs: u64,
    /// Grid points per axis of the heat map.
    pub grid: usize,
    /// The outer optimizer.
    pub outer: OuterConfig,
    /// The methods, in legend order.
    pub methods: Vec<Method>,
}

impl Default for MnistScheduleSettings {
    /// The scaled setting of docs/estimators.md: 8x8 images, T = 1000, N = 10, sigma = 0.1,
    /// outer Adam with lr 1e-2, 1000 outer steps, a 12 x 12 grid of 2-run averages; PES and
    /// truncated ES at K = 10 and 100.
    fn default() -> Self {
        let method = |kind, truncation| Method { kind, truncation };
        Self {
            resolution: 8,
            horizon: 1000,
            outer_steps: 1000,
            log_every: 50,
            particles: 10,
            sigma: 0.1,
            seed: 0,
            eval_runs: 2,
            grid: 12,
            outer: OuterConfig {
                optimizer: OuterOptimizer::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
                clip_value: None,
                clip_norm: None,
            },
            methods: vec![
                method(EstimatorKind::Pes, 10),
                method(EstimatorKind::Pes, 100),
                method(EstimatorKind::Tes, 10),
                method(EstimatorKind::Tes, 100),
            ],
        }
    }
}

impl MnistScheduleSettings {
    /// The unrolled system these settings describe.
    pub fn system(&self) -> MnistSchedule {
        MnistSchedule::new(self.resolution, self.horizon, self.horizon as f64)
    }

    /// The seeds of the training runs every meta-objective value averages over.
    pub fn eval_seeds(&self) -> Vec<u64> {
        (0..self.eval_runs).map(|r| rng::derive(self.seed, &[tags::HELDOUT, r])).collect()
    }
}

/// (log10 decay, log10 initial learning rate): where a trajectory's point, theta = (ln initial
/// learning rate, ln decay exponent), lies on the heat map.
pub fn on_map(point: &TrajectoryPoint) -> (f64, f64) {
    (f64::from(point.theta[1]) / LN_10, f64::from(point.theta[0]) / LN_10)
}

/// The result of one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRun {
    /// The legend label.
    pub label: String,
    /// The method.
    pub method: Method,
    /// Final theta.
    pub theta: [f32; 2],
    /// The final initial learning rate exp(theta0).
    pub initial_lr: f64,
    /// The final decay exponent exp(theta1).
    pub decay: f64,
    /// The meta-objective at the final theta.
    pub meta_objective: f64,
    /// Wall time of this session's part of the run in seconds.
    pub seconds: f64,
    /// theta every `log_every` outer steps, from step 0 to the end.
    #[serde(skip)]
    pub trajectory: Vec<TrajectoryPoint>,
}

/// Meta-trains theta with `method` under `settings`, in memory or in its directory under
/// `storage` (see `runner::train`), evaluating the meta-objective every `log_every` outer steps.
pub fn run(
    method: &Method,
    settings: &MnistScheduleSettings,
    storage: Option<&Storage>,
    stop: &AtomicBool,
) -> Result<MethodRun, ReproError> {
    let started = Instant::now();
    let system = settings.system();
    let config = EstimatorConfig {
        particles: settings.particles,
        sigma: settings.sigma,
        truncation: method.truncation,
        stagger: false,
        seed: settings.seed,
    };
    let estimator = AnyEstimator::new(method.kind, config, &system)?;
    let state = TrainState::new(system.initial_theta(), estimator, &settings.outer)?;
    let seeds = settings.eval_seeds();
    let objective =
        move |system: &MnistSchedule, theta: &[f32]| system.meta_objective(theta, &seeds);
    let log_every = settings.log_every.max(1);
    let mut trainer = Trainer::new(system, settings.outer, state)
        .with_evaluation(Evaluation { every: log_every, evaluate: Box::new(objective.clone()) })
        .with_max_skipped_updates(u64::MAX);
    let label = method.label();
    let resumable = MnistScheduleSettings { outer_steps: 0, ..settings.clone() };
    let key = serde_json::json!({ "method": method, "settings": resumable });
    let records = runner::train(&mut trainer, settings.outer_steps, &label, &key, storage, stop)?;
    let system = trainer.system();
    let (start, state) = (system.initial_theta(), trainer.state());
    let trajectory =
        toy_regression::trajectory(&start, &records, (state.step, &state.theta), |t| {
            objective(system, t)
        });
    let last = trajectory[trajectory.len() - 1].clone();
    Ok(MethodRun {
        label,
        method: method.clone(),
        theta: last.theta,
        initial_lr: f64::from(last.theta[0]).exp(),
        decay: f64::from(last.theta[1]).exp(),
        meta_objective: last.meta_objective,
        seconds: started.elapsed().as_secs_f64(),
        trajectory,
    })
}

/// The meta-objective on a `grid` x `grid` grid over the paper's box (x: log10 decay, y: log10
/// initial learning rate), each value averaged over the evaluation runs; cells in parallel.
pub fn surface(settings: &MnistScheduleSettings) -> Surface {
    let (system, seeds) = (settings.system(), settings.eval_seeds());
    Surface::sample(LOG_DECAY, LOG_INIT_LR, settings.grid, |log_decay, log_lr| {
        system.meta_objective(&[(log_lr * LN_10) as f32, (log_decay * LN_10) as f32], &seeds)
    })
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a MnistScheduleSettings,
    runs: &'a [MethodRun],
    grid_seconds: f64,
    total_seconds: f64,
}

/// Writes `trajectory.csv`, `surface.csv`, `summary.json` and `mnist_schedule.png` into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &MnistScheduleSettings,
    runs: &[MethodRun],
    surface: &Surface,
    grid_seconds: f64,
) -> Result<(), ReproError> {
    let mut csv =
        String::from("step,method,theta0,theta1,log10_decay,log10_init_lr,meta_objective\n");
    for run in runs {
        for p in &run.trajectory {
            let ([t0, t1], (x, y)) = (p.theta, on_map(p));
            let _ =
                writeln!(csv, "{},{},{t0},{t1},{x},{y},{}", p.step, run.label, p.meta_objective);
        }
    }
    write_file(dir, "trajectory.csv", csv)?;
    let mut grid = String::from("log10_decay,log10_init_lr,meta_objective\n");
    for (i, value) in surface.values.iter().enumerate() {
        let (x, y) = surface.centre(i);
        let _ = writeln!(grid, "{x},{y},{value}");
    }
    write_file(dir, "surface.csv", grid)?;
    let total_seconds = grid_seconds + runs.iter().map(|r| r.seconds).sum::<f64>();
    let summary = Summary { settings, runs, grid_seconds, total_seconds };
    write_file(dir, "summary.json", summary_json(&summary))?;
    draw_figure(&dir.join("mnist_schedule.png"), runs, surface)
}

/// The meta-objective heat map with each method's trajectory drawn on it.
fn draw_figure(file: &Path, runs: &[MethodRun], surface: &Surface) -> Result<(), ReproError> {
    let paths: Vec<Trajectory> = runs
        .iter()
        .map(|run| Trajectory {
            label: run.label.clone(),
            points: run.trajectory.iter().map(on_map).collect(),
        })
        .collect();
    let labels = Labels {
        title: "MNIST schedule: meta-objective and theta trajectories",
        x: "log10 decay exp(theta1)",
        y: "log10 initial learning rate exp(theta0)",
        value: "meta-objective",
    };
    Ok(heatmap::draw(file, surface, &paths, &labels)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting small enough for a test: T = 12, N = 4, 3 x 3 grid of single runs.
    fn tiny() -> MnistScheduleSettings {
        MnistScheduleSettings {
            horizon: 12,
            outer_steps: 6,
            log_every: 4,
            particles: 4,
            eval_runs: 1,
            grid: 3,
            ..Default::default()
        }
    }

    #[test]
    fn a_method_logs_its_trajectory_and_ends_on_the_evaluated_final_theta() {
        let settings = tiny();
        let method = Method { kind: EstimatorKind::Pes, truncation: 5 };
        let run = run(&method, &settings, None, &AtomicBool::new(false)).unwrap();
        let steps: Vec<u64> = run.trajectory.iter().map(|p| p.step).collect();
        assert_eq!(steps, [0, 4, 6]);
        assert_eq!(run.label, "PES K=5");
        let system = settings.system();
        assert_eq!(run.trajectory[0].theta.to_vec(), system.initial_theta());
        assert_eq!(run.meta_objective, system.meta_objective(&run.theta, &settings.eval_seeds()));
        assert_eq!(run.initial_lr, f64::from(run.theta[0]).exp());
        assert_ne!(run.theta.to_vec(), system.initial_theta(), "six Adam steps move theta");
        let (x, y) = on_map(&run.trajectory[0]);
        assert!((x - 30f64.log10()).abs() < 1e-6 && (y - 0.003f64.log10()).abs() < 1e-6);
    }

    #[test]
    fn the_surface_covers_the_paper_box_and_the_outputs_are_written() {
        let settings = tiny();
        let surface = surface(&settings);
        assert_eq!((surface.x.clone(), surface.y.clone()), (LOG_DECAY, LOG_INIT_LR));
        let seeds = settings.eval_seeds();
        let (x, y) = surface.centre(5);
        let direct =
            settings.system().meta_objective(&[(y * LN_10) as f32, (x * LN_10) as f32], &seeds);
        assert_eq!(surface.values[5], direct);
        let method = Method { kind: EstimatorKind::Tes, truncation: 5 };
        let runs = [run(&method, &settings, None, &AtomicBool::new(false)).unwrap()];
        let dir = std::env::temp_dir().join(format!("pesto-mnist-schedule-{}", std::process::id()));
        write_outputs(&dir, &settings, &runs, &surface, 1.0).unwrap();
        let grid = std::fs::read_to_string(dir.join("surface.csv")).unwrap();
        assert_eq!(grid.lines().count(), 1 + 9);
        let trajectory = std::fs::read_to_string(dir.join("trajectory.csv")).unwrap();
        assert!(trajectory.lines().nth(1).unwrap().starts_with("0,TES K=5,"), "{trajectory}");
        assert!(dir.join("mnist_schedule.png").exists() && dir.join("summary.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
