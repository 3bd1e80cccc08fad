//! The outer loop of meta-training: estimate, clip, update theta, observe, checkpoint. All
//! mutable state lives in `RunState`, so resuming is "load the checkpoint and continue".

use super::lock::{LockError, RunLock};
use super::memory;
use super::{ConfigError, LoptTraining, MetaTrainConfig, TaskSource};
use crate::checkpoint::{self, CheckpointError};
use crate::distributed::{self, shards};
use crate::durable;
use crate::estimators::{AnyEstimator, Estimator, EstimatorError};
use crate::observe::{Observer, OuterRecord};
use crate::optim::{OptimizerSource, SAVED_OPTIMIZER_FILE, SavedOptimizer};
use crate::trainer::{Checkpointer, Evaluation, TrainError, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::tags;
use pesto_tasks::{TaskError, read, rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
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

/// The training state of a meta-training run: theta, the outer optimizer's moments, every
/// particle's inner run and accumulator (inside the estimator) and the step counters.
pub type LoptTrainState = TrainState<AnyEstimator<LoptTraining>>;

/// What a run checkpoint holds: the run's config and its training state.
#[derive(Serialize, Deserialize)]
pub struct RunState {
    /// The configuration the run was started with (stored as TOML text, which is how its
    /// tagged sections deserialise).
    #[serde(with = "config_as_toml")]
    pub config: MetaTrainConfig,
    /// Everything that changes as the run goes on.
    pub train: LoptTrainState,
}

/// A run checkpoint being written: the same fields as `RunState`, borrowed.
#[derive(Serialize)]
struct RunStateRef<'a> {
    #[serde(serialize_with = "config_as_toml::serialize_ref")]
    config: &'a MetaTrainConfig,
    train: &'a LoptTrainState,
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
        let train = &self.train;
        if train.theta.len() != dim {
            return Err(format!("{kind} theta has {} values, expected {dim}", train.theta.len()));
        }
        for (what, moment) in [("outer m", &train.outer.m), ("outer v", &train.outer.v)] {
            if !moment.is_empty() && moment.len() != dim {
                return Err(format!("{what} has {} values, expected {dim}", moment.len()));
            }
            checkpoint::check_finite(what, moment)?;
        }
        checkpoint::check_finite("theta", &train.theta)
    }
}

/// The file a run directory keeps its config in.
pub const CONFIG_FILE: &str = "config.toml";
/// The files whose presence marks a directory as holding a run.
const RUN_FILES: [&str; 5] = [
    CONFIG_FILE,
    "log.csv",
    "checkpoints",
    SAVED_OPTIMIZER_FILE,
    super::provenance::PROVENANCE_FILE,
];

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
    config: MetaTrainConfig,
    trainer: Trainer<LoptTraining, AnyEstimator<LoptTraining>>,
    dir: PathBuf,
    /// Whether checkpoints are written in shards, one per process, with a manifest.
    sharded: bool,
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
    /// Why the optimizer file was rewritten from the resumed checkpoint, if it was.
    pub restored_optimizer: Option<String>,
}

fn system_for(config: &MetaTrainConfig) -> Result<LoptTraining, TaskError> {
    let source = TaskSource::from_config(&config.tasks)?;
    let kind = config.optimizer.kind;
    let theta = kind.init_theta(config.optimizer.init_seed);
    Ok(LoptTraining::new(source, kind, theta)
        .with_meta_loss(config.meta_loss)
        .with_sampling(config.tasks.sampling()))
}

/// Saves run checkpoints, and the current learned optimizer alone, into a run directory.
struct RunCheckpoints<'a> {
    config: &'a MetaTrainConfig,
    dir: &'a Path,
    /// Each process writes its own particles to a shard (`distributed::shards`) instead of
    /// sending them to rank 0, which writes one file.
    sharded: bool,
}

