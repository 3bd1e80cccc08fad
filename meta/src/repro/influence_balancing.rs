//! The influence-balancing experiment of docs/estimators.md: learn the scalar theta of
//! `InfluenceBalancing` online with truncated and persistent methods, evaluating each theta by a
//! fresh 500-step unroll. Short-horizon methods see the wrong sign and diverge; PES, RTRL, UORO
//! and ARTBP reach theta* = -1/6.

use super::runner::{self, Storage};
use super::{ReproError, summary_json, write_file};
use crate::estimators::{
    AnyMethod, EstimatorConfig, EstimatorKind, GradientConfig, GradientKind, MethodKind,
};
use crate::outer::{OuterConfig, OuterOptimizer};
use crate::plot::{Figure, LineChart, Marker, PALETTE, Series, Style};
use crate::systems::InfluenceBalancing;
use crate::trainer::{Evaluation, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// One method of the experiment: an estimator, its truncation length and outer learning rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The estimator.
    pub kind: MethodKind,
    /// Truncation length K.
    pub truncation: u64,
    /// Plain-SGD outer learning rate.
    pub lr: f32,
}

impl Method {
    /// The legend label, e.g. `TBPTT K=10`.
    pub fn label(&self) -> String {
        super::method_label(self.kind.name(), self.truncation)
    }
}

/// The experiment's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InfluenceBalancingSettings {
    /// Outer steps per method.
    pub outer_steps: u64,
    /// Particles N of the ES-family methods.
    pub particles: usize,
    /// Perturbation scale sigma of the ES-family methods.
    pub sigma: f32,
    /// ARTBP's cut probability c.
    pub cut_probability: f64,
    /// Seed of every method.
    pub seed: u64,
    /// The methods, in legend order.
    pub methods: Vec<Method>,
}

impl Default for InfluenceBalancingSettings {
    /// The paper's setting: 3000 outer steps, N = 1000, sigma = 0.1, plain SGD with lr 1e-4
    /// (UORO 1e-5), K = 1 except TBPTT's 10 and 100; ARTBP cuts with c = 0.01 (a mean
    /// backpropagation length of 100 steps; with c >= 0.05 the reweighting's variance makes it
    /// diverge here).
    fn default() -> Self {
        let method = |kind, truncation, lr| Method { kind, truncation, lr };
        let (es, grad) = (MethodKind::Es, MethodKind::Gradient);
        Self {
            outer_steps: 3000,
            particles: 1000,
            sigma: 0.1,
            cut_probability: 0.01,
            seed: 0,
            methods: vec![
                method(grad(GradientKind::Tbptt), 1, 1e-4),
                method(grad(GradientKind::Tbptt), 10, 1e-4),
                method(grad(GradientKind::Tbptt), 100, 1e-4),
                method(es(EstimatorKind::Tes), 1, 1e-4),
                method(es(EstimatorKind::Pes), 1, 1e-4),
                method(grad(GradientKind::Uoro), 1, 1e-5),
                method(grad(GradientKind::Rtrl), 1, 1e-4),
                method(grad(GradientKind::Artbp), 1, 1e-4),
            ],
        }
    }
}

/// One point of a learning curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Outer steps taken.
    pub iteration: u64,
    /// theta after those steps.
    pub theta: f32,
    /// The evaluation loss at theta.
    pub loss: f64,
}

/// The result of one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRun {
    /// The legend label.
    pub label: String,
    /// The method.
    pub method: Method,
    /// Final theta.
    pub theta: f32,
    /// Evaluation loss at the final theta.
    pub loss: f64,
    /// Wall time of this session's part of the run in seconds.
    pub seconds: f64,
    /// theta and its evaluation loss after every outer step, from iteration 0.
    #[serde(skip)]
    pub curve: Vec<CurvePoint>,
}

/// Runs `method` under `settings`, in memory or in its directory under `storage` (see
/// `runner::train`), evaluating theta after every outer step.
pub fn run(
    method: &Method,
    settings: &InfluenceBalancingSettings,
    storage: Option<&Storage>,
    stop: &AtomicBool,
) -> Result<MethodRun, ReproError> {
    let started = Instant::now();
    let system = InfluenceBalancing::default();
    let estimator = EstimatorConfig {
        particles: settings.particles,
        sigma: settings.sigma,
        truncation: method.truncation,
        stagger: false,
        seed: settings.seed,
    };
    let config = GradientConfig { estimator, cut_probability: settings.cut_probability };
    let estimator = AnyMethod::new(method.kind, config, &system)?;
    let outer = OuterConfig {
        optimizer: OuterOptimizer::Sgd { lr: method.lr },
        clip_value: None,
        clip_norm: None,
    };
    let state = TrainState::new(system.initial_theta(), estimator, &outer)?;
    let evaluate = Box::new(|system: &InfluenceBalancing, theta: &[f32]| system.evaluate(theta));
    let mut trainer = Trainer::new(system, outer, state)
        .with_evaluation(Evaluation { every: 1, evaluate })
        .with_max_skipped_updates(u64::MAX);
    let label = method.label();
    let resumable = InfluenceBalancingSettings { outer_steps: 0, ..settings.clone() };
    let key = serde_json::json!({ "method": method, "settings": resumable });
    let records = runner::train(&mut trainer, settings.outer_steps, &label, &key, storage, stop)?;
    let theta = trainer.system().initial_theta();
    let first =
        CurvePoint { iteration: 0, theta: theta[0], loss: trainer.system().evaluate(&theta) };
    let curve: Vec<CurvePoint> = std::iter::once(first)
        .chain(records.iter().map(|r| CurvePoint {
            iteration: r.step,
            theta: r.theta[0],
            loss: r.heldout_loss.expect("evaluated after every step"),
        }))
        .collect();
    let last = curve[curve.len() - 1].clone();
    Ok(MethodRun {
        label,
        method: method.clone(),
        theta: last.theta,
        loss: last.loss,
        seconds: started.elapsed().as_secs_f64(),
        curve,
    })
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a InfluenceBalancingSettings,
    optimum: f64,
    runs: &'a [MethodRun],
    total_seconds: f64,
}

