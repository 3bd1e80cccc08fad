//! Meta-trains a learned optimizer by PES on a task defined here by implementing `Task`.

use pesto_meta::estimators::{EstimatorConfig, Pes};
use pesto_meta::optim::{LearnedKind, LearnedOptimizer};
use pesto_meta::trainer::{NoCheckpoints, TrainState, Trainer};
use pesto_meta::{OptState, Unroll, UnrolledSystem, observe::Observers, outer::OuterConfig};
use pesto_tasks::{Normaliser, ParamLayout, Task, TaskSpec};

struct Valley(TaskSpec, ParamLayout); // f(p) = sum_i i (p_i - 1)^2 / 2 over p_1..p_16
#[rustfmt::skip]
impl Task for Valley {
    fn spec(&self) -> &TaskSpec { &self.0 }
    fn layout(&self) -> &ParamLayout { &self.1 }
    fn init_params(&self, seed: u64, p: &mut [f32]) { p.fill((seed % 5) as f32 - 2.0) }
    fn loss_and_grad(&mut self, p: &[f32], _step: u64, g: &mut [f32]) -> f32 {
        g.iter_mut().zip(p).zip(1..).for_each(|((g, p), i)| *g = i as f32 * (p - 1.0));
        g.iter().zip(p).map(|(g, p)| 0.5 * g * (p - 1.0)).sum()
    }
    fn heldout_loss(&mut self, p: &[f32]) -> f32 { self.loss_and_grad(p, 0, &mut [0.0; 16]) }
    fn normaliser(&self) -> Normaliser { Normaliser { scale: 50.0, max: 100.0 } }
    fn horizon(&self) -> u64 { 100 }
    fn boxed_clone(&self) -> Box<dyn Task> { Box::new(Valley(self.0.clone(), self.1.clone())) }
}
struct LoptOn(Box<dyn LearnedOptimizer>, Box<dyn Task>); // a task's runs by a learned optimizer
#[rustfmt::skip]
impl UnrolledSystem for LoptOn {
    type State = (Vec<f32>, OptState);
    fn theta_dim(&self) -> usize { self.0.theta_dim() }
    fn initial_theta(&self) -> Vec<f32> { self.0.init_theta(0) }
    fn init_state(&self, seed: u64, start: u64) -> Self::State {
        let mut p = vec![0.0; self.1.layout().len()];
        self.1.init_params(seed, &mut p);
        (p, OptState { step: start, ..self.0.init_state(self.1.layout(), self.1.horizon()) })
    }
    fn run_steps(&self, (p, opt): &mut Self::State, theta: &[f32], steps: u64) -> Unroll {
        let (mut task, mut grad, mut loss) = (self.1.boxed_clone(), vec![0.0; p.len()], 0.0);
        for _ in 0..steps {
            let raw = task.loss_and_grad(p, opt.step, &mut grad);
            loss += f64::from(task.normaliser().apply(raw).value);
            self.0.step(theta, opt, task.layout(), p, &grad, raw);
        }
        Unroll { loss, steps, clipped: false }
    }
    fn horizon(&self, _: &Self::State) -> Option<u64> { Some(self.1.horizon()) }
    fn position(&self, state: &Self::State) -> u64 { state.1.step }
}
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let valley = Box::new(Valley(TaskSpec::parse("valley", 0)?, ParamLayout::single("p", 16)));
    let system = LoptOn(LearnedKind::NominalLopt.optimizer(), valley);
    let pes = EstimatorConfig { particles: 8, sigma: 0.01, truncation: 10, stagger: true, seed: 3 };
    let outer = OuterConfig { clip_value: Some(3.0), ..Default::default() };
    let state = TrainState::new(system.initial_theta(), Pes::new(pes, &system)?, &outer)?;
    let mut trainer = Trainer::new(system, outer, state);
    trainer.run(200, &mut Observers::default(), &Default::default(), &mut NoCheckpoints)?;
    let f = |s: &LoptOn, th: &[f32]| s.unroll(&mut s.init_state(9, 0), th, 100).loss / 1e2;
    let (s, theta) = (trainer.system(), &trainer.state().theta);
    println!("mean loss: {:.4} before PES, {:.4} after", f(s, &s.initial_theta()), f(s, theta));
    Ok(())
}
