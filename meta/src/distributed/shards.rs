//! Checkpoints written in shards (docs/cluster.md), for runs whose particles are too many to
//! gather on one process: each process writes the particles it owns to its own file, and once
//! every process has written its own, rank 0 writes a manifest holding the rest of the state
//! and each shard's name, length and CRC-32, last. A sharded checkpoint counts only when its
//! manifest verifies and every shard it names matches it, so a crash while writing leaves the
//! previous checkpoint as the newest good one.

use super::{gather, is_root, rank, size};
use crate::checkpoint::{self, CheckpointError, Format, MANIFEST, PREFIX, SHARD};
use crate::durable;
use pesto_tasks::read;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// How a manifest's file name ends.
const MANIFEST_SUFFIX: &str = ".manifest";
/// How a shard's file name ends.
const SHARD_SUFFIX: &str = ".shard";

/// What a manifest records of one shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ShardEntry {
    /// The shard's file name, in the manifest's directory.
    file: String,
    /// Its length in bytes.
    bytes: u64,
    /// The CRC-32 of the whole file.
    crc32: u32,
}

/// The last file of a sharded checkpoint.
#[derive(Serialize, Deserialize)]
struct Manifest {
    /// Outer steps completed.
    step: u64,
    /// One shard per process, in rank order (so in particle order).
    shards: Vec<ShardEntry>,
    /// The state without its particles, encoded.
    head: Vec<u8>,
}

/// A sharded checkpoint read back and checked against its manifest.
#[derive(Debug)]
pub struct Sharded {
    /// The state without its particles, encoded.
    pub head: Vec<u8>,
    /// Each shard's path and payload (the particles of one process, encoded), in rank order.
    pub shards: Vec<(PathBuf, Vec<u8>)>,
}

/// The file name of the manifest of the checkpoint taken after `step` outer steps.
pub fn manifest_name(step: u64) -> String {
    format!("{PREFIX}{step:010}{MANIFEST_SUFFIX}")
}

/// The file name of process `rank`'s shard, of `size`, of the checkpoint of `step`.
fn shard_name(step: u64, rank: usize, size: usize) -> String {
    format!("{PREFIX}{step:010}.{rank}-of-{size}{SHARD_SUFFIX}")
}

/// Whether `path` names a manifest.
pub fn is_manifest(path: &Path) -> bool {
    path.to_string_lossy().ends_with(MANIFEST_SUFFIX)
}

/// The manifests in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, CheckpointError> {
    checkpoint::list_ending(dir, MANIFEST_SUFFIX)
}

/// The outer step a checkpoint file of any kind was taken after, from its name.
fn step_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_prefix(PREFIX)?;
    name.get(..10)?.parse().ok()
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io { path: path.to_path_buf(), error }
}

/// Writes this process's `shard` (the particles it owns, encoded) as its file of the
/// checkpoint of `step` in `dir`, returning what the manifest records of it.
fn write_shard(dir: &Path, step: u64, shard: &[u8]) -> Result<ShardEntry, CheckpointError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let file = shard_name(step, rank(), size());
    let path = dir.join(&file);
    let bytes = checkpoint::seal(SHARD, shard);
    durable::replace(&path, &bytes).map_err(io_error(&path))?;
    Ok(ShardEntry { file, bytes: bytes.len() as u64, crc32: crc32fast::hash(&bytes) })
}

/// Writes the checkpoint of `step` into `dir` in shards; collective. Every process writes
/// `shard`, the particles it owns, to its own file; rank 0, once every process has written its
/// shard, writes the manifest with `head()` (the state without its particles) last, then
/// removes the checkpoints older than the newest `keep` (counting gathered files of `format`
/// too). Returns the manifest's path on rank 0. A process whose shard fails returns its error,
/// and rank 0 then writes no manifest.
pub fn save(
    format: Format,
    dir: &Path,
    step: u64,
    head: impl FnOnce() -> Vec<u8>,
    shard: &[u8],
    keep: usize,
) -> Result<Option<PathBuf>, CheckpointError> {
    let written = write_shard(dir, step, shard);
    let report = || checkpoint::payload(&written.as_ref().ok());
    let reports = gather(report).unwrap_or_else(|| vec![report()]);
    let entry = written?;
    if !is_root() {
        return Ok(None);
    }
    let mut shards = Vec::with_capacity(reports.len());
    for report in &reports {
        let decoded = checkpoint::decode_payload::<Option<ShardEntry>>("shard report", report, dir);
        match decoded.expect("a report from a process of this job decodes") {
            Some(entry) => shards.push(entry),
            // The process whose shard failed reports its error and ends the job.
            None => return Ok(None),
        }
    }
    debug_assert_eq!(shards[0], entry);
    let path = dir.join(manifest_name(step));
    checkpoint::write_atomic(MANIFEST, &path, &Manifest { step, shards, head: head() })?;
    prune(format, dir, step, keep)?;
    Ok(Some(path))
}

