//! One inner step of the reference task `mlp-synth-64x32x10` (docs/benchmark.md): minibatch loss
//! and gradient, then an Adam update.

use criterion::{Criterion, criterion_group, criterion_main};
use pesto_meta::optim::{Adam, Optimizer, Schedule};
use pesto_tasks::{TaskSpec, registry};
use std::hint::black_box;

fn inner_step(c: &mut Criterion) {
    let mut task = registry::build(&TaskSpec::parse("mlp-synth-64x32x10", 0).unwrap()).unwrap();
    let layout = task.layout().clone();
    let mut params = vec![0.0; layout.len()];
    let mut grad = vec![0.0; layout.len()];
    task.init_params(0, &mut params);
    let adam = Adam::new(Schedule::Constant(3e-3));
    let mut state = adam.init_state(&layout, 100);
    let mut step = 0u64;
    c.bench_function("inner_step/mlp-synth-64x32x10/adam", |b| {
        b.iter(|| {
            let loss = task.loss_and_grad(&params, step % 1000, &mut grad);
            adam.step(&mut state, &layout, &mut params, &grad, 1.0);
            step += 1;
            black_box(loss)
        })
    });
}

criterion_group!(benches, inner_step);
criterion_main!(benches);
