//! Persistent ES (docs/estimators.md): each particle keeps its state and an accumulator xi_i of
//! every perturbation it used since its inner problem began; the estimate
//! g = 1/(N sigma^2) sum_i L_i xi_i is unbiased over a whole inner problem.

use super::particles::{EstimatorConfig, Particles, Weights};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::tags;
use serde::{Deserialize, Serialize};

/// Antithetic PES with persistent per-particle states and accumulators.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Pes<S: UnrolledSystem> {
    pub(super) particles: Particles<S>,
    /// xi_i: the sum of particle i's perturbations since its inner problem began.
    accumulators: Vec<Vec<f32>>,
}

impl<S: UnrolledSystem> Pes<S> {
    /// PES on `system`; an error if the configuration is invalid.
    pub fn new(config: EstimatorConfig, system: &S) -> Result<Self, EstimatorError> {
        let particles = Particles::new(config, system)?;
        let accumulators = vec![vec![0.0; system.theta_dim()]; particles.members.len()];
        Ok(Self { particles, accumulators })
    }
}

impl<S: UnrolledSystem> Estimator<S> for Pes<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let Self { particles, accumulators } = self;
        particles.perturb_all(tags::PES, outer_step);
        particles.unroll(system, theta, particles.config.truncation);
        for (xi, particle) in accumulators.iter_mut().zip(&particles.members) {
            xi.iter_mut().zip(&particle.eps).for_each(|(x, e)| *x += e);
        }
        let mut estimate = particles.estimate(Weights::Accumulators(accumulators));
        estimate.resets = particles.restart_finished(system, |_, pair| {
            accumulators[2 * pair..2 * pair + 2].iter_mut().for_each(|xi| xi.fill(0.0));
        });
        estimate
    }

    /// Floats held: each particle's state, perturbation and accumulator.
    fn held_floats(&self, state_dim: usize) -> usize {
        self.particles.held_floats(state_dim)
            + self.accumulators.iter().map(Vec::len).sum::<usize>()
    }

    fn gather(&mut self) {
        self.particles.gather();
    }

    fn check(&self, system: &S) -> Result<(), String> {
        self.particles.check(system)?;
        let dim = system.theta_dim();
        let lengths = self.accumulators.iter().map(Vec::len);
        if self.accumulators.len() != self.particles.members.len()
            || lengths.clone().any(|l| l != dim)
        {
            return Err(format!(
                "{} accumulators, expected one of {dim} values per particle",
                self.accumulators.len()
            ));
        }
        Ok(())
    }
}
