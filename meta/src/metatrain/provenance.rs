//! Provenance of a run directory: `run.json` holds one entry per session (the start and each
//! resume) saying who ran what, with which build, on which machine. Results are bit-reproducible
//! only with the same kernel (instruction set), so it is recorded with the rest.

use crate::durable;
use pesto_tasks::read;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// The file of a run directory that records its sessions.
pub const PROVENANCE_FILE: &str = "run.json";

/// One session of a run: a start or a resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// When the session started (RFC 3339, UTC).
    pub started: String,
    /// The command line, program name first.
    pub command: Vec<String>,
    /// pesto's version.
    pub version: String,
    /// The git commit pesto was built from (`+dirty` with local changes; `unknown`).
    pub git_commit: String,
    /// The CPU model.
    pub cpu: String,
    /// The learned-optimizer kernel in use (`avx512`, `avx2` or `portable`).
    pub kernel: String,
    /// Worker threads.
    pub threads: usize,
    /// Processes taking part in the run.
    pub processes: usize,
    /// The machine's host name.
    pub host: String,
    /// Outer steps complete when the session started.
    pub start_step: u64,
    /// Outer steps the session was asked to reach.
    pub until: u64,
}

/// The whole of `run.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Provenance {
    sessions: Vec<Session>,
}

/// Appends `session` to `dir/run.json`, rewriting the file atomically (a kill leaves the old
/// file or the new one). A file that does not parse is an error, so no session is lost.
pub fn append(dir: &Path, session: Session) -> io::Result<()> {
    let path = dir.join(PROVENANCE_FILE);
    let mut provenance = match read::capped(&path, read::DATA_CAP) {
        Ok(bytes) => serde_json::from_slice::<Provenance>(&bytes).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
        })?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => Provenance::default(),
        Err(err) => return Err(err),
    };
    provenance.sessions.push(session);
    let json = serde_json::to_string_pretty(&provenance).expect("provenance serialises");
    durable::replace(&path, format!("{json}\n").as_bytes())
}

/// The machine's host name, or `unknown`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The CPU's model name (`model name` of /proc/cpuinfo), or `unknown`.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()))
        .map_or_else(|| "unknown".to_string(), str::to_string)
}

/// The load average over the last minute (/proc/loadavg), if the OS reports it.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The learned-optimizer kernel this CPU runs, in lower case.
pub fn kernel_name() -> String {
    format!("{:?}", pesto_tasks::simd::Simd::detect().isa()).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_accumulate_and_a_damaged_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("pesto-provenance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let session = |start_step| Session {
            started: "2026-01-01T00:00:00Z".into(),
            command: vec!["pesto".into(), "meta-train".into()],
            version: "0.1.0".into(),
            git_commit: "unknown".into(),
            cpu: cpu_model(),
            kernel: kernel_name(),
            threads: 2,
            processes: 1,
            host: host_name(),
            start_step,
            until: 10,
        };
        append(&dir, session(0)).unwrap();
        append(&dir, session(4)).unwrap();
        let text = std::fs::read_to_string(dir.join(PROVENANCE_FILE)).unwrap();
        let read: Provenance = serde_json::from_str(&text).unwrap();
        assert_eq!(read.sessions, [session(0), session(4)]);
        std::fs::write(dir.join(PROVENANCE_FILE), "{").unwrap();
        let err = append(&dir, session(8)).unwrap_err();
        assert!(err.to_string().starts_with(&dir.join(PROVENANCE_FILE).display().to_string()));
        assert_eq!(std::fs::read_to_string(dir.join(PROVENANCE_FILE)).unwrap(), "{");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
