//! Unrolled computation graphs (docs/estimators.md): a state s_t advanced by
//! s_{t+1} = f(s_t, theta) with a loss L_t at each step. RNNs, unrolled hyperparameter
//! optimization and learned optimizers are all `UnrolledSystem`s, and every estimator is generic
//! over this trait.

use serde::{Serialize, de::DeserializeOwned};

/// A system whose meta-parameters theta are learned through unrolls of its dynamics.
///
/// ```
/// use pesto_meta::UnrolledSystem;
///
/// /// x <- (1 - theta) x from x = 1 for 10 steps; the loss of a step is x^2 after it.
/// struct Decay;
///
/// impl UnrolledSystem for Decay {
///     type State = (f64, u64);
///     fn theta_dim(&self) -> usize { 1 }
///     fn initial_theta(&self) -> Vec<f32> { vec![0.1] }
///     fn init_state(&self, _seed: u64, start: u64) -> (f64, u64) { (1.0, start) }
///     fn unroll(&self, s: &mut (f64, u64), theta: &[f32], k: u64) -> f64 {
///         let steps = k.min(10 - s.1);
///         let mut loss = 0.0;
///         for _ in 0..steps {
///             s.0 *= 1.0 - f64::from(theta[0]);
///             s.1 += 1;
///             loss += s.0 * s.0;
///         }
///         loss
///     }
///     fn horizon(&self, _: &(f64, u64)) -> Option<u64> { Some(10) }
///     fn position(&self, s: &(f64, u64)) -> u64 { s.1 }
/// }
///
/// let mut state = Decay.init_state(0, 0);
/// let slow = Decay.unroll(&mut state, &[0.1], 5);
/// let fast = Decay.unroll(&mut Decay.init_state(0, 0), &[0.5], 5);
/// assert!(fast < slow && !Decay.is_done(&state));
/// ```
pub trait UnrolledSystem: Sync {
    /// One particle's state: s_t, its position in the horizon, and whatever the system needs to
    /// step it (data, scratch buffers). Serialisable, so a run can be checkpointed.
    type State: Clone + Send + Sync + Serialize + DeserializeOwned;

    /// Dimension P of theta.
    fn theta_dim(&self) -> usize;
    /// The starting theta of meta-training.
    fn initial_theta(&self) -> Vec<f32>;
    /// A fresh inner problem drawn from `seed` (data, initialisation, sampled configuration),
    /// positioned at step `start` of its horizon. Two calls with the same arguments give the
    /// same state, which is how both members of an antithetic pair share randomness.
    fn init_state(&self, seed: u64, start: u64) -> Self::State;
    /// Runs up to `k` steps of the state with `theta` (fewer if the horizon ends first) and
    /// returns the loss of this truncation: the meta-objective's terms over these steps.
    fn unroll(&self, state: &mut Self::State, theta: &[f32], k: u64) -> f64;
    /// Length T of the state's inner problem; `None` for an infinite horizon.
    fn horizon(&self, state: &Self::State) -> Option<u64>;
    /// Number of steps taken since the state's inner problem began (including `start`).
    fn position(&self, state: &Self::State) -> u64;
    /// True if the state's last unroll had a loss clipped at the system's maximum (a diverging
    /// inner problem; docs/estimators.md, loss clipping); systems without a clip never report one.
    fn clipped(&self, _state: &Self::State) -> bool {
        false
    }
    /// True once the state has reached its horizon.
    fn is_done(&self, state: &Self::State) -> bool {
        self.horizon(state).is_some_and(|t| self.position(state) >= t)
    }
    /// Why a state decoded from a checkpoint cannot be stepped by this system, if it cannot;
    /// systems whose states are always consistent accept every one.
    fn check_state(&self, _state: &Self::State) -> Result<(), String> {
        Ok(())
    }
}