impl Checkpointer<AnyEstimator<LoptTraining>> for RunCheckpoints<'_> {
    fn every(&self) -> u64 {
        self.config.checkpoint_every
    }

    /// Gathered, the other processes send their particles to rank 0, which writes the
    /// checkpoint alone; sharded, every process writes its own and rank 0 the manifest.
    fn save(&mut self, train: &mut LoptTrainState) -> Result<(), CheckpointError> {
        let (keep, dir, step) =
            (self.config.keep_checkpoints, checkpoint_dir(self.dir), train.step);
        if self.sharded {
            let shard = train.estimator.particles_mut().encode_owned();
            let head = || {
                let members = train.estimator.particles_mut().take_members();
                let head = checkpoint::payload(&RunStateRef { config: self.config, train });
                train.estimator.particles_mut().set_members(members);
                head
            };
            // No manifest: not rank 0, or another process's shard failed (it ends the job).
            if shards::save(checkpoint::RUN, &dir, step, head, &shard, keep)?.is_none() {
                return Ok(());
            }
        } else {
            train.estimator.gather();
            if !distributed::is_root() {
                return Ok(());
            }
            let state = RunStateRef { config: self.config, train };
            checkpoint::save(checkpoint::RUN, &dir, step, &state, keep)?;
            shards::prune(checkpoint::RUN, &dir, step, keep)?;
        }
        saved_optimizer(self.config, train).save(&self.dir.join(SAVED_OPTIMIZER_FILE))
    }
}

/// The learned optimizer of `train`, as the run's optimizer file holds it.
fn saved_optimizer(config: &MetaTrainConfig, train: &LoptTrainState) -> SavedOptimizer {
    let kind = config.optimizer.kind;
    SavedOptimizer { kind, theta: train.theta.clone(), outer_steps: train.step }
}

/// The held-out evaluation of `config`: the mean normalised training loss of whole inner runs
/// on `heldout_tasks` tasks the particles never see (seeds from their own stream). Spread over
/// processes, each runs a block of the tasks and every process sums all the losses in task
/// order, so the mean has the same bits at any number of processes.
fn heldout(config: &MetaTrainConfig) -> Evaluation<LoptTraining> {
    let (seed, tasks) = (config.seed, config.heldout_tasks);
    let evaluate = move |system: &LoptTraining, theta: &[f32]| {
        let mine: Vec<f64> = distributed::block(tasks, distributed::rank(), distributed::size())
            .into_par_iter()
            .map(|i| {
                let mut run = system.init_state(rng::derive(seed, &[tags::HELDOUT, i as u64]), 0);
                let horizon = run.horizon;
                system.unroll(&mut run, theta, horizon).loss
            })
            .collect();
        let bytes = || mine.iter().flat_map(|l| l.to_le_bytes()).collect();
        let losses = match distributed::share(bytes, tasks, 8) {
            Some(all) => {
                all.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect()
            }
            None => mine,
        };
        losses.iter().sum::<f64>() / losses.len() as f64
    };
    Evaluation { every: config.heldout_every, evaluate: Box::new(evaluate) }
}

impl MetaTrainer {
    /// The run of `config` from `train`, saving to `dir`, evaluating the held-out loss.
    fn with_state(
        config: MetaTrainConfig,
        system: LoptTraining,
        train: LoptTrainState,
        dir: &Path,
    ) -> Self {
        let trainer = Trainer::new(system, config.outer, train)
            .with_max_skipped_updates(config.max_skipped_updates)
            .with_evaluation(heldout(&config));
        Self { config, trainer, dir: dir.to_path_buf(), sharded: false, _lock: None }
    }

    /// A fresh run of `config` that will save to `dir`, without touching the disk or locking
    /// `dir` (see `start`).
    pub fn new(config: MetaTrainConfig, dir: &Path) -> Result<Self, RunError> {
        let system = system_for(&config)?;
        check_memory(&config, &system)?;
        let estimator =
            AnyEstimator::new(config.estimator.kind, config.estimator_config(), &system)?;
        let train = TrainState::new(system.initial_theta(), estimator, &config.outer)
            .expect("validated with the config");
        Ok(Self::with_state(config, system, train, dir))
    }

