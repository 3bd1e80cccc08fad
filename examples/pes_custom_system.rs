//! A custom unrolled system trained by PES: T steps of gradient descent on f(x) = sum c_i x_i^2 / 2
//! at lr_t = exp(theta_0 + theta_1 t / T). `cargo run --release --example pes_custom_system [-- N]`

use pesto_meta::estimators::{EstimatorConfig, Pes};
use pesto_meta::outer::{OuterConfig, OuterOptimizer};
use pesto_meta::trainer::{NoCheckpoints, TrainState, Trainer};
use pesto_meta::{Unroll, UnrolledSystem, observe::Observers};

const CURVATURE: [f64; 3] = [0.5, 2.0, 8.0];
const T: u64 = 100;

/// Gradient descent on the quadratic; a state is the iterate x and the step t.
struct ScheduledDescent;

impl UnrolledSystem for ScheduledDescent {
    type State = ([f64; 3], u64);
    fn theta_dim(&self) -> usize {
        2
    }
    fn initial_theta(&self) -> Vec<f32> {
        vec![-4.0, 0.0]
    }
    fn init_state(&self, _seed: u64, start: u64) -> Self::State {
        ([1.0; 3], start)
    }
    fn run_steps(&self, (x, t): &mut Self::State, theta: &[f32], steps: u64) -> Unroll {
        let mut loss = 0.0;
        for _ in 0..steps {
            let lr = (f64::from(theta[0]) + f64::from(theta[1]) * *t as f64 / T as f64).exp();
            x.iter_mut().zip(CURVATURE).for_each(|(x, c)| *x -= lr * c * *x);
            loss += x.iter().zip(CURVATURE).map(|(x, c)| 0.5 * c * x * x).sum::<f64>().min(1e3);
            *t += 1;
        }
        Unroll { loss, steps, clipped: false }
    }
    fn horizon(&self, _: &Self::State) -> Option<u64> {
        Some(T)
    }
    fn position(&self, (_, t): &Self::State) -> u64 {
        *t
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let outer_steps = std::env::args().nth(1).map_or(Ok(300), |s| s.parse())?;
    let system = ScheduledDescent;
    let mean_loss = |theta: &[f32]| system.unroll(&mut system.init_state(0, 0), theta, T).loss;
    let config =
        EstimatorConfig { particles: 16, sigma: 0.1, truncation: 10, stagger: true, seed: 7 };
    let adam = OuterOptimizer::Adam { lr: 3e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    let outer = OuterConfig { optimizer: adam, clip_value: None, clip_norm: None };
    let state = TrainState::new(system.initial_theta(), Pes::new(config, &system)?, &outer)?;
    let mut trainer = Trainer::new(ScheduledDescent, outer, state);
    let before = mean_loss(&trainer.state().theta) / T as f64;
    trainer.run(outer_steps, &mut Observers::default(), &Default::default(), &mut NoCheckpoints)?;
    let (theta, after) = (&trainer.state().theta, mean_loss(&trainer.state().theta) / T as f64);
    println!("mean f over T = {T}: {before:.4} at theta [-4, 0], {after:.4} at {theta:?}");
    Ok(())
}
