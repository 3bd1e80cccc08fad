//! A learned optimizer as named tensors, for use outside pesto: a safetensors file or a JSON
//! document holding theta split into the tensors of `LearnedKind::tensors`, with metadata
//! (docs/files.md).

use crate::checkpoint::CheckpointError;
use crate::metatrain::CONFIG_FILE;
use crate::optim::{SAVED_OPTIMIZER_FILE, SavedOptimizer};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Version of the exported layout: tensor names and metadata keys.
pub const FORMAT_VERSION: u32 = 1;

/// An optimizer to export and, when it comes from a run directory, the CRC-32 of the run's
/// config.toml.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// The optimizer.
    pub saved: SavedOptimizer,
    /// CRC-32 of the config.toml beside the optimizer file, if there is one.
    pub config_crc32: Option<u32>,
}

impl Export {
    /// The optimizer file at `path`, or the current optimizer of the run directory `path`, with
    /// the CRC-32 of the config.toml in the file's directory when there is one.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let saved = SavedOptimizer::load(path)?;
        let file = if path.is_dir() { path.join(SAVED_OPTIMIZER_FILE) } else { path.into() };
        let config = file.parent().unwrap_or(Path::new(".")).join(CONFIG_FILE);
        let config_crc32 = match std::fs::read(&config) {
            Ok(bytes) => Some(crc32fast::hash(&bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(CheckpointError::Io { path: config, error }),
        };
        Ok(Self { saved, config_crc32 })
    }

    /// The metadata: `format` (`pesto-optimizer`), `format_version`, `kind`, `theta_dim`,
    /// `outer_steps`, `feature_definition` and, from a run, `config_crc32` (8 hex digits).
    pub fn metadata(&self) -> BTreeMap<&'static str, String> {
        let kind = self.saved.kind;
        let mut metadata = BTreeMap::from([
            ("format", "pesto-optimizer".to_string()),
            ("format_version", FORMAT_VERSION.to_string()),
            ("kind", kind.to_string()),
            ("theta_dim", kind.theta_dim().to_string()),
            ("outer_steps", self.saved.outer_steps.to_string()),
            ("feature_definition", kind.feature_definition().to_string()),
        ]);
        if let Some(crc) = self.config_crc32 {
            metadata.insert("config_crc32", format!("{crc:08x}"));
        }
        metadata
    }

    /// The tensors' names, shapes and values, in theta's order.
    fn tensors(&self) -> impl Iterator<Item = (&'static str, &'static [usize], &[f32])> {
        let theta = &self.saved.theta;
        self.saved.kind.tensors().iter().map(|t| (t.name, t.shape, t.values(theta)))
    }

    /// The safetensors file: one little-endian F32 tensor per named tensor, and the metadata as
    /// `__metadata__`.
    pub fn safetensors(&self) -> Vec<u8> {
        let bytes: Vec<(&str, &[usize], Vec<u8>)> = self
            .tensors()
            .map(|(name, shape, values)| {
                (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            })
            .collect();
        let views = bytes.iter().map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.to_vec(), data)
                .expect("a tensor's values fill its shape");
            (*name, view)
        });
        let metadata: HashMap<String, String> =
            self.metadata().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        safetensors::serialize(views, Some(metadata)).expect("tensor names are distinct")
    }

    /// The JSON document, on one line: `metadata`, then `tensors` mapping each name, in theta's
    /// order, to its `shape` and row-major `values` (each the shortest decimal of its f32).
    pub fn json(&self) -> String {
        let tensors = self.tensors().map(|(name, shape, values)| (name, Tensor { shape, values }));
        let document = Document { metadata: self.metadata(), tensors: Tensors(tensors.collect()) };
        serde_json::to_string(&document).expect("JSON values serialise") + "\n"
    }
}

/// The JSON document of an export.
#[derive(Serialize)]
struct Document<'a> {
    metadata: BTreeMap<&'static str, String>,
    tensors: Tensors<'a>,
}

/// Named tensors, serialised as a map in their order.
struct Tensors<'a>(Vec<(&'static str, Tensor<'a>)>);

impl Serialize for Tensors<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, tensor)| (name, tensor)))
    }
}

/// One tensor of the JSON document.
#[derive(Serialize)]
struct Tensor<'a> {
    shape: &'static [usize],
    values: &'a [f32],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::LearnedKind;
    use safetensors::SafeTensors;
    use serde_json::{Value, json};

    fn exports() -> Vec<Export> {
        let mut exports = vec![Export { saved: SavedOptimizer::pretrained(), config_crc32: None }];
        for kind in LearnedKind::ALL {
            let saved = SavedOptimizer { kind, theta: kind.init_theta(5), outer_steps: 7 };
            exports.push(Export { saved, config_crc32: Some(0xdead_beef) });
        }
        exports
    }

    #[test]
    fn safetensors_read_back_to_theta_and_the_metadata() {
        for export in exports() {
            let bytes = export.safetensors();
            let file = SafeTensors::deserialize(&bytes).unwrap();
            let kind = export.saved.kind;
            let mut theta = vec![f32::NAN; kind.theta_dim()];
            for tensor in kind.tensors() {
                let view = file.tensor(tensor.name).unwrap();
                assert_eq!((view.dtype(), view.shape()), (Dtype::F32, tensor.shape));
                let values =
                    view.data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()));
                theta[tensor.offset..tensor.offset + tensor.size()]
                    .iter_mut()
                    .zip(values)
                    .for_each(|(t, v)| *t = v);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&theta), bits(&export.saved.theta), "{kind}");
            assert_eq!(file.names().len(), kind.tensors().len());
            let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
            let metadata = header.metadata().clone().unwrap();
            let expected = export.metadata().into_iter().map(|(k, v)| (k.to_string(), v));
            assert_eq!(metadata, expected.collect());
        }
    }

    #[test]
    fn json_reads_back_to_theta_bit_for_bit() {
        for export in exports() {
            let document: Value = serde_json::from_str(&export.json()).unwrap();
            let theta: Vec<f32> = export
                .saved
                .kind
                .tensors()
                .iter()
                .flat_map(|t| {
                    let tensor = &document["tensors"][t.name];
                    assert_eq!(tensor["shape"], json!(t.shape));
                    let values = tensor["values"].as_array().unwrap().clone();
                    values.into_iter().map(|v| v.as_f64().unwrap() as f32)
                })
                .collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&theta), bits(&export.saved.theta));
            assert_eq!(document["metadata"]["kind"], export.saved.kind.name());
        }
        let pretrained = &exports()[0];
        let metadata = pretrained.metadata();
        assert_eq!(metadata["outer_steps"], pretrained.saved.outer_steps.to_string());
        assert!(!metadata.contains_key("config_crc32"));
        assert_eq!(exports()[1].metadata()["config_crc32"], "deadbeef");
    }
}
