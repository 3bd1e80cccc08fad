//! Time of one learned-optimizer update over the reference student's 2,410 parameters
//! (docs/benchmark.md: weights 64x32 and 32x10 with their biases), and the core's sgemm rate
//! the updates' GFLOP/s are measured against.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use pesto_meta::LearnedOptimizer;
use pesto_meta::optim::rel_lopt::Variant;
use pesto_meta::optim::{LearnedAdam, MlpLopt, RelLopt};
use pesto_tasks::ParamLayout;
use pesto_tasks::linalg::{Mat, gemm};
use pesto_tasks::simd::Simd;
use std::hint::black_box;

fn student_layout() -> ParamLayout {
    let mut layout = ParamLayout::new();
    for (name, shape) in [("w0", &[64, 32][..]), ("b0", &[32]), ("w1", &[32, 10]), ("b1", &[10])] {
        layout.push(name, shape);
    }
    layout
}

/// Times `opt.step` with `theta` on a fixed gradient; parameters drift by ~1e-3 per step, which
/// is harmless.
fn bench_update(c: &mut Criterion, name: &str, opt: &dyn LearnedOptimizer, theta: &[f32]) {
    let layout = student_layout();
    let n = layout.len();
    let mut state = opt.init_state(&layout, 100);
    let mut params: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let grad: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 0.1).collect();
    let mut group = c.benchmark_group("lopt");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            opt.step(theta, &mut state, &layout, black_box(&mut params), black_box(&grad), 1.0)
        })
    });
    group.finish();
}

fn updates(c: &mut Criterion) {
    for kernel in Simd::available() {
        let isa = kernel.isa();
        let lopt = MlpLopt::with_kernel(kernel);
        bench_update(c, &format!("mlp-lopt/{isa:?}"), &lopt, &MlpLopt::init_theta(0));
        for variant in Variant::ALL {
            let lopt = RelLopt::with_kernel(variant, kernel);
            let theta = RelLopt::init_theta(0, variant);
            bench_update(c, &format!("{}/{isa:?}", lopt.name(&theta)), &lopt, &theta);
        }
    }
    bench_update(c, "learned-adam", &LearnedAdam, &LearnedAdam::init_theta());
}

/// Baseline for the kernel design: mlp-lopt's dominant product alone, its 32 x 32 second layer
/// over all 2,410 parameters (1,024 of the 1,344 multiply-adds per parameter), through `gemm`.
fn gemm_second_layer(c: &mut Criterion) {
    let n = student_layout().len();
    let w2: Vec<f32> = (0..32 * 32).map(|i| (i as f32 * 0.13).sin()).collect();
    let h1: Vec<f32> = (0..32 * n).map(|i| (i as f32 * 0.07).cos()).collect();
    let mut h2 = vec![0.0f32; 32 * n];
    let mut group = c.benchmark_group("lopt");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("gemm-second-layer-only", |b| {
        b.iter(|| gemm(1.0, Mat::new(&w2, 32, 32), Mat::new(black_box(&h1), 32, n), 0.0, &mut h2))
    });
    group.finish();
}

/// Side of the square products that measure the core's sgemm rate.
const SGEMM_SIDE: usize = 512;

/// The machine's single-core sgemm rate, the yardstick of the update kernels' GFLOP/s
/// (docs/benchmark.md): a 512 x 512 x 512 product through nalgebra (matrixmultiply's sgemm,
/// whose widest kernels are AVX2) and through pesto's own `gemm` (AVX-512 where the CPU has it).
/// The throughput is in flops (2 n^3), so criterion's "elem/s" reads as flop/s.
fn sgemm_rate(c: &mut Criterion) {
    let n = SGEMM_SIDE;
    let a = DMatrix::<f32>::from_fn(n, n, |i, j| ((i * n + j) as f32 * 0.37).sin());
    let b = DMatrix::<f32>::from_fn(n, n, |i, j| ((i * n + j) as f32 * 0.11).cos());
    let mut out = DMatrix::<f32>::zeros(n, n);
    let mut group = c.benchmark_group("lopt");
    group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    group.bench_function("sgemm-512/matrixmultiply", |bench| {
        bench.iter(|| out.gemm(1.0, black_box(&a), black_box(&b), 0.0))
    });
    let (a, b) = (Mat::new(a.as_slice(), n, n), Mat::new(b.as_slice(), n, n));
    group.bench_function("sgemm-512/pesto-gemm", |bench| {
        bench.iter(|| gemm(1.0, black_box(a), black_box(b), 0.0, out.as_mut_slice()))
    });
    group.finish();
}

criterion_group!(benches, updates, gemm_second_layer, sgemm_rate);
criterion_main!(benches);
