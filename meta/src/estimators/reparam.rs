//! The reparameterisation gradient of the Gaussian-smoothed meta-objective (docs/estimators.md):
//! grad E[L(theta + eps)] = E[grad L(theta + eps)], estimated by the mean of N full-horizon BPTT
//! gradients at theta + eps_i, with eps_i in antithetic pairs. Compute N T(F + B), memory N T S.

use super::backprop::{self, Scored, Tape};
use super::gradient::GradientConfig;
use super::particles::Particles;
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::DifferentiableSystem;
use crate::unrolled::Unroll;
use pesto_tasks::tags;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The reparameterisation gradient over N particles, each unrolling a whole inner problem.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Reparam<S: DifferentiableSystem> {
    particles: Particles<S>,
    /// One tape per particle.
    tapes: Vec<Tape<S::State>>,
    /// Each particle's BPTT gradient, reduced in particle order.
    grads: Vec<Vec<f64>>,
}

impl<S: DifferentiableSystem> Reparam<S> {
    /// The reparameterisation gradient on `system`; an error if the configuration is invalid or
    /// the horizon is infinite.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let es = super::EstimatorConfig { stagger: false, ..config.estimator };
        let particles = Particles::new(es, system)?;
        if system.horizon(&particles.members[0].state).is_none() {
            return Err(EstimatorError::InfiniteHorizon(Self::NAME));
        }
        let n = particles.members.len();
        Ok(Self {
            particles,
            tapes: vec![Tape::new(); n],
            grads: vec![vec![0.0; system.theta_dim()]; n],
        })
    }
}

impl<S: DifferentiableSystem> Estimator<S> for Reparam<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let Self { particles, tapes, grads } = self;
        particles.perturb_all(tags::REPARAM, outer_step);
        particles
            .members
            .par_iter_mut()
            .zip(tapes.par_iter_mut())
            .zip(grads.par_iter_mut())
            .for_each(|((particle, tape), grad)| {
                let (state, perturbed) = particle.perturb(theta);
                let steps = system.truncation_len(state, u64::MAX);
                tape.clear();
                let loss = backprop::forward(system, state, perturbed, steps, tape);
                grad.fill(0.0);
                backprop::backward(system, tape, perturbed, Scored::whole(tape), |_| 1.0, grad);
                particle.last = Unroll { loss, steps, clipped: false };
            });
        let n = grads.len() as f64;
        let mut mean = vec![0.0; theta.len()];
        for grad in grads.iter() {
            mean.iter_mut().zip(grad).for_each(|(m, g)| *m += g / n);
        }
        let unrolls = particles.members.iter().map(|p| p.last);
        let mut estimate = Estimate::from_particles(backprop::to_f32(&mean), unrolls);
        estimate.resets = particles.restart_finished(system, |_, _| {});
        estimate
    }

    /// Floats held: each particle's state, perturbation, tape and gradient.
    fn held_floats(&self, state_dim: usize) -> usize {
        let tapes: usize = self.tapes.iter().map(|t| t.capacity() * state_dim).sum();
        self.particles.held_floats(state_dim)
            + tapes
            + self.grads.iter().map(Vec::len).sum::<usize>()
    }
}
