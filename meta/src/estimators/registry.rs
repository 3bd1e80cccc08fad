//! The registry of estimators: a name per kind and one enum that wraps them all, so a run picks
//! its estimator from a string and a checkpoint serialises whichever one it uses.

use super::{Es, Estimate, Estimator, EstimatorConfig, EstimatorError, Nres, Pes, TruncatedEs};
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
}

impl<S: UnrolledSystem> Estimator<S> for AnyEstimator<S> {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
        self.inner().estimate(system, theta, outer_step)
    }
}
