//! The layout of mlp-lopt's flat theta and its fixed-size view (docs/optimizers.md).
//!
//! theta holds, in order: W1 (19 x 32), b1 (32), W2 (32 x 32), b2 (32), W3 (32 x 2), b3 (2),
//! 1,762 values. Every matrix is row-major with one row per *input* unit, so `W[i][j]` (at
//! `i * outputs + j`) is the weight from input `i` to output `j`. The 19 inputs of the first
//! layer are, in order: g, p, the six momenta in the order of `DECAYS`, then the eleven time
//! features in the order of `TIMESCALES`.

use crate::optim::ThetaTensor;
use crate::optim::layers::Layers;

/// Width of both hidden layers.
pub const HIDDEN: usize = 32;
/// Per-parameter inputs normalised over their tensor: g, p and six momenta.
pub const TENSOR_FEATURES: usize = 8;
/// Time features tanh(t / tau - 1), one per timescale.
pub const TIME_FEATURES: usize = TIMESCALES.len();
/// All first-layer inputs.
pub const INPUTS: usize = TENSOR_FEATURES + TIME_FEATURES;
/// Outputs: direction d and magnitude m.
pub const OUTPUTS: usize = 2;

/// Momentum decays of the six accumulators m <- d m + (1 - d) g (docs/optimizers.md).
pub const DECAYS: [f32; 6] = [0.1, 0.5, 0.9, 0.99, 0.999, 0.9999];
/// Timescales tau of the time features (docs/optimizers.md).
pub const TIMESCALES: [f32; 11] = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5];

/// Offset of W1 in theta.
pub const W1: usize = 0;
/// Offset of b1 in theta.
pub const B1: usize = W1 + INPUTS * HIDDEN;
/// Offset of W2 in theta.
pub const W2: usize = B1 + HIDDEN;
/// Offset of b2 in theta.
pub const B2: usize = W2 + HIDDEN * HIDDEN;
/// Offset of W3 in theta.
pub const W3: usize = B2 + HIDDEN;
/// Offset of b3 in theta.
pub const B3: usize = W3 + HIDDEN * OUTPUTS;
/// Dimension of theta: 1,762.
pub const THETA_DIM: usize = B3 + OUTPUTS;

/// theta seen as fixed-size arrays, so the kernel indexes without bounds checks: a view of the
/// flat vector, which it does not copy.
pub(super) type Net<'a> = Layers<'a, INPUTS, HIDDEN, OUTPUTS>;

const _: () = assert!(Net::LEN == THETA_DIM);

/// theta as named tensors, in order.
pub const TENSORS: [ThetaTensor; 6] = Net::TENSORS;

/// The network's inputs, in the order of w1's rows (docs/optimizers.md).
pub const FEATURE_DEFINITION: &str = "per-parameter inputs (rows of w1): g, p, six momenta \
    m <- d m + (1 - d) g with d in 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, each of these eight \
    divided by sqrt(1e-5 + mean over the tensor of its square), then tanh(t/tau - 1) for tau in \
    1, 3, 10, 30, 100, 300, 1e3, 3e3, 1e4, 3e4, 1e5; outputs (columns of w3): (d, m), \
    p <- p - 0.001 d exp(0.001 m)";

/// mlp-lopt's network in `theta`.
///
/// # Panics
/// If `theta` does not have `THETA_DIM` values.
pub(super) fn net(theta: &[f32]) -> Net<'_> {
    assert_eq!(theta.len(), THETA_DIM, "mlp-lopt theta must have {THETA_DIM} values");
    Net::of(theta)
}
