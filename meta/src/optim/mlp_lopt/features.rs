//! mlp-lopt's input features (docs/optimizers.md), folded into the first layer.
//!
//! The time features are shared by every parameter at a step, so their product with W1 is one
//! bias vector per step. Dividing a tensor feature by its tensor RMS is the same as scaling that
//! feature's row of W1 by 1 / RMS, so each tensor gets its own scaled copy of the first 8 rows
//! and the kernel reads g, p and the momenta unnormalised.

use super::theta::{DECAYS, HIDDEN, Net, TENSOR_FEATURES, TIMESCALES};

/// Added to the mean square before the root in the per-tensor RMS (docs/optimizers.md).
pub const RMS_EPS: f64 = 1e-5;

/// Lanes of the partial sums in `mean_square`, wide enough for one AVX-512 register of f64.
const LANES: usize = 8;

/// The first layer of one tensor at one step: W1's tensor-feature rows scaled by 1 / RMS, and
/// b1 plus the time features' contribution.
#[derive(Clone, Debug, Default)]
pub(super) struct FirstLayer {
    pub w: [[f32; HIDDEN]; TENSOR_FEATURES],
    pub bias: [f32; HIDDEN],
}

/// The time features tanh(t / tau - 1) at step `t` (docs/optimizers.md).
pub fn time_features(t: u64) -> [f32; TIMESCALES.len()] {
    TIMESCALES.map(|tau| (t as f32 / tau - 1.0).tanh())
}

/// b1 + W1[time rows]^T * time_features(t): the first layer's bias at step `t`.
#[inline(always)]
pub(super) fn step_bias(net: &Net, t: u64) -> [f32; HIDDEN] {
    let mut bias = *net.b1;
    for (row, f) in net.w1[TENSOR_FEATURES..].iter().zip(time_features(t)) {
        bias.iter_mut().zip(row).for_each(|(b, w)| *b += w * f);
    }
    bias
}

/// Advances the six momenta of one tensor by `grad` and returns the first layer for the tensor,
/// normalising g, p and each momentum by its RMS over the tensor.
#[inline(always)]
pub(super) fn first_layer(
    net: &Net,
    bias: &[f32; HIDDEN],
    grad: &[f32],
    params: &[f32],
    moments: &mut [&mut [f32]; DECAYS.len()],
) -> FirstLayer {
    let mut mean_squares = [0.0f64; TENSOR_FEATURES];
    mean_squares[0] = mean_square(grad);
    mean_squares[1] = mean_square(params);
    for ((m, decay), ms) in moments.iter_mut().zip(DECAYS).zip(&mut mean_squares[2..]) {
        m.iter_mut().zip(grad).for_each(|(m, &g)| *m = decay * *m + (1.0 - decay) * g);
        *ms = mean_square(m);
    }
    let mut layer = FirstLayer { w: [[0.0; HIDDEN]; TENSOR_FEATURES], bias: *bias };
    for ((scaled, row), ms) in layer.w.iter_mut().zip(net.w1).zip(mean_squares) {
        let inv_rms = (1.0 / (RMS_EPS + ms).sqrt()) as f32;
        scaled.iter_mut().zip(row).for_each(|(s, w)| *s = w * inv_rms);
    }
    layer
}

/// The mean of x^2, summed in f64 (so huge values do not overflow) over `LANES` partial sums
/// (so the loop vectorises).
#[inline(always)]
fn mean_square(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(s, &v)| *s += f64::from(v) * f64::from(v));
    }
    (lanes.iter().sum::<f64>() + tail) / x.len().max(1) as f64
}
