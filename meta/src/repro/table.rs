//! The cost table of the paper's Table 1, measured: every estimator runs on the toy regression
//! through a meter that counts plain forward steps (F) and differentiated steps (F + B, the
//! Jacobians of one step), while the estimator reports the floats its buffers hold.

use super::{ReproError, summary_json, write_file};
use crate::differentiable::{DifferentiableSystem, StepJacobians};
use crate::estimators::{AnyMethod, Estimator, EstimatorConfig, GradientConfig, MethodKind};
use crate::systems::ToyRegression;
use crate::unrolled::{Unroll, UnrolledSystem};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A system wrapper that counts the steps taken through it.
#[derive(Debug, Default)]
pub struct Metered<S> {
    /// The wrapped system.
    pub inner: S,
    forward: AtomicU64,
    differentiated: AtomicU64,
}

impl<S> Metered<S> {
    /// `inner` with zeroed counters.
    pub fn new(inner: S) -> Self {
        Self { inner, forward: AtomicU64::new(0), differentiated: AtomicU64::new(0) }
    }

    /// Plain forward steps and differentiated steps since the last call; resets both.
    pub fn take(&self) -> (u64, u64) {
        (self.forward.swap(0, Ordering::Relaxed), self.differentiated.swap(0, Ordering::Relaxed))
    }
}

impl<S: UnrolledSystem> UnrolledSystem for Metered<S> {
    type State = S::State;

    fn theta_dim(&self) -> usize {
        self.inner.theta_dim()
    }

    fn initial_theta(&self) -> Vec<f32> {
        self.inner.initial_theta()
    }

    fn init_state(&self, seed: u64, start: u64) -> S::State {
        self.inner.init_state(seed, start)
    }

    fn run_steps(&self, state: &mut S::State, theta: &[f32], steps: u64) -> Unroll {
        let unroll = self.inner.run_steps(state, theta, steps);
        self.forward.fetch_add(unroll.steps, Ordering::Relaxed);
        unroll
    }

    fn horizon(&self, state: &S::State) -> Option<u64> {
        self.inner.horizon(state)
    }

    fn position(&self, state: &S::State) -> u64 {
        self.inner.position(state)
    }
}

impl<S: DifferentiableSystem> DifferentiableSystem for Metered<S> {
    fn state_dim(&self) -> usize {
        self.inner.state_dim()
    }

    fn state_vector(&self, state: &S::State, out: &mut [f64]) {
        self.inner.state_vector(state, out);
    }

    fn set_state_vector(&self, state: &mut S::State, s: &[f64]) {
        self.inner.set_state_vector(state, s);
    }

    fn advance(&self, state: &mut S::State, theta: &[f32]) {
        self.forward.fetch_add(1, Ordering::Relaxed);
        self.inner.advance(state, theta);
    }

    fn step_loss(&self, state: &S::State, theta: &[f32], ends_unroll: bool) -> f64 {
        self.inner.step_loss(state, theta, ends_unroll)
    }

    fn step_jacobians(
        &self,
        state: &mut S::State,
        theta: &[f32],
        ends_unroll: bool,
        jac: &mut StepJacobians,
    ) -> f64 {
        self.differentiated.fetch_add(1, Ordering::Relaxed);
        self.inner.step_jacobians(state, theta, ends_unroll, jac)
    }
}

/// One estimator's measured row of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// The estimator.
    pub estimator: MethodKind,
    /// Mean plain forward steps (F) per outer step.
    pub forward_steps: f64,
    /// Mean differentiated steps (F + B) per outer step.
    pub differentiated_steps: f64,
    /// Mean wall time per outer step in microseconds.
    pub micros: f64,
    /// Most floats the estimator held after any outer step.
    pub held_floats: usize,
    /// Unbiased for the (smoothed, for ES) meta-gradient.
    pub unbiased: bool,
    /// Handles losses without derivatives.
    pub non_differentiable: bool,
}

/// The table's settings: the toy regression's estimator settings and the outer steps measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSettings {
    /// Estimator settings (N, sigma, K).
    pub estimator: EstimatorConfig,
    /// Outer steps measured per estimator.
    pub outer_steps: u64,
}

impl Default for TableSettings {
    /// The toy regression's setting (T = 100, N = 100, K = 10, sigma = 0.3), 100 outer steps.
    fn default() -> Self {
        let estimator =
            EstimatorConfig { particles: 100, sigma: 0.3, truncation: 10, stagger: false, seed: 0 };
        Self { estimator, outer_steps: 100 }
    }
}

