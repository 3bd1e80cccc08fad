//! The MNIST learning-rate schedule of docs/estimators.md: SGD with momentum 0.9 trains an MLP
//! (two hidden layers of 100 ReLU units, minibatches of 100) on MNIST with the inverse-time decay
//! a_t = exp(theta0) / (1 + t / D)^exp(theta1), and the meta-objective is the sum over the T
//! steps of the loss after each update on a fresh training minibatch.

use crate::optim::{OptState, Optimizer, Schedule, Sgd};
use crate::unrolled::{Unroll, UnrolledSystem};
use pesto_tasks::classifier::Classifier;
use pesto_tasks::data::{Splits, mnist};
use pesto_tasks::mlp::{Activation, Mlp};
use pesto_tasks::{Normaliser, Task, TaskSpec, rng, tags};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Heavy-ball momentum of the inner SGD.
pub const MOMENTUM: f32 = 0.9;
/// Widths of the MLP's hidden layers.
pub const HIDDEN: [usize; 2] = [100, 100];
/// Minibatch size of the inner steps and of the meta-objective's terms.
pub const BATCH: usize = 100;

/// Meta-learning the inverse-time-decay schedule of momentum SGD on an MNIST MLP.
pub struct MnistSchedule {
    /// Side of the average-pooled images (one of `mnist::RESOLUTIONS`).
    pub resolution: usize,
    /// Horizon T: inner steps of one training run.
    pub horizon: u64,
    /// D in the decay (1 + t / D): the steps over which the rate falls by 2^exp(theta1).
    pub decay_steps: f64,
    mlp: Mlp,
    data: Arc<Splits>,
}

/// The objects a run steps with, rebuilt from its seed after a checkpoint load.
#[derive(Clone)]
struct Workspace {
    task: Classifier,
    grad: Vec<f32>,
}

/// One inner training run: the MLP's parameters, the momentum and step t (in `opt`), and the
/// seed that names its initialisation and its minibatch streams.
#[derive(Serialize, Deserialize)]
pub struct ScheduleRun {
    /// Seed of the run's data streams; the initialisation comes from a seed derived from it.
    pub seed: u64,
    /// The MLP's parameters.
    pub params: Vec<f32>,
    /// The momentum buffer (one slot) and the step t.
    pub opt: OptState,
    /// True once a loss went non-finite: every later step costs the clip.
    pub diverged: bool,
    #[serde(skip)]
    workspace: Option<Workspace>,
}

impl Clone for ScheduleRun {
    fn clone(&self) -> Self {
        Self {
            seed: self.seed,
            params: self.params.clone(),
            opt: self.opt.clone(),
            diverged: self.diverged,
            workspace: self.workspace.clone(),
        }
    }

    /// Reuses the buffers, and keeps the workspace when it serves the same seed, so that truncated
    /// ES copying its shared state into the particles allocates nothing.
    fn clone_from(&mut self, source: &Self) {
        if self.seed != source.seed || self.workspace.is_none() {
            self.workspace.clone_from(&source.workspace);
        }
        self.seed = source.seed;
        self.params.clone_from(&source.params);
        self.opt.clone_from(&source.opt);
        self.diverged = source.diverged;
    }
}

impl MnistSchedule {
    /// The system on images of side `resolution` (one of `mnist::RESOLUTIONS`) with horizon T
    /// and decay scale D; panics on another resolution (settings validate it first).
    pub fn new(resolution: usize, horizon: u64, decay_steps: f64) -> Self {
        let data = mnist::splits(resolution);
        let mlp = Mlp::new(data.train.dim, &HIDDEN, data.train.classes, Activation::Relu);
        Self { resolution, horizon, decay_steps, mlp, data }
    }

    /// The learning rate a_t = exp(theta0) / (1 + t / D)^exp(theta1).
    pub fn learning_rate(&self, theta: &[f32], t: u64) -> f32 {
        let (init, decay) = (f64::from(theta[0]).exp(), f64::from(theta[1]).exp());
        (init / (1.0 + t as f64 / self.decay_steps).powf(decay)) as f32
    }

    /// The task a run of `seed` trains: `mlp-mnist` with the system's settings, its minibatches
    /// drawn from `seed`.
    fn task(&self, seed: u64) -> Classifier {
        let config = [
            ("resolution", self.resolution.to_string()),
            ("hidden", "100x100".to_string()),
            ("batch", BATCH.to_string()),
            ("steps", self.horizon.to_string()),
        ];
        let config = config.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let spec = TaskSpec { family: "mlp-mnist".into(), config, seed };
        Classifier::new(spec, self.mlp.clone(), self.data.clone(), BATCH, self.horizon)
    }

    fn workspace(&self, seed: u64) -> Workspace {
        Workspace { task: self.task(seed), grad: vec![0.0; self.mlp.layout().len()] }
    }

