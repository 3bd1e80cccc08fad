//! The registries of estimators, each one table: a row names an estimator and the type that
//! implements it, and the table declares its name enum and the enum that wraps any of its
//! estimators, so a run picks its estimator from a string and a checkpoint serialises whichever
//! one it uses.

use super::particles::Particles;
use super::{
    Artbp, Bptt, Es, Estimate, Estimator, EstimatorConfig, EstimatorError, GradientConfig, Nres,
    Pes, PesAnalytic, Reparam, Rtrl, Tbptt, TruncatedEs, Uoro,
};
use crate::differentiable::DifferentiableSystem;
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An estimator with a row in a registry table, which gives it its name.
pub trait Registered {
    /// The estimator's short name, as parsed, printed and serialised, e.g. `pes`.
    const NAME: &'static str;
}

/// The kind named `name` among `all`, or an error listing every valid name.
fn parse<K: Copy>(
    name: &str,
    all: &[K],
    name_of: impl Fn(K) -> &'static str,
) -> Result<K, EstimatorError> {
    all.iter().copied().find(|&kind| name_of(kind) == name).ok_or_else(|| {
        let valid = all.iter().map(|&kind| name_of(kind)).collect::<Vec<_>>().join(", ");
        EstimatorError::UnknownEstimator { name: name.to_string(), valid }
    })
}

/// Implements `Estimator` for an enum of estimators by handing every call to the one it holds.
macro_rules! delegate_estimator {
    ($any:ident<S: $bound:path> { $($variant:ident),* }) => {
        impl<S: $bound> Estimator<S> for $any<S> {
            fn name(&self) -> &'static str {
                match self { $(Self::$variant(e) => e.name(),)* }
            }

            fn estimate(&mut self, system: &S, theta: &[f32], outer_step: u64) -> Estimate {
                match self { $(Self::$variant(e) => e.estimate(system, theta, outer_step),)* }
            }

            fn held_floats(&self, state_dim: usize) -> usize {
                match self { $(Self::$variant(e) => e.held_floats(state_dim),)* }
            }

            fn check(&self, system: &S) -> Result<(), String> {
                match self { $(Self::$variant(e) => e.check(system),)* }
            }

            fn gather(&mut self) {
                match self { $(Self::$variant(e) => e.gather(),)* }
            }
        }
    };
}

/// Declares a registry from one table: a name enum `$kind`, an enum `$any` holding any of the
/// estimators, each built by `new($config, system)`, and each estimator's `Registered::NAME`.
/// Each row is a variant, its name and its estimator type; the rows' order is the order names
/// are listed in and the variant index a checkpoint stores, so new rows go at the end.
macro_rules! registry {
    ($(#[doc = $kind_doc:literal])* $kind:ident;
     $(#[doc = $any_doc:literal])* $any:ident<S: $bound:path>($config:ty) {
        $($(#[doc = $doc:literal])* $variant:ident = $name:literal => $estimator:ident,)*
    }) => {
        $(#[doc = $kind_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $kind {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)*
        }

        impl $kind {
            /// Every estimator of this registry, in the order they are listed to users.
            pub const ALL: [Self; [$($name),*].len()] = [$(Self::$variant),*];

            /// The estimator's short name, as parsed and printed.
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }
        }

        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.name())
            }
        }

        impl FromStr for $kind {
            type Err = EstimatorError;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                parse(name, &Self::ALL, Self::name)
            }
        }

        $(impl<S: $bound> Registered for $estimator<S> {
            const NAME: &'static str = $name;
        })*

        $(#[doc = $any_doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(bound = "")]
        pub enum $any<S: $bound> {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($estimator<S>),)*
        }

        impl<S: $bound> $any<S> {
            /// The estimator `kind` on `system`; an error if `config` does not suit it.
            pub fn new(kind: $kind, config: $config, system: &S) -> Result<Self, EstimatorError> {
                Ok(match kind {
                    $($kind::$variant => Self::$variant($estimator::new(config, system)?),)*
                })
            }

            /// Which estimator this is.
            pub fn kind(&self) -> $kind {
                match self { $(Self::$variant(_) => $kind::$variant,)* }
            }
        }

        delegate_estimator!($any<S: $bound> { $($variant),* });
    };
}

registry! {
    /// The name of an estimator of the ES family, which runs on any system.
    EstimatorKind;
    /// Any estimator of the ES family, with all of its state; serialising it checkpoints it.
    AnyEstimator<S: UnrolledSystem>(EstimatorConfig) {
        /// Full-horizon ES.
        Es = "es" => Es,
        /// Truncated ES.
        Tes = "tes" => TruncatedEs,
        /// Persistent ES.
        Pes = "pes" => Pes,
        /// Noise-reuse ES.
        Nres = "nres" => Nres,
    }
}

impl<S: UnrolledSystem> AnyEstimator<S> {
    /// The estimator's particles (every ES-family estimator has them), for checkpoints written
    /// in shards.
    pub(crate) fn particles_mut(&mut self) -> &mut Particles<S> {
        match self {
            Self::Es(e) => &mut e.particles,
            Self::Tes(e) => &mut e.particles,
            Self::Pes(e) => &mut e.particles,
            Self::Nres(e) => &mut e.particles,
        }
    }
}

registry! {
    /// The name of a gradient-based estimator: one that needs a `DifferentiableSystem`.
    GradientKind;
    /// Any gradient-based estimator, with all of its state; serialising it checkpoints it.
    AnyGradientEstimator<S: DifferentiableSystem>(GradientConfig) {
        /// Full-horizon backpropagation through time.
        Bptt = "bptt" => Bptt,
        /// Truncated BPTT.
        Tbptt = "tbptt" => Tbptt,
        /// Anticipated reweighted truncated backpropagation.
        Artbp = "artbp" => Artbp,
        /// Real-time recurrent learning.
        Rtrl = "rtrl" => Rtrl,
        /// Unbiased online recurrent optimization.
        Uoro = "uoro" => Uoro,
        /// Reparameterisation gradient of the smoothed meta-objective.
        Reparam = "reparam" => Reparam,
        /// PES + analytic gradient.
        PesAnalytic = "pes-analytic" => PesAnalytic,
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
        parse(name, &Self::all(), Self::name)
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
}

delegate_estimator!(AnyMethod<S: DifferentiableSystem> { Es, Gradient });
