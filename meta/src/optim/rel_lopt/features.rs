//! rel-lopt's inputs (docs/optimizers.md): the global schedule features of a step and the
//! per-parameter features of a tile.

use super::theta::{
    FEATURES, MOMENTUM_DECAYS, Net, REFERENCE_HORIZON, RMS_DECAY, SCHEDULE_FEATURES, SNR_FEATURES,
    TREND_GAINS,
};
use std::ops::Range;

/// Added to sqrt(v) before dividing by it; tiny, so the features stay scale-free.
pub const EPS: f32 = 1e-12;
/// Floor of t/T's distance to the end (and start) inside the logarithmic schedule features.
pub const SCHEDULE_FLOOR: f32 = 0.01;
/// Decays of the fast and slow running averages of the loss (and of trend-lopt's of ln(loss)).
pub const LOSS_DECAYS: [f32; 2] = [0.9, 0.99];
/// Largest exponent of the learning rate, so a bad theta cannot overflow it.
const MAX_LOG_LR: f32 = 10.0;
/// Smallest loss the loss features take the logarithm of.
const MIN_LOSS: f32 = 1e-30;

/// Per-run loss scalars at the front of `OptState::scalars`: the first loss and its fast and
/// slow averages (the tensors' scales S_T follow them).
pub const LOSS_SCALARS: usize = 3;

/// Updates the loss averages in `scalars` with this step's `loss` (ignored if not finite).
pub fn track_loss(scalars: &mut [f32], step: u64, loss: f32) {
    let loss = if loss.is_finite() { loss.max(MIN_LOSS) } else { return };
    if step == 0 {
        scalars.fill(loss);
        return;
    }
    advance_averages(&mut scalars[1..], loss);
}

/// Moves the fast and slow running averages `averages` (decays `LOSS_DECAYS`) towards `value`.
fn advance_averages(averages: &mut [f32], value: f32) {
    for (avg, decay) in averages.iter_mut().zip(LOSS_DECAYS) {
        *avg = decay * *avg + (1.0 - decay) * value;
    }
}

/// The schedule features at progress f = t/T with the loss averages `scalars`: f,
/// ln(1 - f + 0.01), ln(f + 0.01), ln(slow / first) clamped to [-10, 2] and ln(fast / slow)
/// clamped to [-2, 2].
pub fn schedule_features(progress: f32, scalars: &[f32]) -> [f32; SCHEDULE_FEATURES] {
    let [first, fast, slow] = [0, 1, 2].map(|i| scalars.get(i).copied().unwrap_or(1.0));
    let ratio = |a: f32, b: f32| (a.max(MIN_LOSS) / b.max(MIN_LOSS)).ln();
    [
        progress,
        (1.0 - progress + SCHEDULE_FLOOR).ln(),
        (progress + SCHEDULE_FLOOR).ln(),
        ratio(slow, first).clamp(-10.0, 2.0),
        ratio(fast, slow).clamp(-2.0, 2.0),
    ]
}

/// The learning rate exp(log_lr + skip . z + vs . relu(Ws^T z + bs)) of schedule features z,
/// times (T / REFERENCE_HORIZON)^h for horizon-lopt's exponent h and a run of `horizon` steps.
pub(super) fn learning_rate(net: &Net, z: &[f32; SCHEDULE_FEATURES], horizon: u64) -> f32 {
    let mut log_lr = net.log_lr;
    if net.horizon_exponent != 0.0 {
        log_lr += net.horizon_exponent * (horizon.max(1) as f32 / REFERENCE_HORIZON).ln();
    }
    log_lr += net.skip.iter().zip(z).map(|(a, z)| a * z).sum::<f32>();
    for (k, (&b, &v)) in net.bs.iter().zip(net.vs).enumerate() {
        let h = b + net.ws.iter().zip(z).map(|(row, z)| row[k] * z).sum::<f32>();
        log_lr += v * h.max(0.0);
    }
    log_lr.min(MAX_LOG_LR).exp()
}

/// How far one step of trend-lopt's controller moves its log multiplier per unit of drive.
pub const TREND_RATE: f32 = 0.005;
/// Bounds of trend-lopt's log learning-rate multiplier a.
pub const TREND_RANGE: (f32, f32) = (-4.0, 2.0);
/// Bound of the loss trend r on either side of zero.
const TREND_CLAMP: f32 = 2.0;
/// trend-lopt's per-run scalars, after the tensors' scales: a, then the fast and slow averages
/// of ln(loss).
pub const TREND_SCALARS: usize = 3;

