//! The one outer loop every experiment runs on: estimate the meta-gradient, update theta with
//! the outer optimizer, evaluate, observe, checkpoint. It takes any `UnrolledSystem` and any
//! estimator (ES family or gradient-based); meta-training (`metatrain`) and the paper's
//! experiments (`repro`) differ only in the system, the estimator, the observers and where
//! checkpoints go.

use crate::checkpoint::CheckpointError;
use crate::estimators::Estimator;
use crate::observe::{Observer, OuterRecord};
use crate::outer::{OuterConfig, OuterError, OuterState};
use crate::unrolled::UnrolledSystem;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use thiserror::Error;

/// Why the outer loop stopped early.
#[derive(Debug, Error)]
pub enum TrainError {
    /// An observer (log, TensorBoard) failed to write.
    #[error("writing the training log: {0}")]
    Log(#[from] std::io::Error),
    /// A checkpoint could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Too many outer steps in a row gave a non-finite meta-gradient or update.
    #[error(
        "outer steps {first} to {last} all gave a non-finite meta-gradient or update (max_skipped_updates = {max}); theta is kept from before them"
    )]
    Diverged {
        /// The first skipped step.
        first: u64,
        /// The last skipped step.
        last: u64,
        /// The limit that was reached.
        max: u64,
    },
}

/// Every piece of mutable outer-training state: theta, the outer optimizer's moments, the
/// estimator with all its particles, and the step counters. Serialising it checkpoints a run.
#[derive(Clone, Serialize, Deserialize)]
pub struct TrainState<E> {
    /// Outer steps completed.
    pub step: u64,
    /// The meta-parameters.
    pub theta: Vec<f32>,
    /// The outer optimizer's state.
    pub outer: OuterState,
    /// The estimator with all particles.
    pub estimator: E,
    /// Outer steps in a row, up to this one, whose update was skipped as non-finite.
    pub skipped_in_row: u64,
}

impl<E> TrainState<E> {
    /// Step 0 of training from `theta` with `estimator` and a fresh `outer` optimizer.
    pub fn new(theta: Vec<f32>, estimator: E, outer: &OuterConfig) -> Result<Self, OuterError> {
        let outer = outer.init_state(theta.len())?;
        Ok(Self { step: 0, theta, outer, estimator, skipped_in_row: 0 })
    }
}

/// A function scoring theta on a system.
pub type Evaluate<S> = Box<dyn Fn(&S, &[f32]) -> f64 + Send + Sync>;

/// A scalar evaluation of theta (a held-out loss, the full-horizon meta-objective) computed on
/// the outer steps that are multiples of `every`, and reported as the record's `heldout_loss`.
pub struct Evaluation<S> {
    /// Outer steps between evaluations (0: never).
    pub every: u64,
    /// The evaluation of theta on the system.
    pub evaluate: Evaluate<S>,
}

/// Where and how often the loop saves its state.
pub trait Checkpointer<E> {
    /// Outer steps between checkpoints (a checkpoint is also written when the loop stops).
    fn every(&self) -> u64;
    /// Writes `state` durably; collective in a run spread over processes, where it first
    /// brings the particles other processes hold together (`Estimator::gather`) or writes each
    /// process's own. It may take `state` apart while writing, and leaves it as it was.
    fn save(&mut self, state: &mut TrainState<E>) -> Result<(), CheckpointError>;
}

/// The policy of a run kept in memory: nothing is saved.
pub struct NoCheckpoints;

impl<E> Checkpointer<E> for NoCheckpoints {
    fn every(&self) -> u64 {
        u64::MAX
    }

    fn save(&mut self, _state: &mut TrainState<E>) -> Result<(), CheckpointError> {
        Ok(())
    }
}

/// One outer loop: a system, an outer optimizer, an optional evaluation and the state.
///
/// ```
/// use pesto_meta::estimators::{EstimatorConfig, Pes};
/// use pesto_meta::observe::Observers;
/// use pesto_meta::outer::{OuterConfig, OuterOptimizer};
/// use pesto_meta::systems::ToyRegression;
/// use pesto_meta::trainer::{NoCheckpoints, TrainState, Trainer};
/// use pesto_meta::UnrolledSystem;
/// use std::sync::atomic::AtomicBool;
///
/// let system = ToyRegression::default();
/// let config = EstimatorConfig { particles: 8, sigma: 0.3, truncation: 10, stagger: true, seed: 1 };
/// let pes = Pes::new(config, &system).unwrap();
/// let outer = OuterConfig {
///     optimizer: OuterOptimizer::Adam { lr: 1e-2, beta1: 0.99, beta2: 0.999, eps: 1e-8 },
///     clip_value: None,
///     clip_norm: None,
/// };
/// let state = TrainState::new(system.initial_theta(), pes, &outer).unwrap();
/// let mut trainer = Trainer::new(system, outer, state);
/// let stop = AtomicBool::new(false);
/// trainer.run(200, &mut Observers::default(), &stop, &mut NoCheckpoints).unwrap();
/// let before = trainer.system().meta_objective(&trainer.system().initial_theta());
/// assert!(trainer.system().meta_objective(&trainer.state().theta) < before);
/// ```
pub struct Trainer<S: UnrolledSystem, E: Estimator<S>> {
    system: S,
    outer: OuterConfig,
    state: TrainState<E>,
    evaluation: Option<Evaluation<S>>,
    max_skipped_updates: u64,
}