    /// Starts a run of `config` in `dir`: creates and locks the directory, refuses one that
    /// already holds a run (a config, log, checkpoints or optimizer file), and writes the
    /// config to `config.toml`. Only rank 0 of a run spread over processes touches the disk.
    pub fn start(config: MetaTrainConfig, dir: &Path) -> Result<Self, RunError> {
        let mut trainer = Self::new(config, dir)?;
        if !distributed::is_root() {
            return Ok(trainer);
        }
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
        let text = toml::to_string(&trainer.config).expect("a config encodes as TOML");
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
    /// `config.toml`. The other processes of a run spread over several read it without locking.
    pub fn resume(dir: &Path) -> Result<(Self, Resumed), RunError> {
        if !dir.is_dir() {
            return Err(RunError::NoRun { dir: dir.to_path_buf() });
        }
        let lock = distributed::is_root().then(|| lock(dir)).transpose()?;
        let config_file = dir.join(CONFIG_FILE);
        let own = match config_file.is_file() {
            true => Some(MetaTrainConfig::load(&config_file)?),
            false => None,
        };
        let same_run = |state: &RunState| {
            state.check()?;
            let system = system_for(&state.config).map_err(|e| e.to_string())?;
            let estimator = &state.train.estimator;
            if estimator.kind() != state.config.estimator.kind {
                return Err(format!(
                    "holds a {} estimator, its config says {}",
                    estimator.kind().name(),
                    state.config.estimator.kind.name()
                ));
            }
            estimator.check(&system)?;
            match &own {
                Some(config) if *config != state.config => Err(format!(
                    "belongs to another run: its config differs from {}",
                    config_file.display()
                )),
                _ => Ok(()),
            }
        };
        let checkpoints = checkpoint_dir(dir);
        let paths = checkpoint_files(&checkpoints)?.into_iter().rev();
        let (mut trainer, mut resumed) =
            match checkpoint::load_newest(&checkpoints, paths, load_checkpoint, same_run) {
                Ok(latest) => {
                    let RunState { config, train } = latest.state;
                    let system = system_for(&config)?;
                    let trainer = Self::with_state(config, system, train, dir);
                    let (path, skipped) = (latest.path, latest.skipped);
                    (
                        trainer,
                        Resumed { path, skipped, from_config: false, restored_optimizer: None },
                    )
                }
                Err(CheckpointError::Missing { .. }) if let Some(config) = own => {
                    let trainer = Self::new(config, dir)?;
                    (
                        trainer,
                        Resumed {
                            path: config_file,
                            skipped: Vec::new(),
                            from_config: true,
                            restored_optimizer: None,
                        },
                    )
                }
                Err(CheckpointError::Missing { .. }) => {
                    return Err(RunError::NoRun { dir: dir.to_path_buf() });
                }
                Err(err) => return Err(err.into()),
            };
        if lock.is_some() && !resumed.from_config {
            resumed.restored_optimizer = trainer.restore_saved_optimizer()?;
        }
        trainer._lock = lock;
        Ok((trainer, resumed))
    }

    /// Rewrites the run's optimizer file, and says why, when it is damaged, missing, or older
    /// than the resumed state: a process killed between writing a checkpoint and writing that
    /// file left it a checkpoint behind, and a run resumed at its last step takes no step that
    /// would write it again. A newer file (the newest checkpoint was damaged) is kept.
    fn restore_saved_optimizer(&self) -> Result<Option<String>, RunError> {
        let saved = saved_optimizer(&self.config, self.trainer.state());
        let path = self.dir.join(SAVED_OPTIMIZER_FILE);
        let why = match SavedOptimizer::load(&path) {
            Ok(on_disk) if on_disk.outer_steps > saved.outer_steps || on_disk == saved => {
                return Ok(None);
            }
            Ok(on_disk) if on_disk.outer_steps == saved.outer_steps => {
                "it held another optimizer at the same outer step".to_string()
            }
            Ok(on_disk) => format!("it was at outer step {}", on_disk.outer_steps),
            Err(err) => err.to_string(),
        };
        saved.save(&path)?;
        Ok(Some(why))
    }

    /// The run's config.
    pub fn config(&self) -> &MetaTrainConfig {
        &self.config
    }

    /// The run's training state.
    pub fn state(&self) -> &LoptTrainState {
        self.trainer.state()
    }

    /// Writes this session's checkpoints in shards, each process the particles it owns, with a
    /// manifest written last (`distributed::shards`), rather than gathered into one file. Either
    /// layout resumes at any number of processes, to the same bits.
    pub fn with_shards(self, sharded: bool) -> Self {
        Self { sharded, ..self }
    }

    /// Writes a checkpoint of the current state, and the current learned optimizer alone.
    pub fn save(&mut self) -> Result<(), RunError> {
        let mut checkpoints =
            RunCheckpoints { config: &self.config, dir: &self.dir, sharded: self.sharded };
        Ok(checkpoints.save(self.trainer.state_mut())?)
    }

    /// Takes one outer step (see `Trainer::step`); evaluates the held-out loss when the step is
    /// a multiple of `heldout_every`.
    pub fn step(&mut self) -> OuterRecord {
        self.trainer.step()
    }

    /// Runs outer steps until `until` are complete or `stop` is raised, reporting each to
    /// `observer` and checkpointing every `checkpoint_every` steps and at the end (see
    /// `Trainer::run`). Stops with an error, after a checkpoint, once `max_skipped_updates`
    /// updates in a row were skipped.
    pub fn run(
        &mut self,
        until: u64,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
    ) -> Result<(), RunError> {
        let mut checkpoints =
            RunCheckpoints { config: &self.config, dir: &self.dir, sharded: self.sharded };
        self.trainer.run(until, observer, stop, &mut checkpoints).map_err(|err| match err {
            TrainError::Log(err) => RunError::Log(err),
            TrainError::Checkpoint(err) => RunError::Checkpoint(err),
            TrainError::Diverged { first, last, max } => RunError::Diverged { first, last, max },
        })
    }
}

/// Serialises a config inside a checkpoint as its TOML text.
mod config_as_toml {
    use super::MetaTrainConfig;
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser};

