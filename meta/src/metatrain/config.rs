//! Meta-training configuration, read from TOML (meta/configs/*.toml). Every field is checked:
//! an unknown field or a value out of range is an error naming the field and the valid range.

use super::{MetaLoss, Sampling, ScaleGranularity};
use crate::estimators::{EstimatorConfig, EstimatorKind};
use crate::optim::LearnedKind;
use crate::outer::OuterConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A problem with a configuration file.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config {file}: {reason}")]
    Read { file: PathBuf, reason: String },
    /// Not valid TOML, or a field that does not exist or has the wrong type.
    #[error("config {file}: {reason}")]
    Parse { file: PathBuf, reason: String },
    /// Fields whose values are out of range, all of them (one per line when several).
    #[error("config {file}: {}", list(problems))]
    Invalid { file: PathBuf, problems: Vec<String> },
}

/// One problem as it is, several as a count and an indented line each.
fn list(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        _ => format!("{} problems:\n  {}", problems.len(), problems.join("\n  ")),
    }
}

/// Where meta-training draws its tasks from: a suite (name or TOML path) or one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// A suite name (`train`, `train-wide`, `train-mnist`, `train-long`, `heldout`, `ood`,
    /// `long`) or the path of a suite file.
    pub suite: Option<String>,
    /// A single task, `FAMILY[:key=value,...]`; each pair gets its own data seed.
    pub task: Option<String>,
    /// Draw each reset's horizon T log-uniformly in `[min, max]` (else the task's `steps`).
    pub horizon: Option<[u64; 2]>,
    /// Parameter-scale augmentation: the task computes with p = s * q, s log-uniform in
    /// `[min, max]`, while the optimizer sees q (off when absent).
    pub param_scale: Option<[f32; 2]>,
    /// Draw s per `tensor` (default) or once per `task`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub param_scale_per: ScaleGranularity,
}

impl TasksConfig {
    /// What each reset draws besides the task.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            horizon: self.horizon,
            param_scale: self.param_scale,
            granularity: self.param_scale_per,
        }
    }
}

impl Default for TasksConfig {
    /// The `train` suite, each task at its own horizon, without augmentation.
    fn default() -> Self {
        Self {
            suite: Some("train".into()),
            task: None,
            horizon: None,
            param_scale: None,
            param_scale_per: ScaleGranularity::default(),
        }
    }
}

/// The learned optimizer being meta-trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// The kind, one of `LearnedKind::ALL` (default `mlp-lopt`).
    #[serde(default = "default_kind")]
    #[schemars(with = "String")]
    pub kind: LearnedKind,
    /// Seed of the initial theta.
    #[serde(default)]
    pub init_seed: u64,
}

/// The gradient estimator and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimatorSection {
    /// Estimator name (`pes` by default).
    #[serde(default = "default_estimator")]
    #[schemars(with = "String")]
    pub kind: EstimatorKind,
    /// Number N of particles, even (N/2 antithetic pairs, one task per pair).
    #[serde(default = "default_particles")]
    pub particles: usize,
    /// Perturbation standard deviation sigma.
    #[serde(default = "default_sigma")]
    pub sigma: f32,
    /// Truncation length K.
    #[serde(default = "default_truncation")]
    pub truncation: u64,
    /// Start pairs at staggered inner steps.
    #[serde(default = "yes")]
    pub stagger: bool,
}

impl Default for OptimizerConfig {
    /// `mlp-lopt` from initial-theta seed 0.
    fn default() -> Self {
        Self { kind: default_kind(), init_seed: 0 }
    }
}

impl Default for EstimatorSection {
    /// PES with 16 staggered particles, sigma 0.01 and K = 20.
    fn default() -> Self {
        Self {
            kind: default_estimator(),
            particles: default_particles(),
            sigma: default_sigma(),
            truncation: default_truncation(),
            stagger: true,
        }
    }
}

