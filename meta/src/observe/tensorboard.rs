//! TensorBoard events: the outer loop's scalars, and the run's config as text and as hparams.
//! An event file of TFRecords holding `Event` protos, framed by tensorboard-rs's record writer
//! and written on this thread, so that every I/O error comes back as an error naming the file
//! (tensorboard-rs's own writer thread panics on one).

use super::{Observer, OuterRecord, named, run_name};
use protobuf::well_known_types::Value;
use protobuf::{Message, RepeatedField};
use serde::Serialize;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tensorboard_proto::event::Event;
use tensorboard_proto::plugin_hparams::{HParamsPluginData, SessionStartInfo};
use tensorboard_proto::plugin_text::TextPluginData;
use tensorboard_proto::summary::{
    Summary, Summary_Value, SummaryMetadata, SummaryMetadata_PluginData,
};
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::tensor_shape::{TensorShapeProto, TensorShapeProto_Dim};
use tensorboard_proto::types::DataType;
use tensorboard_rs::record_writer::RecordWriter;
use tensorboard_rs::summary::scalar;

/// Writes the outer loop's scalars as TensorBoard events to a new event file in a directory,
/// created with the first outer step (a session that takes no step leaves no file). Events are
/// on disk once `flush` (called with each checkpoint) or `finish` returns.
pub struct TensorBoard {
    dir: PathBuf,
    file: Option<(PathBuf, BufWriter<File>)>,
    /// Events written at the start of the file, before the first step's scalars.
    header: Vec<Event>,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl TensorBoard {
    /// Events in `dir`, creating the directory now and the event file with the first step.
    /// The file is named after the second, the process and a counter, which a later writer in
    /// the same second increments.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
        let mut version = Event::new();
        version.set_wall_time(now());
        version.set_file_version("brain.Event:2".to_string());
        Ok(Self { dir: dir.to_path_buf(), file: None, header: vec![version] })
    }

    /// Events of the run in `run_dir`, in `run_dir/tensorboard/NAME` with NAME the run
    /// directory's name, which is what `tensorboard --logdir run_dir/tensorboard` calls the run.
    pub fn for_run(run_dir: &Path) -> io::Result<Self> {
        Self::open(&run_dir.join("tensorboard").join(run_name(run_dir)))
    }

    /// The same writer, also recording `config` at step 0: as text (TOML, or JSON where TOML
    /// cannot hold it) under the tag `config`, and as hparams (one per scalar field, named by
    /// its dotted path; arrays as their JSON text).
    pub fn with_config(mut self, config: &impl Serialize) -> io::Result<Self> {
        // Through JSON text, so that an f32 field keeps its shortest decimal form (0.01, not
        // 0.009999999776482582).
        let json = serde_json::to_string(config).map_err(io::Error::other)?;
        let values: serde_json::Value = serde_json::from_str(&json).map_err(io::Error::other)?;
        let text = toml::to_string(config)
            .or_else(|_| serde_json::to_string_pretty(&values))
            .map_err(io::Error::other)?;
        let mut hparams = HashMap::new();
        flatten("", &values, &mut hparams);
        self.header.push(event(0, config_text(&text)));
        self.header.push(event(0, session_start(hparams)));
        Ok(self)
    }

    /// Writes `event`, first creating the file with the header events if there is none yet.
    fn write(&mut self, event: &Event) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(create(&self.dir)?);
            std::mem::take(&mut self.header).iter().try_for_each(|e| self.write(e))?;
        }
        let (path, out) = self.file.as_mut().expect("the file was just created");
        let bytes = event.write_to_bytes().map_err(io::Error::other);
        bytes.and_then(|bytes| RecordWriter::new(out).write(&bytes)).map_err(|e| named(path, e))
    }
}

