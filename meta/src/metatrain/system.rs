//! Learned-optimizer training as an unrolled system (docs/estimators.md): the state is one inner
//! training run (task, inner parameters, optimizer accumulators, inner step) and theta is the
//! learned optimizer's weights. A truncation's loss is the mean over its steps of `MetaLoss`'s term.

use crate::optim::{LearnedKind, LearnedOptimizer, OptState};
use crate::unrolled::{Unroll, UnrolledSystem};
use pesto_tasks::rng;
use pesto_tasks::tags;
use pesto_tasks::{Task, TaskSpec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TaskSource;
use super::sampling::{Sampling, rescale};

/// How the normalised training losses of an inner run add up to the meta-objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetaLoss {
    /// Every step weighs the same: the mean loss over the run.
    #[default]
    Mean,
    /// Step t of a run of T steps weighs 2 (t + 1) / (T + 1): the same total weight, shifted
    /// towards the end of training, where the final loss is decided.
    Late,
    /// Every step weighs the same and contributes ln(loss + 1e-5): a relative improvement counts
    /// the same at every scale of the (normalised) loss, as loss ratios do in evaluation.
    Log,
    /// `Log`'s terms with `Late`'s weights: relative improvements, counted more near the end.
    LateLog,
}

/// Added to the normalised loss before the logarithm of `MetaLoss::Log`.
const LOG_FLOOR: f64 = 1e-5;

impl MetaLoss {
    /// The weight of inner step `step` of a run of `horizon` steps.
    fn weight(self, step: u64, horizon: u64) -> f64 {
        match self {
            MetaLoss::Mean | MetaLoss::Log => 1.0,
            MetaLoss::Late | MetaLoss::LateLog => 2.0 * (step + 1) as f64 / (horizon + 1) as f64,
        }
    }

    /// The term of one step's normalised loss `value`.
    fn term(self, value: f32) -> f64 {
        match self {
            MetaLoss::Mean | MetaLoss::Late => f64::from(value),
            MetaLoss::Log | MetaLoss::LateLog => (f64::from(value) + LOG_FLOOR).ln(),
        }
    }
}

/// Training tasks drawn from a source with a learned optimizer of one kind, which every inner
/// run shares and steps with the theta of its unroll.
pub struct LoptTraining {
    source: TaskSource,
    kind: LearnedKind,
    optimizer: Box<dyn LearnedOptimizer>,
    initial_theta: Vec<f32>,
    meta_loss: MetaLoss,
    sampling: Sampling,
}

impl LoptTraining {
    /// Meta-training of a `kind` optimizer starting from `initial_theta` on tasks from `source`,
    /// with the mean loss as meta-objective.
    pub fn new(source: TaskSource, kind: LearnedKind, initial_theta: Vec<f32>) -> Self {
        Self {
            source,
            kind,
            optimizer: kind.optimizer(),
            initial_theta,
            meta_loss: MetaLoss::Mean,
            sampling: Sampling::default(),
        }
    }

    /// The same with horizons and parameter scales drawn at each reset as `sampling` says.
    pub fn with_sampling(self, sampling: Sampling) -> Self {
        Self { sampling, ..self }
    }

    /// The same with another weighting of the steps' losses.
    pub fn with_meta_loss(self, meta_loss: MetaLoss) -> Self {
        Self { meta_loss, ..self }
    }

    /// The learned optimizer's kind.
    pub fn kind(&self) -> LearnedKind {
        self.kind
    }
}

/// The objects an inner run steps with, rebuilt from the run's spec after a checkpoint load.
struct Workspace {
    task: Box<dyn Task>,
    grad: Vec<f32>,
    /// The task's parameters p = s * q under parameter-scale augmentation.
    scaled: Vec<f32>,
}

impl Workspace {
    fn build(spec: &TaskSpec) -> Self {
        let task = pesto_tasks::registry::build(spec)
            .unwrap_or_else(|err| panic!("task sources yield only valid specs: {err}"));
        Self::around(task)
    }