/// A whole meta-training run. Every field has a default: the values of meta/configs/quick.toml,
/// except the gradient clips, which are off unless set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetaTrainConfig {
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Number of outer steps.
    pub outer_steps: u64,
    /// Write a checkpoint every this many outer steps (and at exit).
    pub checkpoint_every: u64,
    /// Number of checkpoints kept.
    pub keep_checkpoints: usize,
    /// Evaluate theta on held-out tasks every this many outer steps (0: never).
    pub heldout_every: u64,
    /// How the steps' losses add up to the meta-objective: `mean`, `late`, `log` or `late-log`.
    #[schemars(with = "String")]
    pub meta_loss: MetaLoss,
    /// Number of held-out tasks per evaluation.
    pub heldout_tasks: usize,
    /// Stop with an error after this many outer steps in a row whose meta-gradient or update
    /// was not finite (each is skipped, leaving theta unchanged).
    pub max_skipped_updates: u64,
    /// Tasks to train on.
    pub tasks: TasksConfig,
    /// The learned optimizer.
    pub optimizer: OptimizerConfig,
    /// The gradient estimator.
    pub estimator: EstimatorSection,
    /// The outer optimizer.
    pub outer: OuterConfig,
}

impl Default for MetaTrainConfig {
    /// The values of meta/configs/quick.toml, without its gradient clip.
    fn default() -> Self {
        Self {
            seed: 0,
            outer_steps: 6000,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            heldout_every: 500,
            meta_loss: MetaLoss::default(),
            heldout_tasks: 4,
            max_skipped_updates: 10,
            tasks: TasksConfig::default(),
            optimizer: OptimizerConfig::default(),
            estimator: EstimatorSection::default(),
            outer: OuterConfig::default(),
        }
    }
}

/// The most particles or held-out tasks a run may ask for: each holds a whole inner problem.
const MAX_COUNT: usize = 1 << 16;

fn default_estimator() -> EstimatorKind {
    EstimatorKind::Pes
}
fn default_kind() -> LearnedKind {
    LearnedKind::MlpLopt
}
fn default_particles() -> usize {
    16
}
fn default_sigma() -> f32 {
    0.01
}
fn default_truncation() -> u64 {
    20
}
fn yes() -> bool {
    true
}

/// A multi-line message (the TOML reader's, with its caret under the offending text) on lines
/// of its own below the first, indented by two spaces.
fn indented(message: &str) -> String {
    message.trim_end().lines().collect::<Vec<_>>().join("\n  ")
}

