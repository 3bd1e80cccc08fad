//! The shipped learned optimizer training a model defined here (least-squares linear regression
//! with a weight vector and a bias, gradients by hand), next to Adam.
//!
//! `cargo run --release --example apply_optimizer [-- OPTIMIZER_FILE]`

use pesto_meta::Optimizer;
use pesto_meta::optim::{Adam, SavedOptimizer, Schedule};
use pesto_tasks::ParamLayout;

const N: usize = 64;
const D: usize = 4;

/// Mean squared error of x.w + b against y, with its gradient written into `grad`.
fn loss_and_grad(params: &[f32], data: &[([f32; D], f32)], grad: &mut [f32]) -> f32 {
    let (w, b) = params.split_at(D);
    grad.fill(0.0);
    let mut loss = 0.0;
    for (x, y) in data {
        let r = x.iter().zip(w).map(|(x, w)| x * w).sum::<f32>() + b[0] - y;
        loss += r * r / N as f32;
        for (g, x) in grad.iter_mut().zip(x.iter().chain([&1.0])) {
            *g += 2.0 * r * x / N as f32;
        }
    }
    loss
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let learned = match std::env::args_os().nth(1) {
        Some(path) => SavedOptimizer::load(path.as_ref())?,
        None => SavedOptimizer::pretrained(),
    }
    .build();
    let mut layout = ParamLayout::new();
    layout.push("w", &[D]);
    layout.push("b", &[1]);
    let data: Vec<([f32; D], f32)> = (0..N)
        .map(|i| std::array::from_fn(|j| ((i * 7 + j * 13) % 17) as f32 / 8.0 - 1.0))
        .map(|x: [f32; D]| (x, 0.5 * x[0] - 2.0 * x[1] + x[3] + 0.3))
        .collect();
    let steps = 300;
    let adam = Adam::new(Schedule::Constant(1e-2));
    for opt in [&learned as &dyn Optimizer, &adam] {
        // w starts at the model's scale: snr-lopt's steps are relative to each tensor's
        // initial RMS, and a bias that starts at zero takes the RMS of all parameters.
        let mut params = [vec![0.5f32; D], vec![0.0]].concat();
        let mut grad = vec![0.0f32; layout.len()];
        let mut state = opt.init_state(&layout, steps);
        let first = loss_and_grad(&params, &data, &mut grad);
        for _ in 0..steps {
            let loss = loss_and_grad(&params, &data, &mut grad);
            opt.step(&mut state, &layout, &mut params, &grad, loss);
        }
        let last = loss_and_grad(&params, &data, &mut grad);
        println!("{:<20} loss {first:.4} -> {last:.3e} in {steps} steps", opt.name());
    }
    Ok(())
}
