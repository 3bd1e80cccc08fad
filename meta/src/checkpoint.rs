//! Checkpoint files: a header (magic, format version, payload length, CRC-32) followed by the
//! bincode encoding of the run state. Written to a temporary file, fsynced and renamed into
//! place, so a crash never leaves a half-written file under a checkpoint's name.

use crate::durable;
use pesto_tasks::read;
use serde::{Serialize, de::DeserializeOwned};
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A kind of file in the checkpoint format, told apart by its first eight bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// First bytes of every file of this kind.
    pub magic: [u8; 8],
    /// What the file holds, as said in errors.
    pub what: &'static str,
    /// The version of this kind of file this build reads and writes.
    pub version: u32,
}

/// A meta-training run's whole state (version 2: optimizer states know the run length and hold
/// scalars; version 3: the count of skipped updates).
pub const RUN: Format = Format { magic: *b"PESTOCKP", what: "run checkpoint", version: 3 };
/// A learned optimizer alone: its kind and theta.
pub const OPTIMIZER: Format = Format { magic: *b"PESTOOPT", what: "optimizer file", version: 1 };
/// One method of a `repro` experiment: its settings and its outer-loop state.
pub const EXPERIMENT: Format =
    Format { magic: *b"PESTOEXP", what: "experiment checkpoint", version: 1 };
/// The index of a checkpoint written in shards: the run state without its particles, and each
/// shard's file, length and CRC-32 (`crate::distributed::shards`).
pub const MANIFEST: Format =
    Format { magic: *b"PESTOMAN", what: "checkpoint manifest", version: 1 };
/// The particles one process owns, one file of a checkpoint written in shards.
pub const SHARD: Format = Format { magic: *b"PESTOSHD", what: "checkpoint shard", version: 1 };
const FORMATS: [Format; 5] = [RUN, OPTIMIZER, EXPERIMENT, MANIFEST, SHARD];
const HEADER_LEN: usize = 8 + 4 + 8 + 4;
/// How the name of every checkpoint file starts.
pub const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".bin";

/// Why a checkpoint could not be written or read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The file system refused a read or write.
    #[error("checkpoint {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    /// Not the kind of pesto file expected.
    #[error("checkpoint {path}: not a pesto {expected} ({found})")]
    BadMagic { path: PathBuf, expected: &'static str, found: &'static str },
    /// Written by an incompatible version of pesto.
    #[error("checkpoint {path}: format version {found}, this build reads version {expected}")]
    WrongVersion { path: PathBuf, found: u32, expected: u32 },
    /// Shorter than its header says.
    #[error("checkpoint {path}: truncated ({found} bytes, expected {expected})")]
    Truncated { path: PathBuf, found: usize, expected: usize },
    /// The payload does not match its checksum.
    #[error("checkpoint {path}: corrupted (checksum mismatch)")]
    Corrupted { path: PathBuf },
    /// The payload does not decode as the state the file should hold.
    #[error("checkpoint {path}: cannot decode its {what}: {reason}")]
    Decode { path: PathBuf, what: &'static str, reason: String },
    /// The file decodes but holds a state that cannot be used (a non-finite theta, say).
    #[error("checkpoint {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// A shard a manifest names is missing or differs from what the manifest records.
    #[error("checkpoint {manifest}: shard {shard} {reason}")]
    Shard { manifest: PathBuf, shard: PathBuf, reason: String },
    /// A directory without any checkpoint file.
    #[error("no checkpoint in {dir}")]
    Missing { dir: PathBuf },
}

