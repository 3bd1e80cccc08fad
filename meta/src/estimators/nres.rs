//! Noise-reuse ES (docs/estimators.md; Li et al. 2023): each pair draws eps once per inner problem
//! and reuses it for every truncation; g = 1/(N sigma^2) sum_i L_i eps_i.

use super::particles::{EstimatorConfig, Particles, Weights};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::rng;
use pesto_tasks::tags;
use serde::{Deserialize, Serialize};

/// Antithetic noise-reuse ES with persistent per-particle states.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Nres<S: UnrolledSystem> {
    pub(super) particles: Particles<S>,
}

impl<S: UnrolledSystem> Nres<S> {
    /// NRES on `system`; an error if the configuration is invalid.
    pub fn new(config: EstimatorConfig, system: &S) -> Result<Self, EstimatorError> {
        let mut particles = Particles::new(config, system)?;
        (0..particles.config.pairs()).for_each(|pair| draw_episode_noise(&mut particles, pair));
        Ok(Self { particles })
    }
}

/// Draws pair `pair`'s perturbation for its current inner problem.
fn draw_episode_noise<S: UnrolledSystem>(particles: &mut Particles<S>, pair: usize) {
    let path = [tags::NRES, pair as u64, particles.episode(pair)];
    particles.perturb_pair(pair, rng::stream(particles.config.seed, &path));
}

impl<S: UnrolledSystem> Estimator<S> for Nres<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], _outer_step: u64) -> Estimate {
        let particles = &mut self.particles;
        particles.unroll(system, theta, particles.config.truncation);
        let mut estimate = particles.estimate(Weights::Perturbations);
        estimate.resets = particles.restart_finished(system, draw_episode_noise);
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
