//! The throughput benchmark of docs/benchmark.md, run through the same `MetaTrainer` as
//! meta-training.

use super::{MetaTrainConfig, MetaTrainer, RunError};
use crate::distributed;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Outer steps run before timing starts.
pub const WARMUP_STEPS: u64 = 5;

/// What `pesto bench` reports.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Worker threads of the rayon pool.
    pub threads: usize,
    /// Timed outer steps (after the warm-up).
    pub outer_steps: u64,
    /// Inner steps of all particles per second over the timed steps.
    pub inner_steps_per_sec: f64,
    /// Outer steps per second over the timed steps.
    pub outer_steps_per_sec: f64,
    /// Seconds from the start of the benchmark to the end of the first outer step.
    pub first_step_secs: f64,
    /// Peak resident memory of the process in MiB, where the OS reports it.
    pub peak_rss_mib: Option<f64>,
    /// Processes the particles are spread over (docs/cluster.md).
    pub processes: usize,
    /// Seconds per timed outer step this process spent in collectives (0 in one process).
    pub communication_secs_per_step: f64,
}

/// Runs `WARMUP_STEPS + steps` outer steps of `config` and measures the last `steps`.
pub fn bench(config: MetaTrainConfig, steps: u64) -> Result<BenchReport, RunError> {
    let started = Instant::now();
    let mut trainer = MetaTrainer::new(config, Path::new("."))?;
    trainer.step();
    let first_step_secs = started.elapsed().as_secs_f64();
    for _ in 1..WARMUP_STEPS {
        trainer.step();
    }
    let timed = Instant::now();
    let communicated = distributed::communication_time();
    let mut inner_steps = 0;
    for _ in 0..steps {
        inner_steps += trainer.step().inner_steps;
    }
    let seconds = timed.elapsed().as_secs_f64();
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        outer_steps: steps,
        inner_steps_per_sec: inner_steps as f64 / seconds,
        outer_steps_per_sec: steps as f64 / seconds,
        first_step_secs,
        peak_rss_mib: peak_rss_mib(),
        processes: distributed::size(),
        communication_secs_per_step: (distributed::communication_time() - communicated)
            .as_secs_f64()
            / steps as f64,
    })
}

/// Peak resident set size of this process (VmHWM in /proc/self/status), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference workload's configuration.
    fn benchmark_config() -> MetaTrainConfig {
        let text = include_str!("../../configs/benchmark.toml");
        MetaTrainConfig::parse(text, Path::new("benchmark.toml")).unwrap()
    }

    /// The benchmark with nominal-lopt on the train suite, sampled horizons and rescaled
    /// parameters.
    fn sampled_config() -> MetaTrainConfig {
        let text = include_str!("../../configs/benchmark.toml")
            .replace("kind = \"mlp-lopt\"", "kind = \"nominal-lopt\"")
            .replace(
                "task = \"mlp-synth-64x32x10\"",
                "suite = \"train\"\nhorizon = [20, 200]\nparam_scale = [0.1, 10.0]",
            );
        MetaTrainConfig::parse(&text, Path::new("sampled.toml")).unwrap()
    }

    /// Theta's bits after three outer steps of `config` in a pool of `threads` threads.
    fn theta_after_three_steps(config: MetaTrainConfig, threads: usize) -> Vec<u32> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut trainer = MetaTrainer::new(config, Path::new(".")).unwrap();
            for _ in 0..3 {
                trainer.step();
            }
            trainer.state().theta.iter().map(|t| t.to_bits()).collect()
        })
    }

    #[test]
    fn the_benchmark_gives_the_same_theta_on_one_and_two_threads() {
        for config in [benchmark_config(), sampled_config()] {
            let kind = config.optimizer.kind;
            let one = theta_after_three_steps(config.clone(), 1);
            assert_eq!(one, theta_after_three_steps(config, 2), "{kind}");
            let initial = kind.init_theta(0);
            assert_ne!(one, initial.iter().map(|t| t.to_bits()).collect::<Vec<_>>());
        }
    }
}