/// Measures every estimator on the toy regression at its initial theta.
pub fn measure(
    settings: &TableSettings,
) -> Result<Vec<CostRow>, crate::estimators::EstimatorError> {
    let system = Metered::new(ToyRegression::default());
    let theta = system.initial_theta();
    let steps = settings.outer_steps.max(1);
    MethodKind::all()
        .into_iter()
        .map(|kind| {
            let config = GradientConfig::from(settings.estimator.clone());
            let mut estimator = AnyMethod::new(kind, config, &system)?;
            system.take();
            let mut held_floats = 0;
            let started = Instant::now();
            for step in 0..steps {
                estimator.estimate(&system, &theta, step);
                held_floats = held_floats.max(estimator.held_floats(system.state_dim()));
            }
            let micros = started.elapsed().as_secs_f64() * 1e6 / steps as f64;
            let (forward, differentiated) = system.take();
            Ok(CostRow {
                estimator: kind,
                forward_steps: forward as f64 / steps as f64,
                differentiated_steps: differentiated as f64 / steps as f64,
                micros,
                held_floats,
                unbiased: kind.unbiased(),
                non_differentiable: kind.handles_non_differentiable(),
            })
        })
        .collect()
}

/// The table as aligned text, in the form of the paper's Table 1.
pub fn to_text(settings: &TableSettings, rows: &[CostRow]) -> String {
    let c = &settings.estimator;
    let system = ToyRegression::default();
    let mut text = format!(
        "measured on the toy regression: S = {}, P = {}, T = {}, K = {}, N = {}; mean per outer \
         step over {} outer steps\n",
        system.state_dim(),
        system.theta_dim(),
        system.horizon,
        c.truncation,
        c.particles,
        settings.outer_steps
    );
    text += &format!(
        "{:<13} {:>10} {:>12} {:>11} {:>13} {:>9} {:>18}\n",
        "estimator",
        "F steps",
        "F+B steps",
        "time (us)",
        "memory (fl.)",
        "unbiased",
        "non-diff. losses"
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    for r in rows {
        text += &format!(
            "{:<13} {:>10.1} {:>12.1} {:>11.1} {:>13} {:>9} {:>18}\n",
            r.estimator.name(),
            r.forward_steps,
            r.differentiated_steps,
            r.micros,
            r.held_floats,
            yes(r.unbiased),
            yes(r.non_differentiable)
        );
    }
    text
}

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    settings: &'a TableSettings,
    rows: &'a [CostRow],
}

/// The settings and rows as pretty JSON, as `summary.json` holds them.
pub fn to_json(settings: &TableSettings, rows: &[CostRow]) -> String {
    summary_json(&Summary { settings, rows })
}

/// Writes `table.txt` (`to_text`) and `summary.json` (`to_json`) into `dir`.
pub fn write_outputs(
    dir: &Path,
    settings: &TableSettings,
    rows: &[CostRow],
) -> Result<(), ReproError> {
    write_file(dir, "table.txt", to_text(settings, rows))?;
    write_file(dir, "summary.json", to_json(settings, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::{EstimatorKind, GradientKind};

    #[test]
    fn measured_costs_follow_the_papers_table() {
        let estimator =
            EstimatorConfig { particles: 4, sigma: 0.3, truncation: 10, stagger: false, seed: 0 };
        let settings = TableSettings { estimator, outer_steps: 10 };
        let rows = measure(&settings).unwrap();
        let row = |kind| rows.iter().find(|r| r.estimator == kind).unwrap();
        let (es, grad) = (MethodKind::Es, MethodKind::Gradient);
        // Per outer step: full ES N T F, PES N K F, TBPTT K (F + B) plus its K forward steps.
        assert_eq!(row(es(EstimatorKind::Es)).forward_steps, 400.0);
        assert_eq!(row(es(EstimatorKind::Pes)).forward_steps, 40.0);
        assert_eq!(row(grad(GradientKind::Tbptt)).differentiated_steps, 10.0);
        assert_eq!(row(grad(GradientKind::Rtrl)).forward_steps, 0.0);
        assert_eq!(row(grad(GradientKind::Bptt)).differentiated_steps, 100.0);
        // Memory: BPTT holds T states, TBPTT K + 1.
        assert_eq!(row(grad(GradientKind::Bptt)).held_floats, 200);
        assert_eq!(row(grad(GradientKind::Tbptt)).held_floats, 22);
        assert!(rows.iter().all(|r| r.held_floats > 0));
        assert!(to_text(&settings, &rows).contains("pes-analytic"));
        let dir = std::env::temp_dir().join(format!("pesto-table-{}", std::process::id()));
        write_outputs(&dir, &settings, &rows).unwrap();
        let text = std::fs::read_to_string(dir.join("table.txt")).unwrap();
        assert_eq!(text, to_text(&settings, &rows));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(json["settings"]["outer_steps"], 10);
        assert_eq!(json["rows"].as_array().unwrap().len(), rows.len());
        assert_eq!(json["rows"][0]["forward_steps"], 400.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
