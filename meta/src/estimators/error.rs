//! Errors for bad estimator configurations.

use thiserror::Error;

/// What is wrong with an estimator's configuration.
#[derive(Debug, Error, PartialEq)]
pub enum EstimatorError {
    /// The estimator name is not in the registry.
    #[error("unknown estimator `{name}`; valid estimators: {valid}")]
    UnknownEstimator { name: String, valid: String },
    /// Antithetic pairs need an even, positive number of particles.
    #[error("`particles` must be even and at least 2, got {0}")]
    Particles(usize),
    /// The perturbation scale must be a positive finite number.
    #[error("`sigma` must be positive and finite, got {0}")]
    Sigma(f32),
    /// A truncation must take at least one step.
    #[error("`truncation` (K) must be at least 1, got 0")]
    Truncation,
    /// ARTBP's cut probability must lie strictly between 0 and 1.
    #[error("`cut_probability` must be in (0, 1), got {0}")]
    CutProbability(f64),
    /// The estimator unrolls whole inner problems, which the system does not have.
    #[error("estimator `{0}` needs a finite horizon, but the system's horizon is infinite")]
    InfiniteHorizon(&'static str),
}
