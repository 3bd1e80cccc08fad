//! Real-time recurrent learning (docs/estimators.md): forward-mode sensitivity J_t = ds_t/dtheta,
//! J <- df/ds J + df/dtheta, carried across truncations and zeroed at each new inner problem;
//! each step's loss adds dl/ds J + dl/dtheta. Exact and online; compute P S^2 + S(F + B) per
//! step, memory S P + S^2.

use super::gradient::{GradientConfig, Trajectory};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::{DifferentiableSystem, StepJacobians};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// Exact online RTRL over one persistent trajectory.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Rtrl<S: DifferentiableSystem> {
    truncation: u64,
    trajectory: Trajectory<S>,
    /// J = ds/dtheta, S x P in column-major order.
    sensitivity: Vec<f64>,
}

impl<S: DifferentiableSystem> Rtrl<S> {
    /// RTRL on `system`; an error if the configuration is invalid.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let trajectory = Trajectory::new(system, config.estimator.seed);
        let sensitivity = vec![0.0; system.state_dim() * system.theta_dim()];
        Ok(Self { truncation: config.estimator.truncation, trajectory, sensitivity })
    }
}

impl<S: DifferentiableSystem> Estimator<S> for Rtrl<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], _outer_step: u64) -> Estimate {
        let (sd, pd) = (system.state_dim(), system.theta_dim());
        let Self { trajectory, sensitivity, .. } = self;
        let steps = system.truncation_len(&trajectory.state, self.truncation);
        let mut jac = StepJacobians::zeros(sd, pd);
        let mut j_now = DMatrix::from_column_slice(sd, pd, sensitivity);
        let mut j_next = j_now.clone();
        let mut grad = vec![0.0; pd];
        let mut loss = 0.0;
        for j in 0..steps {
            loss += system.step_jacobians(&mut trajectory.state, theta, j + 1 == steps, &mut jac);
            j_next.copy_from(&jac.dtheta);
            j_next.gemm(1.0, &jac.ds, &j_now, 1.0);
            std::mem::swap(&mut j_now, &mut j_next);
            for (p, g) in grad.iter_mut().enumerate() {
                *g += j_now.column(p).dot(&jac.loss_ds) + jac.loss_dtheta[p];
            }
        }
        sensitivity.copy_from_slice(j_now.as_slice());
        trajectory.finish(system, &grad, loss, steps, || sensitivity.fill(0.0))
    }

    /// Floats held: the state, J, and the step's Jacobians (S^2 + S P).
    fn held_floats(&self, state_dim: usize) -> usize {
        let s = state_dim;
        s + 2 * self.sensitivity.len() + s * s
    }
}
