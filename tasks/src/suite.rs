//! Named task suites (TOML in tasks/suites/): weighted families with sampling ranges per key,
//! what meta-training samples and what evaluation holds out.
//!
//! A suite's task seeds are `(seed << 2) | partition`, so suites with different partitions
//! (train, train-wide, train-mnist and train-long 0, heldout 1, ood 2, long 3) never share a
//! task seed.

use crate::error::TaskError;
use crate::family::{Domain, KeySpec, TaskFamily};
use crate::read;
use crate::registry;
use crate::rng::{StreamRng, stream};
use crate::tags;
use crate::task::TaskSpec;
use rand::RngExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The built-in suites and their TOML.
const BUILT_IN: [(&str, &str); 7] = [
    ("train", include_str!("../suites/train.toml")),
    ("train-wide", include_str!("../suites/train-wide.toml")),
    ("train-mnist", include_str!("../suites/train-mnist.toml")),
    ("train-long", include_str!("../suites/train-long.toml")),
    ("heldout", include_str!("../suites/heldout.toml")),
    ("ood", include_str!("../suites/ood.toml")),
    ("long", include_str!("../suites/long.toml")),
];

/// Seed index of the first evaluation member; far above the seeds meta-training draws.
const MEMBER_BASE: u64 = 1 << 40;
/// Largest partition: seeds keep two low bits for it.
const MAX_PARTITION: u64 = 3;

/// How one key of a suite entry is set: a fixed value or a range to sample from.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyRange {
    /// Always this value.
    Fixed(String),
    /// Drawn from this domain.
    Sampled(Domain),
}

/// One family of a suite with its sampling weight, key ranges and number of evaluation members.
#[derive(Clone)]
pub struct SuiteEntry {
    /// The family.
    pub family: &'static dyn TaskFamily,
    /// Relative probability of drawing this entry.
    pub weight: f64,
    /// Number of evaluation members this entry contributes.
    pub members: usize,
    /// The keys the entry sets; the others take the family's defaults.
    pub keys: BTreeMap<String, KeyRange>,
}

/// A distribution over tasks plus a fixed list of evaluation members.
#[derive(Clone)]
pub struct Suite {
    name: String,
    description: String,
    partition: u64,
    entries: Vec<SuiteEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    description: String,
    partition: u64,
    entry: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    family: String,
    #[serde(default = "one")]
    weight: f64,
    #[serde(default = "one_member")]
    members: usize,
    #[serde(default)]
    keys: BTreeMap<String, toml::Value>,
}

fn one() -> f64 {
    1.0
}

fn one_member() -> usize {
    1
}

