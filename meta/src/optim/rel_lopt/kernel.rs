//! The rel-lopt update over a parameter vector (docs/optimizers.md), tensor by tensor in two
//! passes over tiles of `L` parameters: the first advances the accumulators and sums each
//! feature's square over the tensor; the second recomputes the features, runs the
//! per-parameter network with the first layer's rows divided by the features' RMS, and
//! applies the step. Every loop has constant bounds over the L lanes, so it vectorises; the
//! code is compiled once per instruction set and runs on the one of the optimizer's `Simd`.

use super::Variant;
use super::features::{Accumulators, EPS, advance, snr_features, tile_features};
use super::theta::{FEATURES, HIDDEN, MOMENTUM_DECAYS, Net, PerParameter, RMS_DECAY};
use crate::optim::Tensors;
use pesto_tasks::ParamLayout;
use pesto_tasks::simd::{Isa, Simd};
use pesto_tasks::vmath::exp;

/// Scale of the magnitude output inside the exponential: u = d exp(EXP_SCALE a).
pub const EXP_SCALE: f32 = 1e-3;
/// The parameter scale of a run whose parameters all start at zero.
pub const PARAM_FLOOR: f32 = 1e-3;

/// Each tensor's scale S_T: the RMS of its parameters at the first step, or, for a tensor that
/// starts at zero (a bias), the RMS of all the parameters then (`PARAM_FLOOR` if that is zero).
pub(super) fn initial_scales(layout: &ParamLayout, tensors: &Tensors<'_, '_>, scales: &mut [f32]) {
    let square = |v: &f32| f64::from(*v) * f64::from(*v);
    let rms = |sum: f64, len: usize| (sum / len.max(1) as f64).sqrt() as f32;
    let global = rms(tensors.params(layout).flatten().map(square).sum(), layout.len());
    let fallback = if global > 0.0 { global } else { PARAM_FLOOR };
    for (scale, params) in scales.iter_mut().zip(tensors.params(layout)) {
        let own = rms(params.iter().map(square).sum(), params.len());
        *scale = if own > 0.0 { own } else { fallback };
    }
}

/// What one update needs besides the parameters: the network, the step's learning rate, the
/// step index t (for Adam's bias correction) and the variant's step rule.
#[derive(Clone, Copy)]
pub(super) struct StepRule<'a> {
    pub net: &'a Net<'a>,
    /// Each tensor's scale S_T.
    pub scales: &'a [f32],
    pub lr: f32,
    pub t: u64,
    pub variant: Variant,
}

