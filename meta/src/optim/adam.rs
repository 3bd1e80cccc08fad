//! Adam (Kingma & Ba) with bias correction.

use super::{OptState, Optimizer, Schedule};
use pesto_tasks::ParamLayout;
use serde::{Deserialize, Serialize};

/// Adam's hyperparameters other than the learning rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamBetas {
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
}

impl Default for AdamBetas {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Adam: m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2, p <- p - lr m_hat / (sqrt(v_hat) + eps).
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate schedule.
    pub lr: Schedule,
    /// Moment decays and epsilon.
    pub betas: AdamBetas,
}

impl Adam {
    /// Adam with the usual betas (0.9, 0.999) and eps 1e-8.
    pub fn new(lr: Schedule) -> Self {
        Self { lr, betas: AdamBetas::default() }
    }
}

/// One Adam update of `params` given the step's learning rate and the state's two slots.
pub fn adam_update(
    lr: f32,
    betas: AdamBetas,
    step: u64,
    params: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let AdamBetas { beta1, beta2, eps } = betas;
    let t = (step + 1) as i32;
    let c1 = 1.0 - beta1.powi(t);
    let c2 = 1.0 - beta2.powi(t);
    for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = beta1 * *m + (1.0 - beta1) * g;
        *v = beta2 * *v + (1.0 - beta2) * g * g;
        *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
    }
}

impl Optimizer for Adam {
    fn name(&self) -> String {
        format!("adam({})", self.lr)
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        OptState::zeros(2, layout.len(), horizon)
    }

    fn step(
        &self,
        state: &mut OptState,
        _: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
        _loss: f32,
    ) {
        let [m, v] = state.slots.as_mut_slice() else {
            panic!("Adam state needs two slots, found {}", state.slots.len());
        };
        adam_update(self.lr.at(state.step), self.betas, state.step, params, grad, m, v);
        state.step += 1;
    }
}
