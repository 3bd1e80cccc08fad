//! `mlp-synth`: an MLP student on teacher-student synthetic classification (docs/benchmark.md).

use super::{act_key, batch_key, classes_key, data_classifier, hidden_key, input_key};
use crate::data::synthetic::{TRAIN_EXAMPLES, teacher_student};
use crate::error::TaskError;
use crate::family::{Config, KeySpec, TaskFamily, steps_key};
use crate::task::{Task, TaskSpec};
use std::sync::Arc;

/// MLP students of random tanh teachers with the same hidden widths.
pub struct MlpSynth;

impl TaskFamily for MlpSynth {
    fn name(&self) -> &'static str {
        "mlp-synth"
    }

    fn description(&self) -> &'static str {
        "MLP on teacher-student data: x ~ N(0, I), labels from a random tanh MLP, 4096/1024 split"
    }

    fn keys(&self) -> Vec<KeySpec> {
        vec![
            input_key("64"),
            hidden_key("32"),
            act_key(),
            classes_key(),
            batch_key("128", TRAIN_EXAMPLES as u64),
            steps_key("1000", (300, 1000)),
        ]
    }

    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
        let config = Config::new(self.name(), self.keys(), spec)?;
        let (input, hidden, classes) =
            (config.size("input")?, config.widths("hidden")?, config.size("classes")?);
        let data = Arc::new(teacher_student(spec.seed, input, &hidden, classes));
        data_classifier(&config, spec, data)
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
            gradcheck::check("mlp-synth:input=7,hidden=6x5,act=tanh,classes=4,batch=9", seed, step);
        }
    }
}
