//! Reproductions of the paper's experiments (docs/estimators.md) and estimator diagnostics; the
//! CLI only parses their options and prints their results.

pub mod influence_balancing;
pub mod table;
pub mod toy_regression;
pub mod variance;

use crate::estimators::EstimatorError;
use crate::outer::OuterError;
use crate::plot::PlotError;
use std::path::Path;
use thiserror::Error;

/// Why an experiment could not run or write its results.
#[derive(Debug, Error)]
pub enum ReproError {
    /// A bad estimator setting.
    #[error(transparent)]
    Estimator(#[from] EstimatorError),
    /// A bad outer-optimizer setting.
    #[error(transparent)]
    Outer(#[from] OuterError),
    /// A figure could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A result file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ReproError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }

    /// True when the error comes from a bad setting rather than from the environment.
    pub fn is_user_input(&self) -> bool {
        matches!(self, Self::Estimator(_) | Self::Outer(_))
    }
}
