//! Teacher-student classification data (docs/benchmark.md, inner task): inputs x ~ N(0, I), labels
//! the argmax of a fixed random teacher MLP with tanh hidden layers.

use super::{Dataset, Splits};
use crate::mlp::{Activation, Mlp};
use crate::rng::stream;
use crate::tags;
use rand::RngExt;
use rand_distr::StandardNormal;

/// Training examples per task seed.
pub const TRAIN_EXAMPLES: usize = 4096;
/// Held-out examples per task seed.
pub const HELDOUT_EXAMPLES: usize = 1024;

/// Examples labelled per teacher forward pass.
const CHUNK: usize = 256;

/// The teacher-student splits of data seed `seed`: `dim` inputs, a teacher
/// `dim -> teacher_hidden... -> classes` (tanh, fan-in-scaled normal weights, zero biases).
pub fn teacher_student(seed: u64, dim: usize, teacher_hidden: &[usize], classes: usize) -> Splits {
    let teacher = Mlp::new(dim, teacher_hidden, classes, Activation::Tanh);
    let mut theta = vec![0.0; teacher.layout().len()];
    teacher.init(&mut stream(seed, &[tags::TEACHER]), &mut theta);
    let mut rng = stream(seed, &[tags::DATA_INPUT]);
    let n = TRAIN_EXAMPLES + HELDOUT_EXAMPLES;
    let inputs: Vec<f32> = (0..n * dim).map(|_| rng.sample(StandardNormal)).collect();
    let mut labels = vec![0u32; n];
    let mut buf = teacher.buffers(CHUNK);
    for (x, y) in inputs.chunks(CHUNK * dim).zip(labels.chunks_mut(CHUNK)) {
        teacher.argmax(teacher.forward(&theta, x, &mut buf), y);
    }
    let split = |range: std::ops::Range<usize>| Dataset {
        dim,
        classes,
        inputs: inputs[range.start * dim..range.end * dim].to_vec(),
        labels: labels[range].to_vec(),
    };
    Splits { train: split(0..TRAIN_EXAMPLES), heldout: split(TRAIN_EXAMPLES..n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_uses_every_class() {
        let a = teacher_student(5, 16, &[32], 4);
        assert_eq!(a, teacher_student(5, 16, &[32], 4));
        assert_ne!(a.train.labels, teacher_student(6, 16, &[32], 4).train.labels);
        assert_eq!((a.train.len(), a.heldout.len()), (TRAIN_EXAMPLES, HELDOUT_EXAMPLES));
        for c in 0..4 {
            assert!(a.train.labels.contains(&c), "class {c} never appears");
        }
    }
}
