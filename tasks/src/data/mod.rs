//! Labelled datasets for the classification families: synthetic teacher-student data, the
//! bundled 8x8 digits and the bundled MNIST digits; and a bundled text for character models.

pub mod digits;
pub mod mnist;
pub mod synthetic;
pub mod text;

/// Labelled examples: inputs as a column-major `dim x len` matrix and one label per column.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Number of input features.
    pub dim: usize,
    /// Number of classes; labels are in `0..classes`.
    pub classes: usize,
    /// Inputs, one column of `dim` features per example.
    pub inputs: Vec<f32>,
    /// The label of each example.
    pub labels: Vec<u32>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for a dataset without examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of example `i`.
    pub fn input(&self, i: usize) -> &[f32] {
        &self.inputs[i * self.dim..(i + 1) * self.dim]
    }
}

/// A training split and a held-out split.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// What minibatches are drawn from.
    pub train: Dataset,
    /// What the held-out loss is measured on.
    pub heldout: Dataset,
}

/// Splits from `raw` records of `pixels` bytes then a label byte in `0..classes`: the first
/// `train` records form the training split, the rest the held-out split. `features` appends the
/// `dim` features of one record's pixel bytes.
fn splits_from_records(
    raw: &[u8],
    (pixels, dim, classes): (usize, usize, usize),
    train: usize,
    mut features: impl FnMut(&[u8], &mut Vec<f32>),
) -> Splits {
    let records: Vec<&[u8]> = raw.chunks_exact(pixels + 1).collect();
    let mut split = |records: &[&[u8]]| {
        let mut inputs = Vec::with_capacity(records.len() * dim);
        records.iter().for_each(|r| features(&r[..pixels], &mut inputs));
        Dataset {
            dim,
            classes,
            inputs,
            labels: records.iter().map(|r| u32::from(r[pixels])).collect(),
        }
    };
    let (train, heldout) = records.split_at(train);
    Splits { train: split(train), heldout: split(heldout) }
}
