//! `pesto bench`: a meta-training workload timed (the reference one of
//! meta/configs/benchmark.toml by default), or a chart of recorded timings.

use super::UsageError;
use anyhow::Context;
use clap::Args;
use pesto_meta::metatrain::provenance;
use pesto_meta::metatrain::{
    BenchReport, MetaTrainConfig, SweepAxis, WARMUP_STEPS, bench, scaling_chart,
};
use pesto_meta::optim::LearnedKind;
use pesto_tasks::read::{TEXT_CAP, capped_text};
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
    /// Train this task (`FAMILY[:key=value,...]`) instead of the config's tasks.
    #[arg(long)]
    task: Option<String>,
    /// Use this many particles instead of the config's.
    #[arg(long)]
    particles: Option<usize>,
    /// Use this truncation length K instead of the config's.
    #[arg(long)]
    truncation: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed outer steps, after the warm-up.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Instead of timing, draw a log-log chart of the `--json` reports in this file (one a line).
    #[arg(long, requires_all = ["axis", "out"], conflicts_with_all = ["config", "optimizer", "task", "particles", "truncation", "threads", "json"])]
    chart: Option<PathBuf>,
    /// The x axis of `--chart`: params, particles or truncation.
    #[arg(long, requires = "chart")]
    axis: Option<SweepAxis>,
    /// The PNG `--chart` writes.
    #[arg(long, requires = "chart")]
    out: Option<PathBuf>,
}

/// Runs `pesto bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let (Some(results), Some(axis), Some(out)) = (&args.chart, args.axis, &args.out) {
        return chart(results, axis, out);
    }
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
    let overridden = args.task.is_some() || args.particles.is_some() || args.truncation.is_some();
    if let Some(task) = args.task {
        (config.tasks.suite, config.tasks.task) = (None, Some(task));
    }
    config.estimator.particles = args.particles.unwrap_or(config.estimator.particles);
    config.estimator.truncation = args.truncation.unwrap_or(config.estimator.truncation);
    if overridden {
        config.validate(Path::new(&format!("{name} as overridden on the command line")))?;
    }
    let kind = config.optimizer.kind;
    let load = provenance::load_average();
    let job = crate::cluster::Job::join();
    let report = job.agree(bench(config, args.steps).map_err(anyhow::Error::from))?;
    if !pesto_meta::distributed::is_root() {
        return Ok(());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let (n, k) = (report.particles, report.truncation);
        println!("workload {name} with {kind}, {}", super::thread_count(report.threads));
        let load = load.map_or("not reported".to_string(), |l| format!("{l:.2}"));
        println!(
            "  machine             {}, kernel {}, load average {load} (1 min, at start)",
            provenance::cpu_model(),
            provenance::kernel_name()
        );
        println!("  inner steps/s       {:.0}", report.inner_steps_per_sec);
        println!("  outer steps/s       {:.2}", report.outer_steps_per_sec);
        let per_step = report.inner_steps_per_outer_step;
        println!("  inner steps/outer   {per_step:.0} of N x K = {n} x {k}");
        println!("  first outer step    {:.3} s after start", report.first_step_secs);
        match report.peak_rss_mib {
            Some(mib) => println!("  peak resident       {mib:.1} MiB"),
            None => println!("  peak resident       not reported by this OS"),
        }
        println!("  timed {} outer steps after {WARMUP_STEPS} warm-up steps", report.outer_steps);
        if report.processes > 1 {
            let ms = 1e3 * report.communication_secs_per_step;
            let share = 100.0 * report.communication_secs_per_step * report.outer_steps_per_sec;
            let least = 1e3 * report.least_communication_secs_per_step;
            println!(
                "  {} processes, {ms:.3} ms ({share:.1}%) of each outer step in communication on rank 0, {least:.3} ms on the process that waited least",
                report.processes
            );
        }
        if let (Some(alone), Some(efficiency)) =
            (report.single_process_outer_steps_per_sec, report.efficiency)
        {
            println!(
                "  rank 0 alone        {alone:.2} outer steps/s: efficiency T(1) / (R T(R)) {:.0}%",
                100.0 * efficiency
            );
        }
    }
    Ok(())
}

/// Draws the reports of `results` (JSON lines) against `axis` into the PNG `out`.
fn chart(results: &Path, axis: SweepAxis, out: &Path) -> anyhow::Result<()> {
    let shown = results.display();
    let text = capped_text(results, TEXT_CAP).with_context(|| format!("cannot read {shown}"))?;
    let mut reports = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let report: BenchReport = serde_json::from_str(line).map_err(|e| {
            UsageError(format!("{shown} line {}: not a `pesto bench --json` report: {e}", i + 1))
        })?;
        reports.push(report);
    }
    scaling_chart(&reports, axis).write_png(out, 800, 500)?;
    println!("wrote {}", out.display());
    Ok(())
}
