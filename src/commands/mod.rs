//! One module per subcommand.

mod bench;
mod compare;
mod config;
mod eval;
mod export;
mod inspect;
mod meta_train;
mod repro;
mod tasks;
mod train;

use clap::{Parser, Subcommand};
use pesto_meta::metatrain;
use pesto_meta::optim::{OptimizerSource, PRETRAINED_PATH, SavedOptimizer};
use std::io::Write;
use std::path::Path;

/// Meta-train learned optimizers with Persistent Evolution Strategies.
#[derive(Debug, Parser)]
#[command(name = "pesto", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List task families, their keys, and the built-in suites.
    Tasks(tasks::TasksArgs),
    /// Train one task with a hand-designed or learned optimizer and write its loss curve.
    Train(train::TrainArgs),
    /// Meta-train a learned optimizer (PES by default), or resume a run.
    MetaTrain(meta_train::MetaTrainArgs),
    /// Evaluate a learned optimizer against tuned Adam and SGD-momentum on a suite.
    Eval(eval::EvalArgs),
    /// Compare evaluations (e.g. of several meta-training seeds) suite by suite, with medians.
    Compare(compare::CompareArgs),
    /// Time a meta-training workload (the reference one of docs/benchmark.md by default), or chart
    /// recorded timings.
    Bench(bench::BenchArgs),
    /// Reproduce an experiment of the paper.
    #[command(subcommand)]
    Repro(repro::Repro),
    /// Show what an optimizer file, a run checkpoint or a run directory holds.
    Inspect(inspect::InspectArgs),
    /// Write a learned optimizer's theta as named tensors (safetensors or JSON).
    Export(export::ExportArgs),
    /// Show the effective meta-training config with every field's meaning.
    #[command(subcommand)]
    Config(config::Config),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Tasks(args) => tasks::run(args),
        Command::Train(args) => train::run(args),
        Command::MetaTrain(args) => meta_train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Repro(command) => repro::run(command),
        Command::Config(command) => config::run(command),
        Command::Inspect(args) => inspect::run(args),
        Command::Export(args) => export::run(args),
    }
}

/// A command line that asks for something impossible (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Another process of the job failed and printed its error; this one exits with its code
/// without printing.
#[derive(Debug)]
pub struct FailedElsewhere(pub u8);

impl std::fmt::Display for FailedElsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "another process of the job failed (exit code {})", self.0)
    }
}

impl std::error::Error for FailedElsewhere {}

/// The most worker threads `--threads` may ask for.
const MAX_THREADS: usize = 1024;

/// Sizes rayon's global pool; `None` keeps one thread per core.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    match threads {
        Some(0) => return Err(UsageError("--threads must be at least 1".into()).into()),
        Some(n) if n > MAX_THREADS => {
            let message = format!("--threads must be at most {MAX_THREADS}, got {n}");
            return Err(UsageError(message).into());
        }
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?,
        None => {}
    }
    Ok(())
}

/// "1 thread" or "N threads": how many worker threads a command runs on, for its summary line.
pub fn thread_count(n: usize) -> String {
    if n == 1 { "1 thread".to_string() } else { format!("{n} threads") }
}

/// A clap value parser of whole numbers from `min` to `max` that takes a negative number as a
/// number (with `allow_negative_numbers`), so that its error names the valid range.
pub fn whole(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |text| match text.parse::<i128>() {
        Ok(v) if (i128::from(min)..=i128::from(max)).contains(&v) => Ok(v as u64),
        _ if max == u64::MAX => Err(format!("expected a whole number of at least {min}")),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// A clap value parser of finite numbers above zero, so that its error names the valid range.
pub fn positive(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err("expected a finite number above 0".to_string()),
    }
}

/// The learned optimizer at `path` (an optimizer file, a run directory's current optimizer, or
/// a run checkpoint's) with its source; without one, the shipped optimizer: the file at
/// `PRETRAINED_PATH` when it exists under the working directory, else the copy built into pesto.
pub fn learned_optimizer(path: Option<&Path>) -> anyhow::Result<(SavedOptimizer, OptimizerSource)> {
    match path {
        Some(path) => match metatrain::checkpoint_optimizer(path)? {
            Some(found) => Ok(found),
            None => Ok(SavedOptimizer::load_with_source(path)?),
        },
        None if Path::new(PRETRAINED_PATH).exists() => {
            Ok(SavedOptimizer::load_with_source(Path::new(PRETRAINED_PATH))?)
        }
        None => Ok(SavedOptimizer::pretrained_with_source()),
    }
}

/// Prints `err` to stderr in one write, so that a launcher merging the output of several
/// processes keeps its line whole.
pub fn print_error(err: &anyhow::Error) {
    let _ = std::io::stderr().write_all(format!("error: {err:#}\n").as_bytes());
}

/// Exit code for an error: 2 for bad user input (as clap uses for bad arguments), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(FailedElsewhere(code)) = err.downcast_ref() {
        return *code;
    }
    let user_input = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<UsageError>()
            || cause.is::<pesto_tasks::TaskError>()
            || cause.is::<pesto_meta::estimators::EstimatorError>()
            || cause.is::<pesto_meta::outer::OuterError>()
            || cause.is::<pesto_meta::metatrain::ConfigError>()
            || cause.is::<pesto_meta::eval::CompareError>()
            || cause
                .downcast_ref::<pesto_meta::checkpoint::CheckpointError>()
                .is_some_and(|e| e.is_user_input())
            || cause
                .downcast_ref::<pesto_meta::metatrain::RunError>()
                .is_some_and(|e| e.is_user_input())
            || cause
                .downcast_ref::<pesto_meta::repro::ReproError>()
                .is_some_and(|e| e.is_user_input())
    };
    if err.chain().any(user_input) { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thread_count_is_singular_for_one() {
        assert_eq!(super::thread_count(1), "1 thread");
        assert_eq!(super::thread_count(2), "2 threads");
    }
}