/// A new event file in `dir`.
fn create(dir: &Path) -> io::Result<(PathBuf, BufWriter<File>)> {
    let stem = format!("events.out.tfevents.{:010}.pesto.{}", now() as u64, std::process::id());
    let mut n = 0;
    loop {
        let path = dir.join(format!("{stem}.{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, BufWriter::new(file))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(named(&path, e)),
        }
    }
}

/// An event at `step`, now, holding `summary`.
fn event(step: u64, summary: Summary) -> Event {
    let mut event = Event::new();
    event.set_wall_time(now());
    event.set_step(i64::try_from(step).unwrap_or(i64::MAX));
    event.set_summary(summary);
    event
}

/// A summary of one value under `tag`, owned by the TensorBoard plugin `plugin` with its
/// serialised plugin data `content`, holding `tensor`.
fn plugin_summary(tag: &str, plugin: &str, content: Vec<u8>, tensor: TensorProto) -> Summary {
    let mut data = SummaryMetadata_PluginData::new();
    data.set_plugin_name(plugin.to_string());
    data.set_content(content);
    let mut metadata = SummaryMetadata::new();
    metadata.set_plugin_data(data);
    let mut value = Summary_Value::new();
    value.set_tag(tag.to_string());
    value.set_metadata(metadata);
    value.set_tensor(tensor);
    let mut summary = Summary::new();
    summary.set_value(RepeatedField::from(vec![value]));
    summary
}

/// The text plugin's summary of `text` under the tag `config`, indented as a Markdown code
/// block so that it shows as written.
fn config_text(text: &str) -> Summary {
    let block: String = text.lines().map(|l| format!("    {l}\n")).collect();
    let mut tensor = TensorProto::new();
    tensor.set_dtype(DataType::DT_STRING);
    tensor.set_string_val(RepeatedField::from(vec![block.into_bytes()]));
    let content = TextPluginData::new().write_to_bytes().expect("an empty message serialises");
    plugin_summary("config", "text", content, tensor)
}

/// The hparams plugin's session-start summary holding `hparams`.
fn session_start(hparams: HashMap<String, Value>) -> Summary {
    let mut start = SessionStartInfo::new();
    start.set_hparams(hparams);
    start.set_start_time_secs(now());
    let mut data = HParamsPluginData::new();
    data.set_session_start_info(start);
    let content = data.write_to_bytes().expect("plugin data serialises");
    // The plugin's null tensor: an empty float vector.
    let mut dim = TensorShapeProto_Dim::new();
    dim.set_size(0);
    let mut shape = TensorShapeProto::new();
    shape.set_dim(RepeatedField::from(vec![dim]));
    let mut tensor = TensorProto::new();
    tensor.set_dtype(DataType::DT_FLOAT);
    tensor.set_tensor_shape(shape);
    plugin_summary("_hparams_/session_start_info", "hparams", content, tensor)
}

/// Adds the scalars of `value` to `out`, named by their dotted paths below `prefix`; arrays
/// become their JSON text and nulls are left out.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut HashMap<String, Value>) {
    let mut scalar = Value::new();
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&name, field, out);
            }
            return;
        }
        serde_json::Value::Null => return,
        serde_json::Value::Bool(b) => scalar.set_bool_value(*b),
        serde_json::Value::Number(n) => scalar.set_number_value(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => scalar.set_string_value(s.clone()),
        serde_json::Value::Array(_) => scalar.set_string_value(value.to_string()),
    }
    out.insert(prefix.to_string(), scalar);
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
        for (tag, value) in scalars {
            if let Some(value) = value {
                self.write(&event(r.step, scalar(tag, value as f32)))?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some((path, out)) = &mut self.file else { return Ok(()) };
        out.flush().and_then(|()| out.get_ref().sync_data()).map_err(|e| named(path, e))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::process::Command;

    /// The Python interpreter with TensorBoard installed: `PESTO_PYTHON`, else the workspace's
    /// `.venv` (see the README's test command).
    pub(crate) fn python() -> PathBuf {
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

    const READ_RUNS: &str = "
import json, sys
from google.protobuf import json_format
from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.plugins.hparams import metadata
from tensorboard.util import tensor_util
runs = event_multiplexer.EventMultiplexer()
runs.AddRunsFromDirectory(sys.argv[1])
runs.Reload()
out = {}
for name in runs.Runs():
    acc = runs.GetAccumulator(name)
    text = [tensor_util.make_ndarray(e.tensor_proto).item().decode() for e in acc.Tensors('config')]
    start = acc.PluginTagToContent('hparams')['_hparams_/session_start_info']
    info = metadata.parse_session_start_info_plugin_data(start)
    hparams = json_format.MessageToDict(info)['hparams']
    out[name] = {'text': text, 'hparams': hparams, 'scalars': sorted(acc.Tags()['scalars'])}
print(json.dumps(out))
";

    #[test]
    fn a_run_is_named_by_its_directory_and_records_its_config_as_text_and_hparams() {
        let root = std::env::temp_dir().join(format!("pesto-tb-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = root.join("quick");
        #[derive(Serialize)]
        struct Estimator {
            kind: &'static str,
            sigma: f32,
        }
        #[derive(Serialize)]
        struct Config {
            seed: u64,
            stagger: bool,
            horizon: [u64; 2],
            estimator: Estimator,
        }
        let estimator = Estimator { kind: "pes", sigma: 0.01 };
        let config = Config { seed: 3, stagger: true, horizon: [100, 2000], estimator };
        let mut tb = TensorBoard::for_run(&run).unwrap().with_config(&config).unwrap();
        tb.observe(&OuterRecord { step: 1, meta_loss: 0.5, ..Default::default() }).unwrap();
        tb.finish().unwrap();

        let output = Command::new(python())
            .args(["-c", READ_RUNS])
            .arg(run.join("tensorboard"))
            .output()
            .expect("run Python: install TensorBoard as the README's test command does");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let quick = &runs["quick"];
        assert_eq!(runs.as_object().unwrap().len(), 1, "{runs}");
        let text = quick["text"][0].as_str().unwrap();
        assert!(text.contains("    seed = 3\n") && text.contains("    [estimator]\n"), "{text}");
        assert_eq!(
            quick["hparams"],
            serde_json::json!({
                "seed": 3.0,
                "stagger": true,
                "horizon": "[100,2000]",
                "estimator.kind": "pes",
                "estimator.sigma": 0.01,
            })
        );
        assert_eq!(quick["scalars"].as_array().unwrap().len(), 7);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_session_without_steps_leaves_no_event_file() {
        let run = std::env::temp_dir().join(format!("pesto-tb-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let mut tb = TensorBoard::for_run(&run).unwrap();
        tb.flush().unwrap();
        tb.finish().unwrap();
        let dir = run.join("tensorboard").join(run_name(&run));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&run).unwrap();
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
