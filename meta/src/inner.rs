//! Training one inner task with an optimizer for a number of steps, recording its loss curve.

use crate::optim::Optimizer;
use pesto_tasks::Task;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The losses of one training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Minibatch loss of each inner step, before that step's update.
    pub train: Vec<f32>,
    /// Held-out loss after `step` updates, as (step, loss), from step 0 to the last step.
    pub heldout: Vec<(u64, f32)>,
}

impl Curve {
    /// The held-out loss after the last update.
    pub fn final_heldout(&self) -> Option<f32> {
        self.heldout.last().map(|&(_, loss)| loss)
    }

    /// Mean training loss over the last `n` steps (or all of them if fewer).
    pub fn final_train(&self, n: usize) -> Option<f32> {
        let tail = &self.train[self.train.len().saturating_sub(n)..];
        (!tail.is_empty()).then(|| tail.iter().sum::<f32>() / tail.len() as f32)
    }

    /// Writes `step,train_loss,heldout_loss` rows, one per step plus the final one, leaving a
    /// column empty where it was not measured.
    pub fn write_csv(&self, mut out: impl Write) -> io::Result<()> {
        writeln!(out, "step,train_loss,heldout_loss")?;
        let mut heldout = self.heldout.iter().peekable();
        for step in 0..=self.train.len() as u64 {
            let train = self.train.get(step as usize).map_or(String::new(), |l| l.to_string());
            let eval =
                heldout.next_if(|(s, _)| *s == step).map_or(String::new(), |(_, l)| l.to_string());
            writeln!(out, "{step},{train},{eval}")?;
        }
        Ok(())
    }
}

/// Watches a training run; every method does nothing by default.
pub trait InnerObserver {
    /// Called after each inner step with its minibatch loss.
    fn on_step(&mut self, _step: u64, _train_loss: f32) {}
    /// Called after each held-out evaluation (after `step` updates).
    fn on_heldout(&mut self, _step: u64, _loss: f32) {}
}

impl InnerObserver for () {}

/// Trains `task` from the initialisation of `init_seed` for `steps` updates of `optimizer`,
/// measuring the held-out loss every `eval_every` steps and after the last one.
pub fn train_task(
    task: &mut dyn Task,
    optimizer: &dyn Optimizer,
    init_seed: u64,
    steps: u64,
    eval_every: u64,
    observer: &mut dyn InnerObserver,
) -> Curve {
    let layout = task.layout().clone();
    let mut params = vec![0.0; layout.len()];
    let mut grad = vec![0.0; layout.len()];
    task.init_params(init_seed, &mut params);
    let mut state = optimizer.init_state(&layout, steps);
    let mut curve =
        Curve { train: Vec::with_capacity(steps.min(1 << 20) as usize), heldout: Vec::new() };
    for step in 0..steps {
        if step % eval_every.max(1) == 0 {
            evaluate(task, &params, step, &mut curve, observer);
        }
        let loss = task.loss_and_grad(&params, step, &mut grad);
        optimizer.step(&mut state, &layout, &mut params, &grad, loss);
        curve.train.push(loss);
        observer.on_step(step, loss);
    }
    evaluate(task, &params, steps, &mut curve, observer);
    curve
}

/// Records and reports the held-out loss after `step` updates.
fn evaluate(
    task: &mut dyn Task,
    params: &[f32],
    step: u64,
    curve: &mut Curve,
    observer: &mut dyn InnerObserver,
) {
    let loss = task.heldout_loss(params);
    curve.heldout.push((step, loss));
    observer.on_heldout(step, loss);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, Schedule};
    use pesto_tasks::{TaskSpec, registry};

    #[test]
    fn curve_records_every_step_and_each_evaluation() {
        let mut task = registry::build(&TaskSpec::parse("quadratic:dim=4", 0).unwrap()).unwrap();
        let adam = Adam::new(Schedule::Constant(0.1));
        let curve = train_task(task.as_mut(), &adam, 0, 10, 4, &mut ());
        assert_eq!(curve.train.len(), 10);
        let steps: Vec<u64> = curve.heldout.iter().map(|&(s, _)| s).collect();
        assert_eq!(steps, [0, 4, 8, 10]);
        let mut csv = Vec::new();
        curve.write_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().count(), 12);
        assert!(csv.lines().nth(11).unwrap().starts_with("10,,"));
        assert_eq!(csv.lines().nth(2).unwrap().matches(',').count(), 2);
    }
}