    fn around(task: Box<dyn Task>) -> Self {
        let grad = vec![0.0; task.layout().len()];
        let scaled = grad.clone();
        Self { task, grad, scaled }
    }
}

impl Clone for Workspace {
    fn clone(&self) -> Self {
        Self::around(self.task.boxed_clone())
    }
}

/// One particle's inner training run.
#[derive(Clone, Serialize, Deserialize)]
pub struct InnerRun {
    /// The task being trained.
    pub spec: TaskSpec,
    /// Inner parameters q as the optimizer sees them (the task computes with s * q).
    pub params: Vec<f32>,
    /// Parameter scale s of each tensor (empty: s = 1).
    pub scales: Vec<f32>,
    /// The learned optimizer's accumulators.
    pub opt_state: OptState,
    /// Inner steps taken (including a staggered start).
    pub step: u64,
    /// Length T of this run.
    pub horizon: u64,
    /// True once the loss went non-finite: the rest of the run costs the clip maximum.
    pub diverged: bool,
    /// Kept for the checkpoint format.
    retired: RetiredFlag,
    /// The task objects, rebuilt from `spec` when absent (after a checkpoint load).
    #[serde(skip)]
    workspace: Option<Workspace>,
}

/// A flag that run checkpoints (format 3) hold after `diverged` but nothing reads any more: it
/// said whether the last truncation clipped, which its `Unroll` now reports. Written as false,
/// read and dropped, so that the format stays the same.
#[derive(Clone, Copy, Debug, Default)]
struct RetiredFlag;

impl Serialize for RetiredFlag {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_bool(false)
    }
}

