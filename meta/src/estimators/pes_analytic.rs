//! PES + analytic gradient (docs/estimators.md): the exact gradient g_a of the current truncation,
//! backpropagated through its K steps from an extra unperturbed state, plus the PES term over
//! past perturbations only:
//!   g = g_a + 1/(N sigma^2) sum_i (L_i - eps_i . g_a) xi_i_old,
//! with xi_i_old the accumulator before this truncation's eps_i is added. Unbiased, like PES.

use super::backprop::Tape;
use super::gradient::{GradientConfig, Trajectory};
use super::particles::{Particles, Weights};
use super::tbptt::truncated_gradient;
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::DifferentiableSystem;
use pesto_tasks::tags;
use serde::{Deserialize, Serialize};

/// PES particles with accumulators, plus one unperturbed trajectory for g_a.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct PesAnalytic<S: DifferentiableSystem> {
    particles: Particles<S>,
    /// xi_i: the sum of particle i's perturbations since its inner problem began.
    accumulators: Vec<Vec<f32>>,
    /// The extra unperturbed state.
    analytic: Trajectory<S>,
    tape: Tape<S::State>,
}

impl<S: DifferentiableSystem> PesAnalytic<S> {
    /// PES + analytic on `system`; an error if the configuration is invalid.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let analytic = Trajectory::new(system, config.estimator.seed);
        let particles = Particles::new(config.estimator, system)?;
        let accumulators = vec![vec![0.0; system.theta_dim()]; particles.members.len()];
        Ok(Self { particles, accumulators, analytic, tape: Tape::new() })
    }
}

impl<S: DifferentiableSystem> Estimator<S> for PesAnalytic<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let Self { particles, accumulators, analytic, tape } = self;
        let k = particles.config.truncation;
        particles.perturb_all(tags::PES_ANALYTIC, outer_step);
        particles.unroll(system, theta, k);
        let steps = system.truncation_len(&analytic.state, k);
        let (_, g_a) = truncated_gradient(system, &mut analytic.state, theta, steps, tape);
        let mut estimate =
            particles.estimate_with_control(Weights::Accumulators(accumulators), &g_a);
        estimate.grad.iter_mut().zip(&g_a).for_each(|(g, a)| *g += *a as f32);
        estimate.inner_steps += steps;
        for (xi, particle) in accumulators.iter_mut().zip(&particles.members) {
            xi.iter_mut().zip(&particle.eps).for_each(|(x, e)| *x += e);
        }
        estimate.resets = particles.restart_finished(system, |_, pair| {
            accumulators[2 * pair..2 * pair + 2].iter_mut().for_each(|xi| xi.fill(0.0));
        });
        analytic.restart_if_done(system);
        estimate
    }

    fn gather(&mut self) {
        self.particles.gather();
    }

    /// Floats held: every particle's state, perturbation and accumulator, plus the analytic
    /// state and its tape.
    fn held_floats(&self, state_dim: usize) -> usize {
        self.particles.held_floats(state_dim)
            + self.accumulators.iter().map(Vec::len).sum::<usize>()
            + (1 + self.tape.capacity()) * state_dim
    }
}
