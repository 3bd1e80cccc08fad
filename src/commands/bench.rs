//! `pesto bench`: the reference meta-training workload (meta/configs/benchmark.toml), timed.

use clap::Args;
use pesto_meta::metatrain::{MetaTrainConfig, WARMUP_STEPS, bench};
use pesto_meta::optim::LearnedKind;
use std::path::{Path, PathBuf};

/// The benchmark workload of docs/benchmark.md.
const BENCHMARK: &str = include_str!("../../meta/configs/benchmark.toml");

/// Arguments of `pesto bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A meta-training config to time instead of the reference workload.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Time the workload with this learned optimizer instead of the config's.
    #[arg(long)]
    optimizer: Option<LearnedKind>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed outer steps, after the warm-up.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `pesto bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let (mut config, name) = match &args.config {
        Some(path) => (MetaTrainConfig::load(path)?, path.display().to_string()),
        None => {
            let name = "meta/configs/benchmark.toml";
            (MetaTrainConfig::parse(BENCHMARK, Path::new(name))?, name.to_string())
        }
    };
    if let Some(kind) = args.optimizer {
        config.optimizer.kind = kind;
    }
    let kind = config.optimizer.kind;
    let job = crate::cluster::Job::join();
    let report = job.agree(bench(config, args.steps).map_err(anyhow::Error::from))?;
    if !pesto_meta::distributed::is_root() {
        return Ok(());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("workload {name} with {kind}, {} threads", report.threads);
        println!("  inner steps/s       {:.0}", report.inner_steps_per_sec);
        println!("  outer steps/s       {:.2}", report.outer_steps_per_sec);
        println!("  first outer step    {:.3} s after start", report.first_step_secs);
        match report.peak_rss_mib {
            Some(mib) => println!("  peak resident       {mib:.1} MiB"),
            None => println!("  peak resident       not reported by this OS"),
        }
        println!("  timed {} outer steps after {WARMUP_STEPS} warm-up steps", report.outer_steps);
        if report.processes > 1 {
            let ms = 1e3 * report.communication_secs_per_step;
            let share = 100.0 * report.communication_secs_per_step * report.outer_steps_per_sec;
            println!(
                "  {} processes, {ms:.3} ms ({share:.1}%) of each outer step in communication",
                report.processes
            );
        }
    }
    Ok(())
}
