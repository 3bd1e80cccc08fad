//! The outer optimizer of theta: SGD or Adam on the estimated meta-gradient, after optional
//! clipping by value and by norm (docs/estimators.md, meta-gradient clipping).

use crate::optim::{AdamBetas, adam_update};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The update rule of the outer optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OuterOptimizer {
    /// theta <- theta - lr g.
    Sgd {
        /// Learning rate (default 1e-3).
        #[serde(default = "default_lr")]
        lr: f32,
    },
    /// Adam with bias correction on g.
    Adam {
        /// Learning rate (default 1e-3).
        #[serde(default = "default_lr")]
        lr: f32,
        /// Decay of the first moment (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f32,
        /// Decay of the second moment (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// Added to the root of the second moment (default 1e-8).
        #[serde(default = "default_eps")]
        eps: f32,
    },
}

fn default_lr() -> f32 {
    1e-3
}
fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_eps() -> f32 {
    1e-8
}

impl Default for OuterOptimizer {
    /// Adam with lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8.
    fn default() -> Self {
        Self::Adam {
            lr: default_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
        }
    }
}

/// The outer optimizer with its gradient clipping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OuterConfig {
    /// The update rule (default Adam).
    #[serde(default)]
    pub optimizer: OuterOptimizer,
    /// Clip each coordinate of g to [-c, c] first (off unless set).
    #[serde(default)]
    pub clip_value: Option<f32>,
    /// Then rescale g so its Euclidean norm is at most c (off unless set).
    #[serde(default)]
    pub clip_norm: Option<f32>,
}

/// The outer optimizer's mutable state: the step count and Adam's moments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OuterState {
    /// Updates taken so far.
    pub step: u64,
    /// First moment (empty for SGD).
    pub m: Vec<f32>,
    /// Second moment (empty for SGD).
    pub v: Vec<f32>,
}

/// A bad outer-optimizer setting.
#[derive(Debug, Error, PartialEq)]
#[error("outer optimizer: `{key}` = {value} is invalid; expected {expected}")]
pub struct OuterError {
    /// The offending setting.
    pub key: &'static str,
    /// Its value.
    pub value: f32,
    /// The valid range.
    pub expected: &'static str,
}

/// An error unless `ok`.
fn check(
    ok: bool,
    key: &'static str,
    value: f32,
    expected: &'static str,
) -> Result<(), OuterError> {
    if ok { Ok(()) } else { Err(OuterError { key, value, expected }) }
}

impl OuterConfig {
    /// A fresh state for theta of dimension `dim`; an error names any setting out of range.
    pub fn init_state(&self, dim: usize) -> Result<OuterState, OuterError> {
        let positive = "a positive finite number";
        let moments = match self.optimizer {
            OuterOptimizer::Sgd { lr } => {
                check(lr > 0.0 && lr.is_finite(), "lr", lr, positive)?;
                0
            }
            OuterOptimizer::Adam { lr, beta1, beta2, eps } => {
                check(lr > 0.0 && lr.is_finite(), "lr", lr, positive)?;
                check((0.0..1.0).contains(&beta1), "beta1", beta1, "a number in [0, 1)")?;
                check((0.0..1.0).contains(&beta2), "beta2", beta2, "a number in [0, 1)")?;
                check(eps >= 0.0 && eps.is_finite(), "eps", eps, "a finite number >= 0")?;
                dim
            }
        };
        for (key, clip) in [("clip_value", self.clip_value), ("clip_norm", self.clip_norm)] {
            if let Some(c) = clip {
                check(c > 0.0 && c.is_finite(), key, c, positive)?;
            }
        }
        Ok(OuterState { step: 0, m: vec![0.0; moments], v: vec![0.0; moments] })
    }

    /// One update of theta from the gradient estimate `grad`, which is clipped in place.
    pub fn apply(&self, state: &mut OuterState, theta: &mut [f32], grad: &mut [f32]) {
        if let Some(c) = self.clip_value {
            grad.iter_mut().for_each(|g| *g = g.clamp(-c, c));
        }
        if let Some(c) = self.clip_norm {
            let norm = grad.iter().map(|g| g * g).sum::<f32>().sqrt();
            if norm > c {
                grad.iter_mut().for_each(|g| *g *= c / norm);
            }
        }
        match self.optimizer {
            OuterOptimizer::Sgd { lr } => {
                theta.iter_mut().zip(grad.iter()).for_each(|(t, g)| *t -= lr * g);
            }
            OuterOptimizer::Adam { lr, beta1, beta2, eps } => {
                let betas = AdamBetas { beta1, beta2, eps };
                adam_update(lr, betas, state.step, theta, grad, &mut state.m, &mut state.v);
            }
        }
        state.step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sgd(clip_value: Option<f32>, clip_norm: Option<f32>) -> OuterConfig {
        OuterConfig { optimizer: OuterOptimizer::Sgd { lr: 1.0 }, clip_value, clip_norm }
    }

    #[test]
    fn clipping_by_value_then_norm() {
        let mut theta = [0.0f32; 2];
        let config = sgd(Some(3.0), Some(1.0));
        let mut state = config.init_state(2).unwrap();
        let mut grad = [30.0, -4.0];
        config.apply(&mut state, &mut theta, &mut grad);
        // By value: (3, -3); by norm: (3, -3) / (3 sqrt 2) * 1.
        let expected = 1.0 / 2f32.sqrt();
        assert!((theta[0] + expected).abs() < 1e-6 && (theta[1] - expected).abs() < 1e-6);
        assert_eq!(state.step, 1);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        let config = OuterConfig {
            optimizer: OuterOptimizer::Adam { lr: 0.01, beta1: 0.99, beta2: 0.999, eps: 1e-8 },
            clip_value: None,
            clip_norm: None,
        };
        let mut state = config.init_state(2).unwrap();
        let mut theta = [-4.0f32, -4.0];
        config.apply(&mut state, &mut theta, &mut [-50.0, 2.0]);
        assert!((theta[0] + 3.99).abs() < 1e-6 && (theta[1] + 4.01).abs() < 1e-6, "{theta:?}");
    }

    #[test]
    fn bad_settings_are_named() {
        let err = sgd(Some(-1.0), None).init_state(2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "outer optimizer: `clip_value` = -1 is invalid; expected a positive finite number"
        );
        let config: OuterConfig =
            serde_json::from_str(r#"{"optimizer": {"kind": "adam", "lr": 0.01, "beta1": 1.0, "beta2": 0.9, "eps": 0.0}}"#)
                .unwrap();
        assert_eq!(config.init_state(2).unwrap_err().key, "beta1");
    }
}
