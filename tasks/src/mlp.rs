//! A multilayer perceptron classifier over a flat parameter vector: forward pass, softmax
//! cross-entropy and its hand-written backward pass. Zero hidden layers is softmax regression.
//!
//! A batch of `n` examples is a column-major `features x n` matrix; a layer's weight is the
//! column-major `out x in` matrix W in `z = W a + b`.

use crate::layout::ParamLayout;
use crate::linalg::{Mat, gemm};
use crate::rng::StreamRng;
use crate::vmath;
use rand::RngExt;
use rand_distr::StandardNormal;
use std::ops::Range;

/// The nonlinearity of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(0, z).
    Relu,
    /// tanh(z).
    Tanh,
}

impl Activation {
    /// The activation named `relu` or `tanh`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "relu" => Some(Self::Relu),
            "tanh" => Some(Self::Tanh),
            _ => None,
        }
    }

    fn apply(self, z: &mut [f32]) {
        match self {
            Self::Relu => z.iter_mut().for_each(|v| *v = v.max(0.0)),
            Self::Tanh => z.iter_mut().for_each(|v| *v = v.tanh()),
        }
    }

    /// Multiplies `delta` by the derivative, written in terms of the activation's output `a`.
    fn backprop(self, a: &[f32], delta: &mut [f32]) {
        match self {
            Self::Relu => delta.iter_mut().zip(a).for_each(|(d, &a)| *d *= f32::from(a > 0.0)),
            Self::Tanh => delta.iter_mut().zip(a).for_each(|(d, &a)| *d *= 1.0 - a * a),
        }
    }
}

/// Where one dense layer's parameters sit in the flat vector.
#[derive(Clone, Debug)]
struct Dense {
    inputs: usize,
    outputs: usize,
    weight: Range<usize>,
    bias: Range<usize>,
}

/// The architecture of an MLP classifier: layer sizes, activation and parameter layout.
#[derive(Clone, Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    activation: Activation,
    layout: ParamLayout,
}

/// Activations and backpropagated errors of every layer for batches of up to `capacity` examples.
#[derive(Clone, Debug)]
pub struct MlpBuffers {
    capacity: usize,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
}

