//! The toy 2-D regression of docs/estimators.md: learning a linear learning-rate schedule for SGD
//! on f(x) = sqrt(x0^2 + 5) - sqrt(5) + sin(x1)^2 exp(-5 x0^2) + 0.25 |x1 - 100|.

use crate::differentiable::{DifferentiableSystem, StepJacobians, run_by_steps};
use crate::unrolled::{Unroll, UnrolledSystem};
use serde::{Deserialize, Serialize};

/// SGD from x = (1, 1) for T steps with a_t = exp(theta0) (T - t)/T + exp(theta1) t/T; the
/// meta-objective is the sum over the T steps of f after each update (docs/estimators.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToyRegression {
    /// Horizon T.
    pub horizon: u64,
}

impl Default for ToyRegression {
    /// The paper's setting, T = 100.
    fn default() -> Self {
        Self { horizon: 100 }
    }
}

/// The inner iterate x and the step t it has reached.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToyState {
    /// The SGD iterate.
    pub x: [f64; 2],
    /// Steps taken since the inner problem began.
    pub t: u64,
}

/// The inner loss f(x).
pub fn loss(x: [f64; 2]) -> f64 {
    let [x0, x1] = x;
    (x0 * x0 + 5.0).sqrt() - 5f64.sqrt()
        + x1.sin().powi(2) * (-5.0 * x0 * x0).exp()
        + 0.25 * (x1 - 100.0).abs()
}

/// The gradient of f at x.
pub fn loss_grad(x: [f64; 2]) -> [f64; 2] {
    let [x0, x1] = x;
    let bump = (-5.0 * x0 * x0).exp();
    [
        x0 / (x0 * x0 + 5.0).sqrt() - 10.0 * x0 * x1.sin().powi(2) * bump,
        (2.0 * x1).sin() * bump + 0.25 * (x1 - 100.0).signum(),
    ]
}

/// The Hessian of f at x, row-major: [[f_00, f_01], [f_01, f_11]]. The kink of |x1 - 100| adds
/// nothing away from x1 = 100, the only place it is used.
pub fn loss_hessian(x: [f64; 2]) -> [[f64; 2]; 2] {
    let [x0, x1] = x;
    let bump = (-5.0 * x0 * x0).exp();
    let h00 =
        5.0 / (x0 * x0 + 5.0).powf(1.5) - 10.0 * x1.sin().powi(2) * bump * (1.0 - 10.0 * x0 * x0);
    let h01 = -10.0 * x0 * (2.0 * x1).sin() * bump;
    let h11 = 2.0 * (2.0 * x1).cos() * bump;
    [[h00, h01], [h01, h11]]
}

impl ToyRegression {
    /// The learning rate a_t = exp(theta0) (T - t)/T + exp(theta1) t/T.
    pub fn learning_rate(&self, theta: &[f32], t: u64) -> f64 {
        let frac = t as f64 / self.horizon as f64;
        f64::from(theta[0]).exp() * (1.0 - frac) + f64::from(theta[1]).exp() * frac
    }

    /// One SGD step of the state with the schedule set by theta; returns f after the update.
    pub fn step(&self, state: &mut ToyState, theta: &[f32]) -> f64 {
        self.advance(state, theta);
        loss(state.x)
    }

    /// The deterministic full-horizon meta-objective sum_{t=1..T} f(x_t).
    pub fn meta_objective(&self, theta: &[f32]) -> f64 {
        let mut state = self.init_state(0, 0);
        self.unroll(&mut state, theta, self.horizon).loss
    }
}

impl UnrolledSystem for ToyRegression {
    type State = ToyState;

    fn theta_dim(&self) -> usize {
        2
    }

    /// The paper's start, theta = (-4, -4).
    fn initial_theta(&self) -> Vec<f32> {
        vec![-4.0, -4.0]
    }

    /// x = (1, 1) at step `start`; the problem has no randomness, so `seed` is unused.
    fn init_state(&self, _seed: u64, start: u64) -> ToyState {
        ToyState { x: [1.0, 1.0], t: start }
    }

