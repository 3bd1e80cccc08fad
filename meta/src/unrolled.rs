//! Unrolled computation graphs (REFERENCE.md §1): a state s_t advanced by s_{t+1} = f(s_t, theta)
//! with a loss L_t at each step. RNNs, unrolled hyperparameter optimization and learned
//! optimizers are all `UnrolledSystem`s, and every estimator is generic over this trait.

use serde::{Serialize, de::DeserializeOwned};

/// A system whose meta-parameters theta are learned through unrolls of its dynamics.
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
    /// inner problem, REFERENCE.md §2); systems without a clip never report one.
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
