//! The registry of estimators: a name per kind and one enum that wraps them all, so a run picks
//! its estimator from a string and a checkpoint serialises whichever one it uses.

use super::{
    Artbp, Bptt, Es, Estimate, Estimator, EstimatorConfig, EstimatorError, GradientConfig, Nres,
    Pes, PesAnalytic, Reparam, Rtrl, Tbptt, TruncatedEs, Uoro,
};
use crate::differentiable::DifferentiableSystem;
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The name of an estimator in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EstimatorKind {
    /// Full-horizon ES.
    Es,
    /// Truncated ES.
    Tes,
    /// Persistent ES.
    Pes,
    /// Noise-reuse ES.
    Nres,
}

impl EstimatorKind {
    /// Every estimator in the registry.
    pub const ALL: [Self; 4] = [Self::Es, Self::Tes, Self::Pes, Self::Nres];

    /// The estimator's short name, as parsed and printed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::Tes => "tes",
            Self::Pes => "pes",
            Self::Nres => "nres",
        }
    }
}

impl fmt::Display for EstimatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for EstimatorKind {
    type Err = EstimatorError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.name() == name).ok_or_else(|| {
            let valid = Self::ALL.map(Self::name).join(", ");
            EstimatorError::UnknownEstimator { name: name.to_string(), valid }
        })
    }
}

/// Any estimator of the registry, with all of its state; serialising it checkpoints it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "", rename_all = "lowercase")]
pub enum AnyEstimator<S: UnrolledSystem> {
    /// Full-horizon ES.
    Es(Es<S>),
    /// Truncated ES.
    Tes(TruncatedEs<S>),
    /// Persistent ES.
    Pes(Pes<S>),
    /// Noise-reuse ES.
    Nres(Nres<S>),
}

impl<S: UnrolledSystem> AnyEstimator<S> {
    /// The estimator `kind` on `system`; an error if `config` does not suit it.
    pub fn new(
        kind: EstimatorKind,
        config: EstimatorConfig,
        system: &S,
    ) -> Result<Self, EstimatorError> {
        Ok(match kind {
            EstimatorKind::Es => Self::Es(Es::new(config, system)?),
            EstimatorKind::Tes => Self::Tes(TruncatedEs::new(config, system)?),
            EstimatorKind::Pes => Self::Pes(Pes::new(config, system)?),
            EstimatorKind::Nres => Self::Nres(Nres::new(config, system)?),
        })
    }

    /// Which estimator this is.
    pub fn kind(&self) -> EstimatorKind {
        match self {
            Self::Es(_) => EstimatorKind::Es,
            Self::Tes(_) => EstimatorKind::Tes,
            Self::Pes(_) => EstimatorKind::Pes,
            Self::Nres(_) => EstimatorKind::Nres,
        }
    }

    /// The wrapped estimator.
    fn inner(&mut self) -> &mut dyn Estimator<S> {
        match self {
            Self::Es(e) => e,
            Self::Tes(e) => e,
            Self::Pes(e) => e,
            Self::Nres(e) => e,
        }
    }

    /// Why this estimator decoded from a checkpoint cannot be used with `system`, if it cannot.
    pub fn check(&self, system: &S) -> Result<(), String> {
        match self {
            Self::Es(e) => e.check(system),
            Self::Tes(e) => e.check(system),
            Self::Pes(e) => e.check(system),
            Self::Nres(e) => e.check(system),
        }
    }

    /// Floats the estimator holds, counting `state_dim` floats per inner state.
    pub fn held_floats(&self, state_dim: usize) -> usize {
        match self {
            Self::Es(e) => e.held_floats(state_dim),
            Self::Tes(e) => e.held_floats(state_dim),
            Self::Pes(e) => e.held_floats(state_dim),
            Self::Nres(e) => e.held_floats(state_dim),
        }
    }
}

impl<S: UnrolledSystem> Estimator<S> for AnyEstimator<S> {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        self.inner().estimate(system, theta, outer_step)
    }
}

