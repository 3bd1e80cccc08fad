//! Named tensors laid out over one flat `f32` parameter vector.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One named tensor of a parameter vector: its shape and where it sits in the flat vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Name, e.g. `layer0.weight`.
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// Offset of the first element in the flat vector.
    pub offset: usize,
}

impl TensorSpec {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor's range in the flat vector.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// The tensors of a parameter vector, contiguous and in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamLayout {
    tensors: Vec<TensorSpec>,
    len: usize,
}

impl ParamLayout {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// A layout of a single tensor named `name` with `len` elements.
    pub fn single(name: &str, len: usize) -> Self {
        let mut layout = Self::new();
        layout.push(name, &[len]);
        layout
    }

    /// Appends a tensor and returns its range in the flat vector.
    pub fn push(&mut self, name: &str, shape: &[usize]) -> Range<usize> {
        let spec = TensorSpec { name: name.to_string(), shape: shape.to_vec(), offset: self.len };
        self.len += spec.len();
        let range = spec.range();
        self.tensors.push(spec);
        range
    }

    /// The tensors in order.
    pub fn tensors(&self) -> &[TensorSpec] {
        &self.tensors
    }

    /// Total number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a layout with no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_are_contiguous() {
        let mut layout = ParamLayout::new();
        assert_eq!(layout.push("w", &[3, 4]), 0..12);
        assert_eq!(layout.push("b", &[4]), 12..16);
        assert_eq!(layout.len(), 16);
        assert_eq!(layout.tensors()[1].name, "b");
    }
}
