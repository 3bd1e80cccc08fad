//! `pesto repro`: the paper's experiments and estimator diagnostics.

use super::{positive, whole};
use anyhow::Context;
use clap::{Args, Subcommand};
use pesto_meta::estimators::MethodKind;
use pesto_meta::repro::ReproError;
#[cfg(feature = "mujoco")]
use pesto_meta::repro::control::{self, ControlSettings};
use pesto_meta::repro::influence_balancing::{self, InfluenceBalancingSettings};
use pesto_meta::repro::lstm_variance::{self, LstmVarianceSettings};
use pesto_meta::repro::mnist_schedule::{self, MnistScheduleSettings};
use pesto_meta::repro::runner::Storage;
use pesto_meta::repro::table::{self, TableSettings};
use pesto_meta::repro::toy_regression::{self, ToyRegressionSettings};
use pesto_meta::repro::variance::{self, VarianceSettings};
#[cfg(feature = "mujoco")]
use pesto_meta::systems::Swimmer;
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
    /// MNIST learning-rate schedule: PES reaches weak decay, truncated ES stays at strong decay.
    MnistSchedule(MnistScheduleArgs),
    /// Continuous control: MuJoCo Swimmer's linear policy with PES, full ES and truncated ES.
    #[cfg(feature = "mujoco")]
    Control(ControlArgs),
    /// Variance of truncated ES, PES and full ES on a character-level LSTM against K.
    LstmVariance(LstmVarianceArgs),
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
    /// Sets sigma of every method (default: the paper's, per method).
    #[command(flatten)]
    sigma: SigmaArg,
    /// Do not divide each estimate by the standard deviation of its particles' returns.
    #[arg(long)]
    raw_returns: bool,
    /// Swimmer's MuJoCo model (default: Gymnasium's swimmer.xml, found with the Python of
    /// PESTO_PYTHON, else .venv/bin/python, else python3).
    #[arg(long)]
    xml: Option<PathBuf>,
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
    #[command(flatten)]
    sigma: SigmaArg,
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
    #[command(flatten)]
    sigma: SigmaArg,
}

/// The seed option every experiment takes.
#[derive(Debug, Args)]
pub struct SeedArg {
    /// Seed of the experiment's random draws.
    #[arg(long, default_value_t = 0)]
    #[arg(allow_negative_numbers = true, value_parser = whole(0, u64::MAX))]
    seed: u64,
}

/// The perturbation scale every experiment with ES-family methods takes.
#[derive(Debug, Args)]
pub struct SigmaArg {
    /// Standard deviation sigma of the ES-family perturbations (default: the experiment's own,
    /// which its summary.json records).
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    sigma: Option<f32>,
}

impl SigmaArg {
    /// Writes the chosen sigma, if one was given, into `sigma`.
    fn apply(&self, sigma: &mut f32) {
        if let Some(chosen) = self.sigma {
            *sigma = chosen;
        }
    }
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
    #[command(flatten)]
    sigma: SigmaArg,
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
    #[command(flatten)]
    sigma: SigmaArg,
    /// Run the particles in lockstep, as the paper's reference code does: every pair starts at
    /// step 0, all reset together and every truncation is K steps (default: staggered starts).
    #[arg(long)]
    lockstep: bool,
    /// Inner steps RTRL and UORO take per outer step (default: K = 10, like every other
    /// estimator; the paper's reference code takes 1).
    #[arg(long, allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    online_truncation: Option<u64>,
}

/// Options of `pesto repro mnist-schedule`.
#[derive(Debug, Args)]
pub struct MnistScheduleArgs {
    /// Output directory for trajectory.csv, surface.csv, summary.json, mnist_schedule.png and the
    /// methods' runs.
    #[arg(long, default_value = "runs/mnist-schedule")]
    out: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Outer steps per method.
    #[arg(long, default_value_t = MnistScheduleSettings::default().outer_steps)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    steps: u64,
    /// Horizon T of an inner training run (the decay scale D equals it).
    #[arg(long, default_value_t = MnistScheduleSettings::default().horizon)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, 1_000_000))]
    horizon: u64,
    /// Side of the average-pooled images.
    #[arg(long, default_value = "8", value_parser = ["28", "14", "8"])]
    resolution: String,
    /// Particles N of every method (even).
    #[arg(long, default_value_t = MnistScheduleSettings::default().particles as u64)]
    #[arg(allow_negative_numbers = true, value_parser = whole(2, 100_000))]
    particles: u64,
    /// Grid points per axis of the heat map.
    #[arg(long, default_value_t = MnistScheduleSettings::default().grid as u64)]
    #[arg(allow_negative_numbers = true, value_parser = whole(2, 1000))]
    grid: u64,
    /// Training runs averaged in each meta-objective value (grid and trajectories).
    #[arg(long, default_value_t = MnistScheduleSettings::default().eval_runs)]
    #[arg(allow_negative_numbers = true, value_parser = whole(1, 1000))]
    eval_runs: u64,
    #[command(flatten)]
    seed: SeedArg,
    #[command(flatten)]
    sigma: SigmaArg,
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
    #[command(flatten)]
    sigma: SigmaArg,
}

