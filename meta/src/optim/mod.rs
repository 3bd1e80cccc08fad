//! Optimizers of inner parameters: hand-designed (SGD, momentum, Adam) and learned.
//!
//! An optimizer never changes: its per-parameter state is an `OptState`, a plain serialisable
//! struct passed in and out of every step, and a learned optimizer is given its theta at every
//! step. A step allocates nothing.

use pesto_tasks::ParamLayout;
use serde::{Deserialize, Serialize};

/// An optimizer's state over one training run: the step counter t, the run length T, slots of
/// one value per parameter (momentum, second moment, ...) and a few per-run scalars.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptState {
    /// Number of updates taken so far, t.
    pub step: u64,
    /// Length T of the run: the number of updates it will take.
    pub horizon: u64,
    /// One vector per accumulator, each as long as the parameter vector.
    pub slots: Vec<Vec<f32>>,
    /// Per-run scalar accumulators (e.g. running averages of the loss).
    pub scalars: Vec<f32>,
}

impl Clone for OptState {
    fn clone(&self) -> Self {
        let (step, horizon) = (self.step, self.horizon);
        Self { step, horizon, slots: self.slots.clone(), scalars: self.scalars.clone() }
    }

    /// Copies into the buffers already held, so that copying a state into one of the same
    /// shape allocates nothing.
    fn clone_from(&mut self, source: &Self) {
        (self.step, self.horizon) = (source.step, source.horizon);
        self.slots.clone_from(&source.slots);
        self.scalars.clone_from(&source.scalars);
    }
}

impl OptState {
    /// A zeroed state of `slots` accumulators over `n_params` parameters for a run of `horizon`.
    pub fn zeros(slots: usize, n_params: usize, horizon: u64) -> Self {
        Self { step: 0, horizon, slots: vec![vec![0.0; n_params]; slots], scalars: Vec::new() }
    }

    /// The fraction of the run done before this step, t / T (1 once t reaches T).
    pub fn progress(&self) -> f32 {
        (self.step as f64 / self.horizon.max(1) as f64).min(1.0) as f32
    }
}

/// Updates parameters from their gradient. The optimizer itself never changes; its per-run
/// state is an `OptState` passed in and out (burn's `SimpleOptimizer`).
///
/// ```
/// use pesto_meta::Optimizer;
/// use pesto_meta::optim::{Adam, Schedule};
/// use pesto_tasks::ParamLayout;
///
/// // Minimise f(p) = p^2 / 2 from p = 1 over a run of T = 100 steps.
/// let layout = ParamLayout::single("p", 1);
/// let adam = Adam::new(Schedule::Constant(0.1));
/// let mut state = adam.init_state(&layout, 100);
/// let mut p = [1.0f32];
/// for _ in 0..100 {
///     let (loss, grad) = (0.5 * p[0] * p[0], [p[0]]);
///     adam.step(&mut state, &layout, &mut p, &grad, loss);
/// }
/// assert!(p[0].abs() < 0.05 && state.step == 100);
/// ```
pub trait Optimizer: Send + Sync {
    /// A short name with hyperparameters, e.g. `adam(lr=3e-3)`.
    fn name(&self) -> String;
    /// A fresh state for a run of `horizon` updates of a parameter vector of this layout.
    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState;
    /// One update of `params` in place from `grad`, the gradient of the minibatch loss `loss`;
    /// increments `state.step`.
    fn step(
        &self,
        state: &mut OptState,
        layout: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
        loss: f32,
    );
}

/// An optimizer whose behaviour is set by a flat meta-parameter vector theta, which it is
/// given at every step and never holds (learned_optimization's `opt_fn(theta)`), so one
/// optimizer serves every perturbed theta and nothing copies theta. `LearnedKind::build` pairs
/// one with a theta into an `Optimizer`.
///
/// ```
/// use pesto_meta::optim::LearnedKind;
/// use pesto_tasks::ParamLayout;
///
/// let kind = LearnedKind::NominalLopt;
/// let (lopt, theta) = (kind.optimizer(), kind.init_theta(0));
/// assert_eq!(lopt.theta_dim(), theta.len());
/// let layout = ParamLayout::single("w", 16);
/// let mut state = lopt.init_state(&layout, 50);
/// let mut w = vec![1.0f32; 16];
/// for _ in 0..50 {
///     let loss = w.iter().map(|w| 0.5 * w * w).sum::<f32>();
///     let grad = w.clone();
///     lopt.step(&theta, &mut state, &layout, &mut w, &grad, loss);
/// }
/// assert!(w.iter().all(|w| w.abs() < 0.5));
/// ```
pub trait LearnedOptimizer: Send + Sync {
    /// A short name with whatever hyperparameters `theta` sets, e.g. `mlp-lopt`.
    fn name(&self, theta: &[f32]) -> String;
    /// Dimension of theta.
    fn theta_dim(&self) -> usize;
    /// A theta for an untrained optimizer that takes small, sane steps, drawn from `seed`.
    fn init_theta(&self, seed: u64) -> Vec<f32>;
    /// A fresh state for a run of `horizon` updates of a parameter vector of this layout.
    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState;
    /// One update of `params` in place from `grad`, the gradient of the minibatch loss `loss`,
    /// with meta-parameters `theta` (dimension `theta_dim`); increments `state.step`.
    fn step(
        &self,
        theta: &[f32],
        state: &mut OptState,
        layout: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
        loss: f32,
    ) {
        self.step_tensors(theta, state, layout, Tensors::Flat { params, grad }, loss);
    }

