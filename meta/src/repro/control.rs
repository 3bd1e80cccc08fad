//! The continuous-control experiment of docs/estimators.md (the paper's Figure 8): train the
//! linear policy of MuJoCo Swimmer with PES (K = 100), full ES (K = T = 1000) and truncated ES
//! (K = 100), 10 antithetic pairs each, by gradient ascent on the return, and record the
//! evaluation return of the unperturbed policy against the environment steps consumed.

use super::runner::{self, Storage};
use super::{ReproError, summary_json, write_file};
use crate::estimators::{AnyEstimator, Estimate, Estimator, EstimatorConfig, EstimatorKind};
use crate::outer::{OuterConfig, OuterOptimizer};
use crate::plot::{Figure, LineChart, Marker, PALETTE, Series, Style};
use crate::systems::Swimmer;
use crate::trainer::{Evaluation, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// One method of the experiment: an ES-family estimator with its truncation, sigma and outer
/// learning rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The estimator.
    pub kind: EstimatorKind,
    /// Truncation length K (full ES unrolls the whole horizon).
    pub truncation: u64,
    /// Perturbation scale sigma.
    pub sigma: f32,
    /// Plain-SGD learning rate on our estimate (twice the paper's, see `Default`).
    pub lr: f32,
}

impl Method {
    /// The legend label, e.g. `PES K=100`.
    pub fn label(&self) -> String {
        super::method_label(self.kind.name(), self.truncation)
    }

    /// Environment steps one outer step consumes with `n` particles and horizon `t`: every
    /// particle's truncation, plus truncated ES's shared state per pair.
    pub fn env_steps_per_outer_step(&self, n: u64, t: u64) -> u64 {
        let k = match self.kind {
            EstimatorKind::Es => t,
            _ => self.truncation.min(t),
        };
        match self.kind {
            EstimatorKind::Tes => (n + n / 2) * k,
            _ => n * k,
        }
    }
}

/// The experiment's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlSettings {
    /// Environment steps each method may consume per seed (all particles together).
    pub env_steps: u64,
    /// Particles N (N/2 antithetic pairs).
    pub particles: usize,
    /// Episode length T.
    pub horizon: u64,
    /// Environment steps between two evaluations (rounded to whole outer steps).
    pub eval_every: u64,
    /// Episodes averaged in one evaluation.
    pub eval_episodes: u64,
    /// Replace each estimate g by g sigma / sd, sd the standard deviation of its particles'
    /// truncation losses (see `Normalized`).
    pub normalize: bool,
    /// The first seed.
    pub seed: u64,
    /// Seeds per method: `seed`, `seed + 1`, ...
    pub seeds: u64,
    /// The methods, in legend order.
    pub methods: Vec<Method>,
}

impl Default for ControlSettings {
    /// The paper's Figure 8 runs: N = 20, T = 1000, 5e5 environment steps; ES K=1000 with
    /// sigma 0.3 and lr 0.3, truncated ES K=100 with sigma 0.1 and lr 0.1, PES K=100 with sigma
    /// 0.3 and lr 0.1, estimates normalised by the standard deviation of the returns. The
    /// paper's update divides the sum over particles by the number of pairs, ours by the number
    /// of particles, so our learning rates are twice the paper's. Evaluation every 20000 steps
    /// over 10 episodes (the paper: 50), 6 seeds.
    fn default() -> Self {
        let method =
            |kind, truncation, sigma, lr: f32| Method { kind, truncation, sigma, lr: 2.0 * lr };
        Self {
            env_steps: 500_000,
            particles: 20,
            horizon: 1000,
            eval_every: 20_000,
            eval_episodes: 10,
            normalize: true,
            seed: 0,
            seeds: 6,
            methods: vec![
                method(EstimatorKind::Pes, 100, 0.3, 0.1),
                method(EstimatorKind::Es, 1000, 0.3, 0.3),
                method(EstimatorKind::Tes, 100, 0.1, 0.1),
            ],
        }
    }
}

/// An ES-family estimator whose estimate g is optionally replaced by g sigma / sd, sd the
/// standard deviation of its particles' truncation losses: 1/(N sd) sum_i L_i z_i with
/// z_i = v_i / sigma, the paper's normalised update over pairs divided by 2. Equal losses
/// (sd = 0) leave g as it is: zero for antithetic pairs.
#[derive(Serialize, Deserialize)]
struct Normalized {
    inner: AnyEstimator<Swimmer>,
    normalize: bool,
}

impl Estimator<Swimmer> for Normalized {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn estimate(&mut self, system: &Swimmer, theta: &[f32], outer_step: u64) -> Estimate {
        let mut estimate = self.inner.estimate(system, theta, outer_step);
        if self.normalize {
            let particles = self.inner.particles_mut();
            let losses: Vec<f64> = particles.members.iter().map(|p| p.last.loss).collect();
            let n = losses.len() as f64;
            let mean = losses.iter().sum::<f64>() / n;
            let sd = (losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
            if sd > 0.0 {
                let scale = f64::from(particles.config.sigma) / sd;
                estimate.grad.iter_mut().for_each(|g| *g = (f64::from(*g) * scale) as f32);
            }
        }
        estimate
    }

