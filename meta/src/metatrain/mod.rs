//! Meta-training a learned optimizer: the unrolled system of inner training runs, its
//! configuration, and the outer loop with checkpoints and observers.

mod bench;
mod config;
mod lock;
mod memory;
mod overrides;
pub mod provenance;
mod run;
mod sampling;
mod system;

#[cfg(feature = "plot")]
pub use bench::scaling_chart;
pub use bench::{BenchReport, SweepAxis, WARMUP_STEPS, bench, peak_rss_mib};
pub use config::{ConfigError, EstimatorSection, MetaTrainConfig, OptimizerConfig, TasksConfig};
pub use lock::{LOCK_FILE, LockError, RunLock};
pub use run::{
    CONFIG_FILE, MetaTrainer, Resumed, RunError, RunState, checkpoint_dir, checkpoint_files,
    checkpoint_optimizer, decode_run_state, load_checkpoint,
};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::LearnedKind;
    use crate::unrolled::UnrolledSystem;

    #[test]
    fn suite_draws_are_deterministic_and_follow_the_entry_weights() {
        let suite = Suite::named("train").unwrap();
        let source = TaskSource::Suite(suite.clone());
        assert_eq!(source.sample(41), source.sample(41));
        let draws = 6000;
        let total: f64 = suite.entries().iter().map(|e| e.weight).sum();
        for entry in suite.entries() {
            let hits =
                (0..draws).filter(|&s| source.sample(s).family == entry.family.name()).count();
            let p = entry.weight / total;
            let se = (p * (1.0 - p) / draws as f64).sqrt();
            let observed = hits as f64 / draws as f64;
            assert!(
                (observed - p).abs() < 4.0 * se,
                "{}: drawn {observed:.4}, weight share {p:.4} (se {se:.4})",
                entry.family.name()
            );
        }
    }

    #[test]
    fn a_reset_draws_its_horizon_and_scales_from_its_seed() {
        let kind = LearnedKind::NominalLopt;
        let sampling = Sampling {
            horizon: Some([50, 500]),
            param_scale: Some([0.1, 10.0]),
            granularity: ScaleGranularity::Tensor,
        };
        let source = TaskSource::Suite(Suite::named("train").unwrap());
        let system =
            LoptTraining::new(source, kind, kind.init_theta(0)).with_sampling(sampling.clone());
        for seed in 0..20 {
            let (a, b) = (system.init_state(seed, 0), system.init_state(seed, 0));
            assert_eq!((&a.spec, &a.params, &a.scales), (&b.spec, &b.params, &b.scales));
            assert_eq!(Some(a.horizon), sampling.horizon(seed));
            assert_eq!(a.spec.config["steps"], a.horizon.to_string());
            let layout = pesto_tasks::registry::build(&a.spec).unwrap().layout().clone();
            assert_eq!(a.scales, sampling.scales(seed, &layout));
        }
    }
}