/// One rel-lopt update of `params` from `grad`, advancing the accumulators, on the code
/// compiled for `simd`'s instruction set.
pub(super) fn update(
    simd: Simd,
    rule: StepRule<'_>,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    acc: Accumulators<'_>,
) {
    match simd.isa() {
        Isa::Portable => update_with::<8, false>(rule, layout, tensors, acc),
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { update_avx2(rule, layout, tensors, acc) },
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx512f, avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { update_avx512(rule, layout, tensors, acc) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn update_avx2(
    rule: StepRule<'_>,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    acc: Accumulators<'_>,
) {
    update_with::<16, true>(rule, layout, tensors, acc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn update_avx512(
    rule: StepRule<'_>,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    acc: Accumulators<'_>,
) {
    update_with::<16, true>(rule, layout, tensors, acc);
}

#[inline(always)]
fn update_with<const L: usize, const FMA: bool>(
    rule: StepRule<'_>,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    mut acc: Accumulators<'_>,
) {
    let adam = Nominal::at(rule.t);
    for (i, (tensor, &scale)) in layout.tensors().iter().zip(rule.scales).enumerate() {
        let mut state = acc.range(tensor.range());
        let (p, g) = tensors.tensor(layout, i);
        let stats = advance_tensor::<L>(&mut state, g, p, adam);
        step_tensor::<L, FMA>(rule, scale, adam, &stats, &mut state, g, p);
    }
}

/// a * b + c, fused when the kernel has FMA.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Tile `start..` of a tensor of `len` values.
#[inline(always)]
fn tile<const L: usize>(start: usize, len: usize) -> std::ops::Range<usize> {
    start..len.min(start + L)
}

/// Adam's bias corrections at step t: the nominal direction is m_hat / (sqrt(v_hat) + eps).
#[derive(Clone, Copy)]
struct Nominal {
    c1: f32,
    inv_sqrt_c2: f32,
}

impl Nominal {
    fn at(t: u64) -> Self {
        let t = (t + 1) as i32;
        let c1 = 1.0 - MOMENTUM_DECAYS[0].powi(t);
        Self { c1, inv_sqrt_c2: 1.0 / (1.0 - RMS_DECAY.powi(t)).sqrt() }
    }

    /// Adam's direction of a tile from its features (m(0.9) in row 2, sqrt(v) in row 5).
    #[inline(always)]
    fn direction<const L: usize>(self, x: &[[f32; L]; FEATURES]) -> [f32; L] {
        let mut n = [0.0f32; L];
        for l in 0..L {
            n[l] = (x[2][l] / self.c1) / (x[5][l] * self.inv_sqrt_c2 + EPS);
        }
        n
    }
}

/// What the first pass learns about a tensor: each feature's mean square and the RMS of
/// Adam's direction.
struct TensorStats {
    mean_squares: [f64; FEATURES],
    nominal_rms: f32,
}

/// First pass: advances the tensor's accumulators and returns its statistics, summed in f64
/// over `L` lanes (so the loop vectorises and the order is fixed).
#[inline(always)]
fn advance_tensor<const L: usize>(
    state: &mut Accumulators<'_>,
    grad: &[f32],
    params: &[f32],
    adam: Nominal,
) -> TensorStats {
    let mut lanes = [[0.0f64; L]; FEATURES + 1];
    let mut start = 0;
    while start < grad.len() {
        let t = tile::<L>(start, grad.len());
        let mut ts = state.range(t.clone());
        advance(&mut ts, &grad[t.clone()]);
        let x = tile_features::<L>(&grad[t.clone()], &params[t.clone()], &ts.moments, ts.v);
        let n = adam.direction(&x);
        for (sum, row) in lanes.iter_mut().zip(x.iter().chain([&n])) {
            for l in 0..L {
                sum[l] += f64::from(row[l] * row[l]);
            }
        }
        start = t.end;
    }
    let mean = lanes.map(|sum| sum.iter().sum::<f64>() / grad.len().max(1) as f64);
    TensorStats {
        mean_squares: std::array::from_fn(|j| mean[j]),
        nominal_rms: mean[FEATURES].sqrt() as f32,
    }
}

/// Second pass: the step of every parameter of the tensor, lr S_T (n + RMS_T(n) u) with the
/// nominal direction n only for nominal-lopt and snr-lopt, times snr-lopt's gain
/// exp(gain . s_T).
#[inline(always)]
fn step_tensor<const L: usize, const FMA: bool>(
    rule: StepRule<'_>,
    scale: f32,
    adam: Nominal,
    stats: &TensorStats,
    state: &mut Accumulators<'_>,
    grad: &[f32],
    params: &mut [f32],
) {
    let net = &rule.net.layers;
    let mut w1 = *net.w1;
    for (row, ms) in w1.iter_mut().zip(&stats.mean_squares) {
        let inv_rms = if *ms > 0.0 { (1.0 / ms.sqrt()) as f32 } else { 0.0 };
        row.iter_mut().for_each(|w| *w *= inv_rms);
    }
    let coef = if rule.variant.snr_gain() {
        let ms = &stats.mean_squares;
        let s = snr_features([ms[2], ms[3]], ms[5], rule.t);
        let log_gain: f32 = rule.net.gain.iter().zip(s).map(|(c, s)| c * s).sum();
        rule.lr * scale * log_gain.exp()
    } else {
        rule.lr * scale
    };
    let learned = stats.nominal_rms;
    let mut start = 0;
    while start < grad.len() {
        let tr = tile::<L>(start, grad.len());
        let ts = state.range(tr.clone());
        let x = tile_features::<L>(&grad[tr.clone()], &params[tr.clone()], &ts.moments, ts.v);
        let mut u = tile_net::<L, FMA>(net, &w1, &x);
        u.iter_mut().for_each(|u| *u *= learned);
        if rule.variant.nominal() {
            let n = adam.direction(&x);
            u.iter_mut().zip(&n).for_each(|(u, n)| *u += n);
        }
        params[tr.clone()].iter_mut().zip(&u).for_each(|(p, u)| *p -= coef * u);
        start = tr.end;
    }
}

/// The per-parameter network on one tile: u = d exp(EXP_SCALE a) with (d, a) = W3^T h2 + b3,
/// h2 = relu(W2^T h1 + b2), h1 = relu(w1^T x + b1) and `w1` already normalised.
#[inline(always)]
fn tile_net<const L: usize, const FMA: bool>(
    net: &PerParameter<'_>,
    w1: &[[f32; HIDDEN]; FEATURES],
    x: &[[f32; L]; FEATURES],
) -> [f32; L] {
    let mut h1 = [[0.0f32; L]; HIDDEN];
    for (j, h) in h1.iter_mut().enumerate() {
        let mut acc = [net.b1[j]; L];
        for (w, xc) in w1.iter().zip(x) {
            for l in 0..L {
                acc[l] = madd::<FMA>(w[j], xc[l], acc[l]);
            }
        }
        for l in 0..L {
            h[l] = acc[l].max(0.0);
        }
    }
    let mut out = net.b3.map(|b| [b; L]);
    for j in 0..HIDDEN {
        let mut acc = [net.b2[j]; L];
        for (w, hk) in net.w2.iter().zip(&h1) {
            for l in 0..L {
                acc[l] = madd::<FMA>(w[j], hk[l], acc[l]);
            }
        }
        for l in 0..L {
            let h = acc[l].max(0.0);
            out[0][l] = madd::<FMA>(net.w3[j][0], h, out[0][l]);
            out[1][l] = madd::<FMA>(net.w3[j][1], h, out[1][l]);
        }
    }
    let [d, a] = out;
    let mut u = [0.0f32; L];
    for l in 0..L {
        u[l] = d[l] * exp(EXP_SCALE * a[l]);
    }
    u
}
