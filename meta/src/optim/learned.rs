//! The registry of learned optimizers: names, theta dimensions, initial thetas, construction.

use super::rel_lopt::Variant;
use super::{
    LearnedAdam, LearnedOptimizer, MlpLopt, RelLopt, WithTheta, learned_adam, mlp_lopt, rel_lopt,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A learned optimizer that cannot be built from what was asked.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LearnedError {
    /// The name matches no `LearnedKind`.
    #[error("unknown learned optimizer `{0}`; valid: {names}", names = LearnedKind::names())]
    UnknownKind(String),
    /// theta has the wrong dimension for its kind.
    #[error("theta of {kind} must have {expected} values, found {found}")]
    ThetaDim {
        /// The kind asked for.
        kind: LearnedKind,
        /// Its theta dimension.
        expected: usize,
        /// The dimension given.
        found: usize,
    },
}

/// One named tensor of a learned optimizer's theta: the values at `offset`, row-major in `shape`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ThetaTensor {
    /// Its name, as in docs/optimizers.md.
    pub name: &'static str,
    /// Its shape; a matrix has one row per input unit.
    pub shape: &'static [usize],
    /// Offset of its first value in theta.
    pub offset: usize,
}

impl ThetaTensor {
    /// Number of values: the product of the shape.
    pub const fn size(&self) -> usize {
        let (mut size, mut i) = (1, 0);
        while i < self.shape.len() {
            size *= self.shape[i];
            i += 1;
        }
        size
    }

    /// Its values in `theta`.
    pub fn values<'a>(&self, theta: &'a [f32]) -> &'a [f32] {
        &theta[self.offset..self.offset + self.size()]
    }
}

/// Declares the registry from one table: each row is a kind's variant, name, theta dimension,
/// initial theta (from `seed`), optimizer, theta's named tensors, what its inputs are and
/// whether it reads the run length.
macro_rules! learned_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident = $name:literal, dim: $dim:expr,
        init: |$seed:ident| $init:expr, optimizer: $optimizer:expr,
        tensors: $tensors:expr, features: $features:expr, horizon: $horizon:expr;)*) => {
        /// A family of learned optimizers, named as on the command line and in configs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum LearnedKind {
            $($(#[doc = $doc])* #[serde(rename = $name)] $kind,)*
        }

        impl LearnedKind {
            /// Every kind, in the order they are listed to users.
            pub const ALL: [LearnedKind; [$($name),*].len()] = [$(LearnedKind::$kind),*];

            /// The kind's name, e.g. `mlp-lopt`.
            pub fn name(self) -> &'static str {
                match self { $(LearnedKind::$kind => $name,)* }
            }

            /// Dimension of the kind's theta.
            pub fn theta_dim(self) -> usize {
                match self { $(LearnedKind::$kind => $dim,)* }
            }

            /// A theta for an untrained optimizer of this kind that takes small, sane steps.
            pub fn init_theta(self, seed: u64) -> Vec<f32> {
                match self { $(LearnedKind::$kind => { let $seed = seed; $init })* }
            }

            /// The optimizer of this kind, to be given a theta at every step.
            pub fn optimizer(self) -> Box<dyn LearnedOptimizer> {
                match self { $(LearnedKind::$kind => Box::new($optimizer),)* }
            }

            /// theta as named tensors, in order; they tile theta exactly.
            pub fn tensors(self) -> &'static [ThetaTensor] {
                match self { $(LearnedKind::$kind => &$tensors,)* }
            }

            /// What the inputs of the kind's network are, in the order of its weights' rows.
            pub fn feature_definition(self) -> &'static str {
                match self { $(LearnedKind::$kind => $features,)* }
            }

            /// True when the kind's steps depend on the run length T given to `init_state` (its
            /// learning-rate schedule reads t / T); the others read only t.
            pub fn uses_horizon(self) -> bool {
                match self { $(LearnedKind::$kind => $horizon,)* }
            }
        }
    };
}

