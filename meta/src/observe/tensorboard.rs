//! TensorBoard scalars through tensorboard-rs.

use super::{Observer, OuterRecord};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tensorboard_rs::summary_writer::SummaryWriter;

/// Directories where this process opened an event file, with the second it did so: the event
/// file's name holds only the second, host and process id, so a second writer opened in the same
/// directory within that second would overwrite the first one's file.
static OPENED: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Waits, if needed, until a new event file in `dir` cannot share its name with an earlier one.
fn claim_file_name(dir: &Path) {
    let mut opened = OPENED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let opened = opened.get_or_insert_with(HashMap::new);
    while opened.get(dir) == Some(&unix_seconds()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    opened.insert(dir.to_path_buf(), unix_seconds());
}

/// Writes the outer loop's scalars as TensorBoard events under `dir`. Events are only
/// guaranteed on disk once the writer is dropped, which `finish` does.
pub struct TensorBoard {
    writer: Option<SummaryWriter>,
}

impl TensorBoard {
    /// Opens a new event file in `dir`, creating the directory.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let probe = dir.join(".pesto-write-test");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        claim_file_name(dir);
        Ok(Self { writer: Some(SummaryWriter::new(dir)) })
    }
}

impl Observer for TensorBoard {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        let step = r.step as usize;
        let scalars = [
            ("meta/loss", Some(r.meta_loss)),
            ("meta/grad_norm", Some(r.grad_norm)),
            ("meta/theta_norm", Some(r.theta_norm)),
            ("speed/inner_steps_per_sec", Some(r.inner_steps_per_sec)),
            ("particles/reset_fraction", Some(r.reset_fraction)),
            ("particles/clip_fraction", Some(r.clip_fraction)),
            ("meta/heldout_loss", r.heldout_loss),
            ("meta/update_skipped", Some(f64::from(u8::from(r.update_skipped)))),
        ];
        for (tag, value) in scalars {
            if let Some(value) = value {
                writer.add_scalar(tag, value as f32, step);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer.flush();
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.writer.take();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The Python interpreter with TensorBoard installed: `PESTO_PYTHON`, else the workspace's
    /// `.venv` (see the README's test command).
    fn python() -> PathBuf {
        std::env::var_os("PESTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
    }

    const READ_SCALARS: &str = "
import json, sys
from tensorboard.backend.event_processing import event_accumulator
acc = event_accumulator.EventAccumulator(sys.argv[1])
acc.Reload()
print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()['scalars']}))
";

    #[test]
    fn tensorboard_reads_back_our_scalars() {
        let dir = std::env::temp_dir().join(format!("pesto-tb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut tb = TensorBoard::open(&dir).unwrap();
        for step in 1..=3 {
            let heldout_loss = (step == 2).then_some(0.25);
            let record = OuterRecord {
                step,
                meta_loss: 1.0 / step as f64,
                heldout_loss,
                ..Default::default()
            };
            tb.observe(&record).unwrap();
        }
        tb.finish().unwrap();

        let output = Command::new(python())
            .args(["-c", READ_SCALARS])
            .arg(&dir)
            .output()
            .expect("run Python: install TensorBoard as the README's test command does");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let scalars: HashMap<String, Vec<(u64, f64)>> =
            serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(scalars.len(), 8, "tags: {:?}", scalars.keys());
        let loss = &scalars["meta/loss"];
        assert_eq!(loss.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
        for &(step, value) in loss {
            assert!((value - 1.0 / step as f64).abs() < 1e-6);
        }
        assert_eq!(scalars["meta/heldout_loss"], [(2, 0.25)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn two_writers_in_one_second_keep_separate_files() {
        let dir = std::env::temp_dir().join(format!("pesto-tb2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for _ in 0..2 {
            let mut tb = TensorBoard::open(&dir).unwrap();
            tb.observe(&OuterRecord { step: 1, ..Default::default() }).unwrap();
            tb.finish().unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
