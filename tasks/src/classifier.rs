//! The `Task` shared by every classification family: an MLP trained on minibatches of a dataset.

use crate::data::Splits;
use crate::layout::ParamLayout;
use crate::mlp::{Mlp, MlpBuffers};
use crate::rng::stream;
use crate::tags;
use crate::task::{Normaliser, Task, TaskSpec};
use rand::RngExt;
use std::sync::Arc;

/// An MLP classifier on a dataset, with minibatch and held-out buffers sized at construction.
#[derive(Clone)]
pub struct Classifier {
    spec: TaskSpec,
    mlp: Mlp,
    data: Arc<Splits>,
    horizon: u64,
    indices: Vec<usize>,
    batch_x: Vec<f32>,
    batch_y: Vec<u32>,
    buffers: MlpBuffers,
}

impl Classifier {
    /// A task training `mlp` on `data` with minibatches of `batch` for `horizon` steps.
    pub fn new(spec: TaskSpec, mlp: Mlp, data: Arc<Splits>, batch: usize, horizon: u64) -> Self {
        Self {
            buffers: mlp.buffers(batch),
            batch_x: vec![0.0; batch * mlp.inputs()],
            batch_y: vec![0; batch],
            indices: vec![0; batch],
            spec,
            mlp,
            data,
            horizon,
        }
    }

    /// Fills the batch buffers with the training minibatch drawn from the stream `[tag, step]` of
    /// the task's seed.
    fn draw_batch(&mut self, tag: u64, step: u64) {
        let mut rng = stream(self.spec.seed, &[tag, step]);
        let train = &self.data.train;
        let n = train.len();
        self.indices.iter_mut().for_each(|i| *i = rng.random_range(0..n));
        let x_cols = self.batch_x.chunks_exact_mut(train.dim);
        for ((&i, x), y) in self.indices.iter().zip(x_cols).zip(&mut self.batch_y) {
            x.copy_from_slice(train.input(i));
            *y = train.labels[i];
        }
    }

    /// Mean loss of `params` on the `index`-th objective minibatch: a training minibatch drawn
    /// independently of the inner steps' batches, without a gradient (a hyperparameter
    /// meta-objective's term after an update).
    pub fn objective_loss(&mut self, params: &[f32], index: u64) -> f32 {
        self.draw_batch(tags::OBJECTIVE_BATCH, index);
        let sum = self.mlp.loss_sum(params, &self.batch_x, &self.batch_y, &mut self.buffers);
        (sum / self.batch_y.len() as f64) as f32
    }
}

impl Task for Classifier {
    fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    fn layout(&self) -> &ParamLayout {
        self.mlp.layout()
    }

    fn init_params(&self, seed: u64, params: &mut [f32]) {
        self.mlp.init(&mut stream(seed, &[tags::PARAM_INIT]), params);
    }

    fn loss_and_grad(&mut self, params: &[f32], step: u64, grad: &mut [f32]) -> f32 {
        self.draw_batch(tags::BATCH, step);
        self.mlp.loss_and_grad(params, &self.batch_x, &self.batch_y, grad, &mut self.buffers)
    }

    fn heldout_loss(&mut self, params: &[f32]) -> f32 {
        let heldout = &self.data.heldout;
        let chunk = self.indices.len();
        let x = heldout.inputs.chunks(chunk * heldout.dim);
        let total: f64 = x
            .zip(heldout.labels.chunks(chunk))
            .map(|(x, y)| self.mlp.loss_sum(params, x, y, &mut self.buffers))
            .sum();
        (total / heldout.len() as f64) as f32
    }

    /// Scale ln C (the loss of a uniform prediction), clipped at 1.5 ln C (docs/estimators.md,
    /// loss clipping).
    fn normaliser(&self) -> Normaliser {
        Normaliser { scale: (self.mlp.classes() as f32).ln(), max: 1.5 }
    }

    fn horizon(&self) -> u64 {
        self.horizon
    }

    fn boxed_clone(&self) -> Box<dyn Task> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::registry;
    use crate::task::TaskSpec;

    /// Loss and gradient of `task` at the initialisation of seed 9, on step `step`'s batch.
    fn evaluate(task: &mut dyn crate::Task, step: u64) -> (f32, Vec<f32>) {
        let mut params = vec![0.0; task.layout().len()];
        task.init_params(9, &mut params);
        let mut grad = vec![0.0; params.len()];
        (task.loss_and_grad(&params, step, &mut grad), grad)
    }

    #[test]
    fn batches_and_init_are_deterministic_across_builds_and_clones() {
        for text in ["mlp-synth-64x32x10", "logreg-synth", "mlp-digits"] {
            let spec = TaskSpec::parse(text, 4).unwrap();
            let mut a = registry::build(&spec).unwrap();
            let mut b = registry::build(&spec).unwrap();
            let mut c = a.boxed_clone();
            let first = evaluate(a.as_mut(), 7);
            assert_eq!(first, evaluate(b.as_mut(), 7), "{text}: rebuild differs");
            assert_eq!(first, evaluate(c.as_mut(), 7), "{text}: clone differs");
            assert_ne!(first.0, evaluate(a.as_mut(), 8).0, "{text}: steps 7 and 8 share a batch");
            let (mut p, mut q) = (vec![0.0; first.1.len()], vec![0.0; first.1.len()]);
            a.init_params(1, &mut p);
            b.init_params(1, &mut q);
            assert_eq!(p, q);
            b.init_params(2, &mut q);
            assert_ne!(p, q);
        }
    }

    #[test]
    fn untrained_loss_is_near_ln_classes() {
        let mut task = registry::build(&TaskSpec::parse("mlp-synth-64x32x10", 0).unwrap()).unwrap();
        let mut params = vec![0.0; task.layout().len()];
        task.init_params(0, &mut params);
        let normalised = task.normaliser().apply(task.heldout_loss(&params)).value;
        assert!((0.8..1.3).contains(&normalised), "normalised initial loss {normalised}");
    }
}
