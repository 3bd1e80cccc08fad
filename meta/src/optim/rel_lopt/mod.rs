//! rel-lopt, nominal-lopt and snr-lopt: scale-free, horizon-aware per-parameter learned
//! optimizers (docs/optimizers.md).
//!
//! Per parameter, ten features (g, p, momenta at 0.9/0.99/0.999, sqrt(v) at 0.999, each
//! momentum over sqrt(v), g over sqrt(v)), each divided by its RMS over the tensor, go through
//! an MLP 10 -> 8 -> 8 -> 2 (ReLU) whose outputs (d, a) give the direction
//! u = d exp(0.001 a). The step of a tensor is relative to its scale:
//!
//!   p <- p - lr_t * S * rho * u            (rel-lopt)
//!   p <- p - lr_t * S * (n + rho * u)      (nominal-lopt)
//!
//! where n = m_hat / (sqrt(v_hat) + eps) is Adam's direction and rho its RMS over the tensor,
//! so the learned direction is measured in units of Adam's step and anneals with it. The learning rate is a learned
//! schedule over the fraction of training t/T and two loss features:
//! lr_t = exp(log_lr + skip . z + vs . relu(Ws^T z + bs)). Multiplying a tensor's parameters
//! by s and its gradient by 1/s multiplies its step by s. S is the tensor's RMS at the first
//! step (the RMS of all parameters for a tensor that starts at zero), fixed for the run, so a
//! growing tensor cannot feed its own step size. snr-lopt multiplies nominal-lopt's step on
//! each tensor by exp(gain . s_T), s_T the log ratios of the tensor's momenta to its gradient
//! RMS: a learned power of the gradient's signal-to-noise ratio. horizon-lopt multiplies
//! snr-lopt's learning rate by (T / 1000)^h: a learned power of the run length, which a schedule
//! over t/T alone cannot express. trend-lopt multiplies snr-lopt's learning rate by exp(a_t), a
//! log multiplier that a learned controller integrates over the run from the trend of the log
//! loss, so that a run can raise or lower its own learning rate as it goes.
//!
//! The `OptState` slots are the three momenta and v; its scalars the loss averages, then S of
//! each tensor, then (trend-lopt) the controller's state.

mod features;
mod kernel;
mod theta;

pub use features::{
    LOSS_DECAYS, LOSS_SCALARS, TREND_RANGE, TREND_RATE, TREND_SCALARS, schedule_features,
    track_loss, track_trend, trend_multiplier,
};
pub use kernel::{EXP_SCALE, PARAM_FLOOR};
pub use theta::{
    B1, B2, B3, BS, FEATURE_DEFINITION, FEATURES, GAIN, HIDDEN, HORIZON_EXPONENT,
    HORIZON_FEATURE_DEFINITION, HORIZON_TENSORS, HORIZON_THETA_DIM, LOG_LR, MOMENTUM_DECAYS,
    OUTPUTS, REFERENCE_HORIZON, RMS_DECAY, SCHEDULE_FEATURES, SCHEDULE_HIDDEN, SKIP,
    SNR_FEATURE_DEFINITION, SNR_FEATURES, SNR_TENSORS, SNR_THETA_DIM, TENSORS, THETA_DIM, TREND,
    TREND_FEATURE_DEFINITION, TREND_GAINS, TREND_TENSORS, TREND_THETA_DIM, VS, W1, W2, W3, WS,
};

use super::{LearnedOptimizer, OptState, Tensors};
use features::Accumulators;
use kernel::StepRule;
use pesto_tasks::ParamLayout;
use pesto_tasks::rng::stream;
use pesto_tasks::simd::Simd;
use rand_distr::{Distribution, StandardNormal};
use theta::Net;