/// Writes `curves.csv`, `summary.json` and `influence_balancing.png` into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &InfluenceBalancingSettings,
    runs: &[MethodRun],
) -> Result<(), ReproError> {
    let mut csv = String::from("iteration,method,theta,evaluation_loss\n");
    for run in runs {
        for p in &run.curve {
            let _ = writeln!(csv, "{},{},{},{}", p.iteration, run.label, p.theta, p.loss);
        }
    }
    write_file(dir, "curves.csv", csv)?;
    let optimum = InfluenceBalancing::default().optimum();
    let total_seconds = runs.iter().map(|r| r.seconds).sum();
    let summary = Summary { settings, optimum, runs, total_seconds };
    write_file(dir, "summary.json", summary_json(&summary))?;
    draw_figure(&dir.join("influence_balancing.png"), runs, optimum)
}

/// The theta panel's y axis stops at these values; methods that diverge leave it there.
const THETA_WINDOW: (f64, f64) = (-1.0, 4.0);

/// Each method's evaluation loss (log scale) and theta with theta* marked, side by side. Every
/// method has its own colour and marker; TBPTT K=1 is dashed over the translucent, wider
/// truncated ES K=1 it coincides with.
fn draw_figure(file: &Path, runs: &[MethodRun], optimum: f64) -> Result<(), ReproError> {
    let style = |i: usize, run: &MethodRun| {
        let kind = run.method.kind;
        let base = Style {
            marker: Some(Marker::ALL[i % Marker::ALL.len()]),
            ..Style::solid(PALETTE[i % PALETTE.len()])
        };
        match (kind, run.method.truncation) {
            (MethodKind::Gradient(GradientKind::Tbptt), 1) => Style { dashed: true, ..base },
            (MethodKind::Es(EstimatorKind::Tes), 1) => Style { width: 5, opacity: 0.45, ..base },
            _ => base,
        }
    };
    let (lo, hi) = THETA_WINDOW;
    let thetas = || runs.iter().flat_map(|r| &r.curve).map(|p| f64::from(p.theta));
    let cut: Vec<String> = [(thetas().any(|t| t < lo), lo), (thetas().any(|t| t > hi), hi)]
        .into_iter()
        .filter(|&(cut, _)| cut)
        .map(|(_, at)| at.to_string())
        .collect();
    let theta_title = match cut.is_empty() {
        true => "theta".to_string(),
        false => format!("theta (axis cut at {})", cut.join(" and ")),
    };
    let mut loss =
        LineChart::new("evaluation loss", "outer step", "loss of a 500-step unroll").log_y(true);
    let mut theta = LineChart::new(&theta_title, "outer step", "theta")
        .y_window(lo, hi)
        .with_reference(optimum, "theta* = -1/6");
    for (i, run) in runs.iter().enumerate() {
        let points = |f: fn(&CurvePoint) -> f64| {
            run.curve.iter().map(|p| (p.iteration as f64, f(p))).collect()
        };
        loss = loss.with(Series::new(&run.label, points(|p| p.loss), style(i, run)));
        theta = theta.with(Series::new(&run.label, points(|p| f64::from(p.theta)), style(i, run)));
    }
    let figure = Figure::new("Influence balancing", 2).with_panel(loss).with_panel(theta);
    Ok(figure.write_png(file, 1500, 650)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtrl_descends_and_tbptt_ascends_from_the_start() {
        let settings = InfluenceBalancingSettings { outer_steps: 200, ..Default::default() };
        let start = InfluenceBalancing::default().evaluate(&[0.5]);
        let by = |kind, truncation| {
            let method = Method { kind, truncation, lr: 1e-4 };
            run(&method, &settings, None, &AtomicBool::new(false)).unwrap()
        };
        let rtrl = by(MethodKind::Gradient(GradientKind::Rtrl), 1);
        assert!(rtrl.theta < 0.5 && rtrl.loss < start, "rtrl: {rtrl:?}");
        let tbptt = by(MethodKind::Gradient(GradientKind::Tbptt), 1);
        assert!(tbptt.theta > 0.5 && tbptt.loss > start, "tbptt: {tbptt:?}");
        assert_eq!(rtrl.curve.len(), 201);
    }
}