    fn held_floats(&self, state_dim: usize) -> usize {
        self.inner.held_floats(state_dim)
    }

    fn check(&self, system: &Swimmer) -> Result<(), String> {
        self.inner.check(system)
    }

    fn gather(&mut self) {
        self.inner.gather();
    }
}

/// One evaluation point of a learning curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Outer steps taken.
    pub outer_step: u64,
    /// Environment steps consumed by training so far.
    pub env_steps: u64,
    /// Mean evaluation return of the policy after those steps.
    pub eval_return: f64,
}

/// The result of one method and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRun {
    /// The legend label.
    pub label: String,
    /// The seed.
    pub seed: u64,
    /// Evaluation return of the final policy.
    pub final_return: f64,
    /// Wall time of this session's part of the run in seconds.
    pub seconds: f64,
    /// The evaluation points from step 0.
    #[serde(skip)]
    pub curve: Vec<CurvePoint>,
}

/// Trains the Swimmer of `xml` with `method` and `seed` under `settings`, in memory or in its
/// directory under `storage` (see `runner::train`).
pub fn run(
    method: &Method,
    settings: &ControlSettings,
    seed: u64,
    xml: &Path,
    storage: Option<&Storage>,
    stop: &AtomicBool,
) -> Result<MethodRun, ReproError> {
    let started = Instant::now();
    let system = Swimmer::from_xml(xml, settings.horizon).map_err(ReproError::Swimmer)?;
    let config = EstimatorConfig {
        particles: settings.particles,
        sigma: method.sigma,
        truncation: method.truncation,
        stagger: false,
        seed,
    };
    let inner = AnyEstimator::new(method.kind, config, &system)?;
    let estimator = Normalized { inner, normalize: settings.normalize };
    let outer = OuterConfig {
        optimizer: OuterOptimizer::Sgd { lr: method.lr },
        clip_value: None,
        clip_norm: None,
    };
    let state = TrainState::new(system.initial_theta(), estimator, &outer)?;
    let per_step = method.env_steps_per_outer_step(settings.particles as u64, settings.horizon);
    let outer_steps = settings.env_steps.div_ceil(per_step);
    let every = (settings.eval_every / per_step).max(1);
    let episodes = settings.eval_episodes;
    let evaluate =
        Box::new(move |system: &Swimmer, theta: &[f32]| -system.evaluate(theta, episodes, seed));
    let mut trainer = Trainer::new(system, outer, state)
        .with_evaluation(Evaluation { every, evaluate })
        .with_max_skipped_updates(u64::MAX);
    let label = format!("{} seed {seed}", method.label());
    let resumable = ControlSettings { env_steps: 0, seeds: 0, seed, ..settings.clone() };
    let key = serde_json::json!({ "method": method, "settings": resumable });
    let records = runner::train(&mut trainer, outer_steps, &label, &key, storage, stop)?;
    let (system, last) = (trainer.system(), trainer.state());
    let start = system.initial_theta();
    let path = runner::evaluated_path(&start, &records, (last.step, &last.theta), |theta| {
        -system.evaluate(theta, episodes, seed)
    });
    // Every outer step takes `per_step` environment steps (a test checks it against the
    // estimators); a resumed run's log holds no step counts.
    let point = |(outer_step, _, loss): (u64, &[f32], f64)| CurvePoint {
        outer_step,
        env_steps: outer_step * per_step,
        eval_return: -loss,
    };
    let curve: Vec<CurvePoint> = path.into_iter().map(point).collect();
    Ok(MethodRun {
        label: method.label(),
        seed,
        final_return: curve[curve.len() - 1].eval_return,
        seconds: started.elapsed().as_secs_f64(),
        curve,
    })
}

/// A method's final evaluation return over seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalReturn {
    /// The legend label.
    pub label: String,
    /// Mean over seeds.
    pub mean: f64,
    /// Standard deviation over seeds (n - 1 in the denominator; 0 for one seed).
    pub sd: f64,
    /// Number of seeds.
    pub seeds: usize,
}

/// Each method's final evaluation return over its seeds, in the order of `runs`.
pub fn final_returns(runs: &[MethodRun]) -> Vec<FinalReturn> {
    let mut labels: Vec<&str> = Vec::new();
    for run in runs {
        if !labels.contains(&run.label.as_str()) {
            labels.push(&run.label);
        }
    }
    labels
        .into_iter()
        .map(|label| {
            let finals: Vec<f64> =
                runs.iter().filter(|r| r.label == label).map(|r| r.final_return).collect();
            let n = finals.len() as f64;
            let mean = finals.iter().sum::<f64>() / n;
            let var = finals.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            FinalReturn { label: label.to_string(), mean, sd: var.sqrt(), seeds: finals.len() }
        })
        .collect()
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a ControlSettings,
    xml: &'a Path,
    final_returns: Vec<FinalReturn>,
    runs: &'a [MethodRun],
    total_seconds: f64,
}

