//! The outer loop of meta-training: estimate, clip, update theta, observe, checkpoint. All
//! mutable state lives in `RunState`, so resuming is "load the checkpoint and continue".

use super::lock::{LockError, RunLock};
use super::memory;
use super::{ConfigError, LoptTraining, MetaTrainConfig, TaskSource};
use crate::checkpoint::{self, CheckpointError};
use crate::durable;
use crate::estimators::{AnyEstimator, Estimator, EstimatorError};
use crate::observe::{Observer, OuterRecord};
use crate::optim::{SAVED_OPTIMIZER_FILE, SavedOptimizer};
use crate::outer::OuterState;
use crate::unrolled::UnrolledSystem;
use pesto_tasks::tags;
use pesto_tasks::{TaskError, rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use thiserror::Error;

/// Why a meta-training run could not start or continue.
#[derive(Debug, Error)]
pub enum RunError {
    /// The configured tasks do not build.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The estimator does not suit the system.
    #[error(transparent)]
    Estimator(#[from] EstimatorError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// An observer (log, TensorBoard) failed to write.
    #[error("writing the training log: {0}")]
    Log(#[from] std::io::Error),
    /// Another process trains in the run directory, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A new run was asked for in a directory that already holds one.
    #[error("{} already holds a run", dir.display())]
    Exists { dir: PathBuf },
    /// The run's config file could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `resume` was asked of a directory without a checkpoint or a config.
    #[error("{} holds no run to resume (no checkpoint and no {CONFIG_FILE})", dir.display())]
    NoRun { dir: PathBuf },
    /// The particles would not fit in the memory the machine has available.
    #[error(
        "{particles} particles would hold about {needed_mib} MiB, more than the {available_mib} MiB this machine has available"
    )]
    Memory { particles: usize, needed_mib: u64, available_mib: u64 },
    /// Too many outer steps in a row gave a non-finite meta-gradient or update.
    #[error(
        "outer steps {first} to {last} all gave a non-finite meta-gradient or update (max_skipped_updates = {max}); theta is kept from before them, in the checkpoint of step {last}"
    )]
    Diverged { first: u64, last: u64, max: u64 },
    /// A file of the run directory could not be written.
    #[error("{action} {}: {error}", path.display())]
    Io { action: &'static str, path: PathBuf, error: std::io::Error },
}

impl RunError {
    /// True when the error comes from what the user gave (a config, a task, a checkpoint file)
    /// rather than from the machine (a failing disk).
    pub fn is_user_input(&self) -> bool {
        match self {
            RunError::Task(_) | RunError::Estimator(_) => true,
            RunError::Checkpoint(err) => err.is_user_input(),
            RunError::Lock(err) => matches!(err, LockError::Held { .. }),
            RunError::Exists { .. } | RunError::Config(_) | RunError::NoRun { .. } => true,
            RunError::Memory { .. } => true,
            RunError::Log(_) | RunError::Io { .. } | RunError::Diverged { .. } => false,
        }
    }
}

/// Every piece of mutable meta-training state: theta, the outer optimizer's moments, every
/// particle's inner run and accumulator (inside the estimator) and the step counter.
#[derive(Serialize, Deserialize)]
pub struct RunState {
    /// The configuration the run was started with (stored as TOML text, which is how its
    /// tagged sections deserialise).
    #[serde(with = "config_as_toml")]
    pub config: MetaTrainConfig,
    /// Outer steps completed.
    pub step: u64,
    /// The learned optimizer's meta-parameters.
    pub theta: Vec<f32>,
    /// The outer optimizer's state.
    pub outer: OuterState,
    /// The estimator with all particles.
    pub estimator: AnyEstimator<LoptTraining>,
    /// Outer steps in a row, up to this one, whose update was skipped as non-finite.
    pub skipped_in_row: u64,
}