    /// The same update of parameters given tensor by tensor, flat or one slice per tensor
    /// (what `step` calls); a non-finite `loss` is ignored by the loss features.
    fn step_tensors(
        &self,
        theta: &[f32],
        state: &mut OptState,
        layout: &ParamLayout,
        tensors: Tensors<'_, '_>,
        loss: f32,
    );
}

mod adam;
mod layers;
mod learned;
mod learned_adam;
pub mod mlp_lopt;
#[cfg(test)]
mod registry_tests;
pub mod rel_lopt;
mod saved;
mod schedule;
mod sgd;
mod tensors;
#[cfg(test)]
mod test_support;
mod with_theta;

pub use adam::{Adam, AdamBetas, adam_update};
pub use learned::{LearnedError, LearnedKind, ThetaTensor};
pub use learned_adam::LearnedAdam;
pub use mlp_lopt::MlpLopt;
pub use rel_lopt::RelLopt;
pub use saved::{
    FILE_NAME as SAVED_OPTIMIZER_FILE, OptimizerSource, PRETRAINED_PATH, SavedOptimizer,
};
pub use schedule::Schedule;
pub use sgd::Sgd;
pub use tensors::Tensors;
pub use with_theta::WithTheta;

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` updates of `opt` on f(p) = 0.5 * sum(c_i p_i^2) from p = 1 and returns f.
    fn minimise_quadratic(opt: &dyn Optimizer, steps: usize) -> f32 {
        let curvature = [1.0f32, 4.0, 0.25];
        let layout = ParamLayout::single("p", 3);
        let mut state = opt.init_state(&layout, 100);
        let mut params = vec![1.0f32; 3];
        let mut grad = vec![0.0f32; 3];
        for _ in 0..steps {
            grad.iter_mut().zip(&params).zip(curvature).for_each(|((g, p), c)| *g = c * p);
            opt.step(&mut state, &layout, &mut params, &grad, 1.0);
        }
        assert_eq!(state.step, steps as u64);
        params.iter().zip(curvature).map(|(p, c)| 0.5 * c * p * p).sum()
    }

    #[test]
    fn hand_designed_optimizers_minimise_a_quadratic() {
        let start = 0.5 * (1.0 + 4.0 + 0.25);
        let cosine = Schedule::Cosine { lr: 0.05, horizon: 200, floor: 0.0 };
        let optimizers: Vec<Box<dyn Optimizer>> = vec![
            Box::new(Sgd::new(Schedule::Constant(0.2))),
            Box::new(Sgd::with_momentum(Schedule::Constant(0.05), 0.9)),
            Box::new(Adam::new(Schedule::Constant(0.05))),
            Box::new(Adam::new(cosine)),
        ];
        for opt in &optimizers {
            let end = minimise_quadratic(opt.as_ref(), 200);
            assert!(end < 1e-3 * start, "{} left f = {end}", opt.name());
        }
    }

    #[test]
    fn adam_first_step_moves_each_parameter_by_lr() {
        // With bias correction, the first Adam step is lr * sign(g) (up to eps).
        let layout = ParamLayout::single("p", 2);
        let adam = Adam::new(Schedule::Constant(0.1));
        let mut state = adam.init_state(&layout, 100);
        let mut params = vec![0.0f32, 0.0];
        adam.step(&mut state, &layout, &mut params, &[3.0, -0.01], 1.0);
        assert!((params[0] + 0.1).abs() < 1e-6 && (params[1] - 0.1).abs() < 1e-5, "{params:?}");
    }
}
