//! One PES truncation (K = 20 inner steps with mlp-lopt) of one particle of the benchmark system
//! (docs/benchmark.md): what each of the 16 particles does per outer step.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pesto_meta::UnrolledSystem;
use pesto_meta::metatrain::{LoptTraining, TaskSource};
use pesto_meta::optim::LearnedKind;
use pesto_tasks::TaskSpec;
use std::hint::black_box;

/// Truncation length K of the benchmark.
const K: u64 = 20;

fn truncation(c: &mut Criterion) {
    let kind = LearnedKind::MlpLopt;
    let source = TaskSource::Task(TaskSpec::parse("mlp-synth-64x32x10", 0).unwrap());
    let system = LoptTraining::new(source, kind, kind.init_theta(0));
    let theta = system.initial_theta();
    let mut run = system.init_state(0, 0);
    let mut group = c.benchmark_group("truncation");
    group.throughput(Throughput::Elements(K));
    group.bench_function("pes-particle/mlp-synth-64x32x10/mlp-lopt/K=20", |b| {
        b.iter(|| {
            if run.step + K > run.horizon {
                run = system.init_state(0, 0);
            }
            black_box(system.unroll(&mut run, &theta, K))
        })
    });
    group.finish();
}

criterion_group!(benches, truncation);
criterion_main!(benches);
