//! Task families: a named, configurable generator of tasks, its keys and their domains.

use crate::error::TaskError;
use crate::rng::StreamRng;
use crate::tags;
use crate::task::{Task, TaskSpec};
use rand::RngExt;
use std::collections::BTreeMap;
use std::fmt;

/// The set of values a configuration key may take, or a sampling range over them.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// An integer in `min..=max`, sampled uniformly.
    Int {
        /// Smallest value.
        min: u64,
        /// Largest value.
        max: u64,
    },
    /// A real number in `min..=max`, sampled uniformly (or log-uniformly when `log`).
    Float {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Sample uniformly in log space (requires `min > 0`).
        log: bool,
    },
    /// One of a list of words.
    Choice(Vec<String>),
    /// Hidden-layer widths written `W1xW2x...`: `layers` layers, each of width in `width`.
    Widths {
        /// Smallest and largest number of layers.
        layers: (usize, usize),
        /// Smallest and largest width of a layer.
        width: (usize, usize),
    },
}

impl Domain {
    /// A choice domain from words.
    pub fn choice(words: &[&str]) -> Self {
        Domain::Choice(words.iter().map(|w| w.to_string()).collect())
    }

    /// True when every value of `other` (a domain of the same kind) lies in `self`.
    pub fn contains_domain(&self, other: &Domain) -> bool {
        match (self, other) {
            (Domain::Int { min, max }, Domain::Int { min: a, max: b }) => {
                min <= a && a <= b && b <= max
            }
            (Domain::Float { min, max, .. }, Domain::Float { min: a, max: b, log }) => {
                min <= a && a <= b && b <= max && (!log || *a > 0.0)
            }
            (Domain::Choice(all), Domain::Choice(some)) => {
                !some.is_empty() && some.iter().all(|w| all.contains(w))
            }
            (
                Domain::Widths { layers: (l0, l1), width: (w0, w1) },
                Domain::Widths { layers: (a0, a1), width: (b0, b1) },
            ) => l0 <= a0 && a0 <= a1 && a1 <= l1 && w0 <= b0 && b0 <= b1 && b1 <= w1,
            _ => false,
        }
    }

    /// True when `value` is a valid value of this domain.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            Domain::Int { min, max } => {
                value.parse::<u64>().is_ok_and(|v| (*min..=*max).contains(&v))
            }
            Domain::Float { min, max, .. } => {
                value.parse::<f64>().is_ok_and(|v| v.is_finite() && *min <= v && v <= *max)
            }
            Domain::Choice(words) => words.iter().any(|w| w == value),
            Domain::Widths { layers, width } => parse_widths(value).is_some_and(|ws| {
                (layers.0..=layers.1).contains(&ws.len())
                    && ws.iter().all(|w| (width.0..=width.1).contains(w))
            }),
        }
    }

    /// Draws one value, written as a configuration string.
    pub fn sample(&self, rng: &mut StreamRng) -> String {
        match self {
            Domain::Int { min, max } => rng.random_range(*min..=*max).to_string(),
            Domain::Float { min, max, log } if *log => {
                format_float(rng.random_range(min.ln()..=max.ln()).exp())
            }
            Domain::Float { min, max, .. } => format_float(rng.random_range(*min..=*max)),
            Domain::Choice(words) => words[rng.random_range(0..words.len())].clone(),
            Domain::Widths { layers, width } => {
                let n = rng.random_range(layers.0..=layers.1);
                let widths: Vec<String> =
                    (0..n).map(|_| rng.random_range(width.0..=width.1).to_string()).collect();
                widths.join("x")
            }
        }
    }
}

/// A float written with 4 significant digits, so sampled configurations stay readable.
fn format_float(v: f64) -> String {
    let s = format!("{v:.3e}");
    s.parse::<f64>().map_or(s, |r| r.to_string())
}

/// Parses `W1xW2x...` into widths; the empty string is zero layers.
pub fn parse_widths(value: &str) -> Option<Vec<usize>> {
    if value.is_empty() {
        return Some(Vec::new());
    }
    value.split('x').map(|w| w.parse().ok().filter(|&w| w > 0)).collect()
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Int { min, max } => write!(f, "an integer in {min}..={max}"),
            Domain::Float { min, max, log: false } => write!(f, "a number in [{min}, {max}]"),
            Domain::Float { min, max, log: true } => {
                write!(f, "a number in [{min}, {max}] (log scale)")
            }
            Domain::Choice(words) => write!(f, "one of {}", words.join(", ")),
            Domain::Widths { layers: (l0, l1), width: (w0, w1) } => {
                write!(f, "{l0} to {l1} widths in {w0}..={w1} joined by `x` (e.g. {w0}x{w1})")
            }
        }
    }
}

/// One configuration key of a family.
#[derive(Clone, Debug, PartialEq)]
pub struct KeySpec {
    /// Key name, e.g. `hidden`.
    pub name: &'static str,
    /// What the key sets.
    pub description: &'static str,
    /// The value used when the key is not given.
    pub default: &'static str,
    /// Every value the family accepts.
    pub valid: Domain,
    /// What `TaskFamily::sample` draws from.
    pub typical: Domain,
}

