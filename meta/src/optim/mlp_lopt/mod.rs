//! mlp-lopt: the per-parameter MLP learned optimizer (docs/optimizers.md, docs/benchmark.md).
//!
//! Per parameter, 19 features (g, p and six momenta, each divided by its RMS over the tensor,
//! plus eleven time features) go through an MLP 19 -> 32 -> 32 -> 2 with ReLU whose outputs
//! (d, m) give p <- p - 0.001 d exp(0.001 m). The six momenta are the `OptState` slots, in the
//! order of `DECAYS`.
//!
//! theta (`THETA_DIM` = 1,762 values) holds, at the offsets `W1`, `B1`, `W2`, `B2`, `W3`, `B3`:
//! W1 (19 x 32), b1 (32), W2 (32 x 32), b2 (32), W3 (32 x 2), b3 (2). Each matrix is row-major
//! with one row per input unit: the weight from input `i` to output `j` of layer W is at
//! `W + i * outputs + j`. The first layer's inputs are g, p, the six momenta (`DECAYS` order),
//! then the eleven time features (`TIMESCALES` order); the outputs are d then m.
//!
//! The update reads the theta it is given in place, as fixed-size arrays (`theta::Net`), folds
//! the time features into a per-step bias and the per-tensor RMS into a per-tensor scaling of
//! W1 (`features`), then runs the MLP over tiles of parameters with SIMD kernels picked at
//! runtime (`kernel`). A step allocates nothing.

mod features;
mod kernel;
mod theta;

pub use features::{RMS_EPS, time_features};
pub use kernel::{EXP_SCALE, STEP_SCALE};
pub use theta::{
    B1, B2, B3, DECAYS, FEATURE_DEFINITION, HIDDEN, INPUTS, OUTPUTS, TENSOR_FEATURES, TENSORS,
    THETA_DIM, TIME_FEATURES, TIMESCALES, W1, W2, W3,
};

use super::{LearnedOptimizer, OptState, Tensors};
use pesto_tasks::ParamLayout;
use pesto_tasks::rng::stream;
use pesto_tasks::simd::Simd;
use rand_distr::{Distribution, StandardNormal};

/// Standard deviation of the output layer's random weights at initialisation.
const INIT_OUTPUT_STD: f32 = 1e-3;

/// The per-parameter MLP learned optimizer; its OptState slots are the six momenta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlpLopt {
    kernel: Simd,
}

impl Default for MlpLopt {
    /// mlp-lopt on the widest kernel the CPU runs.
    fn default() -> Self {
        Self::with_kernel(Simd::detect())
    }
}

impl MlpLopt {
    /// mlp-lopt on the kernel compiled for `kernel`'s instruction set.
    pub fn with_kernel(kernel: Simd) -> Self {
        Self { kernel }
    }

    /// An untrained theta drawn from `seed`: per-tensor normalised gradient descent plus a
    /// small random function of all features.
    ///
    /// Hidden weights are He-normal (std sqrt(2 / fan_in)), output weights normal with std
    /// 1e-3 and biases zero, so the random part moves a parameter by about 1e-6 per step.
    /// Hidden units 0 and 1 then carry relu(g~) and relu(-g~) (g~ the RMS-normalised gradient)
    /// through both layers into d with weights +1 and -1, so d = g~ + small and the first
    /// updates are p <- p - 1e-3 g / rms(g): steps of about 1e-3 that descend.
    pub fn init_theta(seed: u64) -> Vec<f32> {
        let mut rng = stream(seed, &[]);
        let mut normal = |std: f32| std * Distribution::<f32>::sample(&StandardNormal, &mut rng);
        let mut theta = vec![0.0f32; THETA_DIM];
        let layers = [
            (W1..B1, (2.0 / INPUTS as f32).sqrt()),
            (W2..B2, (2.0 / HIDDEN as f32).sqrt()),
            (W3..B3, INIT_OUTPUT_STD),
        ];
        for (range, std) in layers {
            theta[range].iter_mut().for_each(|w| *w = normal(std));
        }
        for (unit, sign) in [(0, 1.0), (1, -1.0)] {
            for i in 0..INPUTS {
                theta[W1 + i * HIDDEN + unit] = if i == 0 { sign } else { 0.0 };
            }
            for k in 0..HIDDEN {
                theta[W2 + k * HIDDEN + unit] = if k == unit { 1.0 } else { 0.0 };
            }
            theta[W3 + unit * OUTPUTS] = sign;
        }
        theta
    }
}

impl LearnedOptimizer for MlpLopt {
    fn name(&self, _theta: &[f32]) -> String {
        "mlp-lopt".to_string()
    }

    fn theta_dim(&self) -> usize {
        THETA_DIM
    }

    fn init_theta(&self, seed: u64) -> Vec<f32> {
        Self::init_theta(seed)
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        OptState::zeros(DECAYS.len(), layout.len(), horizon)
    }

    fn step_tensors(
        &self,
        theta: &[f32],
        state: &mut OptState,
        layout: &ParamLayout,
        mut tensors: Tensors<'_, '_>,
        _loss: f32,
    ) {
        let net = theta::net(theta);
        let n = layout.len();
        assert!(tensors.matches(layout), "params and grad must match the layout");
        let slots = state.slots.len();
        let moments: &mut [Vec<f32>; DECAYS.len()] =
            state.slots.as_mut_slice().try_into().unwrap_or_else(|_| {
                panic!("mlp-lopt state needs {} slots, found {slots}", DECAYS.len())
            });
        assert!(moments.iter().all(|m| m.len() == n), "mlp-lopt state does not match the layout");
        let moments = moments.each_mut().map(Vec::as_mut_slice);
        kernel::update(self.kernel, &net, state.step, layout, &mut tensors, moments);
        state.step += 1;
    }
}

#[cfg(test)]
mod tests;
