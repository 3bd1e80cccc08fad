//! `pesto eval`: a learned optimizer against tuned Adam and SGD-momentum on a suite.

use super::whole;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pesto_meta::eval::{EvalReport, EvalSettings, Progress, evaluate, table, write_outputs};
use pesto_tasks::suite::Suite;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `pesto eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The learned optimizer: an optimizer file, a meta-training run directory or one of its
    /// checkpoints [default: checkpoints/pretrained/optimizer.bin if it exists here, else the
    /// shipped optimizer built into pesto].
    #[arg(long = "lopt", value_name = "LOPT", alias = "checkpoint")]
    checkpoint: Option<PathBuf>,
    /// Suite to evaluate on: `heldout`, `ood`, `long`, another built-in suite (`pesto tasks` lists
    /// them), or the path of a suite file.
    #[arg(long, default_value = "heldout")]
    suite: String,
    /// Output directory for results.json, curves.csv, summary.png, overview.png and plots/.
    #[arg(long, default_value = "runs/eval")]
    out: PathBuf,
    /// Initialisation seeds per task.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true, value_parser = whole(1, 100))]
    seeds: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `pesto eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let (saved, source) = super::learned_optimizer(args.checkpoint.as_deref())?;
    let suite = if args.suite.ends_with(".toml") {
        Suite::from_file(Path::new(&args.suite))?
    } else {
        Suite::named(&args.suite)?
    };
    let settings = EvalSettings { seeds: args.seeds, ..EvalSettings::default() };
    eprintln!(
        "evaluating {} ({} outer steps) on suite `{}`: {} tasks x {} seeds x (1 + 2 x {} grid points, \
         more where a baseline is best at an end)",
        saved.kind,
        saved.outer_steps,
        suite.name(),
        suite.members().len(),
        settings.seeds,
        settings.lr_grid.len()
    );
    let started = Instant::now();
    let bar = ProgressBar::new(settings.runs(suite.members().len())).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {elapsed} elapsed  ETA {eta}")
            .expect("valid progress template"),
    );
    let report = evaluate(&suite, &saved, &settings, &|progress| match progress {
        Progress::RunDone => bar.inc(1),
        Progress::RunsAdded(runs) => bar.inc_length(runs),
    });
    bar.finish_and_clear();
    let report = EvalReport { optimizer_file: Some(source), ..report? };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_outputs(&report, &args.out)?;
    print!("{}", table(&report));
    println!(
        "{:.1} s; wrote results.json, curves.csv, summary.png, overview.png and plots/ to {}",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::Cli;
    use clap::Parser;

    #[test]
    fn the_optimizer_file_option_is_lopt_as_in_train_and_seeds_name_their_range() {
        for option in ["--lopt", "--checkpoint"] {
            assert!(Cli::try_parse_from(["pesto", "eval", option, "run/optimizer.bin"]).is_ok());
        }
        let err = Cli::try_parse_from(["pesto", "eval", "--seeds", "-1"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string().lines().next().unwrap(),
            "error: invalid value '-1' for '--seeds <SEEDS>': expected a whole number from 1 to 100"
        );
    }
}
