//! The mlp-lopt update over a parameter vector (docs/optimizers.md), tile by tile.
//!
//! A tile is `L` consecutive parameters of one tensor. Its 8 x L features, 32 x L first hidden
//! layer and 2 x L outputs live in fixed-size stack arrays; the second hidden layer is produced
//! `U` units at a time (U x L accumulators, sized to the vector registers) and folded straight
//! into the outputs, so it is never stored. Every loop has constant bounds and runs over the L
//! lanes innermost, so it vectorises; the code is compiled once per instruction set and runs on
//! the one of the optimizer's `Simd` token (the widest the CPU supports, unless chosen).
//!
//! L and U per kernel are the fastest measured with `cargo bench -p pesto-meta --bench lopt`
//! on the 2,410-parameter student: AVX-512 L = 32, U = 4 (about 37 us) beat U = 2 and
//! L = 16, 48, 64, while U = 8 vectorised badly (over 1 ms); AVX2 L = 32, U = 2 (about 68 us)
//! beat L = 8, 16 and U = 4. The same product through sgemm is slower: the second layer alone
//! takes about 45 us (bench `gemm-second-layer-only`).

use super::features::{FirstLayer, first_layer, step_bias};
use super::theta::{DECAYS, HIDDEN, Net, TENSOR_FEATURES};
use crate::optim::Tensors;
use pesto_tasks::ParamLayout;
use pesto_tasks::simd::{Isa, Simd};
use pesto_tasks::vmath::exp;

/// Scale of the direction output: p <- p - STEP_SCALE * d * exp(EXP_SCALE * m)
/// (docs/optimizers.md).
pub const STEP_SCALE: f32 = 1e-3;
/// Scale of the magnitude output inside the exponential (docs/optimizers.md).
pub const EXP_SCALE: f32 = 1e-3;

/// The tensors' momenta, one slice per decay, each as long as the parameter vector.
pub(super) type Moments<'a> = [&'a mut [f32]; DECAYS.len()];

/// One mlp-lopt update of `params` at step `t`, advancing `moments` by `grad`, on the code
/// compiled for `simd`'s instruction set.
pub(super) fn update(
    simd: Simd,
    net: &Net,
    t: u64,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    moments: Moments<'_>,
) {
    match simd.isa() {
        Isa::Portable => update_with::<8, 8, false>(net, t, layout, tensors, moments),
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { update_avx2(net, t, layout, tensors, moments) },
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx512f, avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { update_avx512(net, t, layout, tensors, moments) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn update_avx2(
    net: &Net,
    t: u64,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    moments: Moments<'_>,
) {
    update_with::<32, 2, true>(net, t, layout, tensors, moments);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn update_avx512(
    net: &Net,
    t: u64,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    moments: Moments<'_>,
) {
    update_with::<32, 4, true>(net, t, layout, tensors, moments);
}

#[inline(always)]
fn update_with<const L: usize, const U: usize, const FMA: bool>(
    net: &Net,
    t: u64,
    layout: &ParamLayout,
    tensors: &mut Tensors<'_, '_>,
    mut moments: Moments<'_>,
) {
    let bias = step_bias(net, t);
    for (i, tensor) in layout.tensors().iter().enumerate() {
        let range = tensor.range();
        let mut tensor_moments = moments.each_mut().map(|m| &mut m[range.clone()]);
        let (p, g) = tensors.tensor(layout, i);
        let layer = first_layer(net, &bias, g, p, &mut tensor_moments);
        update_tensor::<L, U, FMA>(net, &layer, g, p, &tensor_moments);
    }
}

/// Updates one tensor's parameters tile by tile; the momenta are already advanced.
#[inline(always)]
fn update_tensor<const L: usize, const U: usize, const FMA: bool>(
    net: &Net,
    layer: &FirstLayer,
    grad: &[f32],
    params: &mut [f32],
    moments: &Moments<'_>,
) {
    let mut start = 0;
    while start < params.len() {
        let tile = start..params.len().min(start + L);
        let mut x = [[0.0f32; L]; TENSOR_FEATURES];
        gather(&mut x[0], &grad[tile.clone()]);
        gather(&mut x[1], &params[tile.clone()]);
        for (row, m) in x[2..].iter_mut().zip(moments) {
            gather(row, &m[tile.clone()]);
        }
        let steps = tile_steps::<L, U, FMA>(net, layer, &x);
        params[tile.clone()].iter_mut().zip(&steps).for_each(|(p, s)| *p -= s);
        start = tile.end;
    }
}

/// Copies `src` (at most L values) into the front of `dst`, as one fixed-size copy when full.
#[inline(always)]
fn gather<const L: usize>(dst: &mut [f32; L], src: &[f32]) {
    match <&[f32; L]>::try_from(src) {
        Ok(full) => *dst = *full,
        Err(_) => dst[..src.len()].copy_from_slice(src),
    }
}

/// a * b + c, fused when the kernel has FMA.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// The MLP on one tile of unnormalised features; returns STEP_SCALE * d * exp(EXP_SCALE * m).
#[inline(always)]
fn tile_steps<const L: usize, const U: usize, const FMA: bool>(
    net: &Net,
    layer: &FirstLayer,
    x: &[[f32; L]; TENSOR_FEATURES],
) -> [f32; L] {
    let mut h1 = [[0.0f32; L]; HIDDEN];
    for (j, h) in h1.iter_mut().enumerate() {
        let mut acc = [layer.bias[j]; L];
        for (w, xc) in layer.w.iter().zip(x) {
            for l in 0..L {
                acc[l] = madd::<FMA>(w[j], xc[l], acc[l]);
            }
        }
        for l in 0..L {
            h[l] = acc[l].max(0.0);
        }
    }
    let mut out = net.b3.map(|b| [b; L]);
    for block in (0..HIDDEN).step_by(U) {
        let mut acc: [[f32; L]; U] = std::array::from_fn(|u| [net.b2[block + u]; L]);
        for (w, hk) in net.w2.iter().zip(&h1) {
            for (a, &wu) in acc.iter_mut().zip(&w[block..block + U]) {
                for l in 0..L {
                    a[l] = madd::<FMA>(wu, hk[l], a[l]);
                }
            }
        }
        for (a, w) in acc.iter().zip(&net.w3[block..block + U]) {
            for l in 0..L {
                let h = a[l].max(0.0);
                out[0][l] = madd::<FMA>(w[0], h, out[0][l]);
                out[1][l] = madd::<FMA>(w[1], h, out[1][l]);
            }
        }
    }
    let [d, m] = out;
    let mut steps = [0.0f32; L];
    for l in 0..L {
        steps[l] = STEP_SCALE * d[l] * exp(EXP_SCALE * m[l]);
    }
    steps
}
