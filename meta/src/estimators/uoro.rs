//! Unbiased online recurrent optimization (docs/estimators.md; Tallec & Ollivier 2017): a rank-one
//! estimate s~ theta~^T of RTRL's sensitivity J. Each step, with independent random signs
//! nu in {-1, +1}^S,
//!   s~ <- rho0 df/ds s~ + rho1 nu,   theta~ <- theta~ / rho0 + (nu^T df/dtheta) / rho1,
//!   rho0 = sqrt((|theta~| + d) / (|df/ds s~| + d)),  rho1 = sqrt((|nu^T df/dtheta| + d) / (|nu| + d)),
//! which keeps E[s~ theta~^T] = J (E[nu nu^T] = I, and the cross terms have zero mean because
//! rho1 is even in nu) while balancing the two factors' norms to reduce variance; d = 1e-7.
//! Each step's loss adds (dl/ds . s~) theta~ + dl/dtheta. Memory S + P (plus the step's
//! Jacobians here, which a VJP/JVP implementation would avoid).

use super::gradient::{GradientConfig, Trajectory};
use super::{Estimate, Estimator, EstimatorError, Registered};
use crate::differentiable::{DifferentiableSystem, StepJacobians};
use nalgebra::DVector;
use pesto_tasks::rng;
use pesto_tasks::tags;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The d that keeps the rho scalings finite when a factor vanishes.
const NORM_FLOOR: f64 = 1e-7;

/// UORO over one persistent trajectory.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Uoro<S: DifferentiableSystem> {
    truncation: u64,
    seed: u64,
    trajectory: Trajectory<S>,
    /// s~, of dimension S.
    state_factor: Vec<f64>,
    /// theta~, of dimension P.
    theta_factor: Vec<f64>,
}

impl<S: DifferentiableSystem> Uoro<S> {
    /// UORO on `system`; an error if the configuration is invalid.
    pub fn new(config: GradientConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let seed = config.estimator.seed;
        Ok(Self {
            truncation: config.estimator.truncation,
            seed,
            trajectory: Trajectory::new(system, seed),
            state_factor: vec![0.0; system.state_dim()],
            theta_factor: vec![0.0; system.theta_dim()],
        })
    }
}

impl<S: DifferentiableSystem> Estimator<S> for Uoro<S> {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        let (sd, pd) = (system.state_dim(), system.theta_dim());
        let mut signs = rng::stream(self.seed, &[tags::UORO, outer_step]);
        let Self { trajectory, state_factor, theta_factor, .. } = self;
        let steps = system.truncation_len(&trajectory.state, self.truncation);
        let mut jac = StepJacobians::zeros(sd, pd);
        let mut s_tilde = DVector::from_column_slice(state_factor);
        let mut theta_tilde = DVector::from_column_slice(theta_factor);
        let (mut forward, mut nu, mut projected) =
            (DVector::zeros(sd), DVector::zeros(sd), DVector::zeros(pd));
        let mut grad = vec![0.0; pd];
        let mut loss = 0.0;
        for j in 0..steps {
            loss += system.step_jacobians(&mut trajectory.state, theta, j + 1 == steps, &mut jac);
            nu.iter_mut().for_each(|v| *v = if signs.random::<bool>() { 1.0 } else { -1.0 });
            forward.gemv(1.0, &jac.ds, &s_tilde, 0.0);
            projected.gemv_tr(1.0, &jac.dtheta, &nu, 0.0);
            let rho0 = ((theta_tilde.norm() + NORM_FLOOR) / (forward.norm() + NORM_FLOOR)).sqrt();
            let rho1 = ((projected.norm() + NORM_FLOOR) / (nu.norm() + NORM_FLOOR)).sqrt();
            s_tilde.copy_from(&forward);
            s_tilde *= rho0;
            s_tilde.axpy(rho1, &nu, 1.0);
            theta_tilde /= rho0;
            theta_tilde.axpy(1.0 / rho1, &projected, 1.0);
            let along = jac.loss_ds.dot(&s_tilde);
            for (p, g) in grad.iter_mut().enumerate() {
                *g += along * theta_tilde[p] + jac.loss_dtheta[p];
            }
        }
        state_factor.copy_from_slice(s_tilde.as_slice());
        theta_factor.copy_from_slice(theta_tilde.as_slice());
        trajectory.finish(system, &grad, loss, steps, || {
            state_factor.fill(0.0);
            theta_factor.fill(0.0);
        })
    }

    /// Floats held: the state, s~, theta~, and the step's Jacobians (S^2 + S P).
    fn held_floats(&self, state_dim: usize) -> usize {
        let (s, p) = (state_dim, self.theta_factor.len());
        s + self.state_factor.len() + p + s * s + s * p
    }
}
