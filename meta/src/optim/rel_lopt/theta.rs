//! The layout of rel-lopt's flat theta (docs/optimizers.md) and its fixed-size view.
//!
//! theta holds, in order, the per-parameter network W1 (10 x 8), b1 (8), W2 (8 x 8), b2 (8),
//! W3 (8 x 2), b3 (2), then the schedule: the log learning rate (1), the linear weights of the
//! five schedule features (5), the schedule network's hidden layer Ws (5 x 8), bs (8) and its
//! output weights vs (8): 240 values. Matrices are row-major with one row per *input* unit, so
//! `W[i][j]` (at `i * outputs + j`) is the weight from input `i` to output `j`.

use crate::optim::ThetaTensor;
use crate::optim::layers::{Layers, array, rows};

/// Per-parameter features: g, p, three momenta, sqrt(v), each momentum over sqrt(v), g over
/// sqrt(v); each divided by its RMS over the tensor.
pub const FEATURES: usize = 10;
/// Width of both hidden layers of the per-parameter network.
pub const HIDDEN: usize = 8;
/// Outputs of the per-parameter network: direction d and magnitude a.
pub const OUTPUTS: usize = 2;
/// Schedule features: t/T, ln(1 - t/T + 0.01), ln(t/T + 0.01) and two loss features.
pub const SCHEDULE_FEATURES: usize = 5;
/// Width of the schedule network's hidden layer.
pub const SCHEDULE_HIDDEN: usize = 8;

/// Momentum decays of the three first-moment accumulators m <- b m + (1 - b) g.
pub const MOMENTUM_DECAYS: [f32; 3] = [0.9, 0.99, 0.999];
/// Decay of the second-moment accumulator v <- b v + (1 - b) g^2.
pub const RMS_DECAY: f32 = 0.999;

/// Offset of W1 in theta.
pub const W1: usize = 0;
/// Offset of b1 in theta.
pub const B1: usize = W1 + FEATURES * HIDDEN;
/// Offset of W2 in theta.
pub const W2: usize = B1 + HIDDEN;
/// Offset of b2 in theta.
pub const B2: usize = W2 + HIDDEN * HIDDEN;
/// Offset of W3 in theta.
pub const W3: usize = B2 + HIDDEN;
/// Offset of b3 in theta.
pub const B3: usize = W3 + HIDDEN * OUTPUTS;
/// Offset of the log learning rate in theta.
pub const LOG_LR: usize = B3 + OUTPUTS;
/// Offset of the schedule features' linear weights in theta.
pub const SKIP: usize = LOG_LR + 1;
/// Offset of the schedule network's hidden weights in theta.
pub const WS: usize = SKIP + SCHEDULE_FEATURES;
/// Offset of the schedule network's hidden biases in theta.
pub const BS: usize = WS + SCHEDULE_FEATURES * SCHEDULE_HIDDEN;
/// Offset of the schedule network's output weights in theta.
pub const VS: usize = BS + SCHEDULE_HIDDEN;
/// Dimension of theta: 240.
pub const THETA_DIM: usize = VS + SCHEDULE_HIDDEN;
/// snr-lopt's per-tensor signal-to-noise features: ln(RMS_T(m_hat_k) / RMS_T(sqrt(v_hat))) for
/// the momenta with decays 0.9 and 0.99.
pub const SNR_FEATURES: usize = 2;
/// Offset of snr-lopt's gain weights in theta, after the 240 values it shares with nominal-lopt.
pub const GAIN: usize = THETA_DIM;
/// Dimension of snr-lopt's theta: 242.
pub const SNR_THETA_DIM: usize = GAIN + SNR_FEATURES;
/// Offset of horizon-lopt's horizon exponent in theta, after the 242 values it shares with
/// snr-lopt.
pub const HORIZON_EXPONENT: usize = SNR_THETA_DIM;
/// Dimension of horizon-lopt's theta: 243.
pub const HORIZON_THETA_DIM: usize = HORIZON_EXPONENT + 1;
/// Number of trend-lopt's controller gains (k0, k1, k2) of the loss trend r.
pub const TREND_GAINS: usize = 3;
/// Offset of trend-lopt's controller gains in theta, after the 242 values it shares with
/// snr-lopt.
pub const TREND: usize = SNR_THETA_DIM;
/// Dimension of trend-lopt's theta: 245.
pub const TREND_THETA_DIM: usize = TREND + TREND_GAINS;
/// The run length T at which horizon-lopt's learning rate equals snr-lopt's: it is multiplied by
/// (T / REFERENCE_HORIZON)^h.
pub const REFERENCE_HORIZON: f32 = 1000.0;

/// The per-parameter network's layers in theta.
pub(super) type PerParameter<'a> = Layers<'a, FEATURES, HIDDEN, OUTPUTS>;

const _: () = assert!(PerParameter::LEN == LOG_LR);

/// snr-lopt's theta as named tensors: nominal-lopt's, then the gain weights.
pub const SNR_TENSORS: [ThetaTensor; 12] = {
    let [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs] = TENSORS;
    let gain = ThetaTensor { name: "gain", shape: &[SNR_FEATURES], offset: GAIN };
    [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs, gain]
};

/// horizon-lopt's theta as named tensors: snr-lopt's, then the horizon exponent.
pub const HORIZON_TENSORS: [ThetaTensor; 13] = {
    let [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs, gain] = SNR_TENSORS;
    let horizon = ThetaTensor { name: "horizon", shape: &[1], offset: HORIZON_EXPONENT };
    [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs, gain, horizon]
};

