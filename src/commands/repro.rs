//! `pesto repro`: the paper's experiments and estimator diagnostics.

use super::whole;
use anyhow::Context;
use clap::{Args, Subcommand};
use pesto_meta::estimators::MethodKind;
use pesto_meta::repro::ReproError;
use pesto_meta::repro::influence_balancing::{self, InfluenceBalancingSettings};
use pesto_meta::repro::lstm_variance::{self, LstmVarianceSettings};
use pesto_meta::repro::runner::Storage;
use pesto_meta::repro::table::{self, TableSettings};
use pesto_meta::repro::toy_regression::{self, ToyRegressionSettings};
use pesto_meta::repro::variance::{self, VarianceSettings};
use pesto_meta::systems::TextStart;
use std::path::{Path, PathBuf};

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
    /// Variance of truncated ES, PES and full ES on a character-level LSTM against K.
    LstmVariance(LstmVarianceArgs),
}

/// Options of `pesto repro lstm-variance`.
#[derive(Debug, Args)]
pub struct LstmVarianceArgs {
    /// Output directory for variance.csv, summary.json and lstm_variance.png.
    #[arg(long, default_value = "runs/lstm-variance")]
    out: PathBuf,
    /// Independent samples per estimator and truncation length.
    #[arg(long, default_value_t = LstmVarianceSettings::default().reps as u64)]
    #[arg(allow_negative_numbers = true, value_parser = whole(2, u64::MAX))]
    reps: u64,
    /// Perturbation scale sigma of every estimator.
    #[arg(long, default_value_t = LstmVarianceSettings::default().sigma)]
    #[arg(allow_negative_numbers = true, value_parser = super::train::positive)]
    sigma: f32,
    /// Start each inner problem at a text position drawn from its seed, instead of reading the
    /// text's first T + 1 characters every time.
    #[arg(long)]
    drawn_sequences: bool,
    #[command(flatten)]
    seed: SeedArg,
}

/// Options of `pesto repro table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Output directory for table.txt and summary.json.
    #[arg(long, default_value = "runs/table")]
    out: PathBuf,
    /// Print the table as JSON (what summary.json holds) instead of text.
    #[arg(long)]
    json: bool,
    /// Outer steps measured per estimator.
    #[arg(long, default_value_t = TableSettings::default().outer_steps)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    steps: u64,
    #[command(flatten)]
    seed: SeedArg,
}

/// The seed option every experiment takes.
#[derive(Debug, Args)]
pub struct SeedArg {
    /// Seed of the experiment's random draws.
    #[arg(long, default_value_t = 0)]
    #[arg(allow_negative_numbers = true, value_parser = whole(0, u64::MAX))]
    seed: u64,
}

/// How an experiment's methods keep their runs: `OUT/runs/METHOD/` holds each method's
/// `log.csv` and checkpoints, `OUT/tensorboard/METHOD/` its TensorBoard events.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Continue the methods' runs in `--out` from their newest checkpoints (after a stop, or to
    /// reach a larger `--steps`).
    #[arg(long)]
    resume: bool,
    /// Outer steps between two checkpoints of a method.
    #[arg(long, default_value_t = 1000)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    checkpoint_every: u64,
    /// Also write TensorBoard events for each method (`tensorboard --logdir OUT/tensorboard`).
    #[arg(long)]
    tensorboard: bool,
}

impl StorageArgs {
    /// The storage these options describe, in `out`.
    fn storage(&self, out: &Path) -> Storage {
        Storage {
            dir: out.to_path_buf(),
            resume: self.resume,
            checkpoint_every: self.checkpoint_every,
            tensorboard: self.tensorboard,
        }
    }
}

/// Options of `pesto repro influence-balancing`.
#[derive(Debug, Args)]
pub struct InfluenceBalancingArgs {
    /// Output directory for curves.csv, summary.json, influence_balancing.png and the methods'
    /// runs.
    #[arg(long, default_value = "runs/influence-balancing")]
    out: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Outer steps per method.
    #[arg(long, default_value_t = InfluenceBalancingSettings::default().outer_steps)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    steps: u64,
    #[command(flatten)]
    seed: SeedArg,
}

