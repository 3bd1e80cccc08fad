//! The task families, one file each, and the configuration keys they share.

pub mod logreg_synth;
pub mod mlp_digits;
pub mod mlp_mnist;
pub mod mlp_synth;
pub mod quadratic;

pub use logreg_synth::LogregSynth;
pub use mlp_digits::MlpDigits;
pub use mlp_mnist::MlpMnist;
pub use mlp_synth::MlpSynth;
pub use quadratic::QuadraticFamily;

use crate::classifier::Classifier;
use crate::data::Splits;
use crate::error::TaskError;
use crate::family::{Config, Domain, KeySpec, steps_key};
use crate::mlp::{Activation, Mlp};
use crate::task::{Task, TaskSpec};
use std::sync::Arc;

/// The `input` key: number of input features of synthetic data.
fn input_key(default: &'static str) -> KeySpec {
    KeySpec {
        name: "input",
        description: "input features",
        default,
        valid: Domain::Int { min: 1, max: 1024 },
        typical: Domain::Int { min: 16, max: 64 },
    }
}

/// The `classes` key of synthetic classification.
fn classes_key() -> KeySpec {
    KeySpec {
        name: "classes",
        description: "number of classes",
        default: "10",
        valid: Domain::Int { min: 2, max: 100 },
        typical: Domain::Int { min: 2, max: 10 },
    }
}

/// The `hidden` key: widths of the hidden layers.
fn hidden_key(default: &'static str) -> KeySpec {
    KeySpec {
        name: "hidden",
        description: "hidden layer widths, e.g. 64x32",
        default,
        valid: Domain::Widths { layers: (1, 3), width: (1, 1024) },
        typical: Domain::Widths { layers: (1, 2), width: (16, 64) },
    }
}

/// The `act` key: activation of the hidden layers.
fn act_key() -> KeySpec {
    KeySpec {
        name: "act",
        description: "hidden activation",
        default: "relu",
        valid: Domain::choice(&["relu", "tanh"]),
        typical: Domain::choice(&["relu"]),
    }
}

/// The `batch` key: minibatch size, at most `max` (the training set size).
fn batch_key(default: &'static str, max: u64) -> KeySpec {
    KeySpec {
        name: "batch",
        description: "minibatch size",
        default,
        valid: Domain::Int { min: 1, max },
        typical: Domain::Int { min: 32, max: 128 },
    }
}

/// The validated `act` key.
fn activation(config: &Config<'_>) -> Result<Activation, TaskError> {
    Ok(Activation::from_name(config.word("act")?).expect("validated by the act domain"))
}

/// The keys of an MLP on a bundled dataset of `train` training examples: `hidden`, `act`,
/// `batch` and `steps`, with the defaults of `mlp-digits`.
fn data_mlp_keys(train: usize) -> Vec<KeySpec> {
    vec![hidden_key("32"), act_key(), batch_key("64", train as u64), steps_key("1000", (500, 1000))]
}

/// An MLP classifier of `data` configured by the `hidden`, `act`, `batch` and `steps` keys.
fn data_classifier(
    config: &Config<'_>,
    spec: &TaskSpec,
    data: Arc<Splits>,
) -> Result<Box<dyn Task>, TaskError> {
    let (inputs, classes) = (data.train.dim, data.train.classes);
    let mlp = Mlp::new(inputs, &config.widths("hidden")?, classes, activation(config)?);
    let (batch, steps) = (config.size("batch")?, config.int("steps")?);
    Ok(Box::new(Classifier::new(spec.clone(), mlp, data, batch, steps)))
}
