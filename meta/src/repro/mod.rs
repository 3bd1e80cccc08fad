//! Reproductions of the paper's experiments (docs/estimators.md) and estimator diagnostics; the
//! CLI only parses their options and prints their results.

#[cfg(feature = "mujoco")]
pub mod control;
pub mod influence_balancing;
pub mod lstm_variance;
pub mod mnist_schedule;
pub mod runner;
pub mod table;
pub mod toy_regression;
pub mod variance;

use crate::checkpoint::CheckpointError;
use crate::estimators::EstimatorError;
use crate::metatrain::LockError;
use crate::outer::OuterError;
use crate::plot::PlotError;
use crate::trainer::TrainError;
use serde::Serialize;
use std::path::{Path, PathBuf};
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
    /// The outer loop stopped on an error (a log or checkpoint write, a diverged run).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A method's checkpoints could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Another process runs a method in the same directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A method's directory already holds a run and `resume` was not asked for.
    #[error("{} already holds a run; continue it with --resume or choose another --out", dir.display())]
    Exists {
        /// The method's directory.
        dir: PathBuf,
    },
    /// The run was stopped (a signal) before its last outer step, after a checkpoint.
    #[error("{label} stopped at outer step {step}")]
    Interrupted {
        /// The method's label.
        label: String,
        /// Outer steps completed.
        step: u64,
    },
    /// The Swimmer's model file could not be found or loaded.
    #[error("{0}")]
    Swimmer(String),
    /// A result file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A method's legend label: the estimator's name in capitals and its truncation, e.g.
/// `PES K=100`.
pub(crate) fn method_label(name: &str, truncation: u64) -> String {
    format!("{} K={truncation}", name.to_uppercase())
}

/// Writes `contents` to `dir/name`, creating `dir` if needed.
pub(crate) fn write_file(
    dir: &Path,
    name: &str,
    contents: impl AsRef<[u8]>,
) -> Result<(), ReproError> {
    std::fs::create_dir_all(dir).map_err(|e| ReproError::io(dir, e))?;
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|e| ReproError::io(&path, e))
}

/// `summary` as pretty JSON, as an experiment's `summary.json` holds it.
pub(crate) fn summary_json(summary: &impl Serialize) -> String {
    serde_json::to_string_pretty(summary).expect("the summary serialises")
}

impl ReproError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }

    /// True when the error comes from a bad setting rather than from the environment.
    pub fn is_user_input(&self) -> bool {
        match self {
            Self::Estimator(_) | Self::Outer(_) | Self::Exists { .. } | Self::Swimmer(_) => true,
            Self::Checkpoint(err) => err.is_user_input(),
            Self::Lock(err) => matches!(err, LockError::Held { .. }),
            _ => false,
        }
    }
}
