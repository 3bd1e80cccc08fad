//! Gradient estimators for unrolled systems (docs/estimators.md), one file each.

mod artbp;
mod backprop;
mod bptt;
mod error;
mod es;
mod gradient;
mod nres;
mod particles;
mod pes;
mod pes_analytic;
mod registry;
mod reparam;
mod rtrl;
mod tbptt;
mod tes;
mod uoro;

pub use artbp::Artbp;
pub use bptt::Bptt;
pub use error::EstimatorError;
pub use es::Es;
pub use gradient::GradientConfig;
pub use nres::Nres;
pub use particles::EstimatorConfig;
pub use pes::Pes;
pub use pes_analytic::PesAnalytic;
pub use registry::{
    AnyEstimator, AnyGradientEstimator, AnyMethod, EstimatorKind, GradientKind, MethodKind,
    Registered,
};
pub use reparam::Reparam;
pub use rtrl::Rtrl;
pub use tbptt::Tbptt;
pub use tes::TruncatedEs;
pub use uoro::Uoro;

use crate::unrolled::{Unroll, UnrolledSystem};
use serde::{Deserialize, Serialize};

/// One estimate of the meta-gradient with what a training loop logs about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The gradient estimate g, of dimension P.
    pub grad: Vec<f32>,
    /// Mean over particles of this truncation's loss.
    pub loss: f64,
    /// Number of particles whose inner problem ended (and was reset) this outer step.
    pub resets: usize,
    /// Number of particles whose truncation loss hit the system's clip.
    pub clipped: usize,
    /// Number of particles that unrolled this outer step.
    pub particles: usize,
    /// Number of inner steps taken across all particles (including any extra unperturbed state).
    pub inner_steps: u64,
}

impl Estimate {
    /// The estimate `grad` from its particles' truncations `unrolls`, before any reset: their
    /// mean loss, how many clipped and their inner steps.
    pub fn from_particles(grad: Vec<f32>, unrolls: impl Iterator<Item = Unroll> + Clone) -> Self {
        let n = unrolls.clone().count();
        Self {
            grad,
            loss: unrolls.clone().map(|u| u.loss).sum::<f64>() / n as f64,
            resets: 0,
            clipped: unrolls.clone().filter(|u| u.clipped).count(),
            particles: n,
            inner_steps: unrolls.map(|u| u.steps).sum(),
        }
    }
}

/// A meta-gradient estimator: holds all of its per-particle state, and returns one estimate per
/// outer step. The estimate depends only on the seed, the outer step and theta, never on the
/// number of threads.
///
/// ```
/// use pesto_meta::estimators::{EstimatorConfig, Pes};
/// use pesto_meta::systems::ToyRegression;
/// use pesto_meta::{Estimator, UnrolledSystem};
///
/// let system = ToyRegression::default();
/// let config = EstimatorConfig { particles: 8, sigma: 0.3, truncation: 10, stagger: false, seed: 1 };
/// let mut pes = Pes::new(config, &system).unwrap();
/// let theta = system.initial_theta();
/// let estimate = pes.estimate(&system, &theta, 0);
/// assert_eq!(estimate.grad.len(), 2);
/// assert!(estimate.grad.iter().all(|g| g.is_finite()));
/// assert_eq!(estimate.inner_steps, 8 * 10);
/// ```
pub trait Estimator<S: UnrolledSystem>: Send {
    /// Short name, e.g. `pes`.
    fn name(&self) -> &'static str;
    /// The gradient estimate at `theta` for outer step `outer_step`, advancing particle states.
    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate;
    /// Floats the estimator holds, counting `state_dim` floats per inner state.
    fn held_floats(&self, state_dim: usize) -> usize;
    /// Why this estimator decoded from a checkpoint cannot be used with `system`, if it cannot
    /// (by default it always can).
    fn check(&self, _system: &S) -> Result<(), String> {
        Ok(())
    }
    /// Brings the particle states other processes advanced to rank 0 before a checkpoint
    /// (`crate::distributed`); collective, and nothing to do in a one-process run.
    fn gather(&mut self) {}
}

#[cfg(test)]
mod gradient_tests;
#[cfg(test)]
mod tests;
