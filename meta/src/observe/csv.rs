//! A CSV log of the outer loop, one row per outer step.

use super::{Observer, OuterRecord, named};
use crate::durable;
use pesto_tasks::read;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const HEADER: &str = "step,meta_loss,grad_norm,theta_norm,inner_steps_per_sec,reset_fraction,clip_fraction,heldout_loss,update_skipped";

/// Appends one row per outer step to a CSV file.
pub struct CsvLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl CsvLog {
    /// Opens `path` for a run resuming after `start_step` outer steps: rows of later steps (left
    /// by a run that stopped after its last checkpoint) are dropped, so every step appears once.
    /// The kept rows are written to a temporary file, synced and renamed over `path`, so a kill
    /// or a full disk leaves either the old log or the new one.
    pub fn open(path: &Path, start_step: u64) -> io::Result<Self> {
        let kept = match read::capped(path, read::DATA_CAP) {
            Ok(bytes) => String::from_utf8_lossy(&bytes)
                .lines()
                .skip(1)
                .filter(|line| {
                    line.split(',')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_some_and(|s| s <= start_step)
                })
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(named(path, err)),
        };
        durable::replace(path, format!("{HEADER}\n{kept}").as_bytes())
            .and_then(|()| OpenOptions::new().append(true).open(path))
            .map(|file| Self { path: path.to_path_buf(), out: BufWriter::new(file) })
            .map_err(|err| named(path, err))
    }
}

impl Observer for CsvLog {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        let heldout = r.heldout_loss.map(|h| h.to_string()).unwrap_or_default();
        let written = writeln!(
            self.out,
            "{},{},{},{},{},{},{},{heldout},{}",
            r.step,
            r.meta_loss,
            r.grad_norm,
            r.theta_norm,
            r.inner_steps_per_sec,
            r.reset_fraction,
            r.clip_fraction,
            u8::from(r.update_skipped)
        );
        written.map_err(|err| named(&self.path, err))
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.out.flush().and_then(|()| self.out.get_ref().sync_data());
        flushed.map_err(|err| named(&self.path, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn resuming_drops_rows_after_the_checkpoint() {
        let path = std::env::temp_dir().join(format!("pesto-csv-{}.csv", std::process::id()));
        let _ = fs::remove_file(&path);
        let record = |step| OuterRecord { step, meta_loss: 0.5, ..OuterRecord::default() };
        let mut log = CsvLog::open(&path, 0).unwrap();
        (1..=5).try_for_each(|s| log.observe(&record(s))).unwrap();
        log.finish().unwrap();
        let mut log = CsvLog::open(&path, 3).unwrap();
        log.observe(&record(4)).unwrap();
        log.finish().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let steps: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
        assert_eq!(steps, ["1", "2", "3", "4"]);
        assert!(text.starts_with(HEADER));
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_log_with_a_stray_byte_still_reopens() {
        let path = std::env::temp_dir().join(format!("pesto-csv-bytes-{}.csv", std::process::id()));
        fs::write(&path, b"header\n1,0.5\n2,0.\xff5\n3,0.5\n").unwrap();
        drop(CsvLog::open(&path, 2).unwrap());
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{HEADER}\n1,0.5\n2,0.\u{fffd}5\n"));
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_kept_rows_are_on_disk_before_any_new_row() {
        let path = std::env::temp_dir().join(format!("pesto-csv-kept-{}.csv", std::process::id()));
        let record = |step| OuterRecord { step, meta_loss: 0.5, ..OuterRecord::default() };
        let mut log = CsvLog::open(&path, 0).unwrap();
        (1..=5).try_for_each(|s| log.observe(&record(s))).unwrap();
        log.finish().unwrap();
        let before = fs::read_to_string(&path).unwrap();
        // A run killed right after reopening the log must find the kept rows on disk.
        let reopened = CsvLog::open(&path, 3).unwrap();
        let after = fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = before.lines().take(4).collect();
        assert_eq!(after.lines().collect::<Vec<_>>(), kept);
        drop(reopened);
        assert!(!durable::temporary_path(&path).exists());
        fs::remove_file(&path).unwrap();
    }
}