impl CheckpointError {
    /// True when the file given is at fault (damaged, wrong kind, missing), not the machine.
    pub fn is_user_input(&self) -> bool {
        match self {
            CheckpointError::Io { error, .. } => {
                use std::io::ErrorKind::{InvalidData, InvalidInput, NotFound};
                matches!(error.kind(), NotFound | InvalidInput | InvalidData)
            }
            _ => true,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io { path: path.to_path_buf(), error }
}

/// The file name of the checkpoint taken after `step` outer steps.
pub fn file_name(step: u64) -> String {
    format!("{PREFIX}{step:010}{SUFFIX}")
}

/// The bincode encoding of `state`, without a header.
pub fn payload<T: Serialize>(state: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(state, bincode::config::standard())
        .expect("run state contains only serialisable data")
}

/// Encodes `state` with the header of `format`.
pub fn encode<T: Serialize>(format: Format, state: &T) -> Vec<u8> {
    seal(format, &payload(state))
}

/// `payload` behind the header of `format`.
pub fn seal(format: Format, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(&format.magic);
    bytes.extend_from_slice(&format.version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Checks the header of a file of `format` read from `path` (magic, version, length) and its
/// checksum, and returns its payload.
pub fn verify<'a>(
    format: Format,
    bytes: &'a [u8],
    path: &Path,
) -> Result<&'a [u8], CheckpointError> {
    let path = path.to_path_buf();
    if !bytes.starts_with(&format.magic) {
        let other = FORMATS.iter().find(|f| bytes.starts_with(&f.magic));
        let found = other.map_or("unrecognised magic bytes", |f| f.what);
        return Err(CheckpointError::BadMagic { path, expected: format.what, found });
    }
    let word = |range: std::ops::Range<usize>| bytes.get(range).map(<[u8]>::to_vec);
    if let Some(version) = word(8..12) {
        let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
        if version != format.version {
            return Err(CheckpointError::WrongVersion {
                path,
                found: version,
                expected: format.version,
            });
        }
    }
    if bytes.len() < HEADER_LEN {
        return Err(CheckpointError::Truncated { path, found: bytes.len(), expected: HEADER_LEN });
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let expected = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(HEADER_LEN);
    if bytes.len() != expected {
        return Err(CheckpointError::Truncated { path, found: bytes.len(), expected });
    }
    let crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if crc32fast::hash(payload) != crc {
        return Err(CheckpointError::Corrupted { path });
    }
    Ok(payload)
}

/// Decodes a file of `format` read from `path`, checking magic, version, length and checksum.
pub fn decode<T: DeserializeOwned>(
    format: Format,
    bytes: &[u8],
    path: &Path,
) -> Result<T, CheckpointError> {
    decode_payload(format.what, verify(format, bytes, path)?, path)
}

/// Decodes the `payload` of a `what` read from `path`, all of it.
pub fn decode_payload<T: DeserializeOwned>(
    what: &'static str,
    payload: &[u8],
    path: &Path,
) -> Result<T, CheckpointError> {
    let decoded = bincode::serde::decode_from_slice(payload, bincode::config::standard());
    let reason = match decoded {
        Ok((state, used)) if used == payload.len() => return Ok(state),
        Ok((_, used)) => format!("{} unused bytes after it", payload.len() - used),
        Err(e) => e.to_string(),
    };
    Err(CheckpointError::Decode { path: path.to_path_buf(), what, reason })
}

/// Reads and decodes the file of `format` at `path`.
pub fn load<T: DeserializeOwned>(format: Format, path: &Path) -> Result<T, CheckpointError> {
    let bytes = read::capped(path, read::DATA_CAP).map_err(io_error(path))?;
    decode(format, &bytes, path)
}

/// Writes `state` to `path` in `format` through `durable::replace`, so `path` always holds
/// either the old or the new file.
pub fn write_atomic<T: Serialize>(
    format: Format,
    path: &Path,
    state: &T,
) -> Result<(), CheckpointError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    durable::replace(path, &encode(format, state)).map_err(io_error(path))
}

/// Writes `state` as the checkpoint of `format` for `step` in `dir`, then deletes the verified
/// checkpoints (header and checksum intact) older than the newest `keep` verified ones up to
/// `step`. Files that do not verify, and those of later steps, are neither counted nor
/// deleted, so the file just written is always kept. Returns the file's path.
pub fn save<T: Serialize>(
    format: Format,
    dir: &Path,
    step: u64,
    state: &T,
    keep: usize,
) -> Result<PathBuf, CheckpointError> {
    let path = dir.join(file_name(step));
    write_atomic(format, &path, state)?;
    let verified = |p: &PathBuf| *p <= path && verified(format, p);
    let good: Vec<PathBuf> = list(dir)?.into_iter().rev().filter(verified).collect();
    for old in good.iter().skip(keep.max(1)) {
        fs::remove_file(old).map_err(io_error(old))?;
    }
    Ok(path)
}

/// Whether the file at `path` reads as a file of `format` with its header and checksum intact.
pub fn verified(format: Format, path: &Path) -> bool {
    read::capped(path, read::DATA_CAP).is_ok_and(|bytes| verify(format, &bytes, path).is_ok())
}

/// The checkpoint files in `dir`, oldest first (none if `dir` does not exist).
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, CheckpointError> {
    list_ending(dir, SUFFIX)
}

/// The files of `dir` named `checkpoint-...` ending in `suffix`, sorted by name (so by step,
/// oldest first); none if `dir` does not exist.
pub fn list_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, CheckpointError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_error(dir)(err)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(suffix))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A checkpoint loaded from a directory, with the newer files that had to be skipped.
#[derive(Debug)]
pub struct Latest<T> {
    /// The decoded run state.
    pub state: T,
    /// The file it came from.
    pub path: PathBuf,
    /// Newer checkpoints that failed to load, newest first, each with its error.
    pub skipped: Vec<CheckpointError>,
}

/// Loads the newest checkpoint of `format` in `dir` that decodes and passes `check`, falling back past bad
/// ones; `check` says what is wrong with a state that decodes but cannot be used.
pub fn load_latest<T: DeserializeOwned>(
    format: Format,
    dir: &Path,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Latest<T>, CheckpointError> {
    load_newest(dir, list(dir)?.into_iter().rev(), |path| load(format, path), check)
}

/// The first of `paths` (checkpoints of `dir`, newest first) that `load` reads and that passes
/// `check`, with the errors of those before it; the newest error if none does.
pub fn load_newest<T>(
    dir: &Path,
    paths: impl IntoIterator<Item = PathBuf>,
    load: impl Fn(&Path) -> Result<T, CheckpointError>,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Latest<T>, CheckpointError> {
    let mut skipped = Vec::new();
    for path in paths {
        let loaded = load(&path).and_then(|state| match check(&state) {
            Ok(()) => Ok(state),
            Err(reason) => Err(CheckpointError::Invalid { path: path.clone(), reason }),
        });
        match loaded {
            Ok(state) => return Ok(Latest { state, path, skipped }),
            Err(err) => skipped.push(err),
        }
    }
    match skipped.into_iter().next() {
        Some(newest_error) => Err(newest_error),
        None => Err(CheckpointError::Missing { dir: dir.to_path_buf() }),
    }
}

/// An error naming the first value of `values` (the `what` of a state) that is not finite.
pub fn check_finite(what: &str, values: &[f32]) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("{what}[{i}] = {} is not finite", values[i])),
        None => Ok(()),
    }
}

