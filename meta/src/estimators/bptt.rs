//! Backpropagation through time (docs/estimators.md): the exact gradient of the whole
//! meta-objective, one inner problem per estimate. Compute T(F + B), memory T S.

use super::backprop::{self, Scored, Tape};
use super::gradient::{GradientConfig, Trajectory};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::DifferentiableSystem;
use serde::{Deserialize, Serialize};

/// Exact full-horizon BPTT.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Bptt<S: DifferentiableSystem> {
    trajectory: Trajectory<S>,
    tape: Tape<S::State>,
}

impl<S: DifferentiableSystem> Bptt<S> {
    /// BPTT on `system`; an error if the configuration is invalid or the horizon is infinite.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let trajectory = Trajectory::new(system, config.estimator.seed);
        match system.horizon(&trajectory.state) {
            Some(_) => Ok(Self { trajectory, tape: Tape::new() }),
            None => Err(EstimatorError::InfiniteHorizon(Self::NAME)),
        }
    }
}

impl<S: DifferentiableSystem> Estimator<S> for Bptt<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], _outer_step: u64) -> Estimate {
        let Self { trajectory, tape } = self;
        let steps = system.truncation_len(&trajectory.state, u64::MAX);
        tape.clear();
        let loss = backprop::forward(system, &mut trajectory.state, theta, steps, tape);
        let mut grad = vec![0.0; theta.len()];
        backprop::backward(system, tape, theta, Scored::whole(tape), |_| 1.0, &mut grad);
        trajectory.finish(system, &grad, loss, steps, || {})
    }

    /// Floats held: the tape's states.
    fn held_floats(&self, state_dim: usize) -> usize {
        self.tape.capacity() * state_dim
    }
}
