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
    /// How many of theta's values each row ends with (`theta_0`, `theta_1`, ...).
    theta_columns: usize,
}

impl CsvLog {
    /// Opens `path` for a run resuming after `start_step` outer steps: rows of later steps (left
    /// by a run that stopped after its last checkpoint) are dropped, so every step appears once.
    /// The kept rows are written to a temporary file, synced and renamed over `path`, so a kill
    /// or a full disk leaves either the old log or the new one.
    pub fn open(path: &Path, start_step: u64) -> io::Result<Self> {
        Self::with_theta(path, start_step, 0)
    }

    /// Opens `path` as `open` does, for rows that end with the first `theta_columns` values of
    /// theta (for systems with a few meta-parameters, whose trajectories are plotted).
    pub fn with_theta(path: &Path, start_step: u64, theta_columns: usize) -> io::Result<Self> {
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
        let theta: String = (0..theta_columns).map(|i| format!(",theta_{i}")).collect();
        durable::replace(path, format!("{HEADER}{theta}\n{kept}").as_bytes())
            .and_then(|()| OpenOptions::new().append(true).open(path))
            .map(|file| Self { path: path.to_path_buf(), out: BufWriter::new(file), theta_columns })
            .map_err(|err| named(path, err))
    }

    /// The records of a log written by `CsvLog` (without their `inner_steps`, which the log
    /// does not keep); an error names the first line that does not parse.
    pub fn read(path: &Path) -> io::Result<Vec<OuterRecord>> {
        let bytes = read::capped(path, read::DATA_CAP).map_err(|err| named(path, err))?;
        let text = String::from_utf8_lossy(&bytes);
        let invalid = |line: usize| {
            let message = format!("{}: line {line} is not a row of the log", path.display());
            io::Error::new(io::ErrorKind::InvalidData, message)
        };
        text.lines()
            .enumerate()
            .skip(1)
            .map(|(i, line)| parse_row(line).ok_or_else(|| invalid(i + 1)))
            .collect()
    }
}

/// One row of the log as a record, or `None` if it does not parse.
fn parse_row(line: &str) -> Option<OuterRecord> {
    let fields: Vec<&str> = line.split(',').collect();
    let (fixed, theta) = fields.split_at_checked(HEADER.split(',').count())?;
    let float = |i: usize| fixed[i].parse::<f64>().ok();
    Some(OuterRecord {
        step: fixed[0].parse().ok()?,
        meta_loss: float(1)?,
        grad_norm: float(2)?,
        theta_norm: float(3)?,
        inner_steps: 0,
        inner_steps_per_sec: float(4)?,
        reset_fraction: float(5)?,
        clip_fraction: float(6)?,
        heldout_loss: if fixed[7].is_empty() { None } else { Some(float(7)?) },
        update_skipped: fixed[8] == "1",
        theta: theta.iter().map(|t| t.parse().ok()).collect::<Option<_>>()?,
    })
}

impl Observer for CsvLog {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        let heldout = r.heldout_loss.map(|h| h.to_string()).unwrap_or_default();
        let written = write!(
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
        )
        .and_then(|()| {
            r.theta.iter().take(self.theta_columns).try_for_each(|t| write!(self.out, ",{t}"))
        })
        .and_then(|()| writeln!(self.out));
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
    fn a_log_with_theta_reads_back_as_it_was_written() {
        let path = std::env::temp_dir().join(format!("pesto-csv-read-{}.csv", std::process::id()));
        let record = |step| OuterRecord {
            step,
            meta_loss: 0.1 + step as f64 / 3.0,
            grad_norm: 1e-7,
            heldout_loss: (step % 2 == 0).then_some(f64::MAX),
            update_skipped: step == 3,
            theta: vec![-4.0 / step as f32, f32::MIN_POSITIVE, 9.0],
            ..OuterRecord::default()
        };
        let mut log = CsvLog::with_theta(&path, 0, 2).unwrap();
        (1..=4).try_for_each(|s| log.observe(&record(s))).unwrap();
        log.finish().unwrap();
        let read = CsvLog::read(&path).unwrap();
        let expected: Vec<OuterRecord> = (1..=4)
            .map(|s| OuterRecord { theta: record(s).theta[..2].to_vec(), ..record(s) })
            .collect();
        assert_eq!(read, expected);
        fs::write(&path, format!("{HEADER}\n1,0.5\n")).unwrap();
        let err = CsvLog::read(&path).unwrap_err().to_string();
        assert_eq!(err, format!("{}: line 2 is not a row of the log", path.display()));
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
