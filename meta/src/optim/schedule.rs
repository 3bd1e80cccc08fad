//! Learning-rate schedules for hand-designed optimizers.

use serde::{Deserialize, Serialize};

/// A learning rate as a function of the step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The same rate at every step.
    Constant(f32),
    /// Cosine decay from `lr` at step 0 to `lr * floor` at step `horizon` (and after).
    Cosine {
        /// Initial rate.
        lr: f32,
        /// Step at which the decay ends.
        horizon: u64,
        /// Final rate as a fraction of the initial one.
        floor: f32,
    },
}

impl Schedule {
    /// The learning rate at `step`.
    pub fn at(&self, step: u64) -> f32 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Cosine { lr, horizon, floor } => {
                let progress = (step.min(horizon) as f32) / (horizon.max(1) as f32);
                let cosine = 0.5 * (1.0 + (std::f32::consts::PI * progress).cos());
                lr * (floor + (1.0 - floor) * cosine)
            }
        }
    }

    /// The initial learning rate.
    pub fn initial(&self) -> f32 {
        self.at(0)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant(lr) => write!(f, "lr={lr:e}"),
            Schedule::Cosine { lr, horizon, floor } => {
                write!(f, "lr={lr:e},cosine={horizon},floor={floor}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_decays_from_lr_to_floor() {
        let s = Schedule::Cosine { lr: 1.0, horizon: 100, floor: 0.1 };
        assert_eq!(s.at(0), 1.0);
        assert!((s.at(50) - 0.55).abs() < 1e-6);
        assert!((s.at(100) - 0.1).abs() < 1e-6);
        assert!((s.at(1000) - 0.1).abs() < 1e-6);
    }
}