impl RunState {
    /// What makes a decoded state unusable: an invalid config, or a theta or outer moments of
    /// the wrong size or not finite.
    pub fn check(&self) -> Result<(), String> {
        self.config
            .validate(Path::new("(embedded in the checkpoint)"))
            .map_err(|e| e.to_string())?;
        let kind = self.config.optimizer.kind;
        let dim = kind.theta_dim();
        if self.theta.len() != dim {
            return Err(format!("{kind} theta has {} values, expected {dim}", self.theta.len()));
        }
        for (what, moment) in [("outer m", &self.outer.m), ("outer v", &self.outer.v)] {
            if !moment.is_empty() && moment.len() != dim {
                return Err(format!("{what} has {} values, expected {dim}", moment.len()));
            }
            checkpoint::check_finite(what, moment)?;
        }
        checkpoint::check_finite("theta", &self.theta)
    }
}

/// The file a run directory keeps its config in.
pub const CONFIG_FILE: &str = "config.toml";
/// The files whose presence marks a directory as holding a run.
const RUN_FILES: [&str; 4] = [CONFIG_FILE, "log.csv", "checkpoints", SAVED_OPTIMIZER_FILE];

/// Locks the run directory `dir` and removes the temporary files a killed run left there.
fn lock(dir: &Path) -> Result<RunLock, RunError> {
    let lock = RunLock::acquire(dir)?;
    for dir in [dir.to_path_buf(), checkpoint_dir(dir)] {
        durable::remove_stale(&dir).map_err(|error| RunError::Io {
            action: "cleaning",
            path: dir,
            error,
        })?;
    }
    Ok(lock)
}

/// An error if the particles of `config`, sized from one inner run of `system`, would not fit
/// in the memory the machine has available.
fn check_memory(config: &MetaTrainConfig, system: &LoptTraining) -> Result<(), RunError> {
    let Some(available) = memory::available_bytes() else { return Ok(()) };
    let run = system.init_state(0, 0);
    let slots: usize = run.opt_state.slots.iter().map(Vec::len).sum();
    // Parameters, the task's gradient and rescaled copy, the optimizer's slots.
    let state_floats = 3 * run.params.len() + run.scales.len() + slots;
    let particles = config.estimator.particles;
    let needed = memory::particle_bytes(particles, state_floats, system.theta_dim());
    if needed <= available {
        return Ok(());
    }
    Err(RunError::Memory { particles, needed_mib: needed >> 20, available_mib: available >> 20 })
}

/// A meta-training run bound to its output directory.
pub struct MetaTrainer {
    system: LoptTraining,
    state: RunState,
    dir: PathBuf,
    /// Held while this process owns the directory (absent for a run kept in memory).
    _lock: Option<RunLock>,
}

/// How a run was resumed.
#[derive(Debug)]
pub struct Resumed {
    /// The checkpoint the run continues from.
    pub path: PathBuf,
    /// Newer checkpoints that were damaged and skipped, with their errors.
    pub skipped: Vec<CheckpointError>,
    /// The directory had no checkpoint (its first write was interrupted): the run starts
    /// again from step 0 with the config at `path`.
    pub from_config: bool,
}

fn system_for(config: &MetaTrainConfig) -> Result<LoptTraining, TaskError> {
    let source = TaskSource::from_config(&config.tasks)?;
    let kind = config.optimizer.kind;
    let theta = kind.init_theta(config.optimizer.init_seed);
    Ok(LoptTraining::new(source, kind, theta)
        .with_meta_loss(config.meta_loss)
        .with_sampling(config.tasks.sampling()))
}

impl MetaTrainer {
    /// A fresh run of `config` that will save to `dir`, without touching the disk or locking
    /// `dir` (see `start`).
    pub fn new(config: MetaTrainConfig, dir: &Path) -> Result<Self, RunError> {
        let system = system_for(&config)?;
        check_memory(&config, &system)?;
        let estimator =
            AnyEstimator::new(config.estimator.kind, config.estimator_config(), &system)?;
        let theta = system.initial_theta();
        let outer = config.outer.init_state(theta.len()).expect("validated with the config");
        let state = RunState { config, step: 0, theta, outer, estimator, skipped_in_row: 0 };
        Ok(Self { system, state, dir: dir.to_path_buf(), _lock: None })
    }