impl Mlp {
    /// An MLP `inputs -> hidden... -> classes` with `activation` between layers.
    pub fn new(inputs: usize, hidden: &[usize], classes: usize, activation: Activation) -> Self {
        let mut layout = ParamLayout::new();
        let sizes: Vec<usize> = [inputs].iter().chain(hidden).chain(&[classes]).copied().collect();
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| Dense {
                inputs: w[0],
                outputs: w[1],
                weight: layout.push(&format!("layer{l}.weight"), &[w[1], w[0]]),
                bias: layout.push(&format!("layer{l}.bias"), &[w[1]]),
            })
            .collect();
        Self { layers, activation, layout }
    }

    /// The parameter layout: `layerL.weight` (out x in) and `layerL.bias` per layer.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// Number of input features.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.layers.last().expect("an MLP has an output layer").outputs
    }

    /// Buffers for batches of up to `capacity` examples.
    pub fn buffers(&self, capacity: usize) -> MlpBuffers {
        let sized = |l: &Dense| vec![0.0; l.outputs * capacity];
        MlpBuffers {
            capacity,
            acts: self.layers.iter().map(sized).collect(),
            deltas: self.layers.iter().map(sized).collect(),
        }
    }

    /// Fan-in-scaled normal weights, W ~ N(0, 1/fan_in), and zero biases.
    pub fn init(&self, rng: &mut StreamRng, params: &mut [f32]) {
        for layer in &self.layers {
            let std = (layer.inputs as f32).recip().sqrt();
            for w in &mut params[layer.weight.clone()] {
                *w = std * rng.sample::<f32, _>(StandardNormal);
            }
            params[layer.bias.clone()].fill(0.0);
        }
    }

    /// Forward pass of the batch `x` (`inputs x n`); returns the logits (`classes x n`).
    pub fn forward<'b>(&self, params: &[f32], x: &[f32], buf: &'b mut MlpBuffers) -> &'b [f32] {
        let n = x.len() / self.inputs();
        assert!(n <= buf.capacity, "batch of {n} exceeds buffer capacity {}", buf.capacity);
        for (l, layer) in self.layers.iter().enumerate() {
            let (done, rest) = buf.acts.split_at_mut(l);
            let input = if l == 0 { x } else { &done[l - 1][..layer.inputs * n] };
            let out = &mut rest[0][..layer.outputs * n];
            let bias = &params[layer.bias.clone()];
            out.chunks_exact_mut(layer.outputs).for_each(|col| col.copy_from_slice(bias));
            let w = Mat::new(&params[layer.weight.clone()], layer.outputs, layer.inputs);
            gemm(1.0, w, Mat::new(input, layer.inputs, n), 1.0, out);
            if l + 1 < self.layers.len() {
                self.activation.apply(out);
            }
        }
        &buf.acts[self.layers.len() - 1][..self.classes() * n]
    }

    /// Summed softmax cross-entropy of the batch `x` with `labels`.
    pub fn loss_sum(&self, params: &[f32], x: &[f32], labels: &[u32], buf: &mut MlpBuffers) -> f64 {
        self.forward(params, x, buf);
        self.softmax_xent(labels, buf)
    }

    /// Mean softmax cross-entropy of the batch, writing its gradient with respect to the
    /// parameters into `grad`.
    pub fn loss_and_grad(
        &self,
        params: &[f32],
        x: &[f32],
        labels: &[u32],
        grad: &mut [f32],
        buf: &mut MlpBuffers,
    ) -> f32 {
        let n = labels.len();
        let classes = self.classes();
        self.forward(params, x, buf);
        let loss = self.softmax_xent(labels, buf);
        // d loss / d z = (softmax(z) - onehot(y)) / n.
        let probs = buf.deltas[self.layers.len() - 1][..classes * n].chunks_exact_mut(classes);
        for (d, &y) in probs.zip(labels) {
            d.iter_mut().for_each(|d| *d /= n as f32);
            d[y as usize] -= 1.0 / n as f32;
        }
        self.backward(params, x, n, grad, buf);
        (loss / n as f64) as f32
    }

    /// Summed cross-entropy of the logits in `buf` with `labels`, leaving softmax(z) of every
    /// example in the output layer's delta buffer. The exponentials run over the whole batch at
    /// once so that they vectorise.
    fn softmax_xent(&self, labels: &[u32], buf: &mut MlpBuffers) -> f64 {
        let (classes, n, last) = (self.classes(), labels.len(), self.layers.len() - 1);
        let logits = &buf.acts[last][..classes * n];
        let probs = &mut buf.deltas[last][..classes * n];
        let mut loss = 0.0f64;
        for ((z, p), &y) in
            logits.chunks_exact(classes).zip(probs.chunks_exact_mut(classes)).zip(labels)
        {
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            p.iter_mut().zip(z).for_each(|(p, &z)| *p = z - max);
            loss -= f64::from(p[y as usize]);
        }
        probs.iter_mut().for_each(|p| *p = vmath::exp(*p));
        for p in probs.chunks_exact_mut(classes) {
            let sum: f32 = p.iter().sum();
            loss += f64::from(sum.ln());
            p.iter_mut().for_each(|p| *p /= sum);
        }
        loss
    }

    /// Backpropagates the output-layer error in `buf.deltas` through every layer.
    fn backward(
        &self,
        params: &[f32],
        x: &[f32],
        n: usize,
        grad: &mut [f32],
        buf: &mut MlpBuffers,
    ) {
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (lower, upper) = buf.deltas.split_at_mut(l);
            let delta = &upper[0][..layer.outputs * n];
            let input = if l == 0 { x } else { &buf.acts[l - 1][..layer.inputs * n] };
            let delta_mat = Mat::new(delta, layer.outputs, n);
            let input_mat = Mat::new(input, layer.inputs, n);
            gemm(1.0, delta_mat, input_mat.t(), 0.0, &mut grad[layer.weight.clone()]);
            let db = &mut grad[layer.bias.clone()];
            db.fill(0.0);
            for col in delta.chunks_exact(layer.outputs) {
                db.iter_mut().zip(col).for_each(|(b, d)| *b += d);
            }
            if l > 0 {
                let below = &mut lower[l - 1][..layer.inputs * n];
                let w = Mat::new(&params[layer.weight.clone()], layer.outputs, layer.inputs);
                gemm(1.0, w.t(), delta_mat, 0.0, below);
                self.activation.backprop(input, below);
            }
        }
    }

    /// Index of the largest logit of each column of `logits`, written into `labels`.
    pub fn argmax(&self, logits: &[f32], labels: &mut [u32]) {
        for (z, y) in logits.chunks_exact(self.classes()).zip(labels) {
            let best = z.iter().enumerate().fold(0, |b, (i, v)| if *v > z[b] { i } else { b });
            *y = best as u32;
        }
    }
}
