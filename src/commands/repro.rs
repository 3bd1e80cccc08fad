//! `pesto repro`: the paper's experiments and estimator diagnostics.

use super::whole;
use anyhow::Context;
use clap::{Args, Subcommand};
use pesto_meta::estimators::MethodKind;
use pesto_meta::repro::ReproError;
#[cfg(feature = "mujoco")]
use pesto_meta::repro::control::{self, ControlSettings};
use pesto_meta::repro::influence_balancing::{self, InfluenceBalancingSettings};
use pesto_meta::repro::runner::Storage;
use pesto_meta::repro::table::{self, TableSettings};
use pesto_meta::repro::toy_regression::{self, ToyRegressionSettings};
use pesto_meta::repro::variance::{self, VarianceSettings};
#[cfg(feature = "mujoco")]
use pesto_meta::systems::Swimmer;
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
    /// Continuous control: MuJoCo Swimmer's linear policy with PES, full ES and truncated ES.
    #[cfg(feature = "mujoco")]
    Control(ControlArgs),
}

/// Options of `pesto repro control`.
#[cfg(feature = "mujoco")]
#[derive(Debug, Args)]
pub struct ControlArgs {
    /// Output directory for curves.csv, summary.json, control.png and the methods' runs.
    #[arg(long, default_value = "runs/control")]
    out: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Environment steps each method consumes per seed, all particles together.
    #[arg(long, default_value_t = ControlSettings::default().env_steps)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    env_steps: u64,
    /// First seed; the methods run with seeds SEED, SEED + 1, ...
    #[command(flatten)]
    seed: SeedArg,
    /// Seeds per method.
    #[arg(long, default_value_t = ControlSettings::default().seeds)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, 1000))]
    seeds: u64,
    /// Perturbation scale sigma of every method (default: the paper's per method).
    #[arg(long, allow_negative_numbers = true, value_parser = super::train::positive)]
    sigma: Option<f32>,
    /// Do not divide each estimate by the standard deviation of its particles' returns.
    #[arg(long)]
    raw_returns: bool,
    /// Swimmer's MuJoCo model (default: Gymnasium's swimmer.xml, found with the Python of
    /// PESTO_PYTHON, else .venv/bin/python, else python3).
    #[arg(long)]
    xml: Option<PathBuf>,
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
        #[cfg(feature = "mujoco")]
        Repro::Control(args) => (args.out.clone(), control(args)),
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

#[cfg(feature = "mujoco")]
fn control(args: ControlArgs) -> anyhow::Result<()> {
    let xml = match args.xml {
        Some(xml) => xml,
        None => {
            let venv = Path::new(".venv/bin/python");
            let python = std::env::var_os("PESTO_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
                if venv.exists() { venv.to_path_buf() } else { PathBuf::from("python3") }
            });
            Swimmer::gymnasium_xml(&python).map_err(ReproError::Swimmer)?
        }
    };
    crate::signals::install().context("installing the stop-signal handlers")?;
    let mut settings = ControlSettings {
        env_steps: args.env_steps,
        seed: args.seed.seed,
        seeds: args.seeds,
        normalize: !args.raw_returns,
        ..Default::default()
    };
    if let Some(sigma) = args.sigma {
        settings.methods.iter_mut().for_each(|m| m.sigma = sigma);
    }
    let (storage, stop) = (args.storage.storage(&args.out), &crate::signals::STOP);
    println!("{:<10} {:>5} {:>13} {:>9}", "method", "seed", "final return", "seconds");
    let mut runs = Vec::new();
    for method in &settings.methods {
        for seed in settings.seed..settings.seed + settings.seeds {
            let run = control::run(method, &settings, seed, &xml, Some(&storage), stop)?;
            println!("{:<10} {seed:>5} {:>13.2} {:>9.2}", run.label, run.final_return, run.seconds);
            runs.push(run);
        }
    }
    control::write_outputs(&storage.dir, &settings, &xml, &runs)?;
    for r in control::final_returns(&runs) {
        println!(
            "{:<10} final return {:.1} +- {:.1} over {} seeds",
            r.label, r.mean, r.sd, r.seeds
        );
    }
    println!("wrote curves.csv, summary.json and control.png to {}", storage.dir.display());
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
            message(&["toy-regression", "--seed", "-1"]),
            "error: invalid value '-1' for '--seed <SEED>': expected a whole number of at least 0"
        );
    }

    #[cfg(feature = "mujoco")]
    #[test]
    fn control_names_bad_options_and_writes_its_outputs() {
        let message = |args: &[&str]| {
            let err = Cli::try_parse_from([&["pesto", "repro", "control"], args].concat());
            err.unwrap_err().to_string().lines().next().unwrap().to_string()
        };
        assert_eq!(
            message(&["--seeds", "0"]),
            "error: invalid value '0' for '--seeds <SEEDS>': expected a whole number from 1 to 1000"
        );
        assert_eq!(
            message(&["--env-steps", "0"]),
            "error: invalid value '0' for '--env-steps <ENV_STEPS>': expected a whole number of at least 1"
        );
        assert_eq!(
            message(&["--sigma", "-0.1"]),
            "error: invalid value '-0.1' for '--sigma <SIGMA>': `-0.1` is not a positive number"
        );
        let out = std::env::temp_dir().join(format!("pesto-control-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let pesto = |args: &[&str]| {
            let args = [&["pesto", "repro", "control", "--out", out.to_str().unwrap()], args];
            run(Cli::parse_from(args.concat()))
        };
        let err = pesto(&["--xml", "/nonexistent/swimmer.xml"]).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/swimmer.xml: "), "{err}");
        assert_eq!(crate::commands::exit_code(&err), 2);
        pesto(&["--env-steps", "2000", "--seeds", "1", "--seed", "7"]).unwrap();
        assert_eq!(json(&out.join("summary.json"))["settings"]["seed"], 7);
        for file in ["curves.csv", "control.png"] {
            assert!(out.join(file).exists(), "{file}");
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}