/// The name of a gradient-based estimator: one that needs a `DifferentiableSystem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientKind {
    /// Full-horizon backpropagation through time.
    Bptt,
    /// Truncated BPTT.
    Tbptt,
    /// Anticipated reweighted truncated backpropagation.
    Artbp,
    /// Real-time recurrent learning.
    Rtrl,
    /// Unbiased online recurrent optimization.
    Uoro,
    /// Reparameterisation gradient of the smoothed meta-objective.
    Reparam,
    /// PES + analytic gradient.
    PesAnalytic,
}

impl GradientKind {
    /// Every gradient-based estimator.
    pub const ALL: [Self; 7] = [
        Self::Bptt,
        Self::Tbptt,
        Self::Artbp,
        Self::Rtrl,
        Self::Uoro,
        Self::Reparam,
        Self::PesAnalytic,
    ];

    /// The estimator's short name, as parsed and printed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bptt => "bptt",
            Self::Tbptt => "tbptt",
            Self::Artbp => "artbp",
            Self::Rtrl => "rtrl",
            Self::Uoro => "uoro",
            Self::Reparam => "reparam",
            Self::PesAnalytic => "pes-analytic",
        }
    }
}

/// Any gradient-based estimator, with all of its state; serialising it checkpoints it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "", rename_all = "kebab-case")]
pub enum AnyGradientEstimator<S: DifferentiableSystem> {
    /// Full-horizon BPTT.
    Bptt(Bptt<S>),
    /// Truncated BPTT.
    Tbptt(Tbptt<S>),
    /// ARTBP.
    Artbp(Artbp<S>),
    /// RTRL.
    Rtrl(Rtrl<S>),
    /// UORO.
    Uoro(Uoro<S>),
    /// Reparameterisation gradient.
    Reparam(Reparam<S>),
    /// PES + analytic.
    PesAnalytic(PesAnalytic<S>),
}

impl<S: DifferentiableSystem> AnyGradientEstimator<S> {
    /// The estimator `kind` on `system`; an error if `config` does not suit it.
    pub fn new(
        kind: GradientKind,
        config: GradientConfig,
        system: &S,
    ) -> Result<Self, EstimatorError> {
        Ok(match kind {
            GradientKind::Bptt => Self::Bptt(Bptt::new(config, system)?),
            GradientKind::Tbptt => Self::Tbptt(Tbptt::new(config, system)?),
            GradientKind::Artbp => Self::Artbp(Artbp::new(config, system)?),
            GradientKind::Rtrl => Self::Rtrl(Rtrl::new(config, system)?),
            GradientKind::Uoro => Self::Uoro(Uoro::new(config, system)?),
            GradientKind::Reparam => Self::Reparam(Reparam::new(config, system)?),
            GradientKind::PesAnalytic => Self::PesAnalytic(PesAnalytic::new(config, system)?),
        })
    }

    /// Which estimator this is.
    pub fn kind(&self) -> GradientKind {
        match self {
            Self::Bptt(_) => GradientKind::Bptt,
            Self::Tbptt(_) => GradientKind::Tbptt,
            Self::Artbp(_) => GradientKind::Artbp,
            Self::Rtrl(_) => GradientKind::Rtrl,
            Self::Uoro(_) => GradientKind::Uoro,
            Self::Reparam(_) => GradientKind::Reparam,
            Self::PesAnalytic(_) => GradientKind::PesAnalytic,
        }
    }

    /// The wrapped estimator.
    fn inner(&mut self) -> &mut dyn Estimator<S> {
        match self {
            Self::Bptt(e) => e,
            Self::Tbptt(e) => e,
            Self::Artbp(e) => e,
            Self::Rtrl(e) => e,
            Self::Uoro(e) => e,
            Self::Reparam(e) => e,
            Self::PesAnalytic(e) => e,
        }
    }

