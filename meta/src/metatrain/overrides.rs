//! The effective config of a run: a config file with command-line overrides
//! (`--set section.field=value`) applied, and its display as TOML with each field's meaning
//! (`pesto config show`), read from the doc comments of the config types.

use super::{ConfigError, MetaTrainConfig};
use crate::estimators::EstimatorKind;
use crate::optim::LearnedKind;
use serde_json::Value as Json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

impl MetaTrainConfig {
    /// `self` with each `PATH=VALUE` of `sets` applied in order and validated as a file would
    /// be. VALUE is read as TOML (a number, `true`, `[100, 2000]`, `"text"`), or taken as text
    /// when it is not TOML. Setting `tasks.task` removes `tasks.suite` and the other way round.
    pub fn with_overrides(&self, sets: &[String], file: &Path) -> Result<Self, ConfigError> {
        if sets.is_empty() {
            return Ok(self.clone());
        }
        let described = PathBuf::from(format!("{} with --set {}", file.display(), sets.join(" ")));
        let mut table = Table::try_from(self).expect("a config encodes as TOML");
        for set in sets {
            set_one(&mut table, set).map_err(|reason| ConfigError::Parse {
                file: file.to_path_buf(),
                reason: format!("--set {set}: {reason}"),
            })?;
        }
        let config: Self = table.try_into().map_err(|e: toml::de::Error| ConfigError::Parse {
            file: described.clone(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        config.validate(&described)?;
        Ok(config)
    }

    /// The config as TOML, every field preceded by its meaning as a comment and every optional
    /// field that is not set listed as a comment, so the output is itself a valid config.
    pub fn annotated(&self) -> String {
        let schema = schemars::schema_for!(MetaTrainConfig);
        let mut fields = Vec::new();
        describe(schema.as_value(), schema.as_value(), "", &mut fields);
        let table = Table::try_from(self).expect("a config encodes as TOML");
        let mut out = String::new();
        write_table(&table, "", &fields, &mut out);
        out
    }
}

/// Applies one `PATH=VALUE` to `table`.
fn set_one(table: &mut Table, set: &str) -> Result<(), String> {
    let (path, raw) =
        set.split_once('=').ok_or("expected PATH=VALUE, e.g. estimator.sigma=0.02")?;
    let keys: Vec<&str> = path.trim().split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("`{path}` is not a field path such as estimator.sigma"));
    }
    let raw = raw.trim();
    let value = match format!("v = {raw}").parse::<Table>() {
        Ok(mut parsed) => parsed.remove("v").expect("the key just parsed"),
        Err(_) => Value::String(raw.to_string()),
    };
    let (last, parents) = keys.split_last().expect("split gives at least one key");
    let mut at = table;
    for key in parents {
        let entry = at.entry(key.to_string()).or_insert_with(|| Value::Table(Table::new()));
        at = entry.as_table_mut().ok_or(format!("`{key}` is a value, not a section"))?;
    }
    let other = match (parents, *last) {
        (["tasks"], "task") => Some("suite"),
        (["tasks"], "suite") => Some("task"),
        _ => None,
    };
    other.map(|o| at.remove(o));
    at.insert(last.to_string(), value);
    Ok(())
}

/// One documented field: its dotted path, its meaning, and whether it may be left unset.
struct Field {
    path: String,
    meaning: String,
    optional: bool,
}

/// Collects the documented fields of the object `schema` under `prefix`, resolving references
/// in `root` and the alternatives of tagged enums.
fn describe(root: &Json, schema: &Json, prefix: &str, out: &mut Vec<Field>) {
    let resolve = |s: &'_ Json| -> Json {
        match s.get("$ref").and_then(Json::as_str) {
            Some(r) => root.pointer(r.trim_start_matches('#')).cloned().unwrap_or(Json::Null),
            None => s.clone(),
        }
    };
    let schema = resolve(schema);
    for alternative in schema.get("oneOf").and_then(Json::as_array).into_iter().flatten() {
        describe(root, alternative, prefix, out);
    }
    let Some(properties) = schema.get("properties").and_then(Json::as_object) else { return };
    for (name, property) in properties {
        let path = format!("{prefix}{name}");
        let target = resolve(property);
        let meaning = [property, &target]
            .iter()
            .find_map(|s| s.get("description").and_then(Json::as_str))
            .unwrap_or("Which one.")
            .replace('\n', " ");
        let optional = target
            .get("type")
            .and_then(Json::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "null"));
        if !out.iter().any(|f| f.path == path) {
            out.push(Field {
                meaning: meaning + &valid_names(&path),
                path: path.clone(),
                optional,
            });
        }
        describe(root, &target, &format!("{path}."), out);
    }
}