learned_kinds! {
    /// The per-parameter MLP (docs/optimizers.md), `mlp-lopt`.
    MlpLopt = "mlp-lopt", dim: mlp_lopt::THETA_DIM,
        init: |seed| MlpLopt::init_theta(seed), optimizer: MlpLopt::default(),
        tensors: mlp_lopt::TENSORS, features: mlp_lopt::FEATURE_DEFINITION, horizon: false;
    /// Adam with learned hyperparameters, `learned-adam`.
    LearnedAdam = "learned-adam", dim: learned_adam::THETA_DIM,
        init: |_seed| LearnedAdam::init_theta(), optimizer: LearnedAdam,
        tensors: learned_adam::TENSORS, features: learned_adam::FEATURE_DEFINITION,
        horizon: false;
    /// The scale-free, horizon-aware per-parameter MLP with a learned schedule, `rel-lopt`.
    RelLopt = "rel-lopt", dim: rel_lopt::THETA_DIM,
        init: |seed| RelLopt::init_theta(seed, Variant::Relative),
        optimizer: RelLopt::new(Variant::Relative),
        tensors: rel_lopt::TENSORS, features: rel_lopt::FEATURE_DEFINITION, horizon: true;
    /// rel-lopt with Adam's direction as a nominal term, `nominal-lopt`.
    NominalLopt = "nominal-lopt", dim: rel_lopt::THETA_DIM,
        init: |seed| RelLopt::init_theta(seed, Variant::Nominal),
        optimizer: RelLopt::new(Variant::Nominal),
        tensors: rel_lopt::TENSORS, features: rel_lopt::FEATURE_DEFINITION, horizon: true;
    /// nominal-lopt with a learned power of each tensor's gradient signal-to-noise ratio as a
    /// gain on its step, `snr-lopt`.
    SnrLopt = "snr-lopt", dim: rel_lopt::SNR_THETA_DIM,
        init: |seed| RelLopt::init_theta(seed, Variant::Snr),
        optimizer: RelLopt::new(Variant::Snr),
        tensors: rel_lopt::SNR_TENSORS, features: rel_lopt::SNR_FEATURE_DEFINITION,
        horizon: true;
    /// snr-lopt with a learned power of the run length T on its learning rate, `horizon-lopt`.
    HorizonLopt = "horizon-lopt", dim: rel_lopt::HORIZON_THETA_DIM,
        init: |seed| RelLopt::init_theta(seed, Variant::Horizon),
        optimizer: RelLopt::new(Variant::Horizon),
        tensors: rel_lopt::HORIZON_TENSORS, features: rel_lopt::HORIZON_FEATURE_DEFINITION,
        horizon: true;
    /// snr-lopt with a learned controller of its learning rate driven by the trend of the log
    /// loss, `trend-lopt`.
    TrendLopt = "trend-lopt", dim: rel_lopt::TREND_THETA_DIM,
        init: |seed| RelLopt::init_theta(seed, Variant::Trend),
        optimizer: RelLopt::new(Variant::Trend),
        tensors: rel_lopt::TREND_TENSORS, features: rel_lopt::TREND_FEATURE_DEFINITION,
        horizon: true;
}

impl LearnedKind {
    /// All names, comma-separated.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The optimizer of this kind with meta-parameters `theta`.
    pub fn build(self, theta: Vec<f32>) -> Result<WithTheta, LearnedError> {
        let expected = self.theta_dim();
        if theta.len() != expected {
            return Err(LearnedError::ThetaDim { kind: self, expected, found: theta.len() });
        }
        Ok(WithTheta::new(self.optimizer(), theta))
    }
}

