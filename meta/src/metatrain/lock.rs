//! The exclusive lock a process holds on a run directory while it trains there, so two runs
//! never write one directory's checkpoints, log or config.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The lock file's name inside a run directory; it holds the owner's process id.
pub const LOCK_FILE: &str = "run.lock";

/// Why a run directory could not be locked.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another process trains in the directory.
    #[error("run directory {dir} is in use by process {holder} (lock file {file})")]
    Held { dir: PathBuf, holder: String, file: PathBuf },
    /// The lock file could not be created, read or locked.
    #[error("locking run directory {dir}: {file}: {error}")]
    Io { dir: PathBuf, file: PathBuf, error: std::io::Error },
}

/// An exclusive lock on a run directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Locks `dir`, which must exist, and writes this process's id into its lock file; an error
    /// names the directory and the holder's process id when another process has it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let file = dir.join(LOCK_FILE);
        let io = |error| LockError::Io { dir: dir.to_path_buf(), file: file.clone(), error };
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&file)
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "unknown".to_string(),
                    pid => pid.to_string(),
                };
                return Err(LockError::Held { dir: dir.to_path_buf(), holder, file });
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_directory_and_the_holder() {
        let dir = std::env::temp_dir().join(format!("pesto-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "run directory {} is in use by process {} (lock file {})",
                dir.display(),
                std::process::id(),
                dir.join(LOCK_FILE).display()
            )
        );
        drop(held);
        RunLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