    /// Floats the estimator holds, counting `state_dim` floats per inner state.
    pub fn held_floats(&self, state_dim: usize) -> usize {
        match self {
            Self::Bptt(e) => e.held_floats(state_dim),
            Self::Tbptt(e) => e.held_floats(state_dim),
            Self::Artbp(e) => e.held_floats(state_dim),
            Self::Rtrl(e) => e.held_floats(state_dim),
            Self::Uoro(e) => e.held_floats(state_dim),
            Self::Reparam(e) => e.held_floats(state_dim),
            Self::PesAnalytic(e) => e.held_floats(state_dim),
        }
    }
}

impl<S: DifferentiableSystem> Estimator<S> for AnyGradientEstimator<S> {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        self.inner().estimate(system, theta, outer_step)
    }
}

/// Any estimator's name: the ES family (any system) or a gradient-based one (differentiable
/// systems only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MethodKind {
    /// An ES-family estimator.
    Es(EstimatorKind),
    /// A gradient-based estimator.
    Gradient(GradientKind),
}

impl MethodKind {
    /// Every estimator: the ES family, then the gradient-based ones.
    pub fn all() -> Vec<Self> {
        let es = EstimatorKind::ALL.into_iter().map(Self::Es);
        es.chain(GradientKind::ALL.into_iter().map(Self::Gradient)).collect()
    }

    /// The estimator's short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es(kind) => kind.name(),
            Self::Gradient(kind) => kind.name(),
        }
    }

    /// Whether its estimates are unbiased for the (smoothed, for ES) meta-gradient
    /// (docs/estimators.md, costs): all but the truncated methods.
    pub fn unbiased(self) -> bool {
        !matches!(self, Self::Es(EstimatorKind::Tes) | Self::Gradient(GradientKind::Tbptt))
    }

    /// Whether it handles losses without derivatives: the ES family only (docs/estimators.md,
    /// costs).
    pub fn handles_non_differentiable(self) -> bool {
        matches!(self, Self::Es(_))
    }
}

impl From<EstimatorKind> for MethodKind {
    fn from(kind: EstimatorKind) -> Self {
        Self::Es(kind)
    }
}

impl From<GradientKind> for MethodKind {
    fn from(kind: GradientKind) -> Self {
        Self::Gradient(kind)
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for MethodKind {
    type Err = EstimatorError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::all().into_iter().find(|kind| kind.name() == name).ok_or_else(|| {
            let valid = Self::all().iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
            EstimatorError::UnknownEstimator { name: name.to_string(), valid }
        })
    }
}

/// Any estimator on a differentiable system, with all of its state.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "", rename_all = "lowercase")]
pub enum AnyMethod<S: DifferentiableSystem> {
    /// An ES-family estimator.
    Es(AnyEstimator<S>),
    /// A gradient-based estimator.
    Gradient(AnyGradientEstimator<S>),
}

impl<S: DifferentiableSystem> AnyMethod<S> {
    /// The estimator `kind` on `system`: ES-family kinds use `config.estimator`.
    pub fn new(
        kind: MethodKind,
        config: GradientConfig,
        system: &S,
    ) -> Result<Self, EstimatorError> {
        Ok(match kind {
            MethodKind::Es(kind) => Self::Es(AnyEstimator::new(kind, config.estimator, system)?),
            MethodKind::Gradient(kind) => {
                Self::Gradient(AnyGradientEstimator::new(kind, config, system)?)
            }
        })
    }

    /// Which estimator this is.
    pub fn kind(&self) -> MethodKind {
        match self {
            Self::Es(e) => MethodKind::Es(e.kind()),
            Self::Gradient(e) => MethodKind::Gradient(e.kind()),
        }
    }

    /// Floats the estimator holds, counting `state_dim` floats per inner state.
    pub fn held_floats(&self, state_dim: usize) -> usize {
        match self {
            Self::Es(e) => e.held_floats(state_dim),
            Self::Gradient(e) => e.held_floats(state_dim),
        }
    }
}

impl<S: DifferentiableSystem> Estimator<S> for AnyMethod<S> {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        match self {
            Self::Es(e) => e.estimate(system, theta, outer_step),
            Self::Gradient(e) => e.estimate(system, theta, outer_step),
        }
    }
}