    /// The largest loss of a step, 1.5 ln 10 (docs/estimators.md, loss clipping); non-finite
    /// losses are clipped to it too.
    fn clip(&self) -> Normaliser {
        Normaliser { scale: 1.0, max: 1.5 * (self.data.train.classes as f32).ln() }
    }

    /// The meta-objective at theta: the full-horizon loss averaged over one run per seed.
    pub fn meta_objective(&self, theta: &[f32], seeds: &[u64]) -> f64 {
        let total: f64 = seeds
            .iter()
            .map(|&seed| self.unroll(&mut self.init_state(seed, 0), theta, self.horizon).loss)
            .sum();
        total / seeds.len() as f64
    }
}

impl UnrolledSystem for MnistSchedule {
    type State = ScheduleRun;

    fn theta_dim(&self) -> usize {
        2
    }

    /// The paper's start: initial learning rate 0.003 and decay exponent 30.
    fn initial_theta(&self) -> Vec<f32> {
        vec![0.003f32.ln(), 30f32.ln()]
    }

    /// A fresh MLP drawn from `seed` at step `start`, momentum zero.
    fn init_state(&self, seed: u64, start: u64) -> ScheduleRun {
        let workspace = self.workspace(seed);
        let mut params = vec![0.0; self.mlp.layout().len()];
        workspace.task.init_params(rng::derive(seed, &[tags::RUN_INIT]), &mut params);
        let mut opt = OptState::zeros(1, params.len(), self.horizon);
        opt.step = start;
        ScheduleRun { seed, params, opt, diverged: false, workspace: Some(workspace) }
    }

    /// Each step: the gradient on the step's minibatch, the momentum update with a_t, then the
    /// loss of the updated parameters on the step's objective minibatch, clipped.
    fn run_steps(&self, run: &mut ScheduleRun, theta: &[f32], steps: u64) -> Unroll {
        let ws = run.workspace.get_or_insert_with(|| self.workspace(run.seed));
        let clip = self.clip();
        let (mut loss, mut clipped) = (0.0, false);
        for _ in 0..steps {
            let t = run.opt.step;
            if run.diverged {
                (loss, clipped) = (loss + f64::from(clip.max), true);
                run.opt.step += 1;
                continue;
            }
            let train = ws.task.loss_and_grad(&run.params, t, &mut ws.grad);
            let sgd =
                Sgd::with_momentum(Schedule::Constant(self.learning_rate(theta, t)), MOMENTUM);
            sgd.step(&mut run.opt, self.mlp.layout(), &mut run.params, &ws.grad, train);
            let after = ws.task.objective_loss(&run.params, t);
            let term = clip.apply(after);
            (loss, clipped) = (loss + f64::from(term.value), clipped || term.clipped);
            run.diverged = !(train.is_finite() && after.is_finite());
        }
        Unroll { loss, steps, clipped }
    }

    fn horizon(&self, _: &ScheduleRun) -> Option<u64> {
        Some(self.horizon)
    }

    fn position(&self, run: &ScheduleRun) -> u64 {
        run.opt.step
    }

