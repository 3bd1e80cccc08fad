//! `mlp-digits`: an MLP on the bundled 8x8 handwritten digits.

use super::{data_classifier, data_mlp_keys};
use crate::data::digits::{self, TRAIN_EXAMPLES};
use crate::error::TaskError;
use crate::family::{Config, KeySpec, TaskFamily};
use crate::task::{Task, TaskSpec};

/// MLPs classifying scikit-learn's 8x8 digits (1437 training, 360 held-out images).
pub struct MlpDigits;

impl TaskFamily for MlpDigits {
    fn name(&self) -> &'static str {
        "mlp-digits"
    }

    fn description(&self) -> &'static str {
        "MLP on the 8x8 handwritten digits (UCI, as shipped by scikit-learn), 1437/360 split"
    }

    fn keys(&self) -> Vec<KeySpec> {
        data_mlp_keys(TRAIN_EXAMPLES)
    }

    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
        let config = Config::new(self.name(), self.keys(), spec)?;
        data_classifier(&config, spec, digits::splits())
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn gradient_matches_finite_differences(seed in 0u64..1 << 32, step in 0u64..1000) {
            gradcheck::check("mlp-digits:hidden=8,act=tanh,batch=10", seed, step);
        }
    }
}