/// Runs a `repro` subcommand. A stop signal ends a training experiment after a checkpoint of
/// the method it was running, which `--resume` continues.
pub fn run(command: Repro) -> anyhow::Result<()> {
    let (out, done) = match command {
        Repro::ToyRegression(args) => (args.out.clone(), toy_regression(args)),
        Repro::InfluenceBalancing(args) => (args.out.clone(), influence_balancing(args)),
        Repro::MnistSchedule(args) => (args.out.clone(), mnist_schedule(args)),
        #[cfg(feature = "mujoco")]
        Repro::Control(args) => (args.out.clone(), control(args)),
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
    args.sigma.apply(&mut settings.estimator.sigma);
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
    let mut settings = InfluenceBalancingSettings {
        outer_steps: args.steps,
        seed: args.seed.seed,
        ..Default::default()
    };
    args.sigma.apply(&mut settings.sigma);
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
    let mut settings = ToyRegressionSettings {
        outer_steps: args.steps,
        online_truncation: args.online_truncation,
        ..Default::default()
    };
    settings.estimator.seed = args.seed.seed;
    settings.estimator.stagger = !args.lockstep;
    args.sigma.apply(&mut settings.estimator.sigma);
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

fn mnist_schedule(args: MnistScheduleArgs) -> anyhow::Result<()> {
    crate::signals::install().context("installing the stop-signal handlers")?;
    let mut settings = MnistScheduleSettings {
        outer_steps: args.steps,
        horizon: args.horizon,
        resolution: args.resolution.parse().expect("one of the listed sides"),
        particles: args.particles as usize,
        grid: args.grid as usize,
        eval_runs: args.eval_runs,
        seed: args.seed.seed,
        ..Default::default()
    };
    args.sigma.apply(&mut settings.sigma);
    let (storage, stop) = (args.storage.storage(&args.out), &crate::signals::STOP);
    println!(
        "{:<11} {:>10} {:>10} {:>10} {:>10} {:>15} {:>9}",
        "method", "theta0", "theta1", "init lr", "decay", "meta-objective", "seconds"
    );
    let mut runs = Vec::new();
    for method in &settings.methods {
        let run = mnist_schedule::run(method, &settings, Some(&storage), stop)?;
        let [t0, t1] = run.theta;
        println!(
            "{:<11} {t0:>10.4} {t1:>10.4} {:>10.4} {:>10.4} {:>15.3} {:>9.1}",
            run.label, run.initial_lr, run.decay, run.meta_objective, run.seconds
        );
        runs.push(run);
    }
    let started = std::time::Instant::now();
    let surface = mnist_schedule::surface(&settings);
    let grid_seconds = started.elapsed().as_secs_f64();
    println!("grid of {0} x {0} meta-objectives in {grid_seconds:.1} s", settings.grid);
    mnist_schedule::write_outputs(&storage.dir, &settings, &runs, &surface, grid_seconds)?;
    println!(
        "wrote trajectory.csv, surface.csv, summary.json and mnist_schedule.png to {}",
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
    settings.methods.iter_mut().for_each(|m| args.sigma.apply(&mut m.sigma));
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
    args.sigma.apply(&mut settings.estimator.sigma);
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
    let mut settings = LstmVarianceSettings {
        reps: args.reps as usize,
        start: if args.drawn_sequences { TextStart::Drawn } else { TextStart::Fixed(0) },
        seed: args.seed.seed,
        ..Default::default()
    };
    args.sigma.apply(&mut settings.sigma);
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

    /// The first line of the usage error `pesto repro ARGS` exits with (code 2).
    fn message(args: &[&str]) -> String {
        let err = Cli::try_parse_from([&["pesto", "repro"], args].concat()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        err.to_string().lines().next().unwrap().to_string()
    }

    #[test]
    fn every_experiment_takes_a_seed_and_writes_a_summary() {
        let out = std::env::temp_dir().join(format!("pesto-repro-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let dir = |name: &str| out.join(name).to_str().unwrap().to_string();
        let pesto = |args: &[&str]| run(Cli::parse_from([&["pesto", "repro"], args].concat()));
        let table = ["table", "--steps", "2", "--seed", "3", "--sigma", "0.5", "--json"];
        pesto(&[&table[..], &["--out", &dir("table")]].concat()).unwrap();
        let settings = &json(&out.join("table/summary.json"))["settings"];
        assert_eq!(
            (&settings["estimator"]["seed"], &settings["estimator"]["sigma"]),
            (&3.into(), &0.5.into())
        );
        assert!(out.join("table/table.txt").exists());
        let variance = ["variance", "--reps", "2", "--seed", "4", "--sigma", "0.25"];
        pesto(&[&variance[..], &["--out", &dir("variance")]].concat()).unwrap();
        let settings = &json(&out.join("variance/summary.json"))["settings"];
        assert_eq!(
            (&settings["estimator"]["seed"], &settings["estimator"]["sigma"]),
            (&4.into(), &0.25.into())
        );
        for file in ["variance.csv", "variance.png"] {
            assert!(out.join("variance").join(file).exists(), "{file}");
        }
        let ib = ["influence-balancing", "--steps", "3", "--seed", "5", "--sigma", "0.125"];
        pesto(&[&ib[..], &["--out", &dir("ib")]].concat()).unwrap();
        let settings = &json(&out.join("ib/summary.json"))["settings"];
        assert_eq!((&settings["seed"], &settings["sigma"]), (&5.into(), &0.125.into()));
        let toy = ["toy-regression", "--estimator", "pes", "--steps", "3", "--seed", "6"];
        pesto(&[&toy[..], &["--sigma", "1", "--out", &dir("toy")]].concat()).unwrap();
        let settings = &json(&out.join("toy/summary.json"))["settings"];
        assert_eq!(
            (&settings["estimator"]["seed"], &settings["estimator"]["sigma"]),
            (&6.into(), &1.0.into())
        );
        assert_eq!(
            (&settings["estimator"]["stagger"], &settings["online_truncation"]),
            (&true.into(), &serde_json::Value::Null)
        );
        let toy = ["toy-regression", "--estimator", "uoro", "--steps", "3", "--lockstep"];
        pesto(&[&toy[..], &["--online-truncation", "1", "--out", &dir("toy-ref")]].concat())
            .unwrap();
        let settings = &json(&out.join("toy-ref/summary.json"))["settings"];
        assert_eq!(
            (&settings["estimator"]["stagger"], &settings["online_truncation"]),
            (&false.into(), &1.into())
        );
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn negative_and_out_of_range_numbers_name_the_option_and_the_range() {
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
        assert_eq!(
            message(&["toy-regression", "--seed", "-1"]),
            "error: invalid value '-1' for '--seed <SEED>': expected a whole number of at least 0"
        );
        let experiments = [
            "table",
            "variance",
            "influence-balancing",
            "toy-regression",
            "mnist-schedule",
            "lstm-variance",
        ];
        for experiment in experiments {
            for sigma in ["0", "-0.3", "nan", "inf", "x"] {
                assert_eq!(
                    message(&[experiment, "--sigma", sigma]),
                    format!(
                        "error: invalid value '{sigma}' for '--sigma <SIGMA>': expected a finite number above 0"
                    ),
                    "{experiment}"
                );
            }
        }
        assert_eq!(
            message(&["toy-regression", "--online-truncation", "0"]),
            "error: invalid value '0' for '--online-truncation <ONLINE_TRUNCATION>': expected a whole number of at least 1"
        );
    }

    #[test]
    fn mnist_schedule_runs_small_and_names_a_bad_option_and_its_range() {
        assert_eq!(
            message(&["mnist-schedule", "--resolution", "10"]),
            "error: invalid value '10' for '--resolution <RESOLUTION>'"
        );
        assert_eq!(
            message(&["mnist-schedule", "--horizon", "0"]),
            "error: invalid value '0' for '--horizon <HORIZON>': expected a whole number from 1 to 1000000"
        );
        assert_eq!(
            message(&["mnist-schedule", "--particles", "1"]),
            "error: invalid value '1' for '--particles <PARTICLES>': expected a whole number from 2 to 100000"
        );
        let out = std::env::temp_dir().join(format!("pesto-repro-mnist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let small = ["--horizon", "8", "--steps", "2", "--grid", "2", "--eval-runs", "1"];
        let pesto = |extra: &[&str]| {
            let args = [&["pesto", "repro", "mnist-schedule"], &small[..], extra].concat();
            run(Cli::parse_from([&args[..], &["--out", out.to_str().unwrap()]].concat()))
        };
        let odd = pesto(&["--particles", "3"]).unwrap_err();
        assert_eq!(crate::commands::exit_code(&odd), 2);
        assert!(odd.to_string().contains("particles"), "{odd}");
        let _ = std::fs::remove_dir_all(&out);
        pesto(&["--particles", "2", "--seed", "7"]).unwrap();
        assert_eq!(json(&out.join("summary.json"))["settings"]["seed"], 7);
        assert_eq!(json(&out.join("summary.json"))["runs"].as_array().unwrap().len(), 4);
        assert!(out.join("mnist_schedule.png").exists());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[cfg(feature = "mujoco")]
    #[test]
    fn control_names_bad_options_and_writes_its_outputs() {
        assert_eq!(
            message(&["control", "--seeds", "0"]),
            "error: invalid value '0' for '--seeds <SEEDS>': expected a whole number from 1 to 1000"
        );
        assert_eq!(
            message(&["control", "--env-steps", "0"]),
            "error: invalid value '0' for '--env-steps <ENV_STEPS>': expected a whole number of at least 1"
        );
        assert_eq!(
            message(&["control", "--sigma", "-0.1"]),
            "error: invalid value '-0.1' for '--sigma <SIGMA>': expected a finite number above 0"
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
