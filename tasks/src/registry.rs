//! Every task family by name, the named aliases of fixed tasks, and building a task from a spec.

use crate::error::TaskError;
use crate::families::{LogregSynth, MlpDigits, MlpMnist, MlpSynth, QuadraticFamily};
use crate::family::TaskFamily;
use crate::task::{Task, TaskSpec};

/// Every registered family.
pub fn families() -> &'static [&'static dyn TaskFamily] {
    &[&QuadraticFamily, &MlpSynth, &LogregSynth, &MlpDigits, &MlpMnist]
}

/// A name for one fully configured member of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The alias, usable wherever a family name is.
    pub name: &'static str,
    /// What it stands for.
    pub description: &'static str,
    /// The family it configures.
    pub family: &'static str,
    /// Its `key=value` configuration.
    pub config: &'static [(&'static str, &'static str)],
}

/// Every alias.
pub fn aliases() -> &'static [Alias] {
    &[Alias {
        name: "mlp-synth-64x32x10",
        description: "the reference workload's inner task (docs/benchmark.md)",
        family: "mlp-synth",
        config: &[
            ("input", "64"),
            ("hidden", "32"),
            ("act", "relu"),
            ("classes", "10"),
            ("batch", "128"),
            ("steps", "1000"),
        ],
    }]
}

/// The alias named `name`, if there is one.
pub fn alias(name: &str) -> Option<&'static Alias> {
    aliases().iter().find(|a| a.name == name)
}

/// Every name a task can start with, comma-separated: the families, then the aliases.
pub fn names() -> String {
    let names: Vec<&str> =
        families().iter().map(|f| f.name()).chain(aliases().iter().map(|a| a.name)).collect();
    names.join(", ")
}

/// The family named `name`, or an error listing the valid names.
pub fn family(name: &str) -> Result<&'static dyn TaskFamily, TaskError> {
    families()
        .iter()
        .copied()
        .find(|f| f.name() == name)
        .ok_or_else(|| TaskError::UnknownFamily { name: name.to_string(), valid: names() })
}

/// Builds the task `spec` names, validating its family and every key.
pub fn build(spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
    family(&spec.family)?.build(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        let spec = TaskSpec::parse(text, 0).and_then(|s| build(&s).map(|_| ()));
        spec.expect_err("bad task builds").to_string()
    }

    #[test]
    fn bad_tasks_fail_with_messages_that_list_what_is_valid() {
        let unknown = error("mlp-synthetic");
        assert_eq!(
            unknown,
            format!("unknown task family `mlp-synthetic`; valid families: {}", names())
        );
        assert!(unknown.starts_with(
            "unknown task family `mlp-synthetic`; valid families: quadratic, mlp-synth, \
             logreg-synth, mlp-digits"
        ));
        assert!(unknown.ends_with(", mlp-synth-64x32x10"));
        assert_eq!(
            error("mlp-synth:width=32"),
            "task family `mlp-synth` has no key `width`; valid keys: input, hidden, act, classes, \
             batch, steps"
        );
        assert_eq!(
            error("mlp-synth:act=gelu"),
            "task family `mlp-synth`: `act=gelu` is invalid; expected one of relu, tanh"
        );
        assert_eq!(
            error("mlp-synth-64x32x10:hidden=32x0"),
            "task family `mlp-synth`: `hidden=32x0` is invalid; expected 1 to 3 widths in \
             1..=1024 joined by `x` (e.g. 1x1024)"
        );
        assert_eq!(
            error("quadratic:cond=0.5"),
            "task family `quadratic`: `cond=0.5` is invalid; expected a number in [1, 100000000] \
             (log scale)"
        );
        assert_eq!(
            error("mlp-digits:batch=5000"),
            "task family `mlp-digits`: `batch=5000` is invalid; expected an integer in 1..=1437"
        );
        assert_eq!(
            error("quadratic:dim"),
            "cannot parse task `quadratic:dim`: `dim` is not `key=value`"
        );
    }

    #[test]
    fn the_benchmark_alias_is_the_reference_task() {
        let task = build(&TaskSpec::parse("mlp-synth-64x32x10", 3).unwrap()).unwrap();
        assert_eq!(task.layout().len(), 2410);
        assert_eq!(task.horizon(), 1000);
        assert_eq!(task.spec().family, "mlp-synth");
    }

    #[test]
    fn every_family_builds_its_defaults_and_its_samples() {
        for f in families() {
            let default = TaskSpec { family: f.name().into(), config: Default::default(), seed: 1 };
            f.build(&default).unwrap_or_else(|e| panic!("{}: {e}", f.name()));
            for seed in 0..5 {
                let spec = f.sample(seed);
                let task = build(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
                assert_eq!(task.spec(), &spec);
            }
        }
    }
}