impl<S: UnrolledSystem, E: Estimator<S>> Trainer<S, E> {
    /// A loop over `system` continuing from `state`, updating theta with `outer`; without an
    /// evaluation, and stopping after 10 non-finite updates in a row.
    pub fn new(system: S, outer: OuterConfig, state: TrainState<E>) -> Self {
        Self { system, outer, state, evaluation: None, max_skipped_updates: 10 }
    }

    /// The same loop, evaluating theta as `evaluation` says.
    pub fn with_evaluation(self, evaluation: Evaluation<S>) -> Self {
        Self { evaluation: Some(evaluation), ..self }
    }

    /// The same loop, stopping after `max` non-finite updates in a row.
    pub fn with_max_skipped_updates(self, max: u64) -> Self {
        Self { max_skipped_updates: max, ..self }
    }

    /// The system being trained.
    pub fn system(&self) -> &S {
        &self.system
    }

    /// The loop's state.
    pub fn state(&self) -> &TrainState<E> {
        &self.state
    }

    /// The loop's state, to change it (tests, damaged-run simulations).
    pub fn state_mut(&mut self) -> &mut TrainState<E> {
        &mut self.state
    }

    /// Takes one outer step: estimate the meta-gradient, clip it, update theta. An estimate or
    /// update that is not finite is undone (theta and the outer state stay as they were) and
    /// counted in `skipped_in_row`. Evaluates theta when the step is a multiple of the
    /// evaluation's `every`.
    pub fn step(&mut self) -> OuterRecord {
        let started = Instant::now();
        let TrainState { step, theta, outer, estimator, skipped_in_row } = &mut self.state;
        let estimate = estimator.estimate(&self.system, theta, *step);
        let grad_norm = norm(&estimate.grad);
        let mut grad = estimate.grad;
        let before = (theta.clone(), outer.clone());
        self.outer.apply(outer, theta, &mut grad);
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
        let particles = estimate.particles.max(1) as f64;
        let heldout_loss = self
            .evaluation
            .as_ref()
            .filter(|e| e.every > 0 && step.is_multiple_of(e.every))
            .map(|e| (e.evaluate)(&self.system, theta));
        OuterRecord {
            step: *step,
            meta_loss: estimate.loss,
            grad_norm,
            theta_norm: norm(theta),
            inner_steps: estimate.inner_steps,
            inner_steps_per_sec: estimate.inner_steps as f64 / seconds,
            reset_fraction: estimate.resets as f64 / particles,
            clip_fraction: estimate.clipped as f64 / particles,
            heldout_loss,
            update_skipped: skipped,
            theta: theta.clone(),
        }
    }

    /// Runs outer steps until `until` are complete or `stop` is raised, reporting each to
    /// `observer` and checkpointing as `checkpoints` says and when the loop stops. Stops with
    /// an error, after a checkpoint, once `max_skipped_updates` updates in a row were skipped.
    /// The observers are flushed before each checkpoint, so a checkpoint never covers a step
    /// the log lacks; when an observer fails, a checkpoint is still written before its error
    /// is returned.
    pub fn run(
        &mut self,
        until: u64,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
        checkpoints: &mut dyn Checkpointer<E>,
    ) -> Result<(), TrainError> {
        while self.state.step < until && !stop.load(Ordering::SeqCst) {
            let record = self.step();
            let observed = observer.observe(&record);
            let (step, max) = (self.state.step, self.max_skipped_updates);
            let diverged = self.state.skipped_in_row >= max;
            if observed.is_err() || diverged || step.is_multiple_of(checkpoints.every()) {
                self.checkpoint(observer, observed, checkpoints)?;
            }
            if diverged {
                observer.finish()?;
                return Err(TrainError::Diverged { first: step + 1 - max, last: step, max });
            }
        }
        self.checkpoint(observer, Ok(()), checkpoints)?;
        observer.finish()?;
        Ok(())
    }

    /// Flushes `observer` (unless it already failed with `observed`), then saves a checkpoint,
    /// then reports the observer's error if any.
    fn checkpoint(
        &mut self,
        observer: &mut dyn Observer,
        observed: std::io::Result<()>,
        checkpoints: &mut dyn Checkpointer<E>,
    ) -> Result<(), TrainError> {
        let logged = observed.and_then(|()| observer.flush());
        checkpoints.save(&mut self.state)?;
        Ok(logged?)
    }
}

/// The Euclidean norm of `v`, accumulated in f64.
fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}
