//! `pesto repro`: the paper's experiments and estimator diagnostics.

use anyhow::Context;
use clap::{Args, Subcommand};
use pesto_meta::estimators::MethodKind;
use pesto_meta::repro::ReproError;
use pesto_meta::repro::influence_balancing::{self, InfluenceBalancingSettings};
use pesto_meta::repro::runner::Storage;
use pesto_meta::repro::table::{self, TableSettings};
use pesto_meta::repro::toy_regression::{self, ToyRegressionSettings};
use pesto_meta::repro::variance::{self, VarianceSettings};
use std::path::PathBuf;

/// Reproduce an experiment of the paper.
#[derive(Debug, Subcommand)]
pub enum Repro {
    /// Toy 2-D regression: meta-learn a learning-rate schedule with every estimator.
    ToyRegression(ToyRegressionArgs),
    /// Variance of the ES-family estimators at equal compute on the toy regression.
    Variance(VarianceArgs),
    /// Influence balancing: truncated methods diverge, PES and RTRL reach theta* = -1/6.
    InfluenceBalancing(InfluenceBalancingArgs),
    /// Every estimator's measured compute and memory, as in the paper's Table 1.
    Table(TableArgs),
}

/// Options of `pesto repro table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Outer steps measured per estimator.
    #[arg(long, default_value_t = TableSettings::default().outer_steps)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
}

/// Where an experiment's methods keep their runs: `OUT/runs/METHOD/` holds each method's
/// `log.csv`, checkpoints and (with `--tensorboard`) TensorBoard events.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Continue the methods' runs in `--out` from their newest checkpoints (after a stop, or to
    /// reach a larger `--steps`).
    #[arg(long)]
    resume: bool,
    /// Outer steps between two checkpoints of a method.
    #[arg(long, default_value_t = 1000)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
    /// Also write TensorBoard events for each method.
    #[arg(long)]
    tensorboard: bool,
}

impl StorageArgs {
    /// The storage these options describe.
    fn storage(&self) -> Storage {
        Storage {
            dir: self.out.clone(),
            resume: self.resume,
            checkpoint_every: self.checkpoint_every,
            tensorboard: self.tensorboard,
        }
    }
}

/// Options of `pesto repro influence-balancing`.
#[derive(Debug, Args)]
pub struct InfluenceBalancingArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Outer steps per method.
    #[arg(long, default_value_t = InfluenceBalancingSettings::default().outer_steps)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
}

/// Options of `pesto repro toy-regression`.
#[derive(Debug, Args)]
pub struct ToyRegressionArgs {
    #[arg(long, default_value = "all", help = estimator_help())]
    estimator: String,
    #[command(flatten)]
    storage: StorageArgs,
    /// Outer steps per estimator.
    #[arg(long, default_value_t = ToyRegressionSettings::default().outer_steps)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
}

/// The help of `--estimator`: every estimator's name, or `all`.
fn estimator_help() -> String {
    let names: Vec<&str> = MethodKind::all().into_iter().map(MethodKind::name).collect();
    format!("Estimator: {} or all", names.join(", "))
}

/// Options of `pesto repro variance`.
#[derive(Debug, Args)]
pub struct VarianceArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Independent samples per estimator.
    #[arg(long, default_value_t = VarianceSettings::default().reps)]
    reps: usize,
}

/// Runs a `repro` subcommand. A stop signal ends a training experiment after a checkpoint of
/// the method it was running, which `--resume` continues.
pub fn run(command: Repro) -> anyhow::Result<()> {
    let (out, done) = match command {
        Repro::ToyRegression(args) => (args.storage.out.clone(), toy_regression(args)),
        Repro::InfluenceBalancing(args) => (args.storage.out.clone(), influence_balancing(args)),
        Repro::Variance(args) => return variance(args),
        Repro::Table(args) => return table(args),
    };
    match done {
        Err(ref err) if let Some(ReproError::Interrupted { label, step }) = err.downcast_ref() => {
            eprintln!(
                "interrupted: {label} stopped at outer step {step} after a checkpoint; continue with the same command and --resume --out {}",
                out.display()
            );
            Ok(())
        }
        done => done,
    }
}