    fn check_state(&self, run: &ScheduleRun) -> Result<(), String> {
        let n = self.mlp.layout().len();
        if run.params.len() != n || run.opt.slots.len() != 1 || run.opt.slots[0].len() != n {
            return Err(format!("a stored run does not fit the MLP's {n} parameters"));
        }
        if run.opt.step > self.horizon {
            return Err(format!("run at step {} past the horizon {}", run.opt.step, self.horizon));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_matches_the_formula_at_known_points() {
        let system = MnistSchedule::new(8, 10, 5000.0);
        let theta = [0.003f32.ln(), 30f32.ln()];
        assert!((system.learning_rate(&theta, 0) - 0.003).abs() < 1e-9);
        // t = D halves the rate exp(theta1) times: 0.003 / 2^30.
        let at_d = system.learning_rate(&theta, 5000);
        assert!((at_d / (0.003 / 2f32.powi(30)) - 1.0).abs() < 1e-5, "{at_d}");
        // No decay (exp(theta1) -> 0) keeps the rate; decay 1 at t = 2500 gives 2/3 of it.
        assert!((system.learning_rate(&[0.1f32.ln(), -30.0], 4000) - 0.1).abs() < 1e-7);
        assert!((system.learning_rate(&[0.1f32.ln(), 0.0], 2500) - 0.1 / 1.5).abs() < 1e-7);
    }

    #[test]
    fn steps_equal_momentum_sgd_with_the_schedule_computed_directly() {
        let system = MnistSchedule::new(8, 6, 4.0);
        let theta = [0.05f32.ln(), 1.5f32.ln()];
        let mut run = system.init_state(11, 0);
        let unroll = system.unroll(&mut run, &theta, 4);
        // The same run by hand: m <- 0.9 m + g, p <- p - a_t m, then the objective batch's loss.
        let mut task = system.task(11);
        let mut params = vec![0.0; task.layout().len()];
        task.init_params(rng::derive(11, &[tags::RUN_INIT]), &mut params);
        let (mut m, mut g, mut total) = (vec![0.0; params.len()], vec![0.0; params.len()], 0.0);
        for t in 0..4u64 {
            task.loss_and_grad(&params, t, &mut g);
            let lr = 0.05 / (1.0 + t as f64 / 4.0).powf(1.5);
            for ((p, m), g) in params.iter_mut().zip(&mut m).zip(&g) {
                *m = 0.9 * *m + g;
                *p -= lr as f32 * *m;
            }
            total += f64::from(task.objective_loss(&params, t));
        }
        assert!((unroll.loss - total).abs() < 1e-5 * total, "{} vs {total}", unroll.loss);
        for (a, b) in run.params.iter().zip(&params) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert_eq!((unroll.steps, run.opt.step, unroll.clipped), (4, 4, false));
        assert!(total < 4.0 * 2.31, "four steps lower the loss below ln 10: {total}");
    }

    #[test]
    fn runs_are_determined_by_their_seed_and_truncations_add_up() {
        let system = MnistSchedule::new(8, 12, 12.0);
        let theta = system.initial_theta();
        let whole = system.unroll(&mut system.init_state(5, 0), &theta, 12);
        let mut run = system.init_state(5, 0);
        let pieces: f64 = (0..3).map(|_| system.unroll(&mut run, &theta, 5).loss).sum();
        assert!(system.is_done(&run));
        assert!((pieces - whole.loss).abs() < 1e-12 * whole.loss, "{pieces} vs {}", whole.loss);
        let twin = system.init_state(5, 0);
        assert_eq!(twin.params, system.init_state(5, 0).params, "a pair shares its problem");
        let plus = system.unroll(&mut twin.clone(), &[theta[0] + 0.1, theta[1] - 0.1], 12);
        let minus = system.unroll(&mut twin.clone(), &[theta[0] - 0.1, theta[1] + 0.1], 12);
        assert_ne!(plus.loss, minus.loss, "the pair differs only by its perturbation");
        let other = system.unroll(&mut system.init_state(6, 0), &theta, 12);
        assert_ne!(other.loss, whole.loss, "another seed draws another problem");
        // A copy made by clone_from, as truncated ES makes its particles, steps identically.
        let mut copy = system.init_state(6, 0);
        let mut source = system.init_state(5, 0);
        copy.clone_from(&source);
        let (a, b) = (system.unroll(&mut copy, &theta, 3), system.unroll(&mut source, &theta, 3));
        assert_eq!(a, b);
        assert_eq!(copy.params, source.params);
    }

    #[test]
    fn a_truncation_allocates_nothing_and_a_same_seed_copy_keeps_its_buffers() {
        let system = MnistSchedule::new(8, 30, 30.0);
        let theta = system.initial_theta();
        let (mut run, shared) = (system.init_state(3, 0), system.init_state(3, 0));
        system.unroll(&mut run, &theta, 2);
        let before = pesto_tasks::alloc_count::allocations();
        let unroll = system.unroll(&mut run, &theta, 10);
        run.clone_from(&shared);
        assert_eq!(pesto_tasks::alloc_count::allocations(), before);
        assert!(unroll.loss.is_finite() && unroll.steps == 10 && run.opt.step == 0);
    }

    #[test]
    fn a_diverging_run_is_clipped_at_one_and_a_half_ln_10() {
        let system = MnistSchedule::new(8, 20, 20.0);
        let unroll = system.unroll(&mut system.init_state(1, 0), &[8.0, -10.0], 20);
        assert!(unroll.clipped);
        let max = 20.0 * f64::from(1.5 * 10f32.ln());
        assert!(unroll.loss.is_finite() && unroll.loss <= max + 1e-9, "{}", unroll.loss);
        assert!(unroll.loss > 0.8 * max, "e^8 diverges at once: {}", unroll.loss);
    }

    #[test]
    fn a_checkpointed_run_is_rebuilt_and_continues_identically() {
        let system = MnistSchedule::new(8, 8, 8.0);
        let theta = [0.03f32.ln(), 0.0];
        let mut run = system.init_state(2, 0);
        system.unroll(&mut run, &theta, 3);
        let mut loaded: ScheduleRun =
            serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(system.check_state(&loaded), Ok(()));
        assert_eq!(system.unroll(&mut loaded, &theta, 5), system.unroll(&mut run, &theta, 5));
        loaded.params.pop();
        assert_eq!(
            system.check_state(&loaded).unwrap_err(),
            "a stored run does not fit the MLP's 17610 parameters"
        );
    }
}