/// A configurable generator of tasks: `build` makes the task a spec names, `sample` draws a spec.
pub trait TaskFamily: Send + Sync {
    /// Registry name, e.g. `mlp-synth`.
    fn name(&self) -> &'static str;
    /// One line saying what the tasks are.
    fn description(&self) -> &'static str;
    /// The configuration keys, `steps` (the horizon T) among them.
    fn keys(&self) -> Vec<KeySpec>;
    /// Builds the task, validating every key of `spec`.
    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError>;

    /// A spec of this family with every key drawn from its typical domain.
    fn sample(&self, seed: u64) -> TaskSpec {
        let mut rng = crate::rng::stream(seed, &[tags::FAMILY_SAMPLE]);
        let config =
            self.keys().into_iter().map(|k| (k.name.to_string(), k.typical.sample(&mut rng)));
        TaskSpec { family: self.name().to_string(), config: config.collect(), seed }
    }
}

/// A spec's configuration checked against a family's keys: every getter returns the given value
/// or the default, and fails with a `TaskError` naming the key and its valid domain.
pub struct Config<'a> {
    family: &'static str,
    keys: Vec<KeySpec>,
    values: &'a BTreeMap<String, String>,
}

impl<'a> Config<'a> {
    /// Checks that every key of `spec` is one of `keys`.
    pub fn new(
        family: &'static str,
        keys: Vec<KeySpec>,
        spec: &'a TaskSpec,
    ) -> Result<Self, TaskError> {
        if let Some(key) = spec.config.keys().find(|k| !keys.iter().any(|s| s.name == *k)) {
            let valid: Vec<&str> = keys.iter().map(|k| k.name).collect();
            return Err(TaskError::UnknownKey {
                family: family.to_string(),
                key: key.clone(),
                valid: valid.join(", "),
            });
        }
        Ok(Self { family, keys, values: &spec.config })
    }

    /// The value of `key` (given or default) after checking it against its domain.
    fn raw(&self, key: &str) -> Result<&str, TaskError> {
        let spec = self.keys.iter().find(|k| k.name == key).expect("family reads a declared key");
        let value = self.values.get(key).map_or(spec.default, String::as_str);
        if spec.valid.accepts(value) { Ok(value) } else { Err(self.bad(key, value, &spec.valid)) }
    }

    /// A `BadValue` error for `key=value` expecting `expected`.
    pub fn bad(&self, key: &str, value: &str, expected: impl fmt::Display) -> TaskError {
        TaskError::BadValue {
            family: self.family.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// An integer key.
    pub fn int(&self, key: &str) -> Result<u64, TaskError> {
        Ok(self.raw(key)?.parse().expect("validated"))
    }

    /// An integer key used as a size.
    pub fn size(&self, key: &str) -> Result<usize, TaskError> {
        Ok(self.raw(key)?.parse().expect("validated"))
    }

    /// A real-valued key.
    pub fn float(&self, key: &str) -> Result<f64, TaskError> {
        Ok(self.raw(key)?.parse().expect("validated"))
    }

    /// A choice key.
    pub fn word(&self, key: &str) -> Result<&str, TaskError> {
        self.raw(key)
    }

    /// A list-of-widths key.
    pub fn widths(&self, key: &str) -> Result<Vec<usize>, TaskError> {
        Ok(parse_widths(self.raw(key)?).expect("validated"))
    }
}

/// The `steps` key every family has: the horizon T of one training run.
pub fn steps_key(default: &'static str, typical: (u64, u64)) -> KeySpec {
    KeySpec {
        name: "steps",
        description: "inner steps of one training run (the horizon T)",
        default,
        valid: Domain::Int { min: 1, max: 10_000_000 },
        typical: Domain::Int { min: typical.0, max: typical.1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_accept_their_own_samples() {
        let domains = [
            Domain::Int { min: 3, max: 9 },
            Domain::Float { min: 1.0, max: 1e6, log: true },
            Domain::Float { min: 0.0, max: 2.0, log: false },
            Domain::choice(&["relu", "tanh"]),
            Domain::Widths { layers: (1, 3), width: (16, 64) },
        ];
        let mut rng = crate::rng::stream(1, &[]);
        for d in &domains {
            for _ in 0..100 {
                let v = d.sample(&mut rng);
                assert!(d.accepts(&v), "{d:?} rejects its sample {v}");
            }
        }
    }

    #[test]
    fn widths_parse_and_reject_malformed_lists() {
        assert_eq!(parse_widths("32x16"), Some(vec![32, 16]));
        assert_eq!(parse_widths(""), Some(vec![]));
        assert_eq!(parse_widths("32x"), None);
        assert_eq!(parse_widths("0"), None);
        let d = Domain::Widths { layers: (1, 2), width: (1, 64) };
        assert!(d.accepts("64x64") && !d.accepts("64x64x64") && !d.accepts("65"));
    }
}
