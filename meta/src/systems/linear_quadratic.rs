//! A scalar linear system with quadratic losses whose smoothed meta-gradient is known in closed
//! form, to test estimators against the truth.
//!
//! Dynamics s_{t+1} = a s_t + theta0 + theta1 u_t with u_t = (-1)^t, from s_0 = `s0`; loss
//! L_t = 0.5 (s_t - target)^2 after each of the T steps. Unrolling the recursion,
//!   s_t = a^t s0 + theta0 c_t + theta1 d_t,  c_t = (1 - a^t)/(1 - a),  d_t = (a^t - (-1)^t)/(a + 1),
//! so the meta-objective L(theta) = sum_{t=1..T} L_t is quadratic in theta, with gradient
//!   dL/dtheta = sum_{t=1..T} (s_t - target) (c_t, d_t).
//! For a quadratic, E[L(theta + eps)] = L(theta) + const, so the Gaussian-smoothed gradient that
//! ES estimators target equals this exact gradient for every sigma.

use crate::differentiable::{DifferentiableSystem, StepJacobians, run_by_steps};
use crate::unrolled::{Unroll, UnrolledSystem};
use serde::{Deserialize, Serialize};

/// The linear-quadratic system described in the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearQuadratic {
    /// Decay a of the state (|a| < 1, a != -1).
    pub a: f64,
    /// Initial state s_0.
    pub s0: f64,
    /// The value the loss pulls the state towards.
    pub target: f64,
    /// Horizon T.
    pub horizon: u64,
}

impl Default for LinearQuadratic {
    /// a = 0.9, s_0 = 1, target 2, T = 20.
    fn default() -> Self {
        Self { a: 0.9, s0: 1.0, target: 2.0, horizon: 20 }
    }
}

/// The scalar state s_t and the step t it has reached.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LqState {
    /// The state s_t.
    pub s: f64,
    /// Steps taken since the inner problem began.
    pub t: u64,
}

impl LinearQuadratic {
    /// One step s_{t+1} = a s_t + theta0 + theta1 (-1)^t; returns L_{t+1}.
    pub fn step(&self, state: &mut LqState, theta: &[f32]) -> f64 {
        self.advance(state, theta);
        0.5 * (state.s - self.target).powi(2)
    }

    /// The input u_t = (-1)^t.
    fn input(t: u64) -> f64 {
        if t.is_multiple_of(2) { 1.0 } else { -1.0 }
    }

    /// The closed-form gradient of the meta-objective at theta, equal to its Gaussian-smoothed
    /// gradient for every sigma (module documentation).
    pub fn smoothed_gradient(&self, theta: &[f32]) -> [f64; 2] {
        let (a, th0, th1) = (self.a, f64::from(theta[0]), f64::from(theta[1]));
        let mut grad = [0.0; 2];
        for t in 1..=self.horizon as i32 {
            let c = (1.0 - a.powi(t)) / (1.0 - a);
            let d = (a.powi(t) - (-1f64).powi(t)) / (a + 1.0);
            let residual = a.powi(t) * self.s0 + th0 * c + th1 * d - self.target;
            grad[0] += residual * c;
            grad[1] += residual * d;
        }
        grad
    }
}

impl UnrolledSystem for LinearQuadratic {
    type State = LqState;

    fn theta_dim(&self) -> usize {
        2
    }

    fn initial_theta(&self) -> Vec<f32> {
        vec![0.5, -0.5]
    }

    /// s = s_0 at step `start`; the system has no randomness, so `seed` is unused.
    fn init_state(&self, _seed: u64, start: u64) -> LqState {
        LqState { s: self.s0, t: start }
    }

    fn run_steps(&self, state: &mut LqState, theta: &[f32], steps: u64) -> Unroll {
        run_by_steps(self, state, theta, steps)
    }

    fn horizon(&self, _: &LqState) -> Option<u64> {
        Some(self.horizon)
    }

    fn position(&self, state: &LqState) -> u64 {
        state.t
    }
}

/// df/ds = a, df/dtheta = (1, u_t), and the loss's gradient is s_{t+1} - target.
impl DifferentiableSystem for LinearQuadratic {
    fn state_dim(&self) -> usize {
        1
    }

    fn state_vector(&self, state: &LqState, out: &mut [f64]) {
        out[0] = state.s;
    }

    fn set_state_vector(&self, state: &mut LqState, s: &[f64]) {
        state.s = s[0];
    }

    fn advance(&self, state: &mut LqState, theta: &[f32]) {
        let u = Self::input(state.t);
        state.s = self.a * state.s + f64::from(theta[0]) + f64::from(theta[1]) * u;
        state.t += 1;
    }

    fn step_loss(&self, state: &LqState, _theta: &[f32], _ends_unroll: bool) -> f64 {
        0.5 * (state.s - self.target).powi(2)
    }

    fn step_jacobians(
        &self,
        state: &mut LqState,
        theta: &[f32],
        _ends_unroll: bool,
        jac: &mut StepJacobians,
    ) -> f64 {
        jac.ds[(0, 0)] = self.a;
        jac.dtheta[(0, 0)] = 1.0;
        jac.dtheta[(0, 1)] = Self::input(state.t);
        let loss = self.step(state, theta);
        jac.loss_ds[0] = state.s - self.target;
        jac.loss_dtheta.fill(0.0);
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::differentiable::testing::check_jacobians;

    #[test]
    fn jacobians_match_central_differences() {
        let system = LinearQuadratic::default();
        for t in [0, 5] {
            let state = LqState { s: 1.3, t };
            check_jacobians(&system, &state, &[0.5, -0.5], false, (1e-6, 1.0 / 64.0, 1e-7));
        }
    }

    #[test]
    fn closed_form_gradient_matches_central_differences() {
        let system = LinearQuadratic::default();
        let meta = |theta: [f64; 2]| {
            let theta = theta.map(|v| v as f32);
            let mut state = system.init_state(0, 0);
            system.unroll(&mut state, &theta, system.horizon).loss
        };
        let theta = [0.5f32, -0.5];
        let grad = system.smoothed_gradient(&theta);
        // The meta-objective is quadratic, so central differences are exact up to rounding
        // (theta is f32, hence the step of 1/64 and the relative tolerance).
        let h = 1.0 / 64.0;
        for i in 0..2 {
            let (mut up, mut down) = (theta.map(f64::from), theta.map(f64::from));
            up[i] += h;
            down[i] -= h;
            let fd = (meta(up) - meta(down)) / (2.0 * h);
            assert!(
                (fd - grad[i]).abs() < 1e-9 * grad[i].abs().max(1.0),
                "{i}: {fd} vs {}",
                grad[i]
            );
        }
    }
}
