//! Meta-training a learned optimizer: the unrolled system of inner training runs, its
//! configuration, and the outer loop with checkpoints and observers.

mod bench;
mod config;
mod run;
mod sampling;
mod system;

pub use bench::{BenchReport, WARMUP_STEPS, bench, peak_rss_mib};
pub use config::{ConfigError, EstimatorSection, MetaTrainConfig, OptimizerConfig, TasksConfig};
pub use run::{MetaTrainer, Resumed, RunError, RunState, checkpoint_dir};
pub use sampling::{Sampling, ScaleGranularity};
pub use system::{InnerRun, LoptTraining, MetaLoss};

use pesto_tasks::suite::Suite;
use pesto_tasks::{TaskError, TaskSpec};
use std::path::Path;

/// Where inner problems come from: a suite, or one task with a fresh data seed per draw.
#[derive(Clone)]
pub enum TaskSource {
    /// Draw tasks from a suite.
    Suite(Suite),
    /// Always this task, with the draw's seed as its data seed.
    Task(TaskSpec),
}

impl TaskSource {
    /// The source a `[tasks]` section names; an error if the suite or task is invalid.
    pub fn from_config(config: &TasksConfig) -> Result<Self, TaskError> {
        match (&config.suite, &config.task) {
            (Some(suite), _) if Path::new(suite).extension().is_some_and(|e| e == "toml") => {
                Ok(Self::Suite(Suite::from_file(Path::new(suite))?))
            }
            (Some(suite), _) => Ok(Self::Suite(Suite::named(suite)?)),
            (None, Some(task)) => {
                let spec = TaskSpec::parse(task, 0)?;
                pesto_tasks::registry::build(&spec)?;
                Ok(Self::Task(spec))
            }
            (None, None) => Err(TaskError::Syntax {
                spec: String::new(),
                reason: "the [tasks] section needs `suite` or `task`".into(),
            }),
        }
    }

    /// The task of draw `seed`.
    pub fn sample(&self, seed: u64) -> TaskSpec {
        match self {
            Self::Suite(suite) => suite.sample(seed),
            Self::Task(spec) => TaskSpec { seed, ..spec.clone() },
        }
    }
}