impl Suite {
    /// Names of the built-in suites.
    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(name, _)| *name).collect()
    }

    /// The built-in suite `name` (`train`, `train-wide`, `train-mnist`, `train-long`, `heldout`,
    /// `ood` or `long`).
    pub fn named(name: &str) -> Result<Suite, TaskError> {
        match BUILT_IN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Suite::parse(name, text),
            None => Err(TaskError::Suite {
                suite: name.to_string(),
                reason: format!("unknown suite; valid suites: {}", Suite::names().join(", ")),
            }),
        }
    }

    /// The suite in the TOML file at `path`, which must be a regular file of at most 1 MiB
    /// (a FIFO or device would block or never end).
    pub fn from_file(path: &Path) -> Result<Suite, TaskError> {
        let name = path.display().to_string();
        let text = read::capped_text(path, read::TEXT_CAP)
            .map_err(|e| TaskError::Suite { suite: name.clone(), reason: e.to_string() })?;
        Suite::parse(&name, &text)
    }

    /// Parses and validates suite TOML; `name` labels errors.
    pub fn parse(name: &str, text: &str) -> Result<Suite, TaskError> {
        let fail = |reason: String| TaskError::Suite { suite: name.to_string(), reason };
        let file: SuiteFile = toml::from_str(text).map_err(|e| fail(e.message().to_string()))?;
        if file.partition > MAX_PARTITION {
            return Err(fail(format!(
                "partition {} is not in 0..={MAX_PARTITION}",
                file.partition
            )));
        }
        if file.entry.is_empty() {
            return Err(fail("no [[entry]]".into()));
        }
        let entries = file
            .entry
            .into_iter()
            .enumerate()
            .map(|(i, e)| parse_entry(e).map_err(|r| fail(format!("entry {i}: {r}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Suite {
            name: name.to_string(),
            description: file.description,
            partition: file.partition,
            entries,
        })
    }

    /// The suite's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line saying what the suite is for.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The entries.
    pub fn entries(&self) -> &[SuiteEntry] {
        &self.entries
    }

    /// The task seed of draw number `seed`: `(seed << 2) | partition`.
    pub fn task_seed(&self, seed: u64) -> u64 {
        (seed << 2) | self.partition
    }

    /// Draws a task: an entry by weight, then each of its sampled keys.
    pub fn sample(&self, seed: u64) -> TaskSpec {
        let task_seed = self.task_seed(seed);
        let mut rng = stream(task_seed, &[tags::SUITE]);
        let total: f64 = self.entries.iter().map(|e| e.weight).sum();
        let mut u = rng.random_range(0.0..total);
        let entry = self
            .entries
            .iter()
            .find(|e| {
                u -= e.weight;
                u < 0.0
            })
            .unwrap_or(&self.entries[self.entries.len() - 1]);
        entry.draw(task_seed, &mut rng)
    }

    /// The fixed evaluation members: `members` draws from each entry in turn.
    pub fn members(&self) -> Vec<TaskSpec> {
        let mut index = MEMBER_BASE;
        let mut specs = Vec::new();
        for entry in &self.entries {
            for _ in 0..entry.members {
                let task_seed = self.task_seed(index);
                specs.push(entry.draw(task_seed, &mut stream(task_seed, &[tags::SUITE])));
                index += 1;
            }
        }
        specs
    }
}

impl SuiteEntry {
    fn draw(&self, seed: u64, rng: &mut StreamRng) -> TaskSpec {
        let config = self.keys.iter().map(|(key, range)| {
            let value = match range {
                KeyRange::Fixed(v) => v.clone(),
                KeyRange::Sampled(domain) => domain.sample(rng),
            };
            (key.clone(), value)
        });
        TaskSpec { family: self.family.name().to_string(), config: config.collect(), seed }
    }
}

fn parse_entry(file: EntryFile) -> Result<SuiteEntry, String> {
    let family = registry::family(&file.family).map_err(|e| e.to_string())?;
    if !(file.weight.is_finite() && file.weight > 0.0) {
        return Err(format!("weight {} is not a positive number", file.weight));
    }
    let specs = family.keys();
    let mut keys = BTreeMap::new();
    for (key, value) in file.keys {
        let Some(spec) = specs.iter().find(|s| s.name == key) else {
            let valid: Vec<&str> = specs.iter().map(|s| s.name).collect();
            return Err(format!(
                "{} has no key `{key}`; valid keys: {}",
                family.name(),
                valid.join(", ")
            ));
        };
        let range = key_range(spec, &value).ok_or_else(|| {
            format!("{} key `{key}` = {value} is invalid; expected {}", family.name(), spec.valid)
        })?;
        keys.insert(key, range);
    }
    Ok(SuiteEntry { family, weight: file.weight, members: file.members, keys })
}

/// Reads a TOML value as a fixed value or a range of `spec`'s kind, inside its valid domain.
fn key_range(spec: &KeySpec, value: &toml::Value) -> Option<KeyRange> {
    use toml::Value;
    let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Some((a.clone(), b.clone())),
        _ => None,
    };
    let number = |v: &Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    let range = match (&spec.valid, value) {
        (_, Value::String(s)) => return spec.valid.accepts(s).then(|| KeyRange::Fixed(s.clone())),
        (Domain::Int { .. } | Domain::Float { .. } | Domain::Choice(_), Value::Integer(_))
        | (Domain::Int { .. } | Domain::Float { .. }, Value::Float(_)) => {
            let fixed = value.to_string();
            return spec.valid.accepts(&fixed).then_some(KeyRange::Fixed(fixed));
        }
        (Domain::Int { .. }, v) => {
            let (a, b) = pair(v)?;
            Domain::Int {
                min: a.as_integer()?.try_into().ok()?,
                max: b.as_integer()?.try_into().ok()?,
            }
        }
        (Domain::Float { log, .. }, v) => {
            let (a, b) = pair(v)?;
            Domain::Float { min: number(&a)?, max: number(&b)?, log: *log }
        }
        (Domain::Choice(_), Value::Array(words)) => Domain::Choice(
            words
                .iter()
                .map(|w| w.as_str().map(str::to_string).or(w.as_integer().map(|i| i.to_string())))
                .collect::<Option<_>>()?,
        ),
        (Domain::Widths { .. }, Value::Table(t)) => {
            let ints = |key: &str| -> Option<(usize, usize)> {
                let (a, b) = pair(t.get(key)?)?;
                Some((a.as_integer()?.try_into().ok()?, b.as_integer()?.try_into().ok()?))
            };
            if t.len() != 2 {
                return None;
            }
            Domain::Widths { layers: ints("layers")?, width: ints("width")? }
        }
        _ => return None,
    };
    spec.valid.contains_domain(&range).then_some(KeyRange::Sampled(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suite_path_must_name_a_regular_file() {
        let Err(err) = Suite::from_file(Path::new("/dev/zero")) else { panic!("read /dev/zero") };
        assert_eq!(err.to_string(), "suite `/dev/zero`: not a regular file");
    }

    #[test]
    fn built_in_suites_parse_and_their_members_build() {
        for name in Suite::names() {
            let suite = Suite::named(name).unwrap();
            assert!(!suite.members().is_empty(), "{name} has no members");
            for spec in
                suite.members().iter().chain(&(0..20).map(|s| suite.sample(s)).collect::<Vec<_>>())
            {
                registry::build(spec).unwrap_or_else(|e| panic!("{name}: {spec}: {e}"));
            }
        }
    }

    #[test]
    fn train_and_heldout_seeds_are_disjoint() {
        for name in Suite::names() {
            let suite = Suite::named(name).unwrap();
            let draws = (0..1000).map(|s| suite.sample(s).seed);
            let members = suite.members().into_iter().map(|s| s.seed);
            for seed in draws.chain(members) {
                assert_eq!(
                    seed & 3,
                    suite.partition,
                    "seed {seed} outside {}'s partition",
                    suite.name()
                );
            }
        }
        let partition = |name| Suite::named(name).unwrap().partition;
        let names = ["train", "train-wide", "train-mnist", "train-long", "heldout", "ood", "long"];
        assert_eq!(names.map(partition), [0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(Suite::named("train").unwrap().sample(u64::MAX).seed & 3, 0);
    }

    #[test]
    fn long_is_the_train_suite_at_long_horizons() {
        let train = Suite::named("train").unwrap();
        let long = Suite::named("long").unwrap();
        assert_eq!(long.entries().len(), train.entries().len());
        for (l, t) in long.entries().iter().zip(train.entries()) {
            assert_eq!((l.family.name(), l.weight), (t.family.name(), t.weight));
            let mut keys = t.keys.clone();
            keys.insert("steps".into(), KeyRange::Sampled(Domain::Int { min: 2000, max: 5000 }));
            assert_eq!(l.keys, keys, "{}", l.family.name());
        }
        let members: Vec<usize> = long.entries().iter().map(|e| e.members).collect();
        assert_eq!(members, [4, 2, 2]);
    }

    #[test]
    fn train_long_is_train_mnist_at_two_thousand_steps() {
        let train = Suite::named("train-mnist").unwrap();
        let long = Suite::named("train-long").unwrap();
        assert_eq!((long.entries().len(), long.partition), (train.entries().len(), 0));
        for (l, t) in long.entries().iter().zip(train.entries()) {
            let same = (l.family.name(), l.weight, l.members);
            assert_eq!(same, (t.family.name(), t.weight, t.members));
            let mut keys = t.keys.clone();
            keys.insert("steps".into(), KeyRange::Fixed("2000".into()));
            assert_eq!(l.keys, keys, "{}", l.family.name());
        }
    }

    #[test]
    fn sampling_is_deterministic_and_uses_every_entry() {
        let train = Suite::named("train").unwrap();
        assert_eq!(train.sample(17), train.sample(17));
        let families: std::collections::BTreeSet<String> =
            (0..200).map(|s| train.sample(s).family).collect();
        for entry in train.entries() {
            assert!(families.contains(entry.family.name()), "{} never drawn", entry.family.name());
        }
    }

    #[test]
    fn bad_suites_fail_with_the_suite_and_the_problem() {
        let err =
            |text: &str| Suite::parse("s.toml", text).err().expect("bad suite parses").to_string();
        assert_eq!(
            Suite::named("valid").err().unwrap().to_string(),
            "suite `valid`: unknown suite; valid suites: train, train-wide, train-mnist, train-long, heldout, ood, long"
        );
        let head = "description = \"d\"\npartition = 0\n[[entry]]\n";
        assert_eq!(
            err(&format!("{head}family = \"cubic\"")),
            format!(
                "suite `s.toml`: entry 0: unknown task family `cubic`; valid families: {}",
                registry::names()
            )
        );
        assert_eq!(
            err(&format!("{head}family = \"quadratic\"\nkeys = {{ dim = [0, 8] }}")),
            "suite `s.toml`: entry 0: quadratic key `dim` = [0, 8] is invalid; expected an \
             integer in 1..=1024"
        );
        assert_eq!(
            err(&format!("{head}family = \"quadratic\"\nkeys = {{ size = 3 }}")),
            "suite `s.toml`: entry 0: quadratic has no key `size`; valid keys: dim, cond, rotate, \
             noise, steps"
        );
        assert_eq!(
            err("description = \"d\"\npartition = 7\n[[entry]]\nfamily = \"quadratic\""),
            "suite `s.toml`: partition 7 is not in 0..=3"
        );
        assert!(err("partition = 0").starts_with("suite `s.toml`: missing field"));
    }
}
