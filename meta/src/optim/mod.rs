//! Optimizers of inner parameters: hand-designed (SGD, momentum, Adam) and learned.
//!
//! Every optimizer keeps its per-parameter state in an `OptState`, a plain serialisable struct,
//! and owns any scratch buffers it needs, so a step allocates nothing.

use pesto_tasks::ParamLayout;
use serde::{Deserialize, Serialize};

/// Per-parameter optimizer state: a step counter and named-by-position slots of one value per
/// parameter (momentum, second moment, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptState {
    /// Number of updates taken so far.
    pub step: u64,
    /// One vector per accumulator, each as long as the parameter vector.
    pub slots: Vec<Vec<f32>>,
}

impl OptState {
    /// A zeroed state of `slots` accumulators over `n_params` parameters.
    pub fn zeros(slots: usize, n_params: usize) -> Self {
        Self { step: 0, slots: vec![vec![0.0; n_params]; slots] }
    }
}

/// Updates parameters from their gradient.
pub trait Optimizer: Send {
    /// A short name with hyperparameters, e.g. `adam(lr=3e-3)`.
    fn name(&self) -> String;
    /// A fresh state for a parameter vector of this layout.
    fn init_state(&self, layout: &ParamLayout) -> OptState;
    /// One update of `params` in place from `grad`; increments `state.step`.
    fn step(
        &mut self,
        state: &mut OptState,
        layout: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
    );
}

/// An optimizer whose behaviour is set by a flat meta-parameter vector theta.
pub trait LearnedOptimizer: Optimizer {
    /// Dimension of theta.
    fn theta_dim(&self) -> usize;
    /// The current theta.
    fn theta(&self) -> &[f32];
    /// Replaces theta (same dimension).
    fn set_theta(&mut self, theta: &[f32]);
    /// A theta for an untrained optimizer that takes small, sane steps, drawn from `seed`.
    fn init_theta(&self, seed: u64) -> Vec<f32>;
}