impl MetaTrainConfig {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = pesto_tasks::read::capped_text(path, pesto_tasks::read::TEXT_CAP)
            .map_err(|e| ConfigError::Read { file: path.to_path_buf(), reason: e.to_string() })?;
        Self::parse(&text, path)
    }

    /// Parses and validates TOML `text`, naming `file` in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_path_buf(),
            reason: indented(&e.to_string()),
        })?;
        config.validate(file)?;
        Ok(config)
    }

    /// Checks every field's range, reporting every field out of range at once.
    pub fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut range = |ok: bool, field: &str, value: String, expected: &str| {
            if !ok {
                problems.push(format!("field `{field}` = {value}: expected {expected}"));
            }
        };
        let t = &self.tasks;
        range(self.outer_steps >= 1, "outer_steps", self.outer_steps.to_string(), "at least 1");
        let every = self.checkpoint_every;
        range(every >= 1, "checkpoint_every", every.to_string(), "at least 1");
        let keep = self.keep_checkpoints;
        range(keep >= 1, "keep_checkpoints", keep.to_string(), "at least 1");
        let skips = self.max_skipped_updates;
        range(skips >= 1, "max_skipped_updates", skips.to_string(), "at least 1");
        let heldout = self.heldout_tasks;
        let ok = (1..=MAX_COUNT).contains(&heldout);
        range(ok, "heldout_tasks", heldout.to_string(), "between 1 and 65536");
        let particles = self.estimator.particles;
        let ok = particles <= MAX_COUNT;
        range(ok, "estimator.particles", particles.to_string(), "at most 65536");
        let one_source = t.suite.is_some() != t.task.is_some();
        range(one_source, "tasks", format!("{t:?}"), "exactly one of `suite` or `task`");
        let sections = [
            ("tasks", t.sampling().problem()),
            ("estimator", self.estimator_config().validate().err().map(|e| e.to_string())),
            ("outer", self.outer.init_state(0).err().map(|e| e.to_string())),
        ];
        for (section, problem) in sections {
            problems.extend(problem.map(|reason| format!("[{section}] {reason}")));
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(ConfigError::Invalid { file: file.to_path_buf(), problems }),
        }
    }

    /// The estimator settings in the estimator's own terms.
    pub fn estimator_config(&self) -> EstimatorConfig {
        let e = &self.estimator;
        EstimatorConfig {
            particles: e.particles,
            sigma: e.sigma,
            truncation: e.truncation,
            stagger: e.stagger,
            seed: self.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    const BENCHMARK: &str = include_str!("../../configs/benchmark.toml");

    fn error(text: &str) -> String {
        MetaTrainConfig::parse(text, Path::new("my.toml")).unwrap_err().to_string()
    }

    #[test]
    fn shipped_configs_are_valid() {
        for (name, text) in [
            ("benchmark", BENCHMARK),
            ("quick", include_str!("../../configs/quick.toml")),
            ("full", include_str!("../../configs/full.toml")),
            ("pretrained", include_str!("../../configs/pretrained.toml")),
            ("nominal-lopt", include_str!("../../configs/nominal-lopt.toml")),
            ("train-mnist", include_str!("../../configs/train-mnist.toml")),
            ("trend-lopt", include_str!("../../configs/trend-lopt.toml")),
        ] {
            MetaTrainConfig::parse(text, Path::new(name)).unwrap();
        }
        let bench = MetaTrainConfig::parse(BENCHMARK, Path::new("benchmark")).unwrap();
        assert_eq!((bench.estimator.particles, bench.estimator.truncation), (16, 20));
        assert_eq!(bench.estimator.sigma, 0.01);
        assert_eq!(bench.outer.clip_value, Some(3.0));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let text = BENCHMARK.replace("truncation = 20", "truncation = 20\ntruncaton = 3");
        let message = error(&text);
        assert!(message.starts_with("config my.toml: "), "{message}");
        assert!(message.contains("unknown field `truncaton`"), "{message}");
    }

    #[test]
    fn out_of_range_values_name_their_field_and_range() {
        assert_eq!(
            error(&BENCHMARK.replace("sigma = 0.01", "sigma = -0.5")),
            "config my.toml: [estimator] `sigma` must be positive and finite, got -0.5"
        );
        assert_eq!(
            error(&BENCHMARK.replace("particles = 16", "particles = 7")),
            "config my.toml: [estimator] `particles` must be even and at least 2, got 7"
        );
        assert_eq!(
            error(&BENCHMARK.replace("lr = 1e-3", "lr = 0.0")),
            "config my.toml: [outer] outer optimizer: `lr` = 0 is invalid; expected a positive finite number"
        );
        assert_eq!(
            error(&BENCHMARK.replace("particles = 16", "particles = 100000000")),
            "config my.toml: field `estimator.particles` = 100000000: expected at most 65536"
        );
        assert_eq!(
            error(&BENCHMARK.replace("outer_steps = 60", "outer_steps = 0")),
            "config my.toml: field `outer_steps` = 0: expected at least 1"
        );
        let both = BENCHMARK.replace("[tasks]\n", "[tasks]\nsuite = \"train\"\n");
        assert!(error(&both).contains("field `tasks`"), "{}", error(&both));
    }

    /// The fields each table accepts, by the header that opens it ("" for the top level).
    const TABLES: [(&str, &[&str]); 6] = [
        (
            "",
            &[
                "seed",
                "outer_steps",
                "checkpoint_every",
                "keep_checkpoints",
                "heldout_every",
                "meta_loss",
                "heldout_tasks",
                "max_skipped_updates",
                "tasks",
                "optimizer",
                "estimator",
                "outer",
            ],
        ),
        ("[tasks]", &["suite", "task", "horizon", "param_scale", "param_scale_per"]),
        ("[optimizer]", &["kind", "init_seed"]),
        ("[estimator]", &["kind", "particles", "sigma", "truncation", "stagger"]),
        ("[outer]", &["optimizer", "clip_value", "clip_norm"]),
        ("[outer.optimizer]", &["kind", "lr", "beta1", "beta2", "eps"]),
    ];

    /// Values a hostile or careless config might hold.
    const VALUES: [&str; 22] = [
        "0",
        "-1",
        "1",
        "nan",
        "inf",
        "-inf",
        "1e38",
        "3.4e38",
        "1e-45",
        "0.0",
        "18446744073709551615",
        "9223372036854775807",
        "-9223372036854775808",
        "\"\"",
        "\"train\"",
        "\"mlp-synth:input=0\"",
        "[]",
        "[0, 0]",
        "[1e30, 1e-30]",
        "{}",
        "true",
        "\"pes\"",
    ];

    /// A misspelling of `key` that no table field of `fields` has.
    fn misspell(key: &str, fields: &[&str], rng: &mut impl rand::Rng) -> String {
        let mut chars: Vec<char> = key.chars().collect();
        let i = rng.random_range(0..chars.len());
        match rng.random_range(0..3) {
            0 if chars.len() > 1 => {
                let j = if i + 1 < chars.len() { i + 1 } else { i - 1 };
                chars.swap(i, j);
            }
            1 if chars.len() > 1 => {
                chars.remove(i);
            }
            _ => chars.insert(i, char::from(b'a' + rng.random_range(0..26u8))),
        }
        let typo: String = chars.into_iter().collect();
        if fields.contains(&typo.as_str()) { format!("{typo}_x") } else { typo }
    }

    #[test]
    fn fuzzed_configs_never_panic_and_every_unknown_key_is_rejected() {
        let mut rng = pesto_tasks::rng::stream(2024, &[0xf022]);
        let lines: Vec<&str> = BENCHMARK.lines().collect();
        let (mut unknown, mut accepted) = (0, 0);
        for _ in 0..600 {
            let mut text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let line = rng.random_range(0..text.len());
            let mut unknown_key = None;
            match rng.random_range(0..6) {
                0 | 1 => {
                    let (header, fields) = TABLES[rng.random_range(0..TABLES.len())];
                    let key = misspell(fields[rng.random_range(0..fields.len())], fields, &mut rng);
                    let value = VALUES[rng.random_range(0..VALUES.len())];
                    let at = text.iter().position(|l| l == header).map_or(0, |i| i + 1);
                    text.insert(at, format!("{key} = {value}"));
                    unknown_key = Some(key);
                }
                2 => {
                    if let Some((key, _)) = text[line].clone().split_once(" = ") {
                        text[line] = format!("{key} = {}", VALUES[rng.random_range(0..22)]);
                    }
                }
                3 => {
                    text.remove(line);
                }
                4 => {
                    let copy = text[line].clone();
                    text.insert(line, copy);
                }
                _ => {
                    let mut bytes = text[line].clone().into_bytes();
                    if !bytes.is_empty() {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] = rng.random_range(b' '..=b'~');
                    }
                    text[line] = String::from_utf8(bytes).unwrap();
                }
            }
            let result = MetaTrainConfig::parse(&text.join("\n"), Path::new("fuzz.toml"));
            match (unknown_key, result) {
                (Some(key), Ok(_)) => panic!("unknown key `{key}` accepted:\n{}", text.join("\n")),
                (Some(key), Err(err)) => {
                    let message = err.to_string();
                    assert!(message.contains(&format!("unknown field `{key}`")), "{message}");
                    unknown += 1;
                }
                (None, Ok(_)) => accepted += 1,
                (None, Err(_)) => {}
            }
        }
        assert!(unknown > 150 && accepted > 50, "{unknown} unknown keys, {accepted} accepted");
    }
}
