//! Fixtures shared by the learned optimizers' tests.

use pesto_tasks::ParamLayout;
use pesto_tasks::rng::stream;
use rand::RngExt;
use rand_distr::StandardNormal;

/// Tensors whose sizes are not multiples of any tile width, and one that is.
pub fn odd_layout() -> ParamLayout {
    let mut layout = ParamLayout::new();
    layout.push("w0", &[5, 7]);
    layout.push("b0", &[3]);
    layout.push("w1", &[40, 3]);
    layout.push("b1", &[1]);
    layout.push("w2", &[64]);
    layout
}

/// `len` normal values with standard deviation `std` from the stream `[part]` of `seed`.
pub fn normal_vec(seed: u64, part: u64, len: usize, std: f32) -> Vec<f32> {
    let mut rng = stream(seed, &[part]);
    (0..len).map(|_| std * rng.sample::<f32, _>(StandardNormal)).collect()
}

/// A dense layer written out plainly: output j is b[j] + sum_k W[k][j] input[k] (relu'd when
/// `relu`), with W row-major at `theta[w..]` and b at `theta[b..]`.
pub fn dense(
    theta: &[f32],
    input: &[f32],
    w: usize,
    b: usize,
    outputs: usize,
    relu: bool,
) -> Vec<f32> {
    (0..outputs)
        .map(|j| {
            let z = theta[b + j]
                + input
                    .iter()
                    .enumerate()
                    .map(|(k, x)| theta[w + k * outputs + j] * x)
                    .sum::<f32>();
            if relu { z.max(0.0) } else { z }
        })
        .collect()
}
