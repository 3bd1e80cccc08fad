//! A character-level LSTM as an unrolled system (docs/estimators.md, "Gradient variance on an
//! LSTM"): theta are the network's weights, the state is (h, c) and the place in the text, and
//! each step reads one character and scores the next one.

use crate::unrolled::{Unroll, UnrolledSystem};
use pesto_tasks::data::text::CharText;
use pesto_tasks::layout::ParamLayout;
use pesto_tasks::rng;
use pesto_tasks::{tags, vmath};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// Where an inner problem starts reading its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextStart {
    /// Every inner problem reads the same T + 1 characters from this position.
    Fixed(usize),
    /// Each inner problem starts at a position drawn uniformly from its seed (stream
    /// `[TEXT_START]`), so that its T + 1 characters fit in the text.
    Drawn,
}

/// A one-layer LSTM with hidden size H over a text of V distinct characters. Step t reads
/// character x_t through its embedding e = E[x_t] and computes
///
/// ```text
/// z = W [e; h] + b,  f = sigmoid(z_f), i = sigmoid(z_i), o = sigmoid(z_o), g = tanh(z_g),
/// c <- f * c + i * g,  h <- o * tanh(c),  L_t = logsumexp(D h + d) - (D h + d)[x_{t+1}],
/// ```
///
/// the cross-entropy of the next character. theta is laid out as (`layout`), every matrix
/// row-major with one row per input: `embedding` [V, H] (row c is E[c]), `lstm.weight` [2H, 4H]
/// (rows 0..H read e, rows H..2H read h; the columns are the gates f, i, o, g in blocks of H, so
/// W above is its transpose), `lstm.bias` [4H], `decoder.weight` [H, V] (D's transpose) and
/// `decoder.bias` [V]. Inner problems start from h = c = 0 and last T steps.
#[derive(Clone, Debug)]
pub struct CharLstm {
    text: Arc<CharText>,
    hidden: usize,
    horizon: u64,
    start: TextStart,
    layout: ParamLayout,
    /// The ranges of the layout's five tensors in theta.
    tensors: [Range<usize>; 5],
}

/// One inner problem: the LSTM's (h, c), where it reads in the text, its step, and scratch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LstmState {
    /// Hidden state h (H values).
    pub h: Vec<f32>,
    /// Cell state c (H values).
    pub c: Vec<f32>,
    /// Text position of the character read at step 0.
    pub offset: usize,
    /// Steps taken since the inner problem began.
    pub t: u64,
    /// Scratch sized once: the gates z (4H), then the logits (V).
    scratch: Vec<f32>,
}

impl CharLstm {
    /// The LSTM with hidden size `hidden` on `text`, with inner problems of `horizon` steps
    /// starting as `start` says. Panics if the text (from a fixed start) holds fewer than T + 1
    /// characters, or if H or T is 0.
    pub fn new(text: Arc<CharText>, hidden: usize, horizon: u64, start: TextStart) -> Self {
        assert!(hidden > 0 && horizon > 0, "the LSTM needs H >= 1 and T >= 1");
        let first = match start {
            TextStart::Fixed(offset) => offset,
            TextStart::Drawn => 0,
        };
        assert!(
            first as u64 + horizon < text.len() as u64,
            "a text of {} characters cannot give T + 1 = {} characters from position {first}",
            text.len(),
            horizon + 1
        );
        let (v, h) = (text.vocab(), hidden);
        let mut layout = ParamLayout::new();
        layout.push("embedding", &[v, h]);
        layout.push("lstm.weight", &[2 * h, 4 * h]);
        layout.push("lstm.bias", &[4 * h]);
        layout.push("decoder.weight", &[h, v]);
        layout.push("decoder.bias", &[v]);
        let tensors = std::array::from_fn(|i| layout.tensors()[i].range());
        Self { text, hidden, horizon, start, layout, tensors }
    }

    /// The names, shapes and offsets of theta's tensors.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The range of tensor `i` of the layout in theta.
    fn tensor(&self, i: usize) -> Range<usize> {
        self.tensors[i].clone()
    }

