//! Time of one learned-optimizer update over the reference student's 2,410 parameters
//! (BENCHMARK.md: weights 64x32 and 32x10 with their biases).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pesto_meta::Optimizer;
use pesto_meta::optim::mlp_lopt::Kernel;
use pesto_meta::optim::{LearnedAdam, MlpLopt};
use pesto_tasks::ParamLayout;
use std::hint::black_box;

fn student_layout() -> ParamLayout {
    let mut layout = ParamLayout::new();
    for (name, shape) in [("w0", &[64, 32][..]), ("b0", &[32]), ("w1", &[32, 10]), ("b1", &[10])] {
        layout.push(name, shape);
    }
    layout
}

/// Times `opt.step` on a fixed gradient; parameters drift by ~1e-3 per step, which is harmless.
fn bench_update(c: &mut Criterion, name: &str, opt: &mut dyn Optimizer) {
    let layout = student_layout();
    let n = layout.len();
    let mut state = opt.init_state(&layout);
    let mut params: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let grad: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 0.1).collect();
    let mut group = c.benchmark_group("lopt");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(name, |b| {
        b.iter(|| opt.step(&mut state, &layout, black_box(&mut params), black_box(&grad)))
    });
    group.finish();
}

fn updates(c: &mut Criterion) {
    for kernel in Kernel::available() {
        let mut lopt = MlpLopt::with_kernel(MlpLopt::init_theta(0), kernel);
        bench_update(c, &format!("mlp-lopt/{kernel:?}"), &mut lopt);
    }
    let mut adam = LearnedAdam::new(&LearnedAdam::init_theta());
    bench_update(c, "learned-adam", &mut adam);
}

criterion_group!(benches, updates);
criterion_main!(benches);