impl<'de> Deserialize<'de> for RetiredFlag {
    fn deserialize<D: Deserializer<'de>>(input: D) -> Result<Self, D::Error> {
        bool::deserialize(input).map(|_| RetiredFlag)
    }
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
        let mut spec = self.source.sample(seed);
        if let Some(horizon) = self.sampling.horizon(seed) {
            spec.config.insert("steps".into(), horizon.to_string());
        }
        let workspace = Workspace::build(&spec);
        let task = &workspace.task;
        let mut params = vec![0.0; task.layout().len()];
        task.init_params(rng::derive(seed, &[tags::RUN_INIT]), &mut params);
        let scales = self.sampling.scales(seed, task.layout());
        rescale(task.layout(), &scales, &mut params, true);
        let horizon = task.horizon();
        let opt_state = self.optimizer.init_state(task.layout(), horizon);
        InnerRun {
            spec,
            params,
            scales,
            opt_state,
            step: start.min(horizon.saturating_sub(1)),
            horizon,
            diverged: false,
            retired: RetiredFlag,
            workspace: Some(workspace),
        }
    }

    fn check_state(&self, run: &InnerRun) -> Result<(), String> {
        let task = pesto_tasks::registry::build(&run.spec).map_err(|e| e.to_string())?;
        let (params, tensors) = (task.layout().len(), task.layout().tensors().len());
        if run.params.len() != params {
            return Err(format!(
                "{} has {params} parameters but the stored inner run has {}",
                run.spec,
                run.params.len()
            ));
        }
        if !run.scales.is_empty() && run.scales.len() != tensors {
            return Err(format!(
                "{} has {tensors} tensors but the stored inner run has {} scales",
                run.spec,
                run.scales.len()
            ));
        }
        if run.step > run.horizon {
            return Err(format!("inner run at step {} past its horizon {}", run.step, run.horizon));
        }
        let fresh = self.optimizer.init_state(task.layout(), run.horizon);
        let shape =
            |s: &OptState| (s.slots.iter().map(Vec::len).collect::<Vec<_>>(), s.scalars.len());
        if shape(&run.opt_state) != shape(&fresh) {
            return Err(format!(
                "the stored {} state of {} does not fit its parameters",
                self.kind, run.spec
            ));
        }
        Ok(())
    }

    fn run_steps(&self, run: &mut InnerRun, theta: &[f32], steps: u64) -> Unroll {
        let ws = run.workspace.get_or_insert_with(|| Workspace::build(&run.spec));
        let normaliser = ws.task.normaliser();
        let mut total = 0.0f64;
        let mut clipped = false;
        for _ in 0..steps {
            let weight = self.meta_loss.weight(run.step, run.horizon);
            if run.diverged {
                total += weight * self.meta_loss.term(normaliser.max);
                clipped = true;
            } else {
                let loss = if run.scales.is_empty() {
                    ws.task.loss_and_grad(&run.params, run.step, &mut ws.grad)
                } else {
                    ws.scaled.copy_from_slice(&run.params);
                    rescale(ws.task.layout(), &run.scales, &mut ws.scaled, false);
                    let loss = ws.task.loss_and_grad(&ws.scaled, run.step, &mut ws.grad);
                    rescale(ws.task.layout(), &run.scales, &mut ws.grad, false);
                    loss
                };
                let normalised = normaliser.apply(loss);
                total += weight * self.meta_loss.term(normalised.value);
                clipped |= normalised.clipped;
                run.diverged = !loss.is_finite();
                if !run.diverged {
                    let layout = ws.task.layout();
                    let (state, params) = (&mut run.opt_state, &mut run.params);
                    self.optimizer.step(theta, state, layout, params, &ws.grad, loss);
                }
            }
            run.step += 1;
        }
        Unroll { loss: total / steps.max(1) as f64, steps, clipped }
    }

    fn horizon(&self, run: &InnerRun) -> Option<u64> {
        Some(run.horizon)
    }

    fn position(&self, run: &InnerRun) -> u64 {
        run.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::{AnyEstimator, Estimator, EstimatorConfig, EstimatorKind};

    fn tiny_task() -> TaskSource {
        TaskSource::Task(
            TaskSpec::parse("mlp-synth:input=8,hidden=8,classes=3,batch=16,steps=12", 0).unwrap(),
        )
    }

    #[test]
    fn a_stored_inner_run_that_no_longer_fits_is_refused() {
        let kind = LearnedKind::MlpLopt;
        let system = LoptTraining::new(tiny_task(), kind, kind.init_theta(0));
        let run = system.init_state(3, 0);
        assert_eq!(system.check_state(&run), Ok(()));
        let mut gone = run.clone();
        gone.spec.family = "retired-family".into();
        assert!(system.check_state(&gone).unwrap_err().contains("retired-family"));
        let mut short = run.clone();
        short.params.pop();
        assert_eq!(
            system.check_state(&short).unwrap_err(),
            "mlp-synth:batch=16,classes=3,hidden=8,input=8,steps=12 has 99 parameters but the stored inner run has 98"
        );
        let mut slots = run.clone();
        slots.opt_state.slots[0].pop();
        assert_eq!(
            system.check_state(&slots).unwrap_err(),
            "the stored mlp-lopt state of mlp-synth:batch=16,classes=3,hidden=8,input=8,steps=12 does not fit its parameters"
        );
        let mut late = run;
        late.step = late.horizon + 1;
        assert_eq!(
            system.check_state(&late).unwrap_err(),
            "inner run at step 13 past its horizon 12"
        );
    }

    #[test]
    fn a_diverging_particle_is_clipped_then_reset_and_theta_stays_finite() {
        // learned-adam with a learning rate of e^8: the inner loss blows up within a few steps.
        let kind = LearnedKind::LearnedAdam;
        let mut theta = kind.init_theta(0);
        theta[0] = 8.0;
        let system = LoptTraining::new(tiny_task(), kind, theta.clone());
        let config =
            EstimatorConfig { particles: 4, sigma: 0.01, truncation: 4, stagger: false, seed: 1 };
        let mut pes = AnyEstimator::new(EstimatorKind::Pes, config, &system).unwrap();
        let (mut clipped, mut resets) = (0, 0);
        for step in 0..6 {
            let estimate = pes.estimate(&system, &theta, step);
            assert!(
                estimate.grad.iter().all(|g| g.is_finite()),
                "step {step}: {:?}",
                estimate.grad
            );
            assert!(estimate.loss.is_finite());
            clipped += estimate.clipped;
            resets += estimate.resets;
            theta.iter_mut().zip(&estimate.grad).for_each(|(t, g)| *t -= 0.1 * g);
        }
        assert!(clipped > 0, "no particle hit the loss clip");
        assert_eq!(resets, 8, "every pair resets at steps 12 and 24 of 6 x 4");
        assert!(theta.iter().all(|t| t.is_finite()));
    }

    #[test]
    fn every_es_family_estimator_trains_a_learned_optimizer() {
        for kind in LearnedKind::ALL {
            let system = LoptTraining::new(tiny_task(), kind, kind.init_theta(0));
            let config = EstimatorConfig {
                particles: 4,
                sigma: 0.01,
                truncation: 5,
                stagger: true,
                seed: 2,
            };
            for estimator in EstimatorKind::ALL {
                let mut e = AnyEstimator::new(estimator, config.clone(), &system).unwrap();
                for step in 0..3 {
                    let estimate = e.estimate(&system, &system.initial_theta(), step);
                    assert_eq!(estimate.grad.len(), kind.theta_dim());
                    let finite =
                        estimate.grad.iter().all(|g| g.is_finite()) && estimate.loss.is_finite();
                    assert!(finite, "{kind} with {estimator} at step {step}");
                    assert!(estimate.inner_steps > 0);
                }
            }
        }
    }

    #[test]
    fn a_truncation_of_the_benchmark_task_allocates_nothing() {
        let kind = LearnedKind::MlpLopt;
        let source = TaskSource::Task(TaskSpec::parse("mlp-synth-64x32x10", 0).unwrap());
        let system = LoptTraining::new(source, kind, kind.init_theta(0));
        let theta = system.initial_theta();
        let mut run = system.init_state(1, 0);
        system.unroll(&mut run, &theta, 2);
        let before = pesto_tasks::alloc_count::allocations();
        let unroll = system.unroll(&mut run, &theta, 20);
        assert_eq!(pesto_tasks::alloc_count::allocations(), before);
        assert!(unroll.loss.is_finite() && unroll.steps == 20 && run.step == 22);
    }

    #[test]
    fn late_weighting_keeps_the_total_weight_and_grows_with_the_step() {
        let horizon = 9;
        let total: f64 = (0..horizon).map(|t| MetaLoss::Late.weight(t, horizon)).sum();
        assert!((total - horizon as f64).abs() < 1e-12);
        assert!(MetaLoss::Late.weight(0, horizon) < MetaLoss::Late.weight(8, horizon));
        assert_eq!(MetaLoss::Mean.weight(3, horizon), 1.0);
        assert_eq!(MetaLoss::Log.weight(3, horizon), 1.0);
        assert_eq!(MetaLoss::Log.term(1.0), (1.0 + LOG_FLOOR).ln());
        assert!(MetaLoss::Log.term(0.0) < MetaLoss::Log.term(1e-3));
        assert_eq!(MetaLoss::LateLog.weight(5, horizon), MetaLoss::Late.weight(5, horizon));
        assert_eq!(MetaLoss::LateLog.term(0.5), MetaLoss::Log.term(0.5));
        assert_eq!(MetaLoss::Mean.term(0.25), 0.25);
    }

    #[test]
    fn a_restarted_run_is_fresh_and_pairs_share_it() {
        let kind = LearnedKind::MlpLopt;
        let system = LoptTraining::new(tiny_task(), kind, kind.init_theta(0));
        let a = system.init_state(9, 5);
        let b = system.init_state(9, 5);
        assert_eq!(a.params, b.params);
        assert_eq!(a.spec, b.spec);
        assert_eq!((a.step, a.horizon, a.diverged), (5, 12, false));
        assert_ne!(system.init_state(10, 5).params, a.params);
    }
}
