//! learned-adam: Adam whose hyperparameters are meta-parameters (docs/optimizers.md).
//!
//! theta = [ln lr, logit beta1, logit beta2, ln eps], so every theta in R^4 is a valid Adam.

use super::{AdamBetas, LearnedOptimizer, OptState, Tensors, ThetaTensor, adam_update};
use pesto_tasks::ParamLayout;

/// Dimension of learned-adam's theta.
pub const THETA_DIM: usize = 4;

/// theta as named tensors, one value each.
pub const TENSORS: [ThetaTensor; THETA_DIM] = [
    ThetaTensor { name: "ln_lr", shape: &[1], offset: 0 },
    ThetaTensor { name: "logit_beta1", shape: &[1], offset: 1 },
    ThetaTensor { name: "logit_beta2", shape: &[1], offset: 2 },
    ThetaTensor { name: "ln_eps", shape: &[1], offset: 3 },
];

/// What theta's values are: Adam's hyperparameters.
pub const FEATURE_DEFINITION: &str = "Adam with lr = exp(ln_lr), beta_k = sigmoid(logit_beta_k), \
    eps = exp(ln_eps) and a constant learning rate; no network inputs";

/// Adam with theta = [ln lr, logit beta1, logit beta2, ln eps]; a constant learning rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnedAdam;

impl LearnedAdam {
    /// The theta of Adam with learning rate `lr` and `betas` (as close as f32 theta allows).
    pub fn theta_for(lr: f32, betas: AdamBetas) -> Vec<f32> {
        let logit = |b: f32| (f64::from(b) / f64::from(1.0 - b)).ln() as f32;
        vec![
            f64::from(lr).ln() as f32,
            logit(betas.beta1),
            logit(betas.beta2),
            f64::from(betas.eps).ln() as f32,
        ]
    }

    /// The learning rate and betas that `theta` encodes (decoded in f64, then rounded).
    ///
    /// # Panics
    /// If `theta` does not have `THETA_DIM` values.
    pub fn hyperparameters(theta: &[f32]) -> (f32, AdamBetas) {
        let theta: [f32; THETA_DIM] = theta.try_into().unwrap_or_else(|_| {
            panic!("learned-adam theta must have {THETA_DIM} values, found {}", theta.len())
        });
        let [ln_lr, logit1, logit2, ln_eps] = theta.map(f64::from);
        let sigmoid = |x: f64| (1.0 / (1.0 + (-x).exp())) as f32;
        let betas =
            AdamBetas { beta1: sigmoid(logit1), beta2: sigmoid(logit2), eps: ln_eps.exp() as f32 };
        (ln_lr.exp() as f32, betas)
    }

    /// Adam's usual hyperparameters: lr 1e-3, betas 0.9 and 0.999, eps 1e-8.
    pub fn init_theta() -> Vec<f32> {
        Self::theta_for(1e-3, AdamBetas::default())
    }
}

impl LearnedOptimizer for LearnedAdam {
    fn name(&self, theta: &[f32]) -> String {
        let (lr, AdamBetas { beta1, beta2, eps }) = Self::hyperparameters(theta);
        format!("learned-adam(lr={lr:e},beta1={beta1},beta2={beta2},eps={eps:e})")
    }

    fn theta_dim(&self) -> usize {
        THETA_DIM
    }

    /// Adam's usual hyperparameters; deterministic, so `seed` is unused.
    fn init_theta(&self, _seed: u64) -> Vec<f32> {
        Self::init_theta()
    }

    fn init_state(&self, layout: &ParamLayout, horizon: u64) -> OptState {
        OptState::zeros(2, layout.len(), horizon)
    }

    fn step_tensors(
        &self,
        theta: &[f32],
        state: &mut OptState,
        layout: &ParamLayout,
        mut tensors: Tensors<'_, '_>,
        _loss: f32,
    ) {
        let (lr, betas) = Self::hyperparameters(theta);
        assert!(tensors.matches(layout), "params and grad must match the layout");
        let [m, v] = state.slots.as_mut_slice() else {
            panic!("learned-adam state needs two slots, found {}", state.slots.len());
        };
        for (i, tensor) in layout.tensors().iter().enumerate() {
            let (params, grad) = tensors.tensor(layout, i);
            let r = tensor.range();
            adam_update(lr, betas, state.step, params, grad, &mut m[r.clone()], &mut v[r]);
        }
        state.step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, LearnedKind, Optimizer, Schedule};

    /// Runs both optimizers on the same gradients of 0.5 sum c_i p_i^2 and returns their params.
    fn trajectories(a: &dyn Optimizer, b: &dyn Optimizer, steps: usize) -> Vec<[Vec<f32>; 2]> {
        let layout = ParamLayout::single("p", 4);
        let curvature = [1.0f32, 4.0, 0.25, 1e-3];
        let (mut sa, mut sb) = (a.init_state(&layout, 100), b.init_state(&layout, 100));
        let (mut pa, mut pb) = (vec![1.0f32, -2.0, 0.5, 3.0], vec![1.0f32, -2.0, 0.5, 3.0]);
        let mut out = Vec::new();
        for _ in 0..steps {
            let grad: Vec<f32> = pa.iter().zip(curvature).map(|(p, c)| c * p).collect();
            a.step(&mut sa, &layout, &mut pa, &grad, 1.0);
            b.step(&mut sb, &layout, &mut pb, &grad, 1.0);
            out.push([pa.clone(), pb.clone()]);
        }
        out
    }

    #[test]
    fn reproduces_adam_step_for_step() {
        let betas = AdamBetas { beta1: 0.8, beta2: 0.995, eps: 1e-7 };
        let theta = LearnedAdam::theta_for(3e-2, betas);
        let (lr, decoded) = LearnedAdam::hyperparameters(&theta);
        let learned = LearnedKind::LearnedAdam.build(theta).unwrap();
        // theta is f32, so ln lr carries a rounding error of half an ulp of |ln lr| (< 4.8e-7
        // for |ln lr| < 8), which exp turns into that relative error in lr; same for eps, and
        // for 1 - beta through logit. The decoded values are within a few f32 ulps.
        assert!((lr / 3e-2 - 1.0).abs() < 5e-7, "{lr}");
        assert!((decoded.eps / 1e-7 - 1.0).abs() < 1e-6, "{decoded:?}");
        assert!((decoded.beta1 - 0.8).abs() <= 2.0 * f32::EPSILON, "{decoded:?}");
        assert!((decoded.beta2 - 0.995).abs() <= 2.0 * f32::EPSILON, "{decoded:?}");
        let adam = Adam { lr: Schedule::Constant(lr), betas: decoded };
        for [a, b] in trajectories(&learned, &adam, 100) {
            assert_eq!(a, b);
        }
    }

    #[test]
    fn initial_theta_tracks_usual_adam() {
        let steps = 100;
        let learned = LearnedKind::LearnedAdam.build(LearnedAdam::init_theta()).unwrap();
        let adam = Adam::new(Schedule::Constant(1e-3));
        // The decoded lr is off by < 5e-7 relative, far below one rounding of a parameter
        // per step; so the two differ by at most about one ulp of |p| <= 3 per step.
        let tolerance = steps as f32 * 3.0 * f32::EPSILON;
        for [a, b] in trajectories(&learned, &adam, steps) {
            assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() <= tolerance), "{a:?} vs {b:?}");
        }
    }
}