    /// One step: reads the character at the state's position, updates (h, c) and returns the
    /// cross-entropy of the next character. Allocates nothing; the products run along the rows
    /// of theta's matrices and the exponentials through `vmath::exp`, so the loops vectorise.
    fn step(&self, state: &mut LstmState, theta: &[f32]) -> f32 {
        let h = self.hidden;
        let at = state.offset + state.t as usize;
        let (input, target) = (usize::from(self.text.ids[at]), usize::from(self.text.ids[at + 1]));
        let embedding = &theta[self.tensor(0)][input * h..(input + 1) * h];
        let (weight, bias) = (&theta[self.tensor(1)], &theta[self.tensor(2)]);
        let (dec_weight, dec_bias) = (&theta[self.tensor(3)], &theta[self.tensor(4)]);
        let (z, logits) = state.scratch.split_at_mut(4 * h);
        z.copy_from_slice(bias);
        let inputs = embedding.iter().chain(&state.h);
        for (&x, row) in inputs.zip(weight.chunks_exact(4 * h)) {
            z.iter_mut().zip(row).for_each(|(z, w)| *z += x * w);
        }
        let (gates, candidate) = z.split_at_mut(3 * h);
        gates.iter_mut().for_each(|z| *z = sigmoid(*z));
        candidate.iter_mut().for_each(|z| *z = tanh(*z));
        for j in 0..h {
            state.c[j] = gates[j] * state.c[j] + gates[h + j] * candidate[j];
        }
        for j in 0..h {
            state.h[j] = gates[2 * h + j] * tanh(state.c[j]);
        }
        logits.copy_from_slice(dec_bias);
        for (&x, row) in state.h.iter().zip(dec_weight.chunks_exact(logits.len())) {
            logits.iter_mut().zip(row).for_each(|(l, w)| *l += x * w);
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let score = logits[target] - max;
        logits.iter_mut().for_each(|l| *l = vmath::exp(*l - max));
        state.t += 1;
        sum(logits).ln() - score
    }
}

/// The sum of `x` in eight interleaved partial sums, so that it vectorises.
fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(s, v)| *s += v);
    }
    lanes.iter().sum::<f32>() + rest
}

/// The logistic function 1 / (1 + e^-x).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + vmath::exp(-x))
}

/// tanh x = 1 - 2 / (e^2x + 1).
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (vmath::exp(2.0 * x) + 1.0)
}

impl UnrolledSystem for CharLstm {
    type State = LstmState;

    fn theta_dim(&self) -> usize {
        self.layout.len()
    }

    /// The reference initialisation, drawn from seed 0 (stream `[PARAM_INIT]`): embeddings
    /// uniform in [-0.1, 0.1], weight matrices normal with standard deviation 1 / sqrt(H)
    /// truncated at two standard deviations, biases zero.
    fn initial_theta(&self) -> Vec<f32> {
        let mut rng = rng::stream(0, &[tags::PARAM_INIT]);
        let std = 1.0 / (self.hidden as f32).sqrt();
        let mut theta = vec![0.0; self.theta_dim()];
        for e in &mut theta[self.tensor(0)] {
            *e = rng.random_range(-0.1..=0.1);
        }
        for i in [1, 3] {
            for w in &mut theta[self.tensor(i)] {
                *w = loop {
                    let x: f32 = rng.sample(StandardNormal);
                    if x.abs() <= 2.0 {
                        break std * x;
                    }
                };
            }
        }
        theta
    }

    /// h = c = 0 at step `start` of an inner problem whose text position comes from `seed`
    /// (or is fixed).
    fn init_state(&self, seed: u64, start: u64) -> LstmState {
        let offset = match self.start {
            TextStart::Fixed(offset) => offset,
            TextStart::Drawn => {
                let last = self.text.len() - self.horizon as usize - 1;
                rng::stream(seed, &[tags::TEXT_START]).random_range(0..=last)
            }
        };
        let (h, v) = (self.hidden, self.text.vocab());
        LstmState {
            h: vec![0.0; h],
            c: vec![0.0; h],
            offset,
            t: start,
            scratch: vec![0.0; 4 * h + v],
        }
    }

