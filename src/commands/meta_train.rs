//! `pesto meta-train`: meta-train a learned optimizer with PES (or another ES estimator).

use super::UsageError;
use crate::cluster::{Job, Watched};
use anyhow::Context;
use clap::Args;
use pesto_meta::distributed;
use pesto_meta::metatrain::provenance::{self, Session};
use pesto_meta::metatrain::{MetaTrainConfig, MetaTrainer, RunError, checkpoint_dir};
use pesto_meta::observe::{CsvLog, CurvesPlot, Observers, ProgressBar, TensorBoard};
use pesto_meta::optim::SAVED_OPTIMIZER_FILE;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
    /// Override a config field, e.g. `--set estimator.sigma=0.02` (repeatable; see
    /// `pesto config show`).
    #[arg(long = "set", value_name = "PATH=VALUE", conflicts_with = "resume")]
    sets: Vec<String>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Write this session's checkpoints in shards: each process the particles it owns, then
    /// rank 0 a manifest (docs/cluster.md). For runs too large to gather on one process; a
    /// run resumes from either layout at any number of processes, to the same bits.
    #[arg(long)]
    checkpoint_shards: bool,
    /// Seconds between two plain progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    progress_every: u64,
}

/// Runs `pesto meta-train`, as the whole run or as one process of an MPI job (rank 0 prints,
/// observes and writes).
pub fn run(args: MetaTrainArgs) -> anyhow::Result<()> {
    crate::signals::install().context("installing the stop-signal handlers")?;
    super::set_threads(args.threads)?;
    let job = Job::join();
    let (trainer, dir) = job.agree(open(&args))?;
    let mut trainer = trainer.with_shards(args.checkpoint_shards);
    let root = distributed::is_root();
    let until = args.steps.unwrap_or(trainer.config().outer_steps);
    let start = trainer.state().step;
    if until <= start {
        if root {
            println!(
                "the run in {} is already at outer step {start}, at or past --steps {until}: nothing to do",
                dir.display()
            );
        }
        return Ok(());
    }
    let mut observers = Observers::default();
    if root {
        eprintln!("run directory {}", dir.display());
        eprintln!("{}", summary(trainer.config(), start, until));
        let observed = observe(&mut observers, &trainer, &dir, (start, until), args.progress_every);
        job.settle(observed, false)?;
    }
    let mut observers = Watched { inner: observers, job: &job };
    let trained = trainer.run(until, &mut observers, job.stop_flag());
    let agreed = matches!(trained, Err(RunError::Diverged { .. }));
    job.settle(trained.map_err(anyhow::Error::from), agreed)?;
    if !root {
        return Ok(());
    }

    // After a SIGHUP the terminal may be gone: a failed print must not turn a clean stop into
    // a panic, so these writes ignore their errors.
    let state = trainer.state();
    let stopped = job.stop_flag().load(std::sync::atomic::Ordering::SeqCst);
    let by = match crate::signals::received() {
        Some(signal) => Some(signal.to_string()),
        None => stopped.then(|| "a stop signal to another process".to_string()),
    };
    if let Some(by) = by {
        let step = state.step;
        let _ = writeln!(
            std::io::stderr(),
            "interrupted by {by}: checkpoint written at outer step {step}"
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
    if let Ok(records) = CsvLog::read(&dir.join("log.csv")) {
        let heldout: Vec<(u64, f64)> =
            records.iter().filter_map(|r| Some((r.step, r.heldout_loss?))).collect();
        let best = heldout.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some((last_step, last)), Some((best_step, best))) = (heldout.last(), best) {
            let _ = writeln!(
                out,
                "held-out meta-loss: final {last:.4} (outer step {last_step}), best {best:.4} (outer step {best_step})"
            );
        }
    }
    let _ = writeln!(out, "learned optimizer: {}", dir.join(SAVED_OPTIMIZER_FILE).display());
    let _ = writeln!(out, "evaluate it with: pesto eval --lopt {}", dir.display());
    let _ = writeln!(out, "resume with: pesto meta-train --resume {}", dir.display());
    Ok(())
}

/// Attaches the progress bar, CSV log, curves figure and TensorBoard writer of `trainer`'s run
/// in `dir` to `observers` for the outer steps `start` to `until`, and records the session in
/// its provenance.
fn observe(
    observers: &mut Observers,
    trainer: &MetaTrainer,
    dir: &Path,
    (start, until): (u64, u64),
    progress_every: u64,
) -> anyhow::Result<()> {
    observers.push(ProgressBar::new(start, until, Duration::from_secs(progress_every)));
    observers.push(CsvLog::open(&dir.join("log.csv"), start)?);
    observers.push(CurvesPlot::open(dir, start)?);
    observers.push(TensorBoard::for_run(dir)?.with_config(trainer.config())?);
    provenance::append(dir, session(start, until))
        .with_context(|| format!("recording the session in {}", dir.display()))
}

/// The run `args` asks for, started or resumed, with its directory; rank 0 reports how it
/// was resumed.
fn open(args: &MetaTrainArgs) -> anyhow::Result<(MetaTrainer, PathBuf)> {
    let root = distributed::is_root();
    Ok(match &args.resume {
        Some(dir) => {
            let (trainer, resumed) = MetaTrainer::resume(dir)?;
            if root {
                for skipped in &resumed.skipped {
                    eprintln!("warning: skipping damaged checkpoint: {skipped}");
                }
                if let Some(why) = &resumed.restored_optimizer {
                    eprintln!(
                        "warning: rewrote {} from the checkpoint resumed ({why})",
                        dir.join(SAVED_OPTIMIZER_FILE).display()
                    );
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
            }
            (trainer, dir.clone())
        }
        None => {
            let (name, config) = load_config(args.config.as_deref(), &args.sets, args.steps)?;
            let dir = args.out.clone().unwrap_or_else(|| Path::new("checkpoints").join(name));
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
    })
}

/// This session's provenance: command line, build, kernel, threads, host and time.
fn session(start_step: u64, until: u64) -> Session {
    Session {
        started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        command: std::env::args().collect(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("PESTO_GIT_COMMIT").to_string(),
        cpu: provenance::cpu_model(),
        kernel: provenance::kernel_name(),
        threads: rayon::current_num_threads(),
        processes: distributed::size(),
        host: provenance::host_name(),
        start_step,
        until,
    }
}

/// One line saying what the run trains, with what, for how long and on how many threads.
fn summary(config: &MetaTrainConfig, start: u64, until: u64) -> String {
    let (t, e) = (&config.tasks, &config.estimator);
    let tasks = t.suite.as_deref().map_or_else(
        || format!("task {}", t.task.as_deref().unwrap_or("?")),
        |suite| format!("suite {suite}"),
    );
    format!(
        "{} with {} on {tasks}: {} particles, K = {}, sigma = {}; outer steps {start} -> {until}; {}",
        config.optimizer.kind,
        e.kind,
        e.particles,
        e.truncation,
        e.sigma,
        super::thread_count(rayon::current_num_threads())
    )
}

/// The effective config: the file at `path` (or the embedded default) with the overrides
/// `sets` and `steps` applied, with the name used for its run directory.
pub fn load_config(
    path: Option<&Path>,
    sets: &[String],
    steps: Option<u64>,
) -> anyhow::Result<(String, MetaTrainConfig)> {
    let (name, file, config) = match path {
        Some(path) => {
            let name = path.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
            (name, path, MetaTrainConfig::load(path)?)
        }
        None => {
            let (name, text) = DEFAULT_CONFIG;
            let file = Path::new("meta/configs/quick.toml");
            (name.to_string(), file, MetaTrainConfig::parse(text, file)?)
        }
    };
    let mut config = config.with_overrides(sets, file)?;
    if let Some(steps) = steps {
        if steps == 0 {
            return Err(UsageError("--steps must be at least 1".into()).into());
        }
        config.outer_steps = steps;
    }
    Ok((name, config))
}