/// Reads the manifest at `path` and the shards it names, checking each shard's length and
/// CRC-32 against the manifest and its own header.
pub fn load(path: &Path) -> Result<Sharded, CheckpointError> {
    let manifest: Manifest = checkpoint::load(MANIFEST, path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut shards = Vec::with_capacity(manifest.shards.len());
    for entry in &manifest.shards {
        let shard = shard_path(path, dir, entry)?;
        let fail = |reason: String| CheckpointError::Shard {
            manifest: path.to_path_buf(),
            shard: shard.clone(),
            reason,
        };
        let bytes = match read::capped(&shard, read::DATA_CAP) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail("is missing".into()));
            }
            Err(err) => return Err(fail(format!("cannot be read: {err}"))),
        };
        if bytes.len() as u64 != entry.bytes {
            let found = bytes.len();
            return Err(fail(format!("has {found} bytes, the manifest records {}", entry.bytes)));
        }
        if crc32fast::hash(&bytes) != entry.crc32 {
            return Err(fail("does not match the checksum the manifest records".into()));
        }
        let payload = checkpoint::verify(SHARD, &bytes, &shard)?.to_vec();
        shards.push((shard, payload));
    }
    Ok(Sharded { head: manifest.head, shards })
}

/// The path of the shard `entry` of the manifest at `path` in `dir`; an error for a name that
/// is not a shard's file name in that directory.
fn shard_path(path: &Path, dir: &Path, entry: &ShardEntry) -> Result<PathBuf, CheckpointError> {
    let plain = entry.file.starts_with(PREFIX)
        && entry.file.ends_with(SHARD_SUFFIX)
        && !entry.file.contains(['/', '\\']);
    match plain {
        true => Ok(dir.join(&entry.file)),
        false => Err(CheckpointError::Invalid {
            path: path.to_path_buf(),
            reason: format!("names {:?}, not a shard file", entry.file),
        }),
    }
}

/// The manifest at `path` when it verifies and every shard it names exists with the length it
/// records (the checksums are checked when it is loaded).
fn intact(path: &Path) -> Option<Manifest> {
    let manifest: Manifest = checkpoint::load(MANIFEST, path).ok()?;
    let dir = path.parent()?;
    let complete = manifest.shards.iter().all(|entry| {
        shard_path(path, dir, entry)
            .is_ok_and(|s| fs::metadata(s).is_ok_and(|m| m.len() == entry.bytes))
    });
    complete.then_some(manifest)
}

