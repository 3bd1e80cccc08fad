//! Truncated BPTT (docs/estimators.md): backpropagates the loss of each K-step truncation through
//! those K steps only, holding the state it started from constant, hence biased (short-horizon
//! bias). Compute K(F + B), memory K S.

use super::backprop::{self, Scored, Tape};
use super::gradient::{GradientConfig, Trajectory};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::DifferentiableSystem;
use serde::{Deserialize, Serialize};

/// Truncated BPTT over one persistent trajectory.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Tbptt<S: DifferentiableSystem> {
    truncation: u64,
    trajectory: Trajectory<S>,
    tape: Tape<S::State>,
}

impl<S: DifferentiableSystem> Tbptt<S> {
    /// TBPTT on `system`; an error if the configuration is invalid.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let trajectory = Trajectory::new(system, config.estimator.seed);
        Ok(Self { truncation: config.estimator.truncation, trajectory, tape: Tape::new() })
    }
}

/// The gradient of one truncation's loss through its own `k` steps from `state`, which it
/// advances; returns the loss and the gradient (shared with PES + analytic).
pub fn truncated_gradient<S: DifferentiableSystem>(
    system: &S,
    state: &mut S::State,
    theta: &[f32],
    k: u64,
    tape: &mut Tape<S::State>,
) -> (f64, Vec<f64>) {
    tape.clear();
    let loss = backprop::forward(system, state, theta, k, tape);
    let mut grad = vec![0.0; theta.len()];
    backprop::backward(system, tape, theta, Scored::whole(tape), |_| 1.0, &mut grad);
    (loss, grad)
}

impl<S: DifferentiableSystem> Estimator<S> for Tbptt<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], _outer_step: u64) -> Estimate {
        let Self { truncation, trajectory, tape } = self;
        let steps = system.truncation_len(&trajectory.state, *truncation);
        let (loss, grad) = truncated_gradient(system, &mut trajectory.state, theta, steps, tape);
        trajectory.finish(system, &grad, loss, steps, || {})
    }

    /// Floats held: the persistent state and the tape's states.
    fn held_floats(&self, state_dim: usize) -> usize {
        (1 + self.tape.capacity()) * state_dim
    }
}
