//! A learned optimizer saved on its own (kind and theta), for evaluation and `pesto train --lopt`.

use super::{LearnedKind, WithTheta};
use crate::checkpoint::{self, CheckpointError, OPTIMIZER};
use pesto_tasks::read;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The file name a run directory keeps its current learned optimizer under.
pub const FILE_NAME: &str = "optimizer.bin";

/// Where the shipped optimizer lives in the repository, relative to its root.
pub const PRETRAINED_PATH: &str = "checkpoints/pretrained/optimizer.bin";

/// The shipped optimizer's file, built into the library.
const PRETRAINED: &[u8] = include_bytes!("../../../checkpoints/pretrained/optimizer.bin");

/// A learned optimizer's kind and meta-parameters, with the outer step they come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedOptimizer {
    /// The learned optimizer family.
    pub kind: LearnedKind,
    /// Its meta-parameters.
    pub theta: Vec<f32>,
    /// Outer steps of meta-training behind theta.
    pub outer_steps: u64,
}

/// Which optimizer file a result used: its path, the SHA-256 of its bytes and its outer step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptimizerSource {
    /// The file read, or `built into pesto (PRETRAINED_PATH)` for the built-in copy.
    pub path: String,
    /// SHA-256 of the file's bytes, in hex.
    pub sha256: String,
    /// Outer steps of meta-training behind its theta.
    pub outer_steps: u64,
}

impl OptimizerSource {
    /// The source of `saved`, read from the file `path` whose bytes are `bytes`.
    pub fn of(saved: &SavedOptimizer, path: String, bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self { path, sha256, outer_steps: saved.outer_steps }
    }
}

impl SavedOptimizer {
    /// Writes the optimizer file at `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        checkpoint::write_atomic(OPTIMIZER, path, self)
    }

    /// Reads an optimizer file, or the current optimizer of a run directory.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        Ok(Self::load_with_source(path)?.0)
    }

    /// Reads an optimizer file, or the current optimizer of a run directory, with its source.
    pub fn load_with_source(path: &Path) -> Result<(Self, OptimizerSource), CheckpointError> {
        let file: PathBuf = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
        let bytes = read::capped(&file, read::DATA_CAP)
            .map_err(|error| CheckpointError::Io { path: file.clone(), error })?;
        let saved = Self::decode(&bytes, &file)?;
        let source = OptimizerSource::of(&saved, file.display().to_string(), &bytes);
        Ok((saved, source))
    }

    /// The optimizer in `bytes`, the contents of the optimizer file `file`: an error names the
    /// file when they do not decode, or theta has the wrong dimension or is not finite.
    pub fn decode(bytes: &[u8], file: &Path) -> Result<Self, CheckpointError> {
        checkpoint::decode::<Self>(OPTIMIZER, bytes, file)?.checked(file.to_path_buf())
    }

    /// The shipped optimizer (`PRETRAINED_PATH`), built into the library, so it is there in any
    /// working directory.
    pub fn pretrained() -> Self {
        Self::pretrained_with_source().0
    }

    /// The shipped optimizer, built into the library, with its source.
    pub fn pretrained_with_source() -> (Self, OptimizerSource) {
        let saved = Self::decode(PRETRAINED, Path::new(PRETRAINED_PATH))
            .expect("the built-in optimizer file is valid");
        let path = format!("built into pesto ({PRETRAINED_PATH})");
        let source = OptimizerSource::of(&saved, path, PRETRAINED);
        (saved, source)
    }

    /// `self` if theta has its kind's dimension and is finite, else an error naming `file`.
    fn checked(self, file: PathBuf) -> Result<Self, CheckpointError> {
        let expected = self.kind.theta_dim();
        if self.theta.len() != expected {
            let reason =
                format!("{} theta has {} values, expected {expected}", self.kind, self.theta.len());
            return Err(CheckpointError::Invalid { path: file, reason });
        }
        checkpoint::check_finite("theta", &self.theta)
            .map_err(|reason| CheckpointError::Invalid { path: file, reason })?;
        Ok(self)
    }

    /// The optimizer itself, with its theta.
    pub fn build(&self) -> WithTheta {
        self.kind.build(self.theta.clone()).expect("theta dimension checked on load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_file_or_its_directory() {
        let dir = std::env::temp_dir().join(format!("pesto-saved-{}", std::process::id()));
        let kind = LearnedKind::MlpLopt;
        let saved = SavedOptimizer { kind, theta: kind.init_theta(4), outer_steps: 12 };
        saved.save(&dir.join(FILE_NAME)).unwrap();
        assert_eq!(SavedOptimizer::load(&dir).unwrap(), saved);
        assert_eq!(SavedOptimizer::load(&dir.join(FILE_NAME)).unwrap(), saved);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_built_in_optimizer_is_the_shipped_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let shipped = SavedOptimizer::load(&root.join(PRETRAINED_PATH)).unwrap();
        assert_eq!(SavedOptimizer::pretrained(), shipped);
        assert_eq!(shipped.kind, LearnedKind::SnrLopt);
    }

    #[test]
    fn a_non_finite_theta_is_refused() {
        let path = std::env::temp_dir().join(format!("pesto-saved-nan-{}.bin", std::process::id()));
        let kind = LearnedKind::MlpLopt;
        let mut theta = kind.init_theta(4);
        theta[7] = f32::NAN;
        SavedOptimizer { kind, theta, outer_steps: 1 }.save(&path).unwrap();
        assert_eq!(
            SavedOptimizer::load(&path).unwrap_err().to_string(),
            format!("checkpoint {}: theta[7] = NaN is not finite", path.display())
        );
        std::fs::remove_file(&path).unwrap();
    }
}
