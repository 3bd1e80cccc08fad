//! What a pesto file holds, for `pesto inspect`: an optimizer file, a run checkpoint (one file,
//! or the manifest of one in shards) or an experiment checkpoint, told apart by their magic
//! bytes (docs/files.md).

use crate::checkpoint::{self, CheckpointError, EXPERIMENT, Format, MANIFEST, OPTIMIZER, RUN};
use crate::metatrain::{checkpoint_dir, checkpoint_files, decode_run_state};
use crate::optim::{SAVED_OPTIMIZER_FILE, SavedOptimizer};
use pesto_tasks::read;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The facts of one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    /// The file read.
    pub file: PathBuf,
    /// What it is: `optimizer file`, `run checkpoint`, `checkpoint manifest` (of a run
    /// checkpoint in shards) or `experiment checkpoint`.
    pub what: &'static str,
    /// Its format version.
    pub format_version: u32,
    /// Its size in bytes.
    pub bytes: u64,
    /// The learned optimizer's kind (optimizer files and run checkpoints).
    pub kind: Option<String>,
    /// Outer steps behind theta.
    pub outer_step: u64,
    /// Number of meta-parameters.
    pub theta_dim: usize,
    /// Euclidean norm of theta.
    pub theta_norm: f64,
    /// The estimator and its particle count (run checkpoints).
    pub estimator: Option<(String, usize)>,
    /// The embedded config as TOML (run checkpoints) or settings as JSON (experiments).
    pub config: Option<String>,
}

/// The first fields of an experiment checkpoint, which is all `inspect` reads of it.
#[derive(Deserialize)]
struct ExperimentHead {
    settings: String,
    step: u64,
    theta: Vec<f32>,
}

/// Inspects the file at `path`; for a run directory, its newest checkpoint, or its optimizer
/// file when it has no checkpoint.
pub fn inspect(path: &Path) -> Result<Inspection, CheckpointError> {
    let file = match path.is_dir() {
        true => checkpoint_files(&checkpoint_dir(path))?
            .pop()
            .unwrap_or_else(|| path.join(SAVED_OPTIMIZER_FILE)),
        false => path.to_path_buf(),
    };
    let io = |error| CheckpointError::Io { path: file.clone(), error };
    let bytes = read::capped(&file, read::DATA_CAP).map_err(io)?;
    let format = [OPTIMIZER, RUN, MANIFEST, EXPERIMENT]
        .into_iter()
        .find(|f| bytes.starts_with(&f.magic))
        .ok_or_else(|| CheckpointError::BadMagic {
            path: file.clone(),
            expected: "optimizer file, run checkpoint, checkpoint manifest or experiment checkpoint",
            found: "unrecognised magic bytes",
        })?;
    let mut facts = Inspection {
        file: file.clone(),
        what: format.what,
        format_version: format.version,
        bytes: bytes.len() as u64,
        kind: None,
        outer_step: 0,
        theta_dim: 0,
        theta_norm: 0.0,
        estimator: None,
        config: None,
    };
    let theta = match format {
        OPTIMIZER => {
            let saved = SavedOptimizer::decode(&bytes, &file)?;
            (facts.kind, facts.outer_step) = (Some(saved.kind.to_string()), saved.outer_steps);
            saved.theta
        }
        RUN | MANIFEST => {
            let state = decode_run_state(&bytes, &file).expect("a run checkpoint's magic")?;
            let config = &state.config;
            facts.kind = Some(config.optimizer.kind.to_string());
            facts.outer_step = state.train.step;
            facts.estimator = Some((config.estimator.kind.to_string(), config.estimator.particles));
            facts.config = Some(toml::to_string(config).expect("a config encodes as TOML"));
            state.train.theta
        }
        _ => {
            let head = decode_head(format, &bytes, &file)?;
            (facts.outer_step, facts.config) = (head.step, Some(head.settings));
            head.theta
        }
    };
    facts.theta_dim = theta.len();
    facts.theta_norm = theta.iter().map(|&t| f64::from(t) * f64::from(t)).sum::<f64>().sqrt();
    Ok(facts)
}

/// The leading fields of an experiment checkpoint, after its header and checksum are verified.
fn decode_head(
    format: Format,
    bytes: &[u8],
    file: &Path,
) -> Result<ExperimentHead, CheckpointError> {
    let payload = checkpoint::verify(format, bytes, file)?;
    bincode::serde::decode_from_slice(payload, bincode::config::standard())
        .map(|(head, _)| head)
        .map_err(|e| CheckpointError::Invalid { path: file.to_path_buf(), reason: e.to_string() })
}

impl fmt::Display for Inspection {
    /// Aligned `field  value` lines, the config indented below them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file         {}", self.file.display())?;
        writeln!(
            f,
            "what         {} (format version {}, {} bytes)",
            self.what, self.format_version, self.bytes
        )?;
        if let Some(kind) = &self.kind {
            writeln!(f, "kind         {kind}")?;
        }
        writeln!(f, "outer step   {}", self.outer_step)?;
        writeln!(f, "theta        {} values, norm {:.6}", self.theta_dim, self.theta_norm)?;
        if let Some((estimator, particles)) = &self.estimator {
            writeln!(f, "estimator    {estimator}, {particles} particles")?;
        }
        if let Some(config) = &self.config {
            writeln!(f, "config")?;
            config.lines().try_for_each(|line| writeln!(f, "  {line}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::LearnedKind;

    #[test]
    fn an_optimizer_file_shows_its_kind_step_and_theta() {
        let dir = std::env::temp_dir().join(format!("pesto-inspect-{}", std::process::id()));
        let kind = LearnedKind::LearnedAdam;
        let saved = SavedOptimizer { kind, theta: vec![3.0, 4.0, 0.0, 0.0], outer_steps: 7 };
        let file = dir.join(SAVED_OPTIMIZER_FILE);
        saved.save(&file).unwrap();
        let facts = inspect(&dir).unwrap();
        assert_eq!(
            (
                facts.what,
                facts.kind.as_deref(),
                facts.outer_step,
                facts.theta_dim,
                facts.theta_norm
            ),
            ("optimizer file", Some("learned-adam"), 7, 4, 5.0)
        );
        let text = facts.to_string();
        assert!(text.contains("theta        4 values, norm 5.000000\n"), "{text}");
        std::fs::write(&file, b"not a pesto file at all").unwrap();
        let err = inspect(&file).unwrap_err().to_string();
        assert!(err.ends_with("not a pesto optimizer file, run checkpoint, checkpoint manifest or experiment checkpoint (unrecognised magic bytes)"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
