//! Stochastic gradient descent, with optional heavy-ball momentum.

use super::{OptState, Optimizer, Schedule};
use pesto_tasks::ParamLayout;

/// SGD: p <- p - lr * m with m <- momentum * m + g (plain SGD when momentum is 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    /// Learning rate schedule.
    pub lr: Schedule,
    /// Heavy-ball momentum coefficient in [0, 1).
    pub momentum: f32,
}

impl Sgd {
    /// Plain SGD.
    pub fn new(lr: Schedule) -> Self {
        Self { lr, momentum: 0.0 }
    }

    /// SGD with heavy-ball momentum.
    pub fn with_momentum(lr: Schedule, momentum: f32) -> Self {
        Self { lr, momentum }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> String {
        if self.momentum == 0.0 {
            format!("sgd({})", self.lr)
        } else {
            format!("momentum({},beta={})", self.lr, self.momentum)
        }
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        OptState::zeros(usize::from(self.momentum != 0.0), layout.len(), horizon)
    }

    fn step(
        &self,
        state: &mut OptState,
        _: &ParamLayout,
        params: &mut [f32],
        grad: &[f32],
        _loss: f32,
    ) {
        let lr = self.lr.at(state.step);
        match state.slots.first_mut() {
            None => params.iter_mut().zip(grad).for_each(|(p, g)| *p -= lr * g),
            Some(m) => {
                for ((p, g), m) in params.iter_mut().zip(grad).zip(m.iter_mut()) {
                    *m = self.momentum * *m + g;
                    *p -= lr * *m;
                }
            }
        }
        state.step += 1;
    }
}