/// Options of `pesto repro toy-regression`.
#[derive(Debug, Args)]
pub struct ToyRegressionArgs {
    #[arg(long, default_value = "all", help = estimator_help())]
    estimator: String,
    /// Output directory for trajectory.csv, summary.json, toy_regression.png and the
    /// estimators' runs.
    #[arg(long, default_value = "runs/toy-regression")]
    out: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Outer steps per estimator.
    #[arg(long, default_value_t = ToyRegressionSettings::default().outer_steps)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    steps: u64,
    #[command(flatten)]
    seed: SeedArg,
}

/// The help of `--estimator`: every estimator's name, or `all`.
fn estimator_help() -> String {
    let names: Vec<&str> = MethodKind::all().into_iter().map(MethodKind::name).collect();
    format!("Estimator: {} or all", names.join(", "))
}

/// Options of `pesto repro variance`.
#[derive(Debug, Args)]
pub struct VarianceArgs {
    /// Output directory for variance.csv, summary.json and variance.png.
    #[arg(long, default_value = "runs/variance")]
    out: PathBuf,
    /// Independent samples per estimator.
    #[arg(long, default_value_t = VarianceSettings::default().reps as u64)]
    #[arg(allow_negative_numbers = true, value_parser = whole(2, u64::MAX))]
    reps: u64,
    #[command(flatten)]
    seed: SeedArg,
}

