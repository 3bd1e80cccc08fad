//! The inner problem a (learned) optimizer trains.

use crate::layout::ParamLayout;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A fully specified task: family, configuration and the seed of its data and configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Registry name of the family, e.g. `mlp-synth`.
    pub family: String,
    /// Configuration `key=value` pairs; missing keys take the family's defaults.
    pub config: BTreeMap<String, String>,
    /// Seed of the task's data (and of anything else fixed per task, e.g. a teacher network).
    pub seed: u64,
}

impl fmt::Display for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.family)?;
        for (i, (k, v)) in self.config.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { ':' } else { ',' })?;
        }
        Ok(())
    }
}

/// Maps a raw training loss to the meta-training loss: `min(loss / scale, max)`, with NaN and
/// infinity mapped to `max` (docs/estimators.md, loss clipping).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    /// Typical loss at initialisation; normalised losses start near 1.
    pub scale: f32,
    /// Largest normalised loss; a diverging run is clipped here.
    pub max: f32,
}

/// A normalised loss and whether it was clipped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalised {
    /// The normalised loss.
    pub value: f32,
    /// True when the raw loss was non-finite or above the maximum.
    pub clipped: bool,
}

impl Normaliser {
    /// Normalises one raw loss.
    pub fn apply(&self, loss: f32) -> Normalised {
        let value = loss / self.scale;
        if value.is_finite() && value <= self.max {
            Normalised { value, clipped: false }
        } else {
            Normalised { value: self.max, clipped: true }
        }
    }
}

/// An inner problem: parameters over a named layout, a deterministic minibatch per inner step,
/// a loss with its gradient, and a held-out loss.
///
/// A task owns its scratch buffers, so its methods take `&mut self` and allocate nothing after
/// construction; `boxed_clone` gives an independent copy that shares the (read-only) data.
///
/// ```
/// use pesto_tasks::{TaskSpec, registry};
///
/// let spec = TaskSpec::parse("quadratic:dim=4,steps=10", 7).unwrap();
/// let mut task = registry::build(&spec).unwrap();
/// let mut params = vec![0.0; task.layout().len()];
/// task.init_params(1, &mut params);
/// let mut grad = vec![0.0; params.len()];
/// let loss = task.loss_and_grad(&params, 0, &mut grad);
/// // One small gradient step lowers the noise-free loss.
/// params.iter_mut().zip(&grad).for_each(|(p, g)| *p -= 0.1 * g);
/// assert!(task.heldout_loss(&params) < loss);
/// assert_eq!(task.horizon(), 10);
/// ```
pub trait Task: Send + Sync {
    /// The specification this task was built from.
    fn spec(&self) -> &TaskSpec;
    /// The parameter layout.
    fn layout(&self) -> &ParamLayout;
    /// Writes a fresh initialisation drawn from `seed` into `params`.
    fn init_params(&self, seed: u64, params: &mut [f32]);
    /// Training loss on the minibatch of inner step `step`, writing its gradient into `grad`.
    fn loss_and_grad(&mut self, params: &[f32], step: u64, grad: &mut [f32]) -> f32;
    /// Loss on the held-out split (the noise-free loss where the task has no data).
    fn heldout_loss(&mut self, params: &[f32]) -> f32;
    /// The normaliser used for meta-training.
    fn normaliser(&self) -> Normaliser;
    /// Number of inner steps one training run of this task takes.
    fn horizon(&self) -> u64;
    /// An independent copy sharing the task's data.
    fn boxed_clone(&self) -> Box<dyn Task>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normaliser_clips_large_and_non_finite_losses() {
        let n = Normaliser { scale: 2.0, max: 1.5 };
        assert_eq!(n.apply(1.0), Normalised { value: 0.5, clipped: false });
        assert_eq!(n.apply(10.0), Normalised { value: 1.5, clipped: true });
        assert_eq!(n.apply(f32::NAN), Normalised { value: 1.5, clipped: true });
        assert_eq!(n.apply(f32::INFINITY), Normalised { value: 1.5, clipped: true });
    }

    #[test]
    fn spec_displays_as_family_and_sorted_keys() {
        let spec = TaskSpec {
            family: "mlp-synth".into(),
            config: [("hidden".into(), "32".into()), ("act".into(), "relu".into())].into(),
            seed: 3,
        };
        assert_eq!(spec.to_string(), "mlp-synth:act=relu,hidden=32");
    }
}
