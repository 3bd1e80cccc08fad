//! A learned optimizer paired with its theta, to train with like any hand-designed optimizer.

use super::{LearnedOptimizer, OptState, Optimizer, Tensors};
use pesto_tasks::ParamLayout;

/// A learned optimizer with a fixed theta: the `Optimizer` that evaluation and
/// `pesto train --lopt` run. Built by `LearnedKind::build`, which checks theta's dimension.
pub struct WithTheta {
    optimizer: Box<dyn LearnedOptimizer>,
    theta: Vec<f32>,
}

impl WithTheta {
    /// `optimizer` with meta-parameters `theta`, of its dimension.
    pub(super) fn new(optimizer: Box<dyn LearnedOptimizer>, theta: Vec<f32>) -> Self {
        debug_assert_eq!(theta.len(), optimizer.theta_dim());
        Self { optimizer, theta }
    }

    /// The meta-parameters.
    pub fn theta(&self) -> &[f32] {
        &self.theta
    }

    /// One update of parameters given tensor by tensor (`LearnedOptimizer::step_tensors`).
    pub fn step_tensors(
        &self,
        state: &mut OptState,
        layout: &ParamLayout,
        tensors: Tensors<'_, '_>,
        loss: f32,
    ) {
        self.optimizer.step_tensors(&self.theta, state, layout, tensors, loss);
    }
}

impl Optimizer for WithTheta {
    fn name(&self) -> String {
        self.optimizer.name(&self.theta)
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        self.optimizer.init_state(layout, horizon)
    }

    fn step(
        &self,
        state: &mut OptState,
        layout: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
        loss: f32,
    ) {
        self.optimizer.step(&self.theta, state, layout, params, grad, loss);
    }
}