/// Advances trend-lopt's controller `[a, fast, slow]` (the last `TREND_SCALARS` of `scalars`) by
/// this step's `loss`, which the averages ignore if it is not finite: a moves by
/// TREND_RATE (k0 + k1 r + k2 max(r, 0)) for the gains `k` and the trend r = fast - slow.
pub fn track_trend(scalars: &mut [f32], gains: &[f32; TREND_GAINS], step: u64, loss: f32) {
    let tail = scalars.len() - TREND_SCALARS;
    let (a, averages) = scalars[tail..].split_first_mut().expect("TREND_SCALARS > 0");
    if loss.is_finite() {
        let log_loss = loss.max(MIN_LOSS).ln();
        if step == 0 {
            averages.fill(log_loss);
        }
        advance_averages(averages, log_loss);
    }
    let r = (averages[0] - averages[1]).clamp(-TREND_CLAMP, TREND_CLAMP);
    let [k0, k1, k2] = *gains;
    *a = (*a + TREND_RATE * (k0 + k1 * r + k2 * r.max(0.0))).clamp(TREND_RANGE.0, TREND_RANGE.1);
}

/// trend-lopt's learning-rate multiplier exp(a) of the next step, a read from the last
/// `TREND_SCALARS` of `scalars`.
pub fn trend_multiplier(scalars: &[f32]) -> f32 {
    scalars[scalars.len() - TREND_SCALARS].exp()
}

/// Bounds of snr-lopt's per-tensor signal-to-noise features.
const SNR_RANGE: (f32, f32) = (-5.0, 1.0);

/// snr-lopt's features of a tensor at step t (0-based) from the means over the tensor of
/// m_1^2, m_2^2 and v: ln(RMS(m_hat_k) / RMS(sqrt(v_hat))) with Adam's bias corrections,
/// clamped to [-5, 1]; zero when v is zero over the tensor.
pub(super) fn snr_features(
    mean_moment_squares: [f64; SNR_FEATURES],
    mean_v: f64,
    t: u64,
) -> [f32; SNR_FEATURES] {
    if mean_v <= 0.0 {
        return [0.0; SNR_FEATURES];
    }
    let t = (t + 1) as i32;
    let v_hat = mean_v / (1.0 - f64::from(RMS_DECAY).powi(t));
    std::array::from_fn(|k| {
        let m_hat = mean_moment_squares[k].sqrt() / (1.0 - f64::from(MOMENTUM_DECAYS[k]).powi(t));
        let ratio = (m_hat / v_hat.sqrt()) as f32;
        ratio.ln().clamp(SNR_RANGE.0, SNR_RANGE.1)
    })
}

/// The accumulators of a run of parameters (the whole vector, a tensor or a tile): the three
/// momenta and the second moment.
pub(super) struct Accumulators<'a> {
    pub moments: [&'a mut [f32]; MOMENTUM_DECAYS.len()],
    pub v: &'a mut [f32],
}

impl Accumulators<'_> {
    /// The accumulators of the parameters in `r`.
    #[inline(always)]
    pub fn range(&mut self, r: Range<usize>) -> Accumulators<'_> {
        Accumulators {
            moments: self.moments.each_mut().map(|m| &mut m[r.clone()]),
            v: &mut self.v[r],
        }
    }
}

/// Advances the tile's accumulators by `grad`.
#[inline(always)]
pub(super) fn advance(state: &mut Accumulators<'_>, grad: &[f32]) {
    for (m, decay) in state.moments.iter_mut().zip(MOMENTUM_DECAYS) {
        m.iter_mut().zip(grad).for_each(|(m, &g)| *m = decay * *m + (1.0 - decay) * g);
    }
    let v = &mut *state.v;
    v.iter_mut().zip(grad).for_each(|(v, &g)| *v = RMS_DECAY * *v + (1.0 - RMS_DECAY) * g * g);
}

/// The unnormalised features of a tile of `grad.len() <= L` parameters; lanes past the end
/// are zero.
#[inline(always)]
pub(super) fn tile_features<const L: usize>(
    grad: &[f32],
    params: &[f32],
    moments: &[&mut [f32]; MOMENTUM_DECAYS.len()],
    v: &[f32],
) -> [[f32; L]; FEATURES] {
    let mut x = [[0.0f32; L]; FEATURES];
    let n = grad.len();
    x[0][..n].copy_from_slice(grad);
    x[1][..n].copy_from_slice(params);
    for (row, m) in x[2..5].iter_mut().zip(moments) {
        row[..n].copy_from_slice(m);
    }
    // Over all L lanes, so the square roots and divisions vectorise: a lane past the end has
    // v = 0, so its features stay 0 whatever its (finite) inverse.
    x[5][..n].copy_from_slice(v);
    let mut inv = [0.0f32; L];
    for l in 0..L {
        x[5][l] = x[5][l].sqrt();
        inv[l] = 1.0 / (x[5][l] + EPS);
    }
    for k in 0..MOMENTUM_DECAYS.len() {
        for l in 0..L {
            x[6 + k][l] = x[2 + k][l] * inv[l];
        }
    }
    for l in 0..L {
        x[9][l] = x[0][l] * inv[l];
    }
    x
}
