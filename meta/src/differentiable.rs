//! Unrolled systems with derivatives (docs/estimators.md, differentiable systems): the Jacobians
//! of one step s_{t+1} = f(s_t, theta) and the gradient of its loss L_{t+1} = l(s_{t+1}, theta),
//! which BPTT, TBPTT, ARTBP, RTRL and UORO chain together.

use crate::unrolled::{Unroll, UnrolledSystem};
use nalgebra::{DMatrix, DVector};

/// The derivatives of one step and of the loss it adds.
#[derive(Clone, Debug, PartialEq)]
pub struct StepJacobians {
    /// df/ds, S x S.
    pub ds: DMatrix<f64>,
    /// df/dtheta, S x P.
    pub dtheta: DMatrix<f64>,
    /// dl/ds_{t+1}, the loss's gradient with respect to the new state.
    pub loss_ds: DVector<f64>,
    /// dl/dtheta, the loss's direct gradient with respect to theta.
    pub loss_dtheta: DVector<f64>,
}

impl StepJacobians {
    /// Zero derivatives for state dimension `s` and theta dimension `p`.
    pub fn zeros(s: usize, p: usize) -> Self {
        Self {
            ds: DMatrix::zeros(s, s),
            dtheta: DMatrix::zeros(s, p),
            loss_ds: DVector::zeros(s),
            loss_dtheta: DVector::zeros(p),
        }
    }
}

/// An unrolled system whose steps can be differentiated.
///
/// Contract: `run_steps` is `run_by_steps` (its loss is the sum of `step(state, theta, j + 1 ==
/// n)` over its n steps j, and never clipped), and `step_jacobians` advances the state exactly
/// as `advance` does. `ends_unroll` says whether the step is the last of its unroll, for
/// systems that score only an unroll's last step (influence balancing).
pub trait DifferentiableSystem: UnrolledSystem {
    /// Dimension S of the state vector s_t.
    fn state_dim(&self) -> usize;
    /// Writes s_t into `out` (length S).
    fn state_vector(&self, state: &Self::State, out: &mut [f64]);
    /// Overwrites s_t with `s` (length S), keeping the state's position.
    fn set_state_vector(&self, state: &mut Self::State, s: &[f64]);
    /// One step s_{t+1} = f(s_t, theta) of the dynamics, advancing the position.
    fn advance(&self, state: &mut Self::State, theta: &[f32]);
    /// The loss l(s_{t+1}, theta) that a step landing on `state` adds to its unroll.
    fn step_loss(&self, state: &Self::State, theta: &[f32], ends_unroll: bool) -> f64;
    /// One step of the dynamics; returns the loss it adds to its unroll.
    fn step(&self, state: &mut Self::State, theta: &[f32], ends_unroll: bool) -> f64 {
        self.advance(state, theta);
        self.step_loss(state, theta, ends_unroll)
    }
    /// One step, as `step`, writing its derivatives into `jac` (every entry is overwritten).
    fn step_jacobians(
        &self,
        state: &mut Self::State,
        theta: &[f32],
        ends_unroll: bool,
        jac: &mut StepJacobians,
    ) -> f64;
}

/// `n` single steps of `state` with `theta`, each told whether it ends the unroll, reported as
/// one unroll whose loss is the sum of theirs: what `run_steps` of a differentiable system is.
pub fn run_by_steps<S: DifferentiableSystem>(
    system: &S,
    state: &mut S::State,
    theta: &[f32],
    n: u64,
) -> Unroll {
    let loss = (0..n).map(|j| system.step(state, theta, j + 1 == n)).sum();
    Unroll { loss, steps: n, clipped: false }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Checks of a differentiable system's derivatives against central finite differences.

    use super::*;

    /// Asserts the derivatives of one step from `state` match central differences with step `h`
    /// in the state and `h_theta` in theta, to `tol` relative to max(1, |exact|).
    pub fn check_jacobians<S: DifferentiableSystem>(
        system: &S,
        state: &S::State,
        theta: &[f32],
        ends_unroll: bool,
        (h, h_theta, tol): (f64, f32, f64),
    ) {
        let (sd, pd) = (system.state_dim(), system.theta_dim());
        let mut jac = StepJacobians::zeros(sd, pd);
        let mut next = state.clone();
        system.step_jacobians(&mut next, theta, ends_unroll, &mut jac);
        let vector = |st: &S::State| {
            let mut out = vec![0.0; sd];
            system.state_vector(st, &mut out);
            out
        };
        let with = |st: &S::State, s: &[f64]| {
            let mut st = st.clone();
            system.set_state_vector(&mut st, s);
            st
        };
        let advanced = |s: &[f64], theta: &[f32]| {
            let mut st = with(state, s);
            system.advance(&mut st, theta);
            vector(&st)
        };
        let close = |fd: f64, exact: f64, what: String| {
            assert!((fd - exact).abs() <= tol * exact.abs().max(1.0), "{what}: fd {fd} vs {exact}");
        };
        let (s0, s1) = (vector(state), vector(&next));
        for j in 0..sd {
            let (mut up, mut down) = (s0.clone(), s0.clone());
            up[j] += h;
            down[j] -= h;
            let (su, sdn) = (advanced(&up, theta), advanced(&down, theta));
            for i in 0..sd {
                close((su[i] - sdn[i]) / (2.0 * h), jac.ds[(i, j)], format!("ds[{i},{j}]"));
            }
            let (mut up, mut down) = (s1.clone(), s1.clone());
            up[j] += h;
            down[j] -= h;
            let loss = |s: &[f64]| system.step_loss(&with(&next, s), theta, ends_unroll);
            close((loss(&up) - loss(&down)) / (2.0 * h), jac.loss_ds[j], format!("loss_ds[{j}]"));
        }
        for j in 0..pd {
            let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
            up[j] += h_theta;
            down[j] -= h_theta;
            let width = f64::from(up[j]) - f64::from(down[j]);
            let (su, sdn) = (advanced(&s0, &up), advanced(&s0, &down));
            for i in 0..sd {
                close((su[i] - sdn[i]) / width, jac.dtheta[(i, j)], format!("dtheta[{i},{j}]"));
            }
            let loss = |theta: &[f32]| system.step_loss(&next, theta, ends_unroll);
            close(
                (loss(&up) - loss(&down)) / width,
                jac.loss_dtheta[j],
                format!("loss_dtheta[{j}]"),
            );
        }
    }
}
