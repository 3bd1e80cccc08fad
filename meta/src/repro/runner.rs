//! Runs one method of an experiment on the outer loop (`trainer`), in memory or in its own
//! directory `OUT/runs/NAME`: `log.csv` with theta on every row and checkpoints that a later run
//! with `resume` continues from, bit for bit; optional TensorBoard events in
//! `OUT/tensorboard/NAME`.

use super::ReproError;
use crate::checkpoint::{self, EXPERIMENT};
use crate::estimators::Estimator;
use crate::metatrain::RunLock;
use crate::observe::{CsvLog, Observers, OuterRecord, TensorBoard};
use crate::trainer::{Checkpointer, NoCheckpoints, TrainError, TrainState, Trainer};
use crate::unrolled::UnrolledSystem;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Where the methods of an experiment keep their runs, and how.
#[derive(Clone, Debug)]
pub struct Storage {
    /// The experiment's output directory; each method runs in `DIR/runs/NAME`.
    pub dir: PathBuf,
    /// Continue the runs found there (a method without one starts afresh) instead of
    /// refusing to touch them.
    pub resume: bool,
    /// Outer steps between checkpoints (one is also written when a run stops).
    pub checkpoint_every: u64,
    /// Also write TensorBoard events (see `tensorboard_dir`).
    pub tensorboard: bool,
}

impl Storage {
    /// The directory of the method labelled `label`: `DIR/runs/NAME` (see `method_name`).
    pub fn method_dir(&self, label: &str) -> PathBuf {
        self.dir.join("runs").join(method_name(label))
    }

    /// Where the method labelled `label` writes TensorBoard events: `DIR/tensorboard/NAME`, so
    /// that `tensorboard --logdir DIR/tensorboard` shows every method as a run named NAME.
    pub fn tensorboard_dir(&self, label: &str) -> PathBuf {
        self.dir.join("tensorboard").join(method_name(label))
    }
}

/// A method's name in paths: its label in lower case with every run of other characters than
/// letters and digits turned into one `-` (`TBPTT K=10`: `tbptt-k-10`).
fn method_name(label: &str) -> String {
    let lower = label.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.join("-")
}

/// What an experiment checkpoint holds: the method's settings (as JSON, to refuse a checkpoint
/// of other settings) and its outer-loop state.
#[derive(Deserialize)]
struct MethodState<E> {
    settings: String,
    train: TrainState<E>,
}

/// A `MethodState` being written, borrowed.
#[derive(Serialize)]
struct MethodStateRef<'a, E> {
    settings: &'a str,
    train: &'a TrainState<E>,
}

/// Saves a method's checkpoints into its directory, keeping the newest two.
struct MethodCheckpoints<'a> {
    dir: PathBuf,
    settings: &'a str,
    every: u64,
}

impl<E: Serialize> Checkpointer<E> for MethodCheckpoints<'_> {
    fn every(&self) -> u64 {
        self.every.max(1)
    }

    fn save(&mut self, train: &mut TrainState<E>) -> Result<(), checkpoint::CheckpointError> {
        let state = MethodStateRef { settings: self.settings, train: &*train };
        checkpoint::save(EXPERIMENT, &self.dir, train.step, &state, 2).map(|_| ())
    }
}

/// Trains `trainer` until `steps` outer steps are complete and returns the record of every step
/// from the first. `settings` names what the method was run with; with `storage`, the method
/// runs in its own directory (`Storage::method_dir(label)`), a resumed run continues from its
/// newest checkpoint of the same `settings`, and TensorBoard events record `settings` as the
/// run's config. A raised `stop` ends the run early with a checkpoint and
/// `ReproError::Interrupted`.
pub fn train<S, E>(
    trainer: &mut Trainer<S, E>,
    steps: u64,
    label: &str,
    settings: &serde_json::Value,
    storage: Option<&Storage>,
    stop: &AtomicBool,
) -> Result<Vec<OuterRecord>, ReproError>
where
    S: UnrolledSystem,
    E: Estimator<S> + Serialize + DeserializeOwned,
{
    let Some(storage) = storage else {
        let mut records = Vec::new();
        trainer.run(steps, &mut records, stop, &mut NoCheckpoints)?;
        return finished(trainer, steps, label, records);
    };
    let dir = storage.method_dir(label);
    std::fs::create_dir_all(&dir).map_err(|e| ReproError::io(&dir, e))?;
    let _lock = RunLock::acquire(&dir)?;
    let checkpoints = dir.join("checkpoints");
    let log = dir.join("log.csv");
    let held = !checkpoint::list(&checkpoints)?.is_empty() || log.exists();
    if held && !storage.resume {
        return Err(ReproError::Exists { dir });
    }
    let key = settings.to_string();
    if held {
        restore(trainer, &checkpoints, &key)?;
    }
    let start = trainer.state().step;
    let mut records: Vec<OuterRecord> = match start {
        0 => Vec::new(),
        _ => CsvLog::read(&log)
            .map_err(|e| ReproError::io(&log, e))?
            .into_iter()
            .filter(|r| r.step <= start)
            .collect(),
    };
    let mut observers = Observers::default();
    let theta_columns = trainer.state().theta.len();
    observers.push(CsvLog::with_theta(&log, start, theta_columns).map_err(TrainError::from)?);
    if storage.tensorboard {
        let events = TensorBoard::open(&storage.tensorboard_dir(label))
            .and_then(|tb| tb.with_config(settings))
            .map_err(TrainError::from)?;
        observers.push(events);
    }
    let every = storage.checkpoint_every;
    let mut policy = MethodCheckpoints { dir: checkpoints, settings: &key, every };
    trainer.run(steps, &mut (&mut records, observers), stop, &mut policy)?;
    finished(trainer, steps, label, records)
}