/// Initial learning rate relative to each tensor's RMS, before the schedule.
pub const INIT_LR: f32 = 0.05;
/// Standard deviation of the output layer's random weights at initialisation.
const INIT_OUTPUT_STD: f32 = 1e-3;
/// The feature the untrained rel-lopt passes through as its direction: m(0.9) / sqrt(v).
const ADAM_FEATURE: usize = 6;
/// trend-lopt's initial controller gains (k0, k1, k2): a drifts down by 0.1 TREND_RATE a step,
/// rises while the log loss falls faster than 0.1 over the averages' lag, and falls fast while
/// the loss rises.
pub const TREND_INIT: [f32; TREND_GAINS] = [-0.1, -1.0, -10.0];
/// Accumulator slots: three momenta and v.
const SLOTS: usize = MOMENTUM_DECAYS.len() + 1;

/// The step rule of a `RelLopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// rel-lopt: the learned direction alone, lr S_T rho_T u.
    Relative,
    /// nominal-lopt: Adam's direction plus the learned one, lr S_T (n + rho_T u).
    Nominal,
    /// snr-lopt: nominal-lopt's step times exp(gain . s_T).
    Snr,
    /// horizon-lopt: snr-lopt with its learning rate times (T / 1000)^h.
    Horizon,
    /// trend-lopt: snr-lopt with its learning rate times a controller's exp(a_t).
    Trend,
}

impl Variant {
    /// Every variant, in registry order.
    pub const ALL: [Variant; 5] =
        [Variant::Relative, Variant::Nominal, Variant::Snr, Variant::Horizon, Variant::Trend];

    /// Whether the step carries Adam's direction as a nominal term.
    pub fn nominal(self) -> bool {
        self != Variant::Relative
    }

    /// Whether the step carries snr-lopt's signal-to-noise gain.
    pub fn snr_gain(self) -> bool {
        matches!(self, Variant::Snr | Variant::Horizon | Variant::Trend)
    }

    /// Per-run scalars after the tensors' scales: the controller's state for trend-lopt.
    fn extra_scalars(self) -> usize {
        if self == Variant::Trend { TREND_SCALARS } else { 0 }
    }

    /// Dimension of the variant's theta.
    pub fn theta_dim(self) -> usize {
        match self {
            Variant::Relative | Variant::Nominal => THETA_DIM,
            Variant::Snr => SNR_THETA_DIM,
            Variant::Horizon => HORIZON_THETA_DIM,
            Variant::Trend => TREND_THETA_DIM,
        }
    }
}

/// The per-parameter MLP with a relative step and a learned schedule, in one of its variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelLopt {
    kernel: Simd,
    variant: Variant,
}

impl RelLopt {
    /// The variant on the widest kernel the CPU runs.
    pub fn new(variant: Variant) -> Self {
        Self::with_kernel(variant, Simd::detect())
    }

    /// The same on the kernel compiled for `kernel`'s instruction set.
    pub fn with_kernel(variant: Variant, kernel: Simd) -> Self {
        Self { kernel, variant }
    }

    /// An untrained theta drawn from `seed`: relative Adam at `INIT_LR` decaying linearly to
    /// 1% at t = T, plus a small random function of all features.
    ///
    /// Hidden weights are He-normal, output weights normal with std 1e-3, biases zero, and the
    /// schedule has weight 1 on ln(1 - t/T + 0.01) and 0 elsewhere. Without the nominal term,
    /// hidden units 0 and 1 carry relu(x) and relu(-x) of the normalised m(0.9) / sqrt(v)
    /// through both layers into d with weights +1 and -1, so the direction starts as Adam's,
    /// normalised over the tensor; with it, the learned direction starts near zero. snr-lopt's
    /// gain weights start at zero, so it starts as nominal-lopt, and horizon-lopt's exponent
    /// starts at zero, so it starts as snr-lopt. trend-lopt's controller gains start at
    /// `TREND_INIT`.
    pub fn init_theta(seed: u64, variant: Variant) -> Vec<f32> {
        let mut rng = stream(seed, &[]);
        let mut normal = |std: f32| std * Distribution::<f32>::sample(&StandardNormal, &mut rng);
        let mut theta = vec![0.0f32; variant.theta_dim()];
        let layers = [
            (W1..B1, (2.0 / FEATURES as f32).sqrt()),
            (W2..B2, (2.0 / HIDDEN as f32).sqrt()),
            (W3..B3, INIT_OUTPUT_STD),
            (WS..BS, (2.0 / SCHEDULE_FEATURES as f32).sqrt()),
        ];
        for (range, std) in layers {
            theta[range].iter_mut().for_each(|w| *w = normal(std));
        }
        theta[LOG_LR] = INIT_LR.ln();
        theta[SKIP + 1] = 1.0;
        if variant == Variant::Trend {
            theta[TREND..].copy_from_slice(&TREND_INIT);
        }
        if !variant.nominal() {
            for (unit, sign) in [(0, 1.0), (1, -1.0)] {
                for i in 0..FEATURES {
                    theta[W1 + i * HIDDEN + unit] = if i == ADAM_FEATURE { sign } else { 0.0 };
                }
                for k in 0..HIDDEN {
                    theta[W2 + k * HIDDEN + unit] = if k == unit { 1.0 } else { 0.0 };
                }
                theta[W3 + unit * OUTPUTS] = sign;
            }
        }
        theta
    }

