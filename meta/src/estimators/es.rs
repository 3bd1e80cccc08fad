//! Full ES (docs/estimators.md): every particle unrolls a whole inner problem from a fresh state
//! with its perturbed theta, once per outer step. Unbiased for the Gaussian-smoothed objective.

use super::particles::{EstimatorConfig, Particles, Weights};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::tags;
use serde::{Deserialize, Serialize};

/// Full-horizon antithetic ES. Ignores `truncation` and `stagger`: each estimate unrolls the whole
/// horizon T from step 0.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Es<S: UnrolledSystem> {
    pub(super) particles: Particles<S>,
}

impl<S: UnrolledSystem> Es<S> {
    /// Full ES on `system`; an error if the configuration is invalid or the horizon is infinite.
    pub fn new(config: EstimatorConfig, system: &S) -> Result<Self, EstimatorError> {
        let particles = Particles::new(EstimatorConfig { stagger: false, ..config }, system)?;
        match system.horizon(&particles.members[0].state) {
            Some(_) => Ok(Self { particles }),
            None => Err(EstimatorError::InfiniteHorizon(Self::NAME)),
        }
    }
}

impl<S: UnrolledSystem> Estimator<S> for Es<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let particles = &mut self.particles;
        particles.perturb_all(tags::ES, outer_step);
        particles.unroll(system, theta, u64::MAX);
        let mut estimate = particles.estimate(Weights::Perturbations);
        estimate.resets = particles.restart_finished(system, |_, _| {});
        estimate
    }

    /// Floats held: each particle's state and perturbation.
    fn held_floats(&self, state_dim: usize) -> usize {
        self.particles.held_floats(state_dim)
    }

    fn gather(&mut self) {
        self.particles.gather();
    }

    fn check(&self, system: &S) -> Result<(), String> {
        self.particles.check(system)
    }
}
