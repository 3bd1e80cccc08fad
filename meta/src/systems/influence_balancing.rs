//! Influence balancing (docs/estimators.md, Tallec & Ollivier 2017): s <- A s + theta b in R^23
//! from all ones, with A = 0.5 (I + superdiagonal shift) and b ten +1 entries then thirteen -1;
//! the loss 0.5 (s_0 - 1)^2 is taken after the last step of each unroll only, and the state is
//! never reset. theta's immediate effect on s_0 has the opposite sign to its long-run effect,
//! so short truncations see the wrong sign of the gradient.

use crate::differentiable::{DifferentiableSystem, StepJacobians, run_by_steps};
use crate::unrolled::{Unroll, UnrolledSystem};
use serde::{Deserialize, Serialize};

/// The influence-balancing system described in the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InfluenceBalancing {
    /// Dimension S of the state.
    pub dim: usize,
    /// Number of leading +1 entries of b; the rest are -1.
    pub positive: usize,
    /// Steps of the evaluation unroll from all ones.
    pub eval_steps: u64,
}

impl Default for InfluenceBalancing {
    /// The paper's setting: S = 23, ten +1 entries, 500 evaluation steps.
    fn default() -> Self {
        Self { dim: 23, positive: 10, eval_steps: 500 }
    }
}

/// The state s and the steps taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IbState {
    /// The state vector s.
    pub s: Vec<f64>,
    /// Steps taken since the start.
    pub t: u64,
}

impl InfluenceBalancing {
    /// Entry i of b.
    fn b(&self, i: usize) -> f64 {
        if i < self.positive { 1.0 } else { -1.0 }
    }

    /// The evaluation loss: 0.5 (s_0 - 1)^2 after a fresh unroll of `eval_steps` from all ones.
    pub fn evaluate(&self, theta: &[f32]) -> f64 {
        let mut state = self.init_state(0, 0);
        self.unroll(&mut state, theta, self.eval_steps).loss
    }

    /// The optimum theta* = 1 / (2 sum_i b_i), where the fixed point s = (I - A)^-1 theta b has
    /// s_0 = 2 theta sum_i b_i = 1 (-1/6 in the paper's setting).
    pub fn optimum(&self) -> f64 {
        let sum: f64 = (0..self.dim).map(|i| self.b(i)).sum();
        1.0 / (2.0 * sum)
    }
}

impl UnrolledSystem for InfluenceBalancing {
    type State = IbState;

    fn theta_dim(&self) -> usize {
        1
    }

    /// The paper's start, theta = 0.5.
    fn initial_theta(&self) -> Vec<f32> {
        vec![0.5]
    }

    /// All ones; the system has no randomness, so `seed` is unused.
    fn init_state(&self, _seed: u64, start: u64) -> IbState {
        IbState { s: vec![1.0; self.dim], t: start }
    }

    /// Runs `steps` steps; the loss is the one after the last of them.
    fn run_steps(&self, state: &mut IbState, theta: &[f32], steps: u64) -> Unroll {
        run_by_steps(self, state, theta, steps)
    }

    fn horizon(&self, _: &IbState) -> Option<u64> {
        None
    }

    fn position(&self, state: &IbState) -> u64 {
        state.t
    }
}

/// df/ds = A, df/dtheta = b; the loss's gradient is (s_0 - 1) e_0 on an unroll's last step and
/// zero on the others.
impl DifferentiableSystem for InfluenceBalancing {
    fn state_dim(&self) -> usize {
        self.dim
    }

    fn state_vector(&self, state: &IbState, out: &mut [f64]) {
        out.copy_from_slice(&state.s);
    }

    fn set_state_vector(&self, state: &mut IbState, s: &[f64]) {
        state.s.copy_from_slice(s);
    }

    /// In place: entry i reads entry i + 1 before it is overwritten.
    fn advance(&self, state: &mut IbState, theta: &[f32]) {
        let theta = f64::from(theta[0]);
        let n = state.s.len();
        for i in 0..n {
            let next = if i + 1 < n { state.s[i + 1] } else { 0.0 };
            state.s[i] = 0.5 * (state.s[i] + next) + theta * self.b(i);
        }
        state.t += 1;
    }

    fn step_loss(&self, state: &IbState, _theta: &[f32], ends_unroll: bool) -> f64 {
        if ends_unroll { 0.5 * (state.s[0] - 1.0).powi(2) } else { 0.0 }
    }

    fn step_jacobians(
        &self,
        state: &mut IbState,
        theta: &[f32],
        ends_unroll: bool,
        jac: &mut StepJacobians,
    ) -> f64 {
        jac.ds.fill(0.0);
        for i in 0..self.dim {
            jac.ds[(i, i)] = 0.5;
            if i + 1 < self.dim {
                jac.ds[(i, i + 1)] = 0.5;
            }
            jac.dtheta[(i, 0)] = self.b(i);
        }
        let loss = self.step(state, theta, ends_unroll);
        jac.loss_ds.fill(0.0);
        if ends_unroll {
            jac.loss_ds[0] = state.s[0] - 1.0;
        }
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
        let system = InfluenceBalancing::default();
        let mut state = system.init_state(0, 0);
        system.unroll(&mut state, &[0.3], 7);
        for ends_unroll in [false, true] {
            check_jacobians(&system, &state, &[0.3], ends_unroll, (1e-6, 1.0 / 64.0, 1e-7));
        }
    }

    #[test]
    fn the_optimum_is_minus_one_sixth() {
        let system = InfluenceBalancing::default();
        assert!((system.optimum() + 1.0 / 6.0).abs() < 1e-15);
        let at = |theta: f64| system.evaluate(&[theta as f32]);
        let best = at(-1.0 / 6.0);
        // f32 rounding of -1/6 leaves s_0 within ~1e-7 of 1, so the loss is ~1e-14.
        assert!(best < 1e-12, "evaluation loss at -1/6 is {best}");
        assert!(at(-1.0 / 6.0 + 0.01) > 1e-4 && at(-1.0 / 6.0 - 0.01) > 1e-4);
        assert!(at(0.5) > 1.0, "the start theta = 0.5 is far from the optimum");
    }

    #[test]
    fn only_the_last_step_of_an_unroll_is_scored() {
        let system = InfluenceBalancing::default();
        let (mut a, mut b) = (system.init_state(0, 0), system.init_state(0, 0));
        let once = system.unroll(&mut a, &[0.5], 10).loss;
        let last = (0..10).map(|_| system.unroll(&mut b, &[0.5], 1).loss).last().unwrap();
        assert_eq!(a, b);
        assert_eq!(once, last);
        assert_eq!(once, 0.5 * (a.s[0] - 1.0).powi(2));
    }
}