    pub fn serialize<S: Serializer>(config: &MetaTrainConfig, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&toml::to_string(config).map_err(ser::Error::custom)?)
    }

    pub fn serialize_ref<S: Serializer>(
        config: &&MetaTrainConfig,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        serialize(config, out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<MetaTrainConfig, D::Error> {
        toml::from_str(&String::deserialize(input)?).map_err(D::Error::custom)
    }
}

/// The run state in `bytes`, the contents of `path`, when they are a run checkpoint: one file,
/// or the manifest of one in shards (its shards are read beside it); None for any other file.
pub fn decode_run_state(bytes: &[u8], path: &Path) -> Option<Result<RunState, CheckpointError>> {
    if bytes.starts_with(&checkpoint::RUN.magic) {
        Some(checkpoint::decode(checkpoint::RUN, bytes, path))
    } else if bytes.starts_with(&checkpoint::MANIFEST.magic) {
        Some(load_checkpoint(path))
    } else {
        None
    }
}

/// The learned optimizer of the run checkpoint at `path` (one file or a manifest), with its
/// source, reading the file once: what `--lopt` takes besides optimizer files, to use a run's
/// state at any checkpoint. None when `path` is a directory or a file of another kind.
pub fn checkpoint_optimizer(
    path: &Path,
) -> Result<Option<(SavedOptimizer, OptimizerSource)>, CheckpointError> {
    if path.is_dir() {
        return Ok(None);
    }
    let bytes = read::capped(path, read::DATA_CAP)
        .map_err(|error| CheckpointError::Io { path: path.to_path_buf(), error })?;
    let Some(state) = decode_run_state(&bytes, path).transpose()? else { return Ok(None) };
    let saved = saved_optimizer(&state.config, &state.train);
    let source = OptimizerSource::of(&saved, path.display().to_string(), &bytes);
    Ok(Some((saved, source)))
}

/// The checkpoints in `dir` of either layout, one file or the manifest of one in shards, oldest
/// first (a manifest after the file of the same step).
pub fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>, CheckpointError> {
    let mut paths = checkpoint::list(dir)?;
    paths.extend(shards::list(dir)?);
    paths.sort();
    Ok(paths)
}

/// The run state of the checkpoint at `path`: one file, or the manifest of a checkpoint in
/// shards, whose particles come back from its shards in rank order.
pub fn load_checkpoint(path: &Path) -> Result<RunState, CheckpointError> {
    if !shards::is_manifest(path) {
        return checkpoint::load(checkpoint::RUN, path);
    }
    let sharded = shards::load(path)?;
    let what = checkpoint::MANIFEST.what;
    let mut state: RunState = checkpoint::decode_payload(what, &sharded.head, path)?;
    let particles = state.train.estimator.particles_mut();
    for (shard, payload) in &sharded.shards {
        particles.append_block(payload).map_err(|reason| CheckpointError::Decode {
            path: shard.clone(),
            what: checkpoint::SHARD.what,
            reason,
        })?;
    }
    Ok(state)
}

/// Where a run directory keeps its checkpoints.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::names;
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
            ("trend-lopt", SAMPLED_TASKS),
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
            assert_ne!(
                bits(&second.state().theta),
                bits(&straight.trainer.system().initial_theta())
            );
            std::fs::remove_dir_all(&straight_dir).unwrap();
            std::fs::remove_dir_all(&split_dir).unwrap();
        }
    }

    #[test]
    fn a_run_checkpointed_in_shards_resumes_to_the_bytes_of_a_straight_run() {
        let never = AtomicBool::new(false);
        let straight_dir = temp_dir("shards-straight");
        let mut straight = MetaTrainer::new(config("mlp-lopt"), &straight_dir).unwrap();
        straight.run(8, &mut Observers::default(), &never).unwrap();

        let dir = temp_dir("shards");
        let first = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        let mut first = first.with_shards(true);
        first.run(6, &mut Observers::default(), &never).unwrap();
        drop(first);
        assert_eq!(
            names(&checkpoint_dir(&dir)),
            [
                "checkpoint-0000000003.0-of-1.shard",
                "checkpoint-0000000003.manifest",
                "checkpoint-0000000006.0-of-1.shard",
                "checkpoint-0000000006.manifest",
            ]
        );
        let inspected = crate::inspect::inspect(&dir).unwrap();
        assert_eq!((inspected.what, inspected.outer_step), ("checkpoint manifest", 6));
        assert_eq!(inspected.estimator, Some(("pes".into(), 4)));
        let (mut second, resumed) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.path, checkpoint_dir(&dir).join(shards::manifest_name(6)));
        second.run(8, &mut Observers::default(), &never).unwrap();
        // Gathered again: the newest two checkpoints of either layout are kept.
        assert_eq!(
            names(&checkpoint_dir(&dir)),
            [
                "checkpoint-0000000006.0-of-1.shard",
                "checkpoint-0000000006.manifest",
                "checkpoint-0000000008.bin",
            ]
        );
        let file = |dir: &Path| std::fs::read(checkpoint_dir(dir).join(checkpoint::file_name(8)));
        assert!(file(&dir).unwrap() == file(&straight_dir).unwrap());
        std::fs::remove_dir_all(&straight_dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resuming_restores_an_optimizer_file_left_a_checkpoint_behind() {
        let dir = temp_dir("optimizer-behind");
        let never = AtomicBool::new(false);
        let mut trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        trainer.run(3, &mut Observers::default(), &never).unwrap();
        let file = dir.join(SAVED_OPTIMIZER_FILE);
        let behind = std::fs::read(&file).unwrap();
        trainer.run(6, &mut Observers::default(), &never).unwrap();
        let current = std::fs::read(&file).unwrap();
        drop(trainer);
        // A kill between the checkpoint of step 6 and the optimizer file.
        std::fs::write(&file, &behind).unwrap();
        let (resumed, resumed_how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(resumed.state().step, 6);
        assert!(std::fs::read(&file).unwrap() == current, "the optimizer file is not step 6's");
        assert_eq!(resumed_how.restored_optimizer.as_deref(), Some("it was at outer step 3"));
        drop(resumed);
        for damaged in [b"not an optimizer".to_vec(), Vec::new()] {
            std::fs::write(&file, damaged).unwrap();
            let (_, how) = MetaTrainer::resume(&dir).unwrap();
            assert!(how.restored_optimizer.unwrap().contains("optimizer.bin"));
            assert!(std::fs::read(&file).unwrap() == current);
        }
        let (_, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!(how.restored_optimizer, None, "an up-to-date file is left alone");
        // The newest checkpoint damaged: the run resumes at step 3 and keeps step 6's file.
        let newest = checkpoint_dir(&dir).join(checkpoint::file_name(6));
        std::fs::write(&newest, b"damaged").unwrap();
        let (resumed, how) = MetaTrainer::resume(&dir).unwrap();
        assert_eq!((resumed.state().step, how.restored_optimizer), (3, None));
        assert!(std::fs::read(&file).unwrap() == current, "a newer optimizer file is kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_gives_the_optimizer_of_its_step() {
        let dir = temp_dir("checkpoint-optimizer");
        let never = AtomicBool::new(false);
        let mut trainer = MetaTrainer::new(config("nominal-lopt"), &dir).unwrap();
        trainer.run(3, &mut Observers::default(), &never).unwrap();
        let at_3 = SavedOptimizer::load(&dir).unwrap();
        trainer.with_shards(true).run(6, &mut Observers::default(), &never).unwrap();
        let file = checkpoint_dir(&dir).join(checkpoint::file_name(3));
        let manifest = checkpoint_dir(&dir).join(shards::manifest_name(6));
        assert!(checkpoint_optimizer(&dir.join(SAVED_OPTIMIZER_FILE)).unwrap().is_none());
        assert!(checkpoint_optimizer(&dir).unwrap().is_none());
        let (saved, source) = checkpoint_optimizer(&file).unwrap().unwrap();
        assert_eq!((saved, source.outer_steps), (at_3, 3));
        let (saved, _) = checkpoint_optimizer(&manifest).unwrap().unwrap();
        assert_eq!(saved, SavedOptimizer::load(&dir).unwrap());
        std::fs::write(&file, b"PESTOCKP and then nothing").unwrap();
        let err = checkpoint_optimizer(&file).unwrap_err().to_string();
        assert!(err.contains("checkpoint-0000000003.bin"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_or_damaged_shard_falls_back_to_the_previous_checkpoint() {
        let dir = temp_dir("shard-damaged");
        let never = AtomicBool::new(false);
        let trainer = MetaTrainer::new(config("mlp-lopt"), &dir).unwrap();
        trainer.with_shards(true).run(6, &mut Observers::default(), &never).unwrap();
        let manifest = checkpoint_dir(&dir).join(shards::manifest_name(6));
        let shard = checkpoint_dir(&dir).join("checkpoint-0000000006.0-of-1.shard");
        let good = std::fs::read(&shard).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        let expected = [
            (None, "is missing"),
            (Some(flipped), "does not match the checksum the manifest records"),
        ];
        for (bytes, reason) in expected {
            match bytes {
                Some(bytes) => std::fs::write(&shard, bytes).unwrap(),
                None => std::fs::remove_file(&shard).unwrap(),
            }
            let (resumed, how) = MetaTrainer::resume(&dir).unwrap();
            assert_eq!(resumed.state().step, 3);
            assert_eq!(
                how.skipped[0].to_string(),
                format!("checkpoint {}: shard {} {reason}", manifest.display(), shard.display())
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
        let latest =
            checkpoint::load_latest(checkpoint::RUN, &checkpoint_dir(&dir), RunState::check)
                .unwrap();
        assert_eq!(latest.state.train.step, 5);
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
        let latest =
            checkpoint::load_latest(checkpoint::RUN, &checkpoint_dir(&dir), RunState::check)
                .unwrap();
        assert_eq!((latest.state.train.step, latest.state.train.skipped_in_row), (4, 4));
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
        trainer.trainer.state_mut().theta[2] = f32::INFINITY;
        trainer.trainer.state_mut().step = 7;
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
        let state = RunStateRef { config: trainer.config(), train: trainer.state() };
        let mut bytes = checkpoint::encode(checkpoint::RUN, &state);
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
        let latest =
            checkpoint::load_latest(checkpoint::RUN, &checkpoint_dir(&dir), RunState::check)
                .unwrap();
        assert_eq!(latest.state.train.step, 0);
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