/// Removes from `dir` the good checkpoints, gathered files of `format` and sharded ones alike,
/// older than the newest `keep` up to `step`, and every shard of a step up to `step` that no
/// kept manifest names (left by an interrupted checkpoint). Checkpoints that do not verify are
/// neither counted nor removed, as `checkpoint::save` does. Nothing to do, and nothing read, in
/// a directory without shards or manifests.
pub fn prune(format: Format, dir: &Path, step: u64, keep: usize) -> Result<(), CheckpointError> {
    let (manifests, shards) = (list(dir)?, checkpoint::list_ending(dir, SHARD_SUFFIX)?);
    if manifests.is_empty() && shards.is_empty() {
        return Ok(());
    }
    let mut candidates: Vec<PathBuf> =
        checkpoint::list(dir)?.into_iter().chain(manifests).collect();
    candidates.retain(|p| step_of(p).is_some_and(|s| s <= step));
    candidates.sort();
    let mut named = Vec::new();
    let mut kept = 0;
    for path in candidates.into_iter().rev() {
        let manifest = match is_manifest(&path) {
            true => match intact(&path) {
                Some(manifest) => Some(manifest),
                None => continue,
            },
            false if checkpoint::verified(format, &path) => None,
            false => continue,
        };
        if kept < keep.max(1) {
            kept += 1;
            named.extend(manifest.into_iter().flat_map(|m| m.shards).map(|e| dir.join(e.file)));
        } else {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    for shard in shards {
        if step_of(&shard).is_some_and(|s| s <= step) && !named.contains(&shard) {
            fs::remove_file(&shard).map_err(io_error(&shard))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::threads;
    use super::*;
    use crate::checkpoint::{RUN, names};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pesto-shards-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// Saves the checkpoint of `step` in `dir` from `size` threads standing in for processes,
    /// each writing its rank repeated `rank + 1` times as its shard; returns rank 0's result.
    fn save_from(size: usize, dir: &Path, step: u64, keep: usize) -> Option<PathBuf> {
        let mut saved = threads::run(size, usize::MAX, |rank, _| {
            let shard = vec![rank as u8; rank + 1];
            let head = || format!("head of {step}").into_bytes();
            save(RUN, dir, step, head, &shard, keep).unwrap()
        });
        assert!(saved[1..].iter().all(Option::is_none));
        saved.swap_remove(0)
    }

    #[test]
    fn every_process_writes_its_shard_and_rank_0_the_manifest() {
        let dir = temp_dir("write");
        let manifest = save_from(3, &dir, 7, 2).unwrap();
        assert_eq!(manifest, dir.join("checkpoint-0000000007.manifest"));
        assert_eq!(
            names(&dir),
            [
                "checkpoint-0000000007.0-of-3.shard",
                "checkpoint-0000000007.1-of-3.shard",
                "checkpoint-0000000007.2-of-3.shard",
                "checkpoint-0000000007.manifest",
            ]
        );
        let sharded = load(&manifest).unwrap();
        assert_eq!(sharded.head, b"head of 7");
        let payloads: Vec<Vec<u8>> = sharded.shards.into_iter().map(|s| s.1).collect();
        assert_eq!(payloads, [vec![0], vec![1, 1], vec![2, 2, 2]]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_or_damaged_shard_is_named() {
        let dir = temp_dir("damage");
        let manifest = save_from(2, &dir, 3, 5).unwrap();
        let shard = dir.join("checkpoint-0000000003.1-of-2.shard");
        let good = fs::read(&shard).unwrap();
        let err = |bytes: Option<&[u8]>| {
            match bytes {
                Some(bytes) => fs::write(&shard, bytes).unwrap(),
                None => fs::remove_file(&shard).unwrap(),
            }
            load(&manifest).unwrap_err().to_string()
        };
        let prefix = format!("checkpoint {}: shard {} ", manifest.display(), shard.display());
        assert_eq!(err(None), format!("{prefix}is missing"));
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            err(Some(&flipped)),
            format!("{prefix}does not match the checksum the manifest records")
        );
        assert_eq!(
            err(Some(&good[..good.len() - 1])),
            format!("{prefix}has {} bytes, the manifest records {}", good.len() - 1, good.len())
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_without_its_manifest_does_not_count_and_its_shards_go() {
        let dir = temp_dir("retention");
        for step in [1, 2, 3] {
            save_from(2, &dir, step, 2);
        }
        // Shards of step 4 whose manifest was never written, and a damaged manifest of step 5.
        fs::write(dir.join(shard_name(4, 0, 2)), b"left by a crash").unwrap();
        fs::write(dir.join(manifest_name(5)), b"PESTOMAN damaged").unwrap();
        assert_eq!(list(&dir).unwrap().len(), 3);
        save_from(3, &dir, 6, 2);
        assert_eq!(
            names(&dir),
            [
                "checkpoint-0000000003.0-of-2.shard",
                "checkpoint-0000000003.1-of-2.shard",
                "checkpoint-0000000003.manifest",
                "checkpoint-0000000005.manifest",
                "checkpoint-0000000006.0-of-3.shard",
                "checkpoint-0000000006.1-of-3.shard",
                "checkpoint-0000000006.2-of-3.shard",
                "checkpoint-0000000006.manifest",
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_shard_that_fails_leaves_no_manifest_and_fails_its_process() {
        let dir = temp_dir("fails");
        fs::create_dir_all(&dir).unwrap();
        let blocked = dir.join("a file, not a directory");
        fs::write(&blocked, b"").unwrap();
        let results = threads::run(2, usize::MAX, |rank, _| {
            let target = if rank == 1 { blocked.join("checkpoints") } else { dir.clone() };
            save(RUN, &target, 4, Vec::new, b"mine", 2).map_err(|e| e.to_string())
        });
        assert_eq!(results[0], Ok(None));
        assert!(results[1].as_ref().unwrap_err().starts_with("checkpoint "), "{results:?}");
        assert!(list(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_manifest_cannot_name_a_file_elsewhere() {
        let dir = temp_dir("escape");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(manifest_name(1));
        let entry = ShardEntry { file: "../checkpoint-x.shard".into(), bytes: 0, crc32: 0 };
        let manifest = Manifest { step: 1, shards: vec![entry], head: Vec::new() };
        checkpoint::write_atomic(MANIFEST, &path, &manifest).unwrap();
        assert_eq!(
            load(&path).unwrap_err().to_string(),
            format!(
                "checkpoint {}: names \"../checkpoint-x.shard\", not a shard file",
                path.display()
            )
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
