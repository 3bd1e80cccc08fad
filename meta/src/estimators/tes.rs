//! Truncated ES (docs/estimators.md): both members of a pair unroll K steps from one shared state,
//! which then advances K steps with the unperturbed theta. Ignores how theta shaped the shared
//! state, hence biased (short-horizon bias).

use super::particles::{EstimatorConfig, Particles, Weights};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::tags;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Antithetic truncated ES with one shared state per pair.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct TruncatedEs<S: UnrolledSystem> {
    pub(super) particles: Particles<S>,
    /// The unperturbed state each pair's truncations start from.
    shared: Vec<S::State>,
}

impl<S: UnrolledSystem> TruncatedEs<S> {
    /// Truncated ES on `system`; an error if the configuration is invalid.
    pub fn new(config: EstimatorConfig, system: &S) -> Result<Self, EstimatorError> {
        let particles = Particles::new(config, system)?;
        let shared = particles.members.iter().step_by(2).map(|p| p.state.clone()).collect();
        Ok(Self { particles, shared })
    }
}

impl<S: UnrolledSystem> Estimator<S> for TruncatedEs<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let Self { particles, shared } = self;
        let k = particles.config.truncation;
        for (pair, members) in particles.members.chunks_mut(2).enumerate() {
            members.iter_mut().for_each(|member| member.state.clone_from(&shared[pair]));
        }
        particles.perturb_all(tags::TES, outer_step);
        particles.unroll(system, theta, k);
        let mut estimate = particles.estimate(Weights::Perturbations);
        estimate.inner_steps +=
            shared.par_iter_mut().map(|state| system.unroll(state, theta, k).steps).sum::<u64>();
        for (pair, state) in shared.iter_mut().enumerate() {
            if system.is_done(state) {
                *state = particles.next_episode(system, pair);
                estimate.resets += 2;
            }
        }
        estimate
    }

    /// Floats held: each particle's state and perturbation, and the shared states.
    fn held_floats(&self, state_dim: usize) -> usize {
        self.particles.held_floats(state_dim) + self.shared.len() * state_dim
    }

    fn gather(&mut self) {
        self.particles.gather();
    }

    fn check(&self, system: &S) -> Result<(), String> {
        self.particles.check(system)?;
        if self.shared.len() != self.particles.config.pairs() {
            return Err(format!("{} shared states, expected one per pair", self.shared.len()));
        }
        self.shared.iter().try_for_each(|state| system.check_state(state))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::ToyRegression;

    /// `pesto repro toy-regression --lockstep` runs truncated ES with one shared state per pair;
    /// on the toy's seed-free inner problem without staggering, those states are one state, as
    /// the reference's single shared state, through resets.
    #[test]
    fn unstaggered_pairs_on_a_seed_free_problem_hold_one_shared_state() {
        let system = ToyRegression::default();
        let config =
            EstimatorConfig { particles: 8, sigma: 0.3, truncation: 10, stagger: false, seed: 2 };
        let mut tes = TruncatedEs::new(config, &system).unwrap();
        let theta = [-1.0, -2.0];
        for step in 0..25 {
            let estimate = tes.estimate(&system, &theta, step);
            assert_eq!(estimate.resets, if step % 10 == 9 { 8 } else { 0 }, "step {step}");
            assert!(tes.shared.iter().all(|s| *s == tes.shared[0]), "step {step}");
            let truncations = tes.particles.members.iter().map(|p| p.last.steps);
            assert!(truncations.into_iter().all(|k| k == 10), "step {step}");
        }
        assert_eq!(tes.shared[0].t, 50, "25 truncations of 10 steps, reset at 100 and 200");
    }
}
