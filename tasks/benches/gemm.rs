//! `linalg::gemm` on the products of one inner step of `mlp-synth-64x32x10` (docs/benchmark.md):
//! batch 128, widths 64 -> 32 -> 10, forward and backward.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pesto_tasks::linalg::{Mat, gemm};
use std::hint::black_box;

/// A product `op(A) op(B)` with op(A) `m x k` and op(B) `k x n`, by name.
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
}

const SHAPES: [Shape; 5] = [
    Shape { name: "forward-hidden W0 X", m: 32, k: 64, n: 128, ta: false, tb: false },
    Shape { name: "forward-logits W1 A0", m: 10, k: 32, n: 128, ta: false, tb: false },
    Shape { name: "grad-W1 D1 A0^T", m: 10, k: 128, n: 32, ta: false, tb: true },
    Shape { name: "delta-hidden W1^T D1", m: 32, k: 10, n: 128, ta: true, tb: false },
    Shape { name: "grad-W0 D0 X^T", m: 32, k: 128, n: 64, ta: false, tb: true },
];

fn products(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    for s in &SHAPES {
        let a: Vec<f32> = (0..s.m * s.k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..s.k * s.n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0.0f32; s.m * s.n];
        let am = if s.ta { Mat::new(&a, s.k, s.m).t() } else { Mat::new(&a, s.m, s.k) };
        let bm = if s.tb { Mat::new(&b, s.n, s.k).t() } else { Mat::new(&b, s.k, s.n) };
        group.throughput(Throughput::Elements((2 * s.m * s.k * s.n) as u64));
        group.bench_function(s.name, |bench| {
            bench.iter(|| gemm(1.0, black_box(am), black_box(bm), 0.0, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
