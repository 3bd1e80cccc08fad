//! Learned-optimizer training as an unrolled system (REFERENCE.md §1): the state is one inner
//! training run (task, inner parameters, optimizer accumulators, inner step) and theta is the
//! learned optimizer's weights. The truncation's loss is the mean normalised training loss.

use crate::optim::{LearnedKind, LearnedOptimizer, OptState};
use crate::unrolled::UnrolledSystem;
use pesto_tasks::rng;
use pesto_tasks::{Task, TaskSpec};
use serde::{Deserialize, Serialize};

use super::TaskSource;

/// Stream tag of inner-parameter initialisation seeds.
const INIT_TAG: u64 = 0x696e_6974;

/// Training tasks drawn from a source with a learned optimizer of one kind.
pub struct LoptTraining {
    source: TaskSource,
    kind: LearnedKind,
    initial_theta: Vec<f32>,
}

impl LoptTraining {
    /// Meta-training of a `kind` optimizer starting from `initial_theta` on tasks from `source`.
    pub fn new(source: TaskSource, kind: LearnedKind, initial_theta: Vec<f32>) -> Self {
        Self { source, kind, initial_theta }
    }

    /// The learned optimizer's kind.
    pub fn kind(&self) -> LearnedKind {
        self.kind
    }
}

/// The objects an inner run steps with, rebuilt from the run's spec after a checkpoint load.
struct Workspace {
    task: Box<dyn Task>,
    kind: LearnedKind,
    optimizer: Box<dyn LearnedOptimizer>,
    grad: Vec<f32>,
}

impl Workspace {
    fn build(spec: &TaskSpec, kind: LearnedKind) -> Self {
        let task = pesto_tasks::registry::build(spec)
            .unwrap_or_else(|err| panic!("task sources yield only valid specs: {err}"));
        Self::around(task, kind)
    }

    fn around(task: Box<dyn Task>, kind: LearnedKind) -> Self {
        let grad = vec![0.0; task.layout().len()];
        let optimizer = kind.build(kind.init_theta(0)).expect("an initial theta fits its kind");
        Self { task, kind, optimizer, grad }
    }
}

impl Clone for Workspace {
    fn clone(&self) -> Self {
        Self::around(self.task.boxed_clone(), self.kind)
    }
}

/// One particle's inner training run.
#[derive(Clone, Serialize, Deserialize)]
pub struct InnerRun {
    /// The task being trained.
    pub spec: TaskSpec,
    /// Inner parameters.
    pub params: Vec<f32>,
    /// The learned optimizer's accumulators.
    pub opt_state: OptState,
    /// Inner steps taken (including a staggered start).
    pub step: u64,
    /// Length T of this run.
    pub horizon: u64,
    /// True once the loss went non-finite: the rest of the run costs the clip maximum.
    pub diverged: bool,
    /// True if the last truncation's loss hit the clip.
    pub clipped: bool,
    /// Task and optimizer objects, rebuilt from `spec` when absent (after a checkpoint load).
    #[serde(skip)]
    workspace: Option<Workspace>,
}

impl UnrolledSystem for LoptTraining {
    type State = InnerRun;

    fn theta_dim(&self) -> usize {
        self.initial_theta.len()
    }

    fn initial_theta(&self) -> Vec<f32> {
        self.initial_theta.clone()
    }

    fn init_state(&self, seed: u64, start: u64) -> InnerRun {
        let spec = self.source.sample(seed);
        let workspace = Workspace::build(&spec, self.kind);
        let task = &workspace.task;
        let mut params = vec![0.0; task.layout().len()];
        task.init_params(rng::derive(seed, &[INIT_TAG]), &mut params);
        let opt_state = workspace.optimizer.init_state(task.layout());
        let horizon = task.horizon();
        InnerRun {
            spec,
            params,
            opt_state,
            step: start.min(horizon.saturating_sub(1)),
            horizon,
            diverged: false,
            clipped: false,
            workspace: Some(workspace),
        }
    }

    fn unroll(&self, run: &mut InnerRun, theta: &[f32], k: u64) -> f64 {
        let ws = run.workspace.get_or_insert_with(|| Workspace::build(&run.spec, self.kind));
        ws.optimizer.set_theta(theta);
        let normaliser = ws.task.normaliser();
        let steps = k.min(run.horizon - run.step);
        let mut total = 0.0f64;
        run.clipped = false;
        for _ in 0..steps {
            if run.diverged {
                total += f64::from(normaliser.max);
                run.clipped = true;
            } else {
                let loss = ws.task.loss_and_grad(&run.params, run.step, &mut ws.grad);
                let normalised = normaliser.apply(loss);
                total += f64::from(normalised.value);
                run.clipped |= normalised.clipped;
                run.diverged = !loss.is_finite();
                if !run.diverged {
                    let layout = ws.task.layout();
                    ws.optimizer.step(&mut run.opt_state, layout, &mut run.params, &ws.grad);
                }
            }
            run.step += 1;
        }
        total / steps.max(1) as f64
    }

    fn horizon(&self, run: &InnerRun) -> Option<u64> {
        Some(run.horizon)
    }

    fn position(&self, run: &InnerRun) -> u64 {
        run.step
    }
}
