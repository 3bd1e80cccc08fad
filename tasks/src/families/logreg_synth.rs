//! `logreg-synth`: softmax regression on teacher-student synthetic classification.

use super::{batch_key, classes_key, input_key};
use crate::classifier::Classifier;
use crate::data::synthetic::{TRAIN_EXAMPLES, teacher_student};
use crate::error::TaskError;
use crate::family::{Config, Domain, KeySpec, TaskFamily, steps_key};
use crate::mlp::{Activation, Mlp};
use crate::task::{Task, TaskSpec};
use std::sync::Arc;

/// Softmax regression (an MLP without hidden layers) of a random tanh teacher's labels.
pub struct LogregSynth;

impl TaskFamily for LogregSynth {
    fn name(&self) -> &'static str {
        "logreg-synth"
    }

    fn description(&self) -> &'static str {
        "softmax regression on teacher-student data (teacher with one tanh layer, or linear)"
    }

    fn keys(&self) -> Vec<KeySpec> {
        vec![
            input_key("32"),
            classes_key(),
            KeySpec {
                name: "teacher",
                description: "hidden width of the tanh teacher (0: linear)",
                default: "32",
                valid: Domain::Int { min: 0, max: 1024 },
                typical: Domain::Int { min: 0, max: 64 },
            },
            batch_key("128", TRAIN_EXAMPLES as u64),
            steps_key("500", (200, 500)),
        ]
    }

    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
        let config = Config::new(self.name(), self.keys(), spec)?;
        let (input, classes) = (config.size("input")?, config.size("classes")?);
        let teacher: Vec<usize> =
            Some(config.size("teacher")?).filter(|&w| w > 0).into_iter().collect();
        let mlp = Mlp::new(input, &[], classes, Activation::Relu);
        let (batch, steps) = (config.size("batch")?, config.int("steps")?);
        let data = Arc::new(teacher_student(spec.seed, input, &teacher, classes));
        Ok(Box::new(Classifier::new(spec.clone(), mlp, data, batch, steps)))
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn gradient_matches_finite_differences(seed in 0u64..1 << 32, step in 0u64..1000) {
            gradcheck::check("logreg-synth:input=9,classes=3,teacher=5,batch=11", seed, step);
        }
    }
}