    /// Starts a run of `config` in `dir`: creates and locks the directory, refuses one that
    /// already holds a run (a config, log, checkpoints or optimizer file), and writes the
    /// config to `config.toml`.
    pub fn start(config: MetaTrainConfig, dir: &Path) -> Result<Self, RunError> {
        let mut trainer = Self::new(config, dir)?;
        std::fs::create_dir_all(dir).map_err(|error| RunError::Io {
            action: "creating",
            path: dir.to_path_buf(),
            error,
        })?;
        let lock = lock(dir)?;
        if RUN_FILES.iter().any(|f| dir.join(f).exists()) {
            return Err(RunError::Exists { dir: dir.to_path_buf() });
        }
        let path = dir.join(CONFIG_FILE);
        let text = toml::to_string(&trainer.state.config).expect("a config encodes as TOML");
        durable::replace(&path, text.as_bytes()).map_err(|error| RunError::Io {
            action: "writing",
            path,
            error,
        })?;
        trainer._lock = Some(lock);
        Ok(trainer)
    }

    /// Locks `dir` and continues its run from its newest good checkpoint; a directory without
    /// any checkpoint (its first write was interrupted) starts again from step 0 with its
    /// `config.toml`.
    pub fn resume(dir: &Path) -> Result<(Self, Resumed), RunError> {
        if !dir.is_dir() {
            return Err(RunError::NoRun { dir: dir.to_path_buf() });
        }
        let lock = lock(dir)?;
        let config_file = dir.join(CONFIG_FILE);
        let own = match config_file.is_file() {
            true => Some(MetaTrainConfig::load(&config_file)?),
            false => None,
        };
        let same_run = |state: &RunState| {
            state.check()?;
            let system = system_for(&state.config).map_err(|e| e.to_string())?;
            if state.estimator.kind() != state.config.estimator.kind {
                return Err(format!(
                    "holds a {} estimator, its config says {}",
                    state.estimator.kind().name(),
                    state.config.estimator.kind.name()
                ));
            }
            state.estimator.check(&system)?;
            match &own {
                Some(config) if *config != state.config => Err(format!(
                    "belongs to another run: its config differs from {}",
                    config_file.display()
                )),
                _ => Ok(()),
            }
        };
        let (mut trainer, resumed) = match checkpoint::load_latest(&checkpoint_dir(dir), same_run) {
            Ok(latest) => {
                let system = system_for(&latest.state.config)?;
                let (path, skipped) = (latest.path, latest.skipped);
                let dir = dir.to_path_buf();
                let trainer = Self { system, state: latest.state, dir, _lock: None };
                (trainer, Resumed { path, skipped, from_config: false })
            }
            Err(CheckpointError::Missing { .. }) if let Some(config) = own => {
                let trainer = Self::new(config, dir)?;
                (trainer, Resumed { path: config_file, skipped: Vec::new(), from_config: true })
            }
            Err(CheckpointError::Missing { .. }) => {
                return Err(RunError::NoRun { dir: dir.to_path_buf() });
            }
            Err(err) => return Err(err.into()),
        };
        trainer._lock = Some(lock);
        Ok((trainer, resumed))
    }

    /// The run's state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Writes a checkpoint of the current state, and the current learned optimizer alone.
    pub fn save(&self) -> Result<PathBuf, RunError> {
        let s = &self.state;
        let keep = s.config.keep_checkpoints;
        let path = checkpoint::save(&checkpoint_dir(&self.dir), s.step, s, keep)?;
        let kind = s.config.optimizer.kind;
        let saved = SavedOptimizer { kind, theta: s.theta.clone(), outer_steps: s.step };
        saved.save(&self.dir.join(SAVED_OPTIMIZER_FILE))?;
        Ok(path)
    }

