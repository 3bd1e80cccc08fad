//! `pesto meta-train`: meta-train a learned optimizer with PES (or another ES estimator).

use super::UsageError;
use anyhow::Context;
use clap::Args;
use pesto_meta::metatrain::{MetaTrainConfig, MetaTrainer, RunError, checkpoint_dir};
use pesto_meta::observe::{CsvLog, Observers, ProgressBar, TensorBoard};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The config used when `--config` is not given.
const DEFAULT_CONFIG: (&str, &str) = ("quick", include_str!("../../meta/configs/quick.toml"));

/// Arguments of `pesto meta-train`.
#[derive(Debug, Args)]
pub struct MetaTrainArgs {
    /// Meta-training config (TOML); defaults to meta/configs/quick.toml, embedded.
    #[arg(long, conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Run directory: checkpoints, log.csv, TensorBoard events (default checkpoints/CONFIG-NAME).
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its newest good checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Total number of outer steps to reach (overrides the config's `outer_steps`).
    #[arg(long)]
    steps: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `pesto meta-train`.
pub fn run(args: MetaTrainArgs) -> anyhow::Result<()> {
    crate::signals::install().context("installing the stop-signal handlers")?;
    super::set_threads(args.threads)?;
    let (mut trainer, dir) = match &args.resume {
        Some(dir) => {
            let (trainer, resumed) = MetaTrainer::resume(dir)?;
            for skipped in &resumed.skipped {
                eprintln!("warning: skipping damaged checkpoint: {skipped}");
            }
            if resumed.from_config {
                eprintln!(
                    "no checkpoint in {}: starting the run again from outer step 0 with {}",
                    checkpoint_dir(dir).display(),
                    resumed.path.display()
                );
            } else {
                eprintln!(
                    "resuming from {} (outer step {})",
                    resumed.path.display(),
                    trainer.state().step
                );
            }
            (trainer, dir.clone())
        }
        None => {
            let (name, config) = load_config(args.config.as_deref())?;
            let dir = args.out.unwrap_or_else(|| Path::new("checkpoints").join(name));
            let trainer = MetaTrainer::start(config, &dir).map_err(|err| match err {
                RunError::Exists { dir } => UsageError(format!(
                    "{} already holds a run; continue it with `pesto meta-train --resume {0}` or choose another --out",
                    dir.display()
                ))
                .into(),
                err => anyhow::Error::from(err),
            })?;
            (trainer, dir)
        }
    };
    let until = args.steps.unwrap_or(trainer.config().outer_steps);
    let start = trainer.state().step;

    let mut observers = Observers::default();
    observers.push(ProgressBar::new(start, until));
    observers.push(CsvLog::open(&dir.join("log.csv"), start)?);
    observers.push(TensorBoard::open(&dir.join("tensorboard"))?);
    trainer.run(until, &mut observers, &crate::signals::STOP)?;

    // After a SIGHUP the terminal may be gone: a failed print must not turn a clean stop into
    // a panic, so these writes ignore their errors.
    let state = trainer.state();
    if let Some(signal) = crate::signals::received() {
        let _ = writeln!(
            std::io::stderr(),
            "interrupted by {signal}: checkpoint written at outer step {}",
            state.step
        );
    }
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "meta-trained {} outer steps ({} this session); run directory {}",
        state.step,
        state.step - start.min(state.step),
        dir.display()
    );
    let _ = writeln!(out, "resume with: pesto meta-train --resume {}", dir.display());
    Ok(())
}

/// The config at `path`, or the embedded default, with the name used for its run directory.
fn load_config(path: Option<&Path>) -> anyhow::Result<(String, MetaTrainConfig)> {
    Ok(match path {
        Some(path) => {
            let name = path.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
            (name, MetaTrainConfig::load(path)?)
        }
        None => {
            let (name, text) = DEFAULT_CONFIG;
            (name.to_string(), MetaTrainConfig::parse(text, Path::new("meta/configs/quick.toml"))?)
        }
    })
}
