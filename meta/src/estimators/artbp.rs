//! Anticipated reweighted truncated backpropagation (docs/estimators.md; Tallec & Ollivier 2017).
//!
//! Scheme: the trajectory persists across truncations, and so does a tape of the states since
//! the last cut. Before each step t >= 1 of an inner problem the state s_t is cut with
//! probability c (drawn from the stream `[tags::ARTBP, outer_step, j]`, j the step within the
//! truncation): the losses of this truncation recorded so far are backpropagated and the tape
//! is cleared, so no later loss backpropagates past s_t. The remaining losses of the truncation
//! are backpropagated through the whole tape at its end. The adjoint is multiplied by 1/(1 - c)
//! at every uncut point it crosses. A path through m points survives with
//! probability (1 - c)^m and is scaled by (1 - c)^-m, so each loss's gradient, and hence the
//! estimate, is unbiased for the exact online gradient that RTRL computes. Expected tape length
//! 1/c; the price is variance.

use super::backprop::{self, Scored, Tape};
use super::gradient::{GradientConfig, Trajectory};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::DifferentiableSystem;
use pesto_tasks::rng;
use pesto_tasks::tags;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// ARTBP over one persistent trajectory with a constant cut probability c.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Artbp<S: DifferentiableSystem> {
    truncation: u64,
    cut_probability: f64,
    seed: u64,
    trajectory: Trajectory<S>,
    /// The states since the last cut.
    tape: Tape<S::State>,
}

impl<S: DifferentiableSystem> Artbp<S> {
    /// ARTBP on `system`; an error if the configuration is invalid.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let seed = config.estimator.seed;
        Ok(Self {
            truncation: config.estimator.truncation,
            cut_probability: config.cut_probability,
            seed,
            trajectory: Trajectory::new(system, seed),
            tape: Tape::new(),
        })
    }
}

impl<S: DifferentiableSystem> Estimator<S> for Artbp<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let c = self.cut_probability;
        let Self { trajectory, tape, .. } = self;
        let steps = system.truncation_len(&trajectory.state, self.truncation);
        let keep = |_| 1.0 / (1.0 - c);
        let mut grad = vec![0.0; theta.len()];
        let mut loss = 0.0;
        let mut scored = 0;
        for j in 0..steps {
            if rng::stream(self.seed, &[tags::ARTBP, outer_step, j]).random_bool(c) {
                let before_cut = Scored { steps: scored, ends_unroll: false };
                backprop::backward(system, tape, theta, before_cut, keep, &mut grad);
                tape.clear();
                scored = 0;
            }
            tape.record(&trajectory.state);
            loss += system.step(&mut trajectory.state, theta, j + 1 == steps);
            scored += 1;
        }
        let last = Scored { steps: scored, ends_unroll: true };
        backprop::backward(system, tape, theta, last, keep, &mut grad);
        trajectory.finish(system, &grad, loss, steps, || tape.clear())
    }

    /// Floats held: the persistent state and the tape's states.
    fn held_floats(&self, state_dim: usize) -> usize {
        (1 + self.tape.capacity()) * state_dim
    }
}