    /// Takes one outer step: estimate the meta-gradient, clip it, update theta. An estimate or
    /// update that is not finite is undone (theta and the outer state stay as they were) and
    /// counted in `skipped_in_row`. Evaluates the held-out loss when the step is a multiple of
    /// `heldout_every`.
    pub fn step(&mut self) -> OuterRecord {
        let started = Instant::now();
        let RunState { config, step, theta, outer, estimator, skipped_in_row } = &mut self.state;
        let estimate = estimator.estimate(&self.system, theta, *step);
        let grad_norm = norm(&estimate.grad);
        let mut grad = estimate.grad;
        let before = (theta.clone(), outer.clone());
        config.outer.apply(outer, theta, &mut grad);
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let skipped =
            !(grad_norm.is_finite() && finite(theta) && finite(&outer.m) && finite(&outer.v));
        if skipped {
            (*theta, *outer) = before;
            *skipped_in_row += 1;
        } else {
            *skipped_in_row = 0;
        }
        *step += 1;
        let seconds = started.elapsed().as_secs_f64();
        let heldout_due = config.heldout_every > 0 && step.is_multiple_of(config.heldout_every);
        let particles = estimate.particles.max(1) as f64;
        let mut record = OuterRecord {
            step: *step,
            meta_loss: estimate.loss,
            grad_norm,
            theta_norm: norm(theta),
            inner_steps: estimate.inner_steps,
            inner_steps_per_sec: estimate.inner_steps as f64 / seconds,
            reset_fraction: estimate.resets as f64 / particles,
            clip_fraction: estimate.clipped as f64 / particles,
            heldout_loss: None,
            update_skipped: skipped,
        };
        if heldout_due {
            record.heldout_loss = Some(self.heldout_loss());
        }
        record
    }

    /// Runs outer steps until `until` are complete or `stop` is raised, reporting each to
    /// `observer`, checkpointing every `checkpoint_every` steps and at the end. Stops with an
    /// error, after a checkpoint, once `max_skipped_updates` updates in a row were skipped.
    /// The observers are flushed before each checkpoint, so a checkpoint never covers a step
    /// the log lacks; when an observer fails, a checkpoint is still written before its error
    /// is returned.
    pub fn run(
        &mut self,
        until: u64,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
    ) -> Result<(), RunError> {
        while self.state.step < until && !stop.load(Ordering::SeqCst) {
            let record = self.step();
            let observed = observer.observe(&record);
            let s = &self.state;
            let max = s.config.max_skipped_updates;
            let diverged = s.skipped_in_row >= max;
            if observed.is_err() || diverged || s.step.is_multiple_of(s.config.checkpoint_every) {
                self.checkpoint(observer, observed)?;
            }
            if diverged {
                observer.finish()?;
                let last = self.state.step;
                return Err(RunError::Diverged { first: last + 1 - max, last, max });
            }
        }
        self.checkpoint(observer, Ok(()))?;
        observer.finish()?;
        Ok(())
    }

    /// Flushes `observer` (unless it already failed with `observed`), then saves a checkpoint,
    /// then reports the observer's error if any.
    fn checkpoint(
        &self,
        observer: &mut dyn Observer,
        observed: std::io::Result<()>,
    ) -> Result<(), RunError> {
        let logged = observed.and_then(|()| observer.flush());
        self.save()?;
        Ok(logged?)
    }

    /// Mean normalised training loss of whole inner runs with the current theta on
    /// `heldout_tasks` tasks the particles never see (seeds from their own stream).
    pub fn heldout_loss(&self) -> f64 {
        let config = &self.state.config;
        let losses: Vec<f64> = (0..config.heldout_tasks as u64)
            .into_par_iter()
            .map(|i| {
                let mut run =
                    self.system.init_state(rng::derive(config.seed, &[tags::HELDOUT, i]), 0);
                let horizon = run.horizon;
                self.system.unroll(&mut run, &self.state.theta, horizon).loss
            })
            .collect();
        losses.iter().sum::<f64>() / losses.len() as f64
    }
}

