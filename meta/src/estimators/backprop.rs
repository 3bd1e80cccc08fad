//! Backpropagation through recorded steps (docs/estimators.md), shared by BPTT, TBPTT, ARTBP, the
//! reparameterisation gradient and PES + analytic. The forward pass records the state before
//! each step (memory: one state per step); the backward pass replays each step from its record
//! to get that step's Jacobians and carries the adjoint delta_t = dL/ds_t backwards:
//!   grad += df/dtheta^T delta_{t+1} + dl/dtheta,  delta_t = df/ds^T delta_{t+1}.

use crate::differentiable::{DifferentiableSystem, StepJacobians};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// The states recorded by forward passes, in order; its buffer is reused across estimates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tape<St> {
    states: Vec<St>,
    len: usize,
}

impl<St: Clone> Tape<St> {
    /// An empty tape.
    pub fn new() -> Self {
        Self { states: Vec::new(), len: 0 }
    }

    /// Appends `state`, reusing a slot of the buffer when one is free.
    pub fn record(&mut self, state: &St) {
        match self.states.get_mut(self.len) {
            Some(slot) => slot.clone_from(state),
            None => self.states.push(state.clone()),
        }
        self.len += 1;
    }

    /// Forgets every record (keeps the buffer).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The recorded states.
    pub fn states(&self) -> &[St] {
        &self.states[..self.len]
    }

    /// States the buffer can hold without growing: its high-water mark.
    pub fn capacity(&self) -> usize {
        self.states.len()
    }
}

/// Runs `k` steps of `state` with `theta`, recording each state before its step, and returns
/// the loss of the unroll.
pub fn forward<S: DifferentiableSystem>(
    system: &S,
    state: &mut S::State,
    theta: &[f32],
    k: u64,
    tape: &mut Tape<S::State>,
) -> f64 {
    (0..k)
        .map(|j| {
            tape.record(state);
            system.step(state, theta, j + 1 == k)
        })
        .sum()
}

/// Which recorded steps' losses a backward pass differentiates.
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    /// The losses of the tape's last `steps` steps.
    pub steps: usize,
    /// Whether the tape's last step ends its unroll.
    pub ends_unroll: bool,
}

impl Scored {
    /// Every step of a tape that holds exactly one unroll.
    pub fn whole<St: Clone>(tape: &Tape<St>) -> Self {
        Self { steps: tape.states().len(), ends_unroll: true }
    }
}

/// Adds to `grad` the gradient with respect to theta of the `scored` losses, backpropagating
/// through every recorded step. Crossing the state before recorded step j (j >= 1) multiplies
/// the adjoint by `reweight(j)`; the adjoint of the first recorded state is dropped (the
/// truncation).
pub fn backward<S: DifferentiableSystem>(
    system: &S,
    tape: &Tape<S::State>,
    theta: &[f32],
    scored: Scored,
    reweight: impl Fn(usize) -> f64,
    grad: &mut [f64],
) {
    let states = tape.states();
    let Some(mut scratch) = states.first().cloned() else { return };
    let n = states.len();
    let mut jac = StepJacobians::zeros(system.state_dim(), system.theta_dim());
    let mut delta = DVector::zeros(system.state_dim());
    let mut previous = delta.clone();
    let mut step_grad = DVector::zeros(system.theta_dim());
    for (j, state) in states.iter().enumerate().rev() {
        scratch.clone_from(state);
        system.step_jacobians(&mut scratch, theta, scored.ends_unroll && j + 1 == n, &mut jac);
        if j + scored.steps >= n {
            delta += &jac.loss_ds;
            grad.iter_mut().zip(jac.loss_dtheta.iter()).for_each(|(g, d)| *g += d);
        }
        step_grad.gemv_tr(1.0, &jac.dtheta, &delta, 0.0);
        grad.iter_mut().zip(step_grad.iter()).for_each(|(g, d)| *g += d);
        if j > 0 {
            previous.gemv_tr(reweight(j), &jac.ds, &delta, 0.0);
            std::mem::swap(&mut delta, &mut previous);
        }
    }
}

/// The f32 gradient of an f64 accumulation.
pub fn to_f32(grad: &[f64]) -> Vec<f32> {
    grad.iter().map(|&g| g as f32).collect()
}