/// trend-lopt's theta as named tensors: snr-lopt's, then the controller gains.
pub const TREND_TENSORS: [ThetaTensor; 13] = {
    let [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs, gain] = SNR_TENSORS;
    let trend = ThetaTensor { name: "trend", shape: &[TREND_GAINS], offset: TREND };
    [w1, b1, w2, b2, w3, b3, log_lr, skip, ws, bs, vs, gain, trend]
};

/// theta as named tensors, in order: the per-parameter network, then the schedule.
pub const TENSORS: [ThetaTensor; 11] = {
    let [w1, b1, w2, b2, w3, b3] = PerParameter::TENSORS;
    [
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
        ThetaTensor { name: "log_lr", shape: &[1], offset: LOG_LR },
        ThetaTensor { name: "skip", shape: &[SCHEDULE_FEATURES], offset: SKIP },
        ThetaTensor { name: "ws", shape: &[SCHEDULE_FEATURES, SCHEDULE_HIDDEN], offset: WS },
        ThetaTensor { name: "bs", shape: &[SCHEDULE_HIDDEN], offset: BS },
        ThetaTensor { name: "vs", shape: &[SCHEDULE_HIDDEN], offset: VS },
    ]
};

/// The network's inputs, in the order of w1's rows and ws's rows (docs/optimizers.md).
pub const FEATURE_DEFINITION: &str = "per-parameter inputs (rows of w1), each divided by its \
    RMS over the tensor: g, p, m_1, m_2, m_3 (momenta with decays 0.9, 0.99, 0.999), sqrt(v) \
    (decay 0.999), m_1/sqrt(v), m_2/sqrt(v), m_3/sqrt(v), g/sqrt(v); outputs (columns of w3): \
    direction d and magnitude a, u = d exp(0.001 a). Schedule inputs z (rows of ws): f = t/T, \
    ln(1 - f + 0.01), ln(f + 0.01), clamp(ln(L_slow/L_0), -10, 2), clamp(ln(L_fast/L_slow), \
    -2, 2); lr_t = exp(log_lr + skip . z + vs . relu(ws^T z + bs))";

/// snr-lopt's inputs: nominal-lopt's, and the per-tensor features that weight `gain`.
pub const SNR_FEATURE_DEFINITION: &str = "as nominal-lopt; each tensor's step is multiplied by \
    exp(gain . s_T) with s_T = (ln(RMS_T(m_hat_1)/RMS_T(sqrt(v_hat))), ln(RMS_T(m_hat_2)/\
    RMS_T(sqrt(v_hat)))), Adam-bias-corrected moments, each clamped to [-5, 1]";

/// horizon-lopt's inputs: snr-lopt's, and the run length T that `horizon` is the power of.
pub const HORIZON_FEATURE_DEFINITION: &str = "as snr-lopt; lr_t is multiplied by \
    (T / 1000)^horizon, T the run's length in steps";

/// trend-lopt's inputs: snr-lopt's, and the trend of the log loss that drives its controller.
pub const TREND_FEATURE_DEFINITION: &str = "as snr-lopt; lr_t is multiplied by exp(a_t), a_0 = 0, \
    a_{t+1} = clamp(a_t + 0.005 (k0 + k1 r_t + k2 max(r_t, 0)), -4, 2) with (k0, k1, k2) = trend \
    and r_t = clamp(mean_0.9(ln L) - mean_0.99(ln L), -2, 2), the difference of the fast and slow \
    running averages of the log loss, both started at ln L_0";

/// theta seen as fixed-size arrays, so the kernel indexes without bounds checks: a view of the
/// flat vector, which it does not copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Net<'a> {
    /// The per-parameter network.
    pub layers: PerParameter<'a>,
    pub log_lr: f32,
    pub skip: &'a [f32; SCHEDULE_FEATURES],
    pub ws: &'a [[f32; SCHEDULE_HIDDEN]; SCHEDULE_FEATURES],
    pub bs: &'a [f32; SCHEDULE_HIDDEN],
    pub vs: &'a [f32; SCHEDULE_HIDDEN],
    /// snr-lopt's gain weights (zero for a theta of `THETA_DIM` values).
    pub gain: [f32; SNR_FEATURES],
    /// horizon-lopt's exponent h of (T / REFERENCE_HORIZON) (zero for other thetas).
    pub horizon_exponent: f32,
    /// trend-lopt's controller gains (none for other thetas).
    pub trend: Option<[f32; TREND_GAINS]>,
}

impl<'a> Net<'a> {
    /// The weights of a theta of dimension `THETA_DIM`, `SNR_THETA_DIM`, `HORIZON_THETA_DIM` or
    /// `TREND_THETA_DIM`.
    ///
    /// # Panics
    /// If `theta` has another number of values.
    pub fn of(theta: &'a [f32]) -> Self {
        let gain = || *array(&theta[GAIN..SNR_THETA_DIM]);
        let (gain, horizon_exponent, trend) = match theta.len() {
            THETA_DIM => ([0.0; SNR_FEATURES], 0.0, None),
            SNR_THETA_DIM => (gain(), 0.0, None),
            HORIZON_THETA_DIM => (gain(), theta[HORIZON_EXPONENT], None),
            TREND_THETA_DIM => (gain(), 0.0, Some(*array(&theta[TREND..TREND_THETA_DIM]))),
            n => panic!(
                "rel-lopt theta must have {THETA_DIM}, {SNR_THETA_DIM}, {HORIZON_THETA_DIM} or \
                 {TREND_THETA_DIM} values, not {n}"
            ),
        };
        Self {
            layers: PerParameter::of(theta),
            log_lr: theta[LOG_LR],
            skip: array(&theta[SKIP..WS]),
            ws: rows(&theta[WS..BS]),
            bs: array(&theta[BS..VS]),
            vs: array(&theta[VS..GAIN]),
            gain,
            horizon_exponent,
            trend,
        }
    }
}
