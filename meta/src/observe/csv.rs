//! A CSV log of the outer loop, one row per outer step.

use super::{Observer, OuterRecord};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

const HEADER: &str = "step,meta_loss,grad_norm,theta_norm,inner_steps_per_sec,reset_fraction,clip_fraction,heldout_loss";

/// Appends one row per outer step to a CSV file.
pub struct CsvLog {
    out: BufWriter<File>,
}

impl CsvLog {
    /// Opens `path` for a run resuming after `start_step` outer steps: rows of later steps (left
    /// by a run that stopped after its last checkpoint) are dropped, so every step appears once.
    pub fn open(path: &Path, start_step: u64) -> io::Result<Self> {
        let kept = match fs::read_to_string(path) {
            Ok(text) => text
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
            Err(err) => return Err(err),
        };
        let mut out =
            BufWriter::new(OpenOptions::new().create(true).write(true).truncate(true).open(path)?);
        writeln!(out, "{HEADER}")?;
        out.write_all(kept.as_bytes())?;
        Ok(Self { out })
    }
}

impl Observer for CsvLog {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        let heldout = r.heldout_loss.map(|h| h.to_string()).unwrap_or_default();
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{heldout}",
            r.step,
            r.meta_loss,
            r.grad_norm,
            r.theta_norm,
            r.inner_steps_per_sec,
            r.reset_fraction,
            r.clip_fraction
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