fn table(args: TableArgs) -> anyhow::Result<()> {
    let settings = TableSettings { outer_steps: args.steps, ..Default::default() };
    let rows = table::measure(&settings)?;
    print!("{}", table::to_text(&settings, &rows));
    Ok(())
}

fn influence_balancing(args: InfluenceBalancingArgs) -> anyhow::Result<()> {
    crate::signals::install().context("installing the stop-signal handlers")?;
    let settings = InfluenceBalancingSettings { outer_steps: args.steps, ..Default::default() };
    let (storage, stop) = (args.storage.storage(), &crate::signals::STOP);
    println!("{:<12} {:>10} {:>14} {:>9}", "method", "theta", "eval loss", "seconds");
    let mut runs = Vec::new();
    for method in &settings.methods {
        let run = influence_balancing::run(method, &settings, Some(&storage), stop)?;
        println!("{:<12} {:>10.5} {:>14.6e} {:>9.2}", run.label, run.theta, run.loss, run.seconds);
        runs.push(run);
    }
    influence_balancing::write_outputs(&storage.dir, &settings, &runs)?;
    println!(
        "theta* = -1/6; wrote curves.csv, summary.json and influence_balancing.png to {}",
        storage.dir.display()
    );
    Ok(())
}

fn toy_regression(args: ToyRegressionArgs) -> anyhow::Result<()> {
    let kinds = match args.estimator.as_str() {
        "all" => MethodKind::all(),
        name => vec![name.parse::<MethodKind>().context("--estimator (or `all`)")?],
    };
    crate::signals::install().context("installing the stop-signal handlers")?;
    let settings = ToyRegressionSettings { outer_steps: args.steps, ..Default::default() };
    let (storage, stop) = (args.storage.storage(), &crate::signals::STOP);
    let mut runs = Vec::new();
    println!(
        "{:<12} {:>9} {:>9} {:>15} {:>9}",
        "est", "theta0", "theta1", "meta-objective", "seconds"
    );
    for kind in kinds {
        let run = toy_regression::run(kind, &settings, Some(&storage), stop)?;
        let [t0, t1] = run.theta;
        println!(
            "{kind:<12} {t0:>9.4} {t1:>9.4} {:>15.3} {:>9.2}",
            run.meta_objective, run.seconds
        );
        runs.push(run);
    }
    toy_regression::write_outputs(&storage.dir, &settings, &runs)?;
    println!(
        "wrote trajectory.csv, summary.json and toy_regression.png to {}",
        storage.dir.display()
    );
    Ok(())
}

fn variance(args: VarianceArgs) -> anyhow::Result<()> {
    let settings = VarianceSettings { reps: args.reps, ..Default::default() };
    let rows = variance::toy_regression_variance(&settings)?;
    let [t0, t1] = settings.theta;
    println!(
        "gradient estimates summed over one inner problem at theta = ({t0}, {t1}), {} samples each",
        settings.reps
    );
    println!(
        "{:<6} {:>11} {:>22} {:>22} {:>14}",
        "est", "inner steps", "mean0 +- se", "mean1 +- se", "total var"
    );
    for row in &rows {
        let (m, se) = (&row.moments, row.moments.std_error());
        println!(
            "{:<6} {:>11} {:>22} {:>22} {:>14.4}",
            row.estimator,
            row.inner_steps,
            format!("{:.4} +- {:.4}", m.mean[0], se[0]),
            format!("{:.4} +- {:.4}", m.mean[1], se[1]),
            m.total_variance()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating `{}`", args.out.display()))?;
    let path = args.out.join("variance.csv");
    std::fs::write(&path, variance::to_csv(&rows))
        .with_context(|| format!("writing `{}`", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