impl fmt::Display for LearnedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LearnedKind {
    type Err = LearnedError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| LearnedError::UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, Tensors};
    use pesto_tasks::ParamLayout;

    #[test]
    fn every_kinds_tensors_tile_theta_exactly() {
        for kind in LearnedKind::ALL {
            let mut next = 0;
            for tensor in kind.tensors() {
                assert_eq!(tensor.offset, next, "{kind} {}", tensor.name);
                next += tensor.size();
            }
            assert_eq!(next, kind.theta_dim(), "{kind}");
            let names: std::collections::HashSet<_> =
                kind.tensors().iter().map(|t| t.name).collect();
            assert_eq!(names.len(), kind.tensors().len(), "{kind}: duplicate names");
        }
        let theta: Vec<f32> = (0..rel_lopt::THETA_DIM).map(|i| i as f32).collect();
        let net = rel_lopt::TENSORS;
        assert_eq!(net[6].values(&theta), [rel_lopt::LOG_LR as f32]);
        assert_eq!(net[10].values(&theta).first(), Some(&(rel_lopt::VS as f32)));
        assert_eq!(mlp_lopt::TENSORS[4].offset, mlp_lopt::W3);
    }

    #[test]
    fn every_kind_builds_steps_and_stays_finite() {
        let mut layout = ParamLayout::new();
        layout.push("w", &[6, 5]);
        layout.push("b", &[5]);
        for kind in LearnedKind::ALL {
            let opt = kind.build(kind.init_theta(3)).unwrap();
            assert_eq!(kind.optimizer().theta_dim(), kind.theta_dim());
            assert_eq!(opt.theta(), kind.init_theta(3).as_slice());
            let mut state = opt.init_state(&layout, 100);
            let mut params = vec![0.5f32; layout.len()];
            let grad: Vec<f32> = (1..=layout.len()).map(|i| (i as f32).sin()).collect();
            for _ in 0..20 {
                opt.step(&mut state, &layout, &mut params, &grad, 1.0);
            }
            assert_eq!(state.step, 20);
            assert!(params.iter().all(|p| p.is_finite() && *p != 0.5), "{kind}: {params:?}");
        }
    }

    /// `steps` updates of `kind` (theta from seed 3) over `layout` for a run of `horizon`, from
    /// parameters 0.5 with one tensor at zero, given flat or tensor by tensor.
    fn run(kind: LearnedKind, layout: &ParamLayout, horizon: u64, split: bool) -> Vec<f32> {
        let opt = kind.build(kind.init_theta(3)).unwrap();
        let mut state = opt.init_state(layout, horizon);
        let mut params = vec![0.5f32; layout.len()];
        params[layout.tensors()[1].range()].fill(0.0);
        let grad: Vec<f32> = (1..=layout.len()).map(|i| (i as f32).sin()).collect();
        for step in 0..20 {
            let loss = 1.0 / (1.0 + step as f32);
            if split {
                let mut rest = params.as_mut_slice();
                let mut tensors = Vec::new();
                for tensor in layout.tensors() {
                    let (head, tail) = rest.split_at_mut(tensor.len());
                    tensors.push(head);
                    rest = tail;
                }
                let grads: Vec<&[f32]> =
                    layout.tensors().iter().map(|t| &grad[t.range()]).collect();
                let split = Tensors::Split { params: &mut tensors, grad: &grads };
                opt.step_tensors(&mut state, layout, split, loss);
            } else {
                opt.step(&mut state, layout, &mut params, &grad, loss);
            }
        }
        params
    }

    #[test]
    fn tensors_given_one_slice_each_step_like_the_flat_vector() {
        let layout = crate::optim::test_support::odd_layout();
        for kind in LearnedKind::ALL {
            let flat = run(kind, &layout, 100, false);
            assert_eq!(run(kind, &layout, 100, true), flat, "{kind}");
        }
    }

    #[test]
    fn only_the_kinds_that_say_so_depend_on_the_horizon() {
        let layout = crate::optim::test_support::odd_layout();
        for kind in LearnedKind::ALL {
            let differ = run(kind, &layout, 20, false) != run(kind, &layout, 1000, false);
            assert_eq!(differ, kind.uses_horizon(), "{kind}");
        }
    }

    #[test]
    fn names_parse_serialise_and_round_trip() {
        for kind in LearnedKind::ALL {
            assert_eq!(kind.to_string().parse::<LearnedKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<LearnedKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn bad_names_and_dimensions_are_errors() {
        let err = "mlp".parse::<LearnedKind>().unwrap_err().to_string();
        let valid = LearnedKind::ALL.map(LearnedKind::name).join(", ");
        assert_eq!(err, format!("unknown learned optimizer `mlp`; valid: {valid}"));
        assert!(err.starts_with(
            "unknown learned optimizer `mlp`; valid: mlp-lopt, learned-adam, rel-lopt, nominal-lopt, \
             snr-lopt"
        ));
        let err = LearnedKind::LearnedAdam.build(vec![0.0; 5]).err().unwrap();
        assert_eq!(err.to_string(), "theta of learned-adam must have 4 values, found 5");
    }
}