/// Runs a `repro` subcommand. A stop signal ends a training experiment after a checkpoint of
/// the method it was running, which `--resume` continues.
pub fn run(command: Repro) -> anyhow::Result<()> {
    let (out, done) = match command {
        Repro::ToyRegression(args) => (args.out.clone(), toy_regression(args)),
        Repro::InfluenceBalancing(args) => (args.out.clone(), influence_balancing(args)),
        Repro::Variance(args) => return variance(args),
        Repro::Table(args) => return table(args),
        Repro::LstmVariance(args) => return lstm_variance(args),
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
    let mut settings = TableSettings { outer_steps: args.steps, ..Default::default() };
    settings.estimator.seed = args.seed.seed;
    let rows = table::measure(&settings)?;
    table::write_outputs(&args.out, &settings, &rows)?;
    if args.json {
        println!("{}", table::to_json(&settings, &rows));
        eprintln!("wrote table.txt and summary.json to {}", args.out.display());
    } else {
        print!("{}", table::to_text(&settings, &rows));
        println!("wrote table.txt and summary.json to {}", args.out.display());
    }
    Ok(())
}

fn influence_balancing(args: InfluenceBalancingArgs) -> anyhow::Result<()> {
    crate::signals::install().context("installing the stop-signal handlers")?;
    let settings = InfluenceBalancingSettings {
        outer_steps: args.steps,
        seed: args.seed.seed,
        ..Default::default()
    };
    let (storage, stop) = (args.storage.storage(&args.out), &crate::signals::STOP);
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
    let mut settings = ToyRegressionSettings { outer_steps: args.steps, ..Default::default() };
    settings.estimator.seed = args.seed.seed;
    let (storage, stop) = (args.storage.storage(&args.out), &crate::signals::STOP);
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
    let mut settings = VarianceSettings { reps: args.reps as usize, ..Default::default() };
    settings.estimator.seed = args.seed.seed;
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
    variance::write_outputs(&args.out, &settings, &rows)?;
    println!("wrote variance.csv, summary.json and variance.png to {}", args.out.display());
    Ok(())
}

fn lstm_variance(args: LstmVarianceArgs) -> anyhow::Result<()> {
    let settings = LstmVarianceSettings {
        reps: args.reps as usize,
        sigma: args.sigma,
        start: if args.drawn_sequences { TextStart::Drawn } else { TextStart::Fixed(0) },
        seed: args.seed.seed,
        ..Default::default()
    };
    let (truth, rows) = lstm_variance::measure_all(&settings)?;
    println!(
        "gradient estimates summed over one inner problem (T = {}, N = {}, sigma = {}), {} samples each;",
        settings.horizon, settings.particles, settings.sigma, settings.reps
    );
    println!(
        "ground truth: {} full-ES estimates, its own relative variance {:.4}",
        truth.moments.samples, truth.relative_variance
    );
    println!(
        "{:<5} {:>5} {:>7} {:>24} {:>12} {:>12}",
        "est", "K", "unrolls", "E|g-g*|^2/|g*|^2 +- se", "variance", "bias^2"
    );
    for r in &rows {
        println!(
            "{:<5} {:>5} {:>7} {:>24} {:>12.4} {:>12.4}",
            r.estimator,
            r.truncation,
            r.unrolls,
            format!("{:.4} +- {:.4}", r.relative_squared_error, r.relative_squared_error_se),
            r.relative_variance,
            r.relative_squared_bias
        );
    }
    lstm_variance::write_outputs(&args.out, &settings, &truth, &rows)?;
    println!("wrote variance.csv, summary.json and lstm_variance.png to {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::{Cli, run};
    use clap::Parser;
    use std::path::Path;

    fn json(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_experiment_takes_a_seed_and_writes_a_summary() {
        let out = std::env::temp_dir().join(format!("pesto-repro-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let dir = |name: &str| out.join(name).to_str().unwrap().to_string();
        let pesto = |args: &[&str]| run(Cli::parse_from([&["pesto", "repro"], args].concat()));
        pesto(&["table", "--steps", "2", "--seed", "3", "--json", "--out", &dir("table")]).unwrap();
        assert_eq!(json(&out.join("table/summary.json"))["settings"]["estimator"]["seed"], 3);
        assert!(out.join("table/table.txt").exists());
        pesto(&["variance", "--reps", "2", "--seed", "4", "--out", &dir("variance")]).unwrap();
        assert_eq!(json(&out.join("variance/summary.json"))["settings"]["estimator"]["seed"], 4);
        for file in ["variance.csv", "variance.png"] {
            assert!(out.join("variance").join(file).exists(), "{file}");
        }
        let ib = dir("ib");
        pesto(&["influence-balancing", "--steps", "3", "--seed", "5", "--out", &ib]).unwrap();
        assert_eq!(json(&out.join("ib/summary.json"))["settings"]["seed"], 5);
        let toy = dir("toy");
        let args = ["toy-regression", "--estimator", "pes", "--steps", "3", "--seed", "6"];
        pesto(&[&args[..], &["--out", &toy]].concat()).unwrap();
        assert_eq!(json(&out.join("toy/summary.json"))["settings"]["estimator"]["seed"], 6);
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn negative_and_out_of_range_numbers_name_the_option_and_the_range() {
        let message = |args: &[&str]| {
            let err = Cli::try_parse_from([&["pesto", "repro"], args].concat()).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            err.to_string().lines().next().unwrap().to_string()
        };
        assert_eq!(
            message(&["variance", "--reps", "1"]),
            "error: invalid value '1' for '--reps <REPS>': expected a whole number of at least 2"
        );
        assert_eq!(
            message(&["influence-balancing", "--steps", "-3"]),
            "error: invalid value '-3' for '--steps <STEPS>': expected a whole number of at least 1"
        );
        assert_eq!(
            message(&["lstm-variance", "--reps", "0"]),
            "error: invalid value '0' for '--reps <REPS>': expected a whole number of at least 2"
        );
        for sigma in ["0", "-0.1", "nan", "inf", "x"] {
            assert_eq!(
                message(&["lstm-variance", "--sigma", sigma]),
                format!(
                    "error: invalid value '{sigma}' for '--sigma <SIGMA>': `{sigma}` is not a positive number"
                )
            );
        }
        assert_eq!(
            message(&["toy-regression", "--seed", "-1"]),
            "error: invalid value '-1' for '--seed <SEED>': expected a whole number of at least 0"
        );
    }
}