    fn run_steps(&self, state: &mut ToyState, theta: &[f32], steps: u64) -> Unroll {
        run_by_steps(self, state, theta, steps)
    }

    fn horizon(&self, _: &ToyState) -> Option<u64> {
        Some(self.horizon)
    }

    fn position(&self, state: &ToyState) -> u64 {
        state.t
    }
}

/// s = x; the step x <- x - a_t grad f(x) has df/dx = I - a_t H(x) and df/dtheta_j =
/// -grad f(x) da_t/dtheta_j, and the loss f(x_{t+1}) has gradient grad f(x_{t+1}).
impl DifferentiableSystem for ToyRegression {
    fn state_dim(&self) -> usize {
        2
    }

    fn state_vector(&self, state: &ToyState, out: &mut [f64]) {
        out.copy_from_slice(&state.x);
    }

    fn set_state_vector(&self, state: &mut ToyState, s: &[f64]) {
        state.x.copy_from_slice(s);
    }

    fn advance(&self, state: &mut ToyState, theta: &[f32]) {
        let lr = self.learning_rate(theta, state.t);
        let g = loss_grad(state.x);
        state.x[0] -= lr * g[0];
        state.x[1] -= lr * g[1];
        state.t += 1;
    }

    fn step_loss(&self, state: &ToyState, _theta: &[f32], _ends_unroll: bool) -> f64 {
        loss(state.x)
    }

    fn step_jacobians(
        &self,
        state: &mut ToyState,
        theta: &[f32],
        _ends_unroll: bool,
        jac: &mut StepJacobians,
    ) -> f64 {
        let lr = self.learning_rate(theta, state.t);
        let frac = state.t as f64 / self.horizon as f64;
        let dlr = [f64::from(theta[0]).exp() * (1.0 - frac), f64::from(theta[1]).exp() * frac];
        let (g, h) = (loss_grad(state.x), loss_hessian(state.x));
        for i in 0..2 {
            for j in 0..2 {
                jac.ds[(i, j)] = f64::from(u8::from(i == j)) - lr * h[i][j];
                jac.dtheta[(i, j)] = -g[i] * dlr[j];
            }
        }
        self.advance(state, theta);
        let g = loss_grad(state.x);
        jac.loss_ds.copy_from_slice(&g);
        jac.loss_dtheta.fill(0.0);
        loss(state.x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::differentiable::testing::check_jacobians;

    #[test]
    fn jacobians_match_central_differences() {
        let system = ToyRegression::default();
        for (x, t, theta) in [([1.0, 1.0], 0, [-4.0, -4.0]), ([-0.3, 2.5], 37, [-1.0, 0.5])] {
            let state = ToyState { x, t };
            check_jacobians(&system, &state, &theta, false, (1e-6, 1.0 / 256.0, 1e-5));
        }
    }

    #[test]
    fn meta_objective_matches_the_paper_anchor() {
        let value = ToyRegression::default().meta_objective(&[-4.0, -4.0]);
        assert!((value - 2487.8).abs() < 0.05, "meta-objective at (-4, -4) is {value}");
    }

    #[test]
    fn loss_grad_matches_central_differences() {
        let h = 1e-6;
        for x in [[1.0, 1.0], [-0.3, 2.5], [0.05, 120.0]] {
            let g = loss_grad(x);
            for i in 0..2 {
                let (mut up, mut down) = (x, x);
                up[i] += h;
                down[i] -= h;
                let fd = (loss(up) - loss(down)) / (2.0 * h);
                assert!((fd - g[i]).abs() < 1e-6, "x = {x:?}, coord {i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn truncations_add_up_to_the_full_unroll() {
        let system = ToyRegression::default();
        let theta = [-1.0, -2.0];
        let mut state = system.init_state(0, 0);
        let pieces: f64 = (0..10).map(|_| system.unroll(&mut state, &theta, 10).loss).sum();
        assert!(system.is_done(&state));
        assert_eq!(system.unroll(&mut state, &theta, 10).loss, 0.0);
        assert!((pieces - system.meta_objective(&theta)).abs() < 1e-9);
    }
}