    /// The learning rate with meta-parameters `theta` of the next step of a run in `state`,
    /// before the per-tensor scale (and trend-lopt's controller multiplier included).
    pub fn learning_rate(theta: &[f32], state: &OptState) -> f32 {
        let net = Net::of(theta);
        let z = schedule_features(state.progress(), &state.scalars);
        let lr = features::learning_rate(&net, &z, state.horizon);
        if net.trend.is_some() { lr * trend_multiplier(&state.scalars) } else { lr }
    }
}

impl LearnedOptimizer for RelLopt {
    fn name(&self, _theta: &[f32]) -> String {
        match self.variant {
            Variant::Relative => "rel-lopt",
            Variant::Nominal => "nominal-lopt",
            Variant::Snr => "snr-lopt",
            Variant::Horizon => "horizon-lopt",
            Variant::Trend => "trend-lopt",
        }
        .to_string()
    }

    fn theta_dim(&self) -> usize {
        self.variant.theta_dim()
    }

    fn init_theta(&self, seed: u64) -> Vec<f32> {
        Self::init_theta(seed, self.variant)
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        let mut state = OptState::zeros(SLOTS, layout.len(), horizon);
        state.scalars =
            vec![0.0; LOSS_SCALARS + layout.tensors().len() + self.variant.extra_scalars()];
        state
    }

    fn step_tensors(
        &self,
        theta: &[f32],
        state: &mut OptState,
        layout: &ParamLayout,
        mut tensors: Tensors<'_, '_>,
        loss: f32,
    ) {
        let net = Net::of(theta);
        let n = layout.len();
        assert!(tensors.matches(layout), "params and grad must match the layout");
        assert!(
            state.slots.len() == SLOTS
                && state.slots.iter().all(|s| s.len() == n)
                && state.scalars.len()
                    == LOSS_SCALARS + layout.tensors().len() + self.variant.extra_scalars(),
            "{} state does not match the layout",
            self.name(theta)
        );
        let tensor_count = layout.tensors().len();
        let (losses, scales) = state.scalars.split_at_mut(LOSS_SCALARS);
        track_loss(losses, state.step, loss);
        if state.step == 0 {
            kernel::initial_scales(layout, &tensors, &mut scales[..tensor_count]);
        }
        let lr = Self::learning_rate(theta, state);
        if let Some(gains) = &net.trend {
            track_trend(&mut state.scalars, gains, state.step, loss);
        }
        let scales = &state.scalars[LOSS_SCALARS..LOSS_SCALARS + tensor_count];
        let rule = StepRule { net: &net, scales, lr, t: state.step, variant: self.variant };
        let [m0, m1, m2, v] = state.slots.as_mut_slice() else { unreachable!("checked above") };
        let acc = Accumulators {
            moments: [m0.as_mut_slice(), m1.as_mut_slice(), m2.as_mut_slice()],
            v: v.as_mut_slice(),
        };
        kernel::update(self.kernel, rule, layout, &mut tensors, acc);
        state.step += 1;
    }
}

#[cfg(test)]
mod tests;
