//! Machinery shared by the gradient-based estimators (docs/estimators.md): their settings and the
//! one unperturbed trajectory that TBPTT, ARTBP, RTRL, UORO and PES + analytic carry across
//! truncations, restarting it on a fresh inner problem at the horizon.

use super::{Estimate, EstimatorConfig, EstimatorError, backprop};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::rng;
use pesto_tasks::tags;
use serde::{Deserialize, Serialize};

/// Settings of a gradient-based estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientConfig {
    /// Truncation length K and seed for every method; particles N and sigma for the
    /// reparameterisation gradient and PES + analytic.
    pub estimator: EstimatorConfig,
    /// ARTBP's probability c of cutting the backpropagation at each step, in (0, 1).
    pub cut_probability: f64,
}

impl GradientConfig {
    /// Checks the configuration's ranges.
    pub fn validate(&self) -> Result<(), EstimatorError> {
        self.estimator.validate()?;
        let c = self.cut_probability;
        if !(c > 0.0 && c < 1.0) {
            return Err(EstimatorError::CutProbability(c));
        }
        Ok(())
    }
}

impl From<EstimatorConfig> for GradientConfig {
    /// `estimator` with ARTBP cutting on average once every K steps (c = 1/(K + 1)).
    fn from(estimator: EstimatorConfig) -> Self {
        let cut_probability = 1.0 / (estimator.truncation as f64 + 1.0);
        Self { estimator, cut_probability }
    }
}

/// One unperturbed state carried across truncations, with the index of its inner problem.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Trajectory<S: UnrolledSystem> {
    /// The state s_t.
    pub state: S::State,
    episode: u64,
    seed: u64,
}

impl<S: UnrolledSystem> Trajectory<S> {
    /// The start of the first inner problem of the stream named by `seed`.
    pub fn new(system: &S, seed: u64) -> Self {
        Self {
            state: system.init_state(rng::derive(seed, &[tags::GRADIENT_TASK, 0]), 0),
            episode: 0,
            seed,
        }
    }

    /// The estimate of a truncation of `steps` steps with loss `loss` and gradient `grad`,
    /// restarting the trajectory if it reached its horizon; `on_restart` then clears whatever
    /// the estimator carries across truncations. A differentiable system's loss is never
    /// clipped.
    pub fn finish(
        &mut self,
        system: &S,
        grad: &[f64],
        loss: f64,
        steps: u64,
        on_restart: impl FnOnce(),
    ) -> Estimate {
        let restarted = self.restart_if_done(system);
        if restarted {
            on_restart();
        }
        Estimate {
            grad: backprop::to_f32(grad),
            loss,
            resets: usize::from(restarted),
            clipped: 0,
            particles: 1,
            inner_steps: steps,
        }
    }

    /// Restarts on a fresh inner problem if the horizon is reached; true if it restarted.
    pub fn restart_if_done(&mut self, system: &S) -> bool {
        let done = system.is_done(&self.state);
        if done {
            self.episode += 1;
            self.state =
                system.init_state(rng::derive(self.seed, &[tags::GRADIENT_TASK, self.episode]), 0);
        }
        done
    }
}
