//! TensorBoard scalars: an event file of TFRecords holding `Event` protos, framed by
//! tensorboard-rs's record writer and written on this thread, so that every I/O error comes back
//! as an error naming the file (tensorboard-rs's own writer thread panics on one).

use super::{Observer, OuterRecord, named};
use protobuf::Message;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::Event;
use tensorboard_rs::record_writer::RecordWriter;
use tensorboard_rs::summary::scalar;

/// Writes the outer loop's scalars as TensorBoard events to a new event file under a directory.
/// Events are on disk once `flush` (called with each checkpoint) or `finish` returns.
pub struct TensorBoard {
    path: PathBuf,
    out: BufWriter<File>,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl TensorBoard {
    /// Opens a new event file in `dir`, creating the directory. The file is named after the
    /// second, the process and a counter, which a later writer in the same second increments.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
        let stem = format!("events.out.tfevents.{:010}.pesto.{}", now() as u64, std::process::id());
        let mut n = 0;
        let (path, file) = loop {
            let path = dir.join(format!("{stem}.{n}"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(named(&path, e)),
            }
        };
        let mut tb = Self { path, out: BufWriter::new(file) };
        let mut version = Event::new();
        version.set_wall_time(now());
        version.set_file_version("brain.Event:2".to_string());
        tb.write(&version)?;
        Ok(tb)
    }

    fn write(&mut self, event: &Event) -> io::Result<()> {
        let bytes = event.write_to_bytes().map_err(io::Error::other);
        bytes
            .and_then(|bytes| RecordWriter::new(&mut self.out).write(&bytes))
            .map_err(|e| named(&self.path, e))
    }
}

impl Observer for TensorBoard {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
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
        let wall_time = now();
        for (tag, value) in scalars {
            if let Some(value) = value {
                let mut event = Event::new();
                event.set_wall_time(wall_time);
                event.set_step(i64::try_from(r.step).unwrap_or(i64::MAX));
                event.set_summary(scalar(tag, value as f32));
                self.write(&event)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| named(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
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
