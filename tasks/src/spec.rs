//! Parsing task specifications written `FAMILY[:key=value,...]`.

use crate::error::TaskError;
use crate::registry::alias;
use crate::task::TaskSpec;
use std::collections::BTreeMap;

impl TaskSpec {
    /// Parses `FAMILY[:key=value,...]` (or `ALIAS[:key=value,...]`, whose keys the given ones
    /// override) with data seed `seed`. Checks syntax only: `registry::build` checks the keys.
    pub fn parse(text: &str, seed: u64) -> Result<TaskSpec, TaskError> {
        let syntax = |reason: String| TaskError::Syntax { spec: text.to_string(), reason };
        let (name, rest) = match text.trim().split_once(':') {
            Some((name, rest)) => (name.trim(), Some(rest)),
            None => (text.trim(), None),
        };
        if name.is_empty() {
            return Err(syntax("the family name is empty".into()));
        }
        let (family, mut config) = match alias(name) {
            Some(a) => {
                (a.family, a.config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
            }
            None => (name, BTreeMap::new()),
        };
        let mut given = BTreeMap::new();
        for item in rest.into_iter().flat_map(|r| r.split(',')) {
            let (key, value) = item
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| syntax(format!("`{}` is not `key=value`", item.trim())))?;
            if given.insert(key.to_string(), value.to_string()).is_some() {
                return Err(syntax(format!("key `{key}` is given twice")));
            }
        }
        config.extend(given);
        Ok(TaskSpec { family: family.to_string(), config, seed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_keys_and_aliases() {
        let spec = TaskSpec::parse("quadratic:dim=8, cond=10", 4).unwrap();
        assert_eq!(spec.to_string(), "quadratic:cond=10,dim=8");
        assert_eq!(spec.seed, 4);
        let alias = TaskSpec::parse("mlp-synth-64x32x10:steps=200", 0).unwrap();
        assert_eq!(alias.family, "mlp-synth");
        assert_eq!(alias.config["steps"], "200");
        assert_eq!(alias.config["hidden"], "32");
        assert_eq!(TaskSpec::parse(&spec.to_string(), 4).unwrap(), spec);
    }

    #[test]
    fn rejects_malformed_specs() {
        let err = |t: &str| TaskSpec::parse(t, 0).unwrap_err().to_string();
        assert_eq!(err(":dim=3"), "cannot parse task `:dim=3`: the family name is empty");
        assert_eq!(
            err("quadratic:=3"),
            "cannot parse task `quadratic:=3`: `=3` is not `key=value`"
        );
        assert_eq!(
            err("quadratic:dim=3,dim=4"),
            "cannot parse task `quadratic:dim=3,dim=4`: key `dim` is given twice"
        );
    }
}