/// The names of the files in `dir`, sorted (for tests).
#[cfg(test)]
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct State {
        step: u64,
        theta: Vec<f32>,
    }

    fn state(step: u64) -> State {
        State { step, theta: vec![0.5, -1.25, step as f32] }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pesto-ckpt-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trips_and_keeps_the_newest() {
        let dir = temp_dir("keep");
        for step in [10, 20, 30, 40] {
            save(RUN, &dir, step, &state(step), 2).unwrap();
        }
        let names: Vec<_> = list(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [file_name(30), file_name(40)]);
        let latest: Latest<State> = load_latest(RUN, &dir, |_| Ok(())).unwrap();
        assert_eq!(latest.state, state(40));
        assert!(latest.skipped.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_kind_of_damage_has_its_error() {
        let path = Path::new("run/checkpoint-0000000001.bin");
        let good = encode(RUN, &state(1));
        let err = |bytes: &[u8]| decode::<State>(RUN, bytes, path).unwrap_err().to_string();

        assert_eq!(
            err(&good[..good.len() - 3]),
            format!(
                "checkpoint {}: truncated ({} bytes, expected {})",
                path.display(),
                good.len() - 3,
                good.len()
            )
        );
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        assert_eq!(
            err(&flipped),
            format!("checkpoint {}: corrupted (checksum mismatch)", path.display())
        );
        let mut version = good.clone();
        version[8..12].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            err(&version),
            format!("checkpoint {}: format version 7, this build reads version 3", path.display())
        );
        assert_eq!(
            err(b"not a checkpoint at all"),
            format!(
                "checkpoint {}: not a pesto run checkpoint (unrecognised magic bytes)",
                path.display()
            )
        );
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 50]);
        let payload_len = (padded.len() - HEADER_LEN) as u64;
        padded[12..20].copy_from_slice(&payload_len.to_le_bytes());
        let crc = crc32fast::hash(&padded[HEADER_LEN..]);
        padded[20..24].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            err(&padded),
            format!(
                "checkpoint {}: cannot decode its run checkpoint: 50 unused bytes after it",
                path.display()
            )
        );
        assert_eq!(
            err(&encode(OPTIMIZER, &state(1))),
            format!("checkpoint {}: not a pesto run checkpoint (optimizer file)", path.display())
        );
    }

    #[test]
    fn falls_back_to_the_newest_good_checkpoint() {
        let dir = temp_dir("fallback");
        save(RUN, &dir, 1, &state(1), 5).unwrap();
        let newest = save(RUN, &dir, 2, &state(2), 5).unwrap();
        let bytes = fs::read(&newest).unwrap();
        fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
        let latest: Latest<State> = load_latest(RUN, &dir, |_| Ok(())).unwrap();
        assert_eq!(latest.state, state(1));
        assert_eq!(latest.skipped.len(), 1);
        assert!(matches!(latest.skipped[0], CheckpointError::Truncated { .. }));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_counts_only_verified_checkpoints() {
        let dir = temp_dir("retention");
        fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join(file_name(99));
        fs::write(&garbage, b"garbage").unwrap();
        let mut future = encode(RUN, &state(98));
        future[8..12].copy_from_slice(&9u32.to_le_bytes());
        fs::write(dir.join(file_name(98)), &future).unwrap();
        for step in [1, 2, 3] {
            save(RUN, &dir, step, &state(step), 1).unwrap();
        }
        let names: Vec<PathBuf> = list(&dir).unwrap();
        assert_eq!(names, [3, 98, 99].map(|s| dir.join(file_name(s))));
        let latest: Latest<State> = load_latest(RUN, &dir, |_| Ok(())).unwrap();
        assert_eq!((latest.state, latest.skipped.len()), (state(3), 2));
        // A verified checkpoint of a later step (another run's) is not counted either.
        save(RUN, &dir, 100, &state(100), 1).unwrap();
        fs::rename(dir.join(file_name(100)), dir.join(file_name(200))).unwrap();
        save(RUN, &dir, 4, &state(4), 1).unwrap();
        let names: Vec<PathBuf> = list(&dir).unwrap();
        assert_eq!(names, [4, 98, 99, 200].map(|s| dir.join(file_name(s))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_without_checkpoints_is_an_error() {
        let dir = temp_dir("empty");
        fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            load_latest::<State>(RUN, &dir, |_| Ok(())),
            Err(CheckpointError::Missing { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
        let missing = load_latest::<State>(RUN, &dir, |_| Ok(())).unwrap_err();
        assert_eq!(missing.to_string(), format!("no checkpoint in {}", dir.display()));
    }
}
