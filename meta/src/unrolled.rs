//! Unrolled computation graphs (docs/estimators.md): a state s_t advanced by
//! s_{t+1} = f(s_t, theta) with a loss L_t at each step. RNNs, unrolled hyperparameter
//! optimization and learned optimizers are all `UnrolledSystem`s, and every estimator is generic
//! over this trait.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// What one unroll did: the loss of its steps, how many it took, and whether a step's loss hit
/// the system's clip (a diverging inner problem; docs/estimators.md, loss clipping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unroll {
    /// The loss of the unroll: the meta-objective's terms over its steps.
    pub loss: f64,
    /// Steps taken.
    pub steps: u64,
    /// Whether a step's loss was clipped at the system's maximum.
    pub clipped: bool,
}

/// A system whose meta-parameters theta are learned through unrolls of its dynamics.
///
/// ```
/// use pesto_meta::{Unroll, UnrolledSystem};
///
/// /// x <- (1 - theta) x from x = 1 for 10 steps; the loss of a step is x^2 after it.
/// struct Decay;
///
/// impl UnrolledSystem for Decay {
///     type State = (f64, u64);
///     fn theta_dim(&self) -> usize { 1 }
///     fn initial_theta(&self) -> Vec<f32> { vec![0.1] }
///     fn init_state(&self, _seed: u64, start: u64) -> (f64, u64) { (1.0, start) }
///     fn run_steps(&self, s: &mut (f64, u64), theta: &[f32], steps: u64) -> Unroll {
///         let mut loss = 0.0;
///         for _ in 0..steps {
///             s.0 *= 1.0 - f64::from(theta[0]);
///             s.1 += 1;
///             loss += s.0 * s.0;
///         }
///         Unroll { loss, steps, clipped: false }
///     }
///     fn horizon(&self, _: &(f64, u64)) -> Option<u64> { Some(10) }
///     fn position(&self, s: &(f64, u64)) -> u64 { s.1 }
/// }
///
/// let mut state = Decay.init_state(0, 0);
/// let slow = Decay.unroll(&mut state, &[0.1], 5);
/// let fast = Decay.unroll(&mut Decay.init_state(0, 0), &[0.5], 5);
/// assert!(fast.loss < slow.loss && !Decay.is_done(&state));
/// assert_eq!(Decay.unroll(&mut state, &[0.1], 8).steps, 5, "cut at the horizon");
/// assert!(Decay.is_done(&state));
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
    /// Runs exactly `steps` steps of the state with `theta` and reports them; `unroll` calls it
    /// with a count that never passes the horizon.
    fn run_steps(&self, state: &mut Self::State, theta: &[f32], steps: u64) -> Unroll;
    /// Length T of the state's inner problem; `None` for an infinite horizon.
    fn horizon(&self, state: &Self::State) -> Option<u64>;
    /// Number of steps taken since the state's inner problem began (including `start`).
    fn position(&self, state: &Self::State) -> u64;
    /// Steps of a truncation of length `k` from `state`: min(K, T - position), or K for an
    /// infinite horizon.
    fn truncation_len(&self, state: &Self::State, k: u64) -> u64 {
        self.horizon(state).map_or(k, |t| k.min(t.saturating_sub(self.position(state))))
    }
    /// One truncation: runs `truncation_len(state, k)` steps with `theta`, up to `k` and never
    /// past the horizon, and reports them.
    fn unroll(&self, state: &mut Self::State, theta: &[f32], k: u64) -> Unroll {
        let steps = self.truncation_len(state, k);
        self.run_steps(state, theta, steps)
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