/// Writes `curves.csv`, `summary.json` and `control.png` into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &ControlSettings,
    xml: &Path,
    runs: &[MethodRun],
) -> Result<(), ReproError> {
    let mut csv = String::from("method,seed,outer_step,env_steps,eval_return\n");
    for run in runs {
        for p in &run.curve {
            let (label, seed) = (&run.label, run.seed);
            let _ =
                writeln!(csv, "{label},{seed},{},{},{}", p.outer_step, p.env_steps, p.eval_return);
        }
    }
    write_file(dir, "curves.csv", csv)?;
    let total_seconds = runs.iter().map(|r| r.seconds).sum();
    let final_returns = final_returns(runs);
    let summary = Summary { settings, xml, final_returns, runs, total_seconds };
    write_file(dir, "summary.json", summary_json(&summary))?;
    draw_figure(&dir.join("control.png"), runs)
}

/// Each method's mean evaluation return over seeds against environment steps, with the band
/// from the lowest to the highest seed.
fn draw_figure(file: &Path, runs: &[MethodRun]) -> Result<(), ReproError> {
    let seeds = runs.iter().filter(|r| r.label == runs[0].label).count();
    let title = format!("evaluation return: mean and min-max over {seeds} seeds");
    let mut chart = LineChart::new(&title, "total environment steps", "return");
    for (i, summary) in final_returns(runs).iter().enumerate() {
        let mine: Vec<&MethodRun> = runs.iter().filter(|r| r.label == summary.label).collect();
        let len = mine.iter().map(|r| r.curve.len()).min().unwrap_or(0);
        let mut points = Vec::with_capacity(len);
        let mut band = Vec::with_capacity(len);
        for j in 0..len {
            let x = mine[0].curve[j].env_steps as f64;
            let ys = mine.iter().map(|r| r.curve[j].eval_return);
            let mean = ys.clone().sum::<f64>() / mine.len() as f64;
            let (lo, hi) =
                ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
            points.push((x, mean));
            band.push((x, lo, hi));
        }
        let style = Style {
            marker: Some(Marker::ALL[i % Marker::ALL.len()]),
            ..Style::solid(PALETTE[i % PALETTE.len()])
        };
        chart = chart.with(Series::new(&summary.label, points, style).with_band(band));
    }
    let figure = Figure::new("Swimmer: linear policy", 1).with_panel(chart);
    Ok(figure.write_png(file, 1100, 650)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::tensorboard::tests::python;

    #[test]
    fn the_env_steps_of_an_outer_step_are_what_each_estimator_takes() {
        let xml = Swimmer::gymnasium_xml(&python()).unwrap();
        let system = Swimmer::from_xml(&xml, 20).unwrap();
        let theta = vec![0.1; system.theta_dim()];
        for method in ControlSettings::default().methods {
            let method = Method { truncation: 5, ..method };
            let config = EstimatorConfig {
                particles: 6,
                sigma: method.sigma,
                truncation: method.truncation,
                stagger: false,
                seed: 2,
            };
            let inner = AnyEstimator::new(method.kind, config, &system).unwrap();
            let mut estimator = Normalized { inner, normalize: true };
            let estimate = estimator.estimate(&system, &theta, 0);
            assert_eq!(estimate.inner_steps, method.env_steps_per_outer_step(6, 20), "{method:?}");
            assert!(estimate.grad.iter().all(|g| g.is_finite()), "{method:?}");
        }
    }

    #[test]
    fn a_resumed_run_keeps_its_curve_and_environment_steps() {
        let xml = Swimmer::gymnasium_xml(&python()).unwrap();
        let settings = |env_steps| ControlSettings {
            env_steps,
            eval_every: 2000,
            eval_episodes: 1,
            ..Default::default()
        };
        let pes = &ControlSettings::default().methods[0];
        let stop = AtomicBool::new(false);
        let straight = run(pes, &settings(6000), 3, &xml, None, &stop).unwrap();
        let dir = std::env::temp_dir().join(format!("pesto-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut storage =
            Storage { dir: dir.clone(), resume: false, checkpoint_every: 1, tensorboard: false };
        run(pes, &settings(2000), 3, &xml, Some(&storage), &stop).unwrap();
        storage.resume = true;
        let resumed = run(pes, &settings(6000), 3, &xml, Some(&storage), &stop).unwrap();
        assert_eq!(resumed.curve, straight.curve);
        let steps: Vec<u64> = resumed.curve.iter().map(|p| p.env_steps).collect();
        assert_eq!(steps, [0, 2000, 4000, 6000]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