    fn run_steps(&self, state: &mut LstmState, theta: &[f32], steps: u64) -> Unroll {
        let loss = (0..steps).map(|_| f64::from(self.step(state, theta))).sum();
        Unroll { loss, steps, clipped: false }
    }

    fn horizon(&self, _: &LstmState) -> Option<u64> {
        Some(self.horizon)
    }

    fn position(&self, state: &LstmState) -> u64 {
        state.t
    }

    fn check_state(&self, state: &LstmState) -> Result<(), String> {
        let (h, v) = (self.hidden, self.text.vocab());
        if state.h.len() != h || state.c.len() != h || state.scratch.len() != 4 * h + v {
            return Err(format!("an LSTM state of the wrong size for H = {h} and V = {v}"));
        }
        if state.t > self.horizon || state.offset + self.horizon as usize >= self.text.len() {
            return Err(format!(
                "an LSTM state at step {} from text position {} does not fit T = {} in {} characters",
                state.t,
                state.offset,
                self.horizon,
                self.text.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pesto_tasks::alloc_count::allocations;
    use pesto_tasks::data::text::liber_primus;

    /// The LSTM step written out with named tensors in f64, one gate at a time.
    fn reference_step(
        system: &CharLstm,
        theta: &[f32],
        (h, c): (&mut [f64], &mut [f64]),
        input: usize,
        target: usize,
    ) -> f64 {
        let n = system.hidden;
        let tensor = |i: usize| &theta[system.tensor(i)];
        let at =
            |i: usize, row: usize, col: usize, cols: usize| f64::from(tensor(i)[row * cols + col]);
        let w = |k: usize, gate_row: usize| at(1, k, gate_row, 4 * n);
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let pre = |gate: usize, j: usize| {
            let row = gate * n + j;
            let from_input: f64 = (0..n).map(|k| w(k, row) * at(0, input, k, n)).sum();
            let from_hidden: f64 = (0..n).map(|k| w(n + k, row) * h[k]).sum();
            f64::from(tensor(2)[row]) + from_input + from_hidden
        };
        let z: Vec<[f64; 4]> = (0..n).map(|j| [0, 1, 2, 3].map(|g| pre(g, j))).collect();
        for j in 0..n {
            let [f, i, o, g] = z[j];
            c[j] = sigmoid(f) * c[j] + sigmoid(i) * g.tanh();
            h[j] = sigmoid(o) * c[j].tanh();
        }
        let vocab = system.text.vocab();
        let logits: Vec<f64> = (0..vocab)
            .map(|v| {
                f64::from(tensor(4)[v]) + (0..n).map(|k| at(3, k, v, vocab) * h[k]).sum::<f64>()
            })
            .collect();
        logits.iter().map(|l| l.exp()).sum::<f64>().ln() - logits[target]
    }

    fn random_theta(system: &CharLstm, seed: u64, scale: f32) -> Vec<f32> {
        let mut rng = rng::stream(seed, &[1]);
        (0..system.theta_dim()).map(|_| scale * rng.sample::<f32, _>(StandardNormal)).collect()
    }

    #[test]
    fn steps_match_the_lstm_written_out_at_random_points() {
        let system = CharLstm::new(liber_primus(), 5, 50, TextStart::Drawn);
        for seed in 0..4 {
            let theta = random_theta(&system, seed, 0.7);
            let mut state = system.init_state(seed, 0);
            let (mut h, mut c) = (vec![0.0; 5], vec![0.0; 5]);
            for t in 0..12 {
                let ids = &system.text.ids[state.offset + t..];
                let (input, target) = (usize::from(ids[0]), usize::from(ids[1]));
                let want = reference_step(&system, &theta, (&mut h, &mut c), input, target);
                let got = f64::from(system.step(&mut state, &theta));
                assert!((got - want).abs() < 1e-4 * want.max(1.0), "step {t}: {got} vs {want}");
                for (a, b) in state.h.iter().zip(&h).chain(state.c.iter().zip(&c)) {
                    assert!((f64::from(*a) - b).abs() < 1e-5, "step {t}: state {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn a_tiny_lstm_computed_by_hand() {
        // Text "ab" gives V = 2; H = 1, so theta = E (2), W (2 x 4), b (4), D (1 x 2), d (2).
        let system = CharLstm::new(Arc::new(CharText::new(b"ab")), 1, 1, TextStart::Fixed(0));
        assert_eq!(system.theta_dim(), 2 + 8 + 4 + 2 + 2);
        // E[a] = 1; every gate reads e with weight 1 and h with 0; b = 0; D = (1, -1).
        let mut theta = vec![1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        theta.extend([0.0; 4].into_iter().chain([1.0, -1.0, 0.0, 0.0]));
        let mut state = system.init_state(0, 0);
        let loss = system.step(&mut state, &theta);
        // z = 1 for every gate: c = s(1) tanh(1) = 0.55677, h = s(1) tanh(c) = 0.36961;
        // logits (h, -h) and target b: loss = ln(e^h + e^-h) + h = ln(1 + e^{2h}) = 1.12956.
        assert!((state.c[0] - 0.556_77).abs() < 1e-5, "c = {}", state.c[0]);
        assert!((state.h[0] - 0.369_61).abs() < 1e-5, "h = {}", state.h[0]);
        assert!((loss - 1.129_56).abs() < 1e-5, "loss = {loss}");
        // With every weight zero the prediction is uniform: ln V.
        let mut state = system.init_state(0, 0);
        assert!((system.step(&mut state, &[0.0; 18]) - 2f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn inner_problems_are_reproducible_from_their_seed_and_fit_the_text() {
        let text = liber_primus();
        let system = CharLstm::new(text.clone(), 5, 1000, TextStart::Drawn);
        let theta = system.initial_theta();
        let run = |seed| {
            let mut state = system.init_state(seed, 0);
            (system.unroll(&mut state, &theta, 1000), state)
        };
        assert_eq!(run(3), run(3));
        let offsets: Vec<usize> = (0..50).map(|s| system.init_state(s, 0).offset).collect();
        assert!(offsets.iter().all(|&o| o + 1000 < text.len()));
        assert!(offsets.iter().any(|&o| o != offsets[0]), "the start depends on the seed");
        let fixed = CharLstm::new(text, 5, 1000, TextStart::Fixed(7));
        assert!((0..5).all(|s| fixed.init_state(s, 0).offset == 7));
        let (unroll, state) = run(4);
        assert_eq!((unroll.steps, state.t), (1000, 1000));
        assert!(system.is_done(&state) && system.check_state(&state).is_ok());
        // At initialisation the prediction is close to uniform: about ln V per step.
        let per_step = unroll.loss / 1000.0;
        assert!((per_step - (29f64).ln()).abs() < 0.2, "{per_step}");
    }

    #[test]
    fn a_truncation_allocates_nothing() {
        let system = CharLstm::new(liber_primus(), 5, 100, TextStart::Fixed(0));
        let theta = system.initial_theta();
        let mut state = system.init_state(0, 0);
        system.unroll(&mut state, &theta, 1);
        let before = allocations();
        let unroll = system.unroll(&mut state, &theta, 50);
        assert_eq!(allocations(), before);
        assert!(unroll.loss.is_finite() && unroll.steps == 50);
    }

    #[test]
    fn states_that_do_not_fit_are_refused() {
        let system = CharLstm::new(liber_primus(), 5, 100, TextStart::Fixed(0));
        let mut state = system.init_state(0, 0);
        state.h.push(0.0);
        assert!(system.check_state(&state).unwrap_err().contains("wrong size"));
        let mut state = system.init_state(0, 0);
        state.offset = 48_800;
        assert!(system.check_state(&state).unwrap_err().contains("does not fit"));
    }
}