/// theta's evaluated path through a run: (outer step, theta, held-out meta-loss) at step 0
/// (`start`), at every record the outer loop evaluated, and at `last` = (step, theta) when the
/// last record was not evaluated; `evaluate` scores the two ends the records do not.
pub fn evaluated_path<'a>(
    start: &'a [f32],
    records: &'a [OuterRecord],
    last: (u64, &'a [f32]),
    evaluate: impl Fn(&[f32]) -> f64,
) -> Vec<(u64, &'a [f32], f64)> {
    let mut path = vec![(0, start, evaluate(start))];
    path.extend(records.iter().filter_map(|r| Some((r.step, &r.theta[..], r.heldout_loss?))));
    if path.last().is_some_and(|&(step, _, _)| step != last.0) {
        path.push((last.0, last.1, evaluate(last.1)));
    }
    path
}

/// Continues `trainer` from the newest checkpoint in `dir` of the same `settings` (none: from
/// step 0).
fn restore<S, E>(trainer: &mut Trainer<S, E>, dir: &Path, settings: &str) -> Result<(), ReproError>
where
    S: UnrolledSystem,
    E: Estimator<S> + DeserializeOwned,
{
    let dim = trainer.state().theta.len();
    let same = |state: &MethodState<E>| {
        if state.settings != settings {
            return Err(format!("belongs to other settings: {}", state.settings));
        }
        if state.train.theta.len() != dim {
            return Err(format!("theta has {} values, expected {dim}", state.train.theta.len()));
        }
        checkpoint::check_finite("theta", &state.train.theta)
    };
    match checkpoint::load_latest(EXPERIMENT, dir, same) {
        Ok(latest) => {
            *trainer.state_mut() = latest.state.train;
            Ok(())
        }
        Err(checkpoint::CheckpointError::Missing { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// `records` if the run reached `steps`; otherwise the interruption.
fn finished<S: UnrolledSystem, E: Estimator<S>>(
    trainer: &Trainer<S, E>,
    steps: u64,
    label: &str,
    records: Vec<OuterRecord>,
) -> Result<Vec<OuterRecord>, ReproError> {
    let step = trainer.state().step;
    match step < steps {
        true => Err(ReproError::Interrupted { label: label.to_string(), step }),
        false => Ok(records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::{EstimatorKind, MethodKind};
    use crate::repro::toy_regression::{self, EstimatorRun, ToyRegressionSettings};

    fn storage(name: &str, resume: bool) -> Storage {
        let dir = std::env::temp_dir().join(format!("pesto-runner-{name}-{}", std::process::id()));
        Storage { dir, resume, checkpoint_every: 40, tensorboard: false }
    }

    /// PES on the toy regression for `steps` outer steps, logging every 25.
    fn toy(steps: u64, storage: Option<&Storage>, stop: bool) -> Result<EstimatorRun, ReproError> {
        let settings =
            ToyRegressionSettings { outer_steps: steps, log_every: 25, ..Default::default() };
        let stop = AtomicBool::new(stop);
        toy_regression::run(MethodKind::Es(EstimatorKind::Pes), &settings, storage, &stop)
    }

    #[test]
    fn a_stopped_and_resumed_method_matches_a_straight_run() {
        let straight = toy(130, None, false).unwrap();
        let first = storage("split", false);
        let _ = std::fs::remove_dir_all(&first.dir);
        toy(70, Some(&first), false).unwrap();
        let err = toy(130, Some(&first), false).unwrap_err();
        let dir = first.method_dir("pes");
        assert_eq!(
            err.to_string(),
            format!(
                "{} already holds a run; continue it with --resume or choose another --out",
                dir.display()
            )
        );
        let again = storage("split", true);
        let stopped = toy(130, Some(&again), true).unwrap_err();
        assert_eq!(stopped.to_string(), "pes stopped at outer step 70");
        let resumed = toy(130, Some(&again), false).unwrap();
        assert_eq!(resumed.trajectory, straight.trajectory);
        assert_eq!(resumed.theta.map(f32::to_bits), straight.theta.map(f32::to_bits));
        let steps: Vec<u64> = resumed.trajectory.iter().map(|p| p.step).collect();
        assert_eq!(steps, [0, 25, 50, 75, 100, 125, 130]);
        std::fs::remove_dir_all(&again.dir).unwrap();
    }

    #[test]
    fn a_method_label_becomes_a_directory_name() {
        let storage =
            Storage { dir: "out".into(), resume: false, checkpoint_every: 1, tensorboard: false };
        assert_eq!(storage.method_dir("TBPTT K=10"), Path::new("out/runs/tbptt-k-10"));
        assert_eq!(storage.method_dir("pes-analytic"), Path::new("out/runs/pes-analytic"));
        assert_eq!(storage.tensorboard_dir("TBPTT K=10"), Path::new("out/tensorboard/tbptt-k-10"));
    }

    #[test]
    fn events_go_to_a_run_named_after_the_method_and_a_resume_without_steps_adds_no_file() {
        let mut storage = Storage { tensorboard: true, ..storage("events", false) };
        let _ = std::fs::remove_dir_all(&storage.dir);
        toy(30, Some(&storage), false).unwrap();
        storage.resume = true;
        toy(30, Some(&storage), false).unwrap();
        let events = std::fs::read_dir(storage.tensorboard_dir("pes")).unwrap();
        let names: Vec<String> =
            events.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].starts_with("events.out.tfevents."), "{names:?}");
        std::fs::remove_dir_all(&storage.dir).unwrap();
    }
}