/// Serialises a config inside a checkpoint as its TOML text.
mod config_as_toml {
    use super::MetaTrainConfig;
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser};

    pub fn serialize<S: Serializer>(config: &MetaTrainConfig, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&toml::to_string(config).map_err(ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<MetaTrainConfig, D::Error> {
        toml::from_str(&String::deserialize(input)?).map_err(D::Error::custom)
    }
}

/// Where a run directory keeps its checkpoints.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Observers;
    use crate::outer::OuterOptimizer;

    /// One tiny MLP task with a short horizon, so resets happen.
    const TINY_TASK: &str = r#"task = "mlp-synth:input=8,hidden=8,classes=3,batch=16,steps=30""#;
    /// Tasks drawn from the train suite with short sampled horizons and rescaled parameters.
    const SAMPLED_TASKS: &str =
        "suite = \"train\"\nhorizon = [10, 40]\nparam_scale = [0.01, 100.0]";

    /// A small PES run: 4 particles on a tiny MLP task with a short horizon, so resets happen.
    fn config(kind: &str) -> MetaTrainConfig {
        config_with(kind, TINY_TASK)
    }

    /// The same run of a `kind` optimizer on the tasks of a `[tasks]` section body.
    fn config_with(kind: &str, tasks: &str) -> MetaTrainConfig {
        let text = format!(
            r#"
            seed = 3
            outer_steps = 8
            checkpoint_every = 3
            keep_checkpoints = 2
            [tasks]
            {tasks}
            [optimizer]
            kind = "{kind}"
            [estimator]
            particles = 4
            sigma = 0.01
            truncation = 7
            [outer]
            clip_value = 3.0
            [outer.optimizer]
            kind = "adam"
            lr = 0.001
            beta1 = 0.9
            beta2 = 0.999
            eps = 1e-8
            "#
        );
        MetaTrainConfig::parse(&text, Path::new("test.toml")).unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pesto-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn bits(theta: &[f32]) -> Vec<u32> {
        theta.iter().map(|t| t.to_bits()).collect()
    }

    #[test]
    fn stop_and_resume_is_bit_identical_to_a_straight_run() {
        let runs = [
            ("mlp-lopt", TINY_TASK),
            ("learned-adam", TINY_TASK),
            ("nominal-lopt", SAMPLED_TASKS),
            ("rel-lopt", SAMPLED_TASKS),
        ];
        for (kind, tasks) in runs {
            let never = AtomicBool::new(false);
            let straight_dir = temp_dir(&format!("straight-{kind}"));
            let mut straight = MetaTrainer::new(config_with(kind, tasks), &straight_dir).unwrap();
            straight.run(8, &mut Observers::default(), &never).unwrap();

            let split_dir = temp_dir(&format!("split-{kind}"));
            let mut first = MetaTrainer::new(config_with(kind, tasks), &split_dir).unwrap();
            first.run(4, &mut Observers::default(), &never).unwrap();
            drop(first);
            let (mut second, resumed) = MetaTrainer::resume(&split_dir).unwrap();
            assert_eq!(resumed.path, checkpoint_dir(&split_dir).join(checkpoint::file_name(4)));
            second.run(8, &mut Observers::default(), &never).unwrap();

            assert_eq!(second.state().step, 8);
            assert_eq!(bits(&second.state().theta), bits(&straight.state().theta), "{kind}");
            assert_ne!(bits(&second.state().theta), bits(&straight.system.initial_theta()));
            std::fs::remove_dir_all(&straight_dir).unwrap();
            std::fs::remove_dir_all(&split_dir).unwrap();
        }
    }

    /// Records, at each flush, which checkpoints exist; fails its writes from step `fail_at`.
    struct Recorder {
        dir: PathBuf,
        flushes: Vec<(u64, Vec<PathBuf>)>,
        last: u64,
        fail_at: u64,
    }

    impl Observer for Recorder {
        fn observe(&mut self, record: &OuterRecord) -> std::io::Result<()> {
            self.last = record.step;
            if record.step >= self.fail_at {
                return Err(std::io::Error::other("disk on fire"));
            }
            Ok(())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            let existing = checkpoint::list(&checkpoint_dir(&self.dir)).unwrap_or_default();
            self.flushes.push((self.last, existing));
            Ok(())
        }

        fn finish(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn observers_are_flushed_before_the_checkpoint_that_covers_their_rows() {
        let dir = temp_dir("flush-order");
        let never = AtomicBool::new(false);
        let mut recorder =
            Recorder { dir: dir.clone(), flushes: Vec::new(), last: 0, fail_at: u64::MAX };
        MetaTrainer::new(config("mlp-lopt"), &dir).unwrap().run(7, &mut recorder, &never).unwrap();
        let steps: Vec<u64> = recorder.flushes.iter().map(|f| f.0).collect();
        assert_eq!(steps, [3, 6, 7]);
        for (step, existing) in &recorder.flushes {
            let covering = checkpoint_dir(&dir).join(checkpoint::file_name(*step));
            assert!(!existing.contains(&covering), "step {step}: {existing:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_observer_stops_the_run_after_a_checkpoint() {
        let dir = temp_dir("observer-fails");
        let never = AtomicBool::new(false);
        let mut recorder = Recorder { dir: dir.clone(), flushes: Vec::new(), last: 0, fail_at: 5 };
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        let err = trainer.run(8, &mut recorder, &never).unwrap_err();
        assert_eq!(err.to_string(), "writing the training log: disk on fire");
        let latest = checkpoint::load_latest(&checkpoint_dir(&dir), RunState::check).unwrap();
        assert_eq!(latest.state.step, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn starting_refuses_a_directory_holding_a_run_and_leaves_it_alone() {
        let dir = temp_dir("exists");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CONFIG_FILE), "mine").unwrap();
        let err = MetaTrainer::start(config("mlp-lopt"), &dir).err().unwrap();
        assert_eq!(err.to_string(), format!("{} already holds a run", dir.display()));
        assert_eq!(std::fs::read_to_string(dir.join(CONFIG_FILE)).unwrap(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn non_finite_updates_are_skipped_counted_and_stop_the_run() {
        let dir = temp_dir("nonfinite");
        let mut config = config("mlp-lopt");
        config.estimator.sigma = 3e38;
        config.outer.clip_value = None;
        config.outer.optimizer =
            OuterOptimizer::Adam { lr: 3.4e38, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        config.max_skipped_updates = 4;
        let never = AtomicBool::new(false);
        let mut records = Records::default();
        let mut trainer = MetaTrainer::new(config, &dir).unwrap();
        let initial = bits(&trainer.state().theta);
        let err = trainer.run(8, &mut records, &never).unwrap_err();
        assert_eq!(
            err.to_string(),
            "outer steps 1 to 4 all gave a non-finite meta-gradient or update (max_skipped_updates = 4); theta is kept from before them, in the checkpoint of step 4"
        );
        assert_eq!(records.0.iter().map(|r| r.update_skipped).collect::<Vec<_>>(), [true; 4]);
        assert_eq!(bits(&trainer.state().theta), initial);
        let latest = checkpoint::load_latest(&checkpoint_dir(&dir), RunState::check).unwrap();
        assert_eq!((latest.state.step, latest.state.skipped_in_row), (4, 4));
        let saved = crate::optim::SavedOptimizer::load(&dir).unwrap();
        assert_eq!(bits(&saved.theta), initial);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_with_a_non_finite_theta_is_skipped() {
        let dir = temp_dir("nan-checkpoint");
        let never = AtomicBool::new(false);
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        trainer.run(6, &mut Observers::default(), &never).unwrap();
        trainer.state.theta[2] = f32::INFINITY;
        trainer.state.step = 7;
        trainer.save().unwrap();
        let (resumed, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.state().step, 6);
        let newest = checkpoint_dir(&dir).join(checkpoint::file_name(7));
        assert_eq!(
            how.skipped[0].to_string(),
            format!("checkpoint {}: theta[2] = inf is not finite", newest.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Keeps every record.
    #[derive(Default)]
    struct Records(Vec<OuterRecord>);

    impl Observer for Records {
        fn observe(&mut self, record: &OuterRecord) -> std::io::Result<()> {
            self.0.push(record.clone());
            Ok(())
        }
    }

    #[test]
    fn a_directory_whose_first_checkpoint_was_interrupted_restarts_from_its_config() {
        let dir = temp_dir("first-killed");
        let never = AtomicBool::new(false);
        let mut straight = MetaTrainer::start(config("mlp-lopt"), &dir).unwrap();
        std::fs::create_dir_all(checkpoint_dir(&dir)).unwrap();
        std::fs::write(checkpoint_dir(&dir).join(".checkpoint-0000000003.bin.tmp"), b"PEST")
            .unwrap();
        assert_eq!(
            MetaTrainer::resume(&dir).err().unwrap().to_string(),
            format!(
                "run directory {} is in use by process {} (lock file {})",
                dir.display(),
                std::process::id(),
                dir.join(super::super::LOCK_FILE).display()
            )
        );
        straight.run(4, &mut Observers::default(), &never).unwrap();
        let theta = bits(&straight.state().theta);
        drop(straight);
        for file in checkpoint::list(&checkpoint_dir(&dir)).unwrap() {
            std::fs::remove_file(file).unwrap();
        }
        let (mut again, how) = MetaTrainer::resume(&dir).unwrap();
        assert!(how.from_config);
        assert_eq!((how.path, again.state().step), (dir.join(CONFIG_FILE), 0));
        again.run(4, &mut Observers::default(), &never).unwrap();
        assert_eq!(bits(&again.state().theta), theta);
        drop(again);
        std::fs::remove_file(dir.join(CONFIG_FILE)).unwrap();
        std::fs::remove_dir_all(checkpoint_dir(&dir)).unwrap();
        assert_eq!(
            MetaTrainer::resume(&dir).err().unwrap().to_string(),
            format!("{} holds no run to resume (no checkpoint and no config.toml)", dir.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_of_another_run_is_refused() {
        let (dir, other) = (temp_dir("own"), temp_dir("foreign"));
        let never = AtomicBool::new(false);
        MetaTrainer::start(config("mlp-lopt"), &dir)
            .unwrap()
            .run(3, &mut Observers::default(), &never)
            .unwrap();
        let mut foreign = config("mlp-lopt");
        foreign.seed = 4;
        MetaTrainer::new(foreign, &other)
            .unwrap()
            .run(6, &mut Observers::default(), &never)
            .unwrap();
        let intruder = checkpoint_dir(&dir).join(checkpoint::file_name(6));
        std::fs::copy(checkpoint_dir(&other).join(checkpoint::file_name(6)), &intruder).unwrap();
        let (mut resumed, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.state().step, 3);
        assert_eq!(
            how.skipped[0].to_string(),
            format!(
                "checkpoint {}: belongs to another run: its config differs from {}",
                intruder.display(),
                dir.join(CONFIG_FILE).display()
            )
        );
        resumed.run(4, &mut Observers::default(), &never).unwrap();
        assert!(intruder.exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other).unwrap();
    }

    #[test]
    fn a_checkpoint_whose_stored_tasks_no_longer_build_is_skipped() {
        let dir = temp_dir("retired-task");
        let never = AtomicBool::new(false);
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        trainer.run(6, &mut Observers::default(), &never).unwrap();
        // Rename the family of every stored inner run, leaving the config's task (the first
        // mention) alone, and seal the file with a valid checksum.
        let mut bytes = checkpoint::encode(checkpoint::RUN, trainer.state());
        let family = b"mlp-synth";
        let at: Vec<usize> = (24..bytes.len() - family.len())
            .filter(|&i| &bytes[i..i + family.len()] == family)
            .collect();
        assert!(at.len() > 1);
        at[1..].iter().for_each(|&i| bytes[i + 8] = b'x');
        let crc = crc32fast::hash(&bytes[24..]);
        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
        let newest = checkpoint_dir(&dir).join(checkpoint::file_name(7));
        std::fs::write(&newest, &bytes).unwrap();
        let (resumed, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.state().step, 6);
        let skipped = how.skipped[0].to_string();
        assert!(skipped.starts_with(&format!("checkpoint {}: ", newest.display())), "{skipped}");
        assert!(skipped.contains("mlp-syntx"), "{skipped}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_raised_stop_flag_ends_the_run_with_a_checkpoint() {
        let dir = temp_dir("stop");
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        let stop = AtomicBool::new(true);
        trainer.run(8, &mut Observers::default(), &stop).unwrap();
        let latest = checkpoint::load_latest(&checkpoint_dir(&dir), RunState::check).unwrap();
        assert_eq!(latest.state.step, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
        let dir = temp_dir("damaged");
        let never = AtomicBool::new(false);
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        trainer.run(6, &mut Observers::default(), &never).unwrap();
        let newest = checkpoint_dir(&dir).join(checkpoint::file_name(6));
        let bytes = std::fs::read(&newest).unwrap();
        std::fs::write(&newest, &bytes[..bytes.len() - 10]).unwrap();
        let (resumed, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.state().step, 3);
        assert_eq!(how.skipped.len(), 1);
        assert!(how.skipped[0].to_string().contains("truncated"), "{}", how.skipped[0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