/// The names a kind field accepts, as a sentence to append to its meaning.
fn valid_names(path: &str) -> String {
    let names: Vec<&str> = match path {
        "optimizer.kind" => LearnedKind::ALL.map(LearnedKind::name).to_vec(),
        "estimator.kind" => EstimatorKind::ALL.map(EstimatorKind::name).to_vec(),
        "outer.optimizer.kind" => vec!["sgd", "adam"],
        _ => return String::new(),
    };
    format!(" Valid: {}.", names.join(", "))
}

/// `value` as TOML, a float in the fewest digits that read back as the same f32 when there
/// are such (the config's floats are f32: 0.01 rather than 0.009999999776482582).
fn shortest(value: &Value) -> String {
    match value {
        Value::Float(x) if f64::from(*x as f32) == *x => format!("{:?}", *x as f32),
        value => value.to_string(),
    }
}

/// Writes the values of `table` (the section `prefix`) with their comments, then its unset
/// optional fields as comments, then its subsections.
fn write_table(table: &Table, prefix: &str, fields: &[Field], out: &mut String) {
    let here =
        |f: &&Field| f.path.starts_with(prefix) && f.path[prefix.len()..].matches('.').count() == 0;
    for field in fields.iter().filter(here) {
        let key = &field.path[prefix.len()..];
        match table.get(key) {
            Some(Value::Table(_)) => {}
            Some(value) => {
                let _ = writeln!(out, "# {}\n{key} = {}", field.meaning, shortest(value));
            }
            None if field.optional => {
                let _ = writeln!(out, "# {}\n# {key} = (not set)", field.meaning);
            }
            None => {}
        }
    }
    for field in fields.iter().filter(here) {
        let key = &field.path[prefix.len()..];
        if let Some(Value::Table(sub)) = table.get(key) {
            let _ = writeln!(out, "\n# {}\n[{}]", field.meaning, field.path);
            write_table(sub, &format!("{}.", field.path), fields, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> MetaTrainConfig {
        let text = include_str!("../../configs/quick.toml");
        MetaTrainConfig::parse(text, Path::new("quick.toml")).unwrap()
    }

    fn sets(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn overrides_change_the_named_fields_only() {
        let base = quick();
        let set =
            sets(&["estimator.sigma=0.02", "outer.optimizer.lr=3e-4", "tasks.task=quadratic"]);
        let config = base.with_overrides(&set, Path::new("quick.toml")).unwrap();
        assert_eq!(config.estimator.sigma, 0.02);
        assert_eq!(
            (config.tasks.task.as_deref(), config.tasks.suite.as_deref()),
            (Some("quadratic"), None)
        );
        let crate::outer::OuterOptimizer::Adam { lr, .. } = config.outer.optimizer else {
            panic!("still Adam")
        };
        assert_eq!(lr, 3e-4);
        let expected = MetaTrainConfig {
            estimator: config.estimator.clone(),
            outer: config.outer,
            tasks: config.tasks.clone(),
            ..base
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn bad_overrides_name_the_override_and_the_problem() {
        let error = |set: &str| {
            quick().with_overrides(&sets(&[set]), Path::new("quick.toml")).unwrap_err().to_string()
        };
        assert_eq!(
            error("estimator.sigma=-1"),
            "config quick.toml with --set estimator.sigma=-1: [estimator] `sigma` must be positive and finite, got -1"
        );
        assert_eq!(
            error("estimator.sigma"),
            "config quick.toml: --set estimator.sigma: expected PATH=VALUE, e.g. estimator.sigma=0.02"
        );
        assert_eq!(
            error("seed.x=1"),
            "config quick.toml: --set seed.x=1: `seed` is a value, not a section"
        );
        assert!(error("estimator.sigmaa=1").contains("unknown field `sigmaa`"));
        assert!(error("outer_steps=many").contains("outer_steps"));
    }

    #[test]
    fn the_annotated_config_documents_every_field_and_reads_back_as_itself() {
        let config = quick();
        let text = config.annotated();
        let again = MetaTrainConfig::parse(&text, Path::new("shown.toml")).unwrap();
        assert_eq!(again, config);
        for needle in [
            "# Seed of every random stream of the run.\nseed = 0",
            "[outer.optimizer]",
            "# clip_norm = (not set)",
            "# task = (not set)",
            "Valid: mlp-lopt, learned-adam, rel-lopt, nominal-lopt, snr-lopt, horizon-lopt, trend-lopt.",
            "Valid: es, tes, pes, nres.",
            "# Start pairs at staggered inner steps.\nstagger = true",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let documented = text.lines().filter(|l| l.starts_with("# ")).count();
        let values = text.lines().filter(|l| l.contains(" = ")).count();
        assert!(documented >= values, "{documented} comments for {values} fields");
    }
}
