//! Views of a flat theta as fixed-size arrays, which the learned optimizers' networks are read
//! through without copying.

use super::ThetaTensor;

/// Three dense layers `IN -> H -> H -> OUT` at the front of a theta, in the order W1, b1, W2,
/// b2, W3, b3, each matrix row-major with one row per input unit (`W[i][j]` is the weight from
/// input `i` to output `j`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Layers<'a, const IN: usize, const H: usize, const OUT: usize> {
    pub w1: &'a [[f32; H]; IN],
    pub b1: &'a [f32; H],
    pub w2: &'a [[f32; H]; H],
    pub b2: &'a [f32; H],
    pub w3: &'a [[f32; OUT]; H],
    pub b3: &'a [f32; OUT],
}

impl<'a, const IN: usize, const H: usize, const OUT: usize> Layers<'a, IN, H, OUT> {
    /// Number of values the layers take, so the offset of whatever theta holds after them.
    pub const LEN: usize = IN * H + H + H * H + H + H * OUT + OUT;

    /// The layers as named tensors: w1 (IN x H), b1, w2 (H x H), b2, w3 (H x OUT), b3.
    pub const TENSORS: [ThetaTensor; 6] = [
        ThetaTensor { name: "w1", shape: &[IN, H], offset: 0 },
        ThetaTensor { name: "b1", shape: &[H], offset: IN * H },
        ThetaTensor { name: "w2", shape: &[H, H], offset: IN * H + H },
        ThetaTensor { name: "b2", shape: &[H], offset: IN * H + H + H * H },
        ThetaTensor { name: "w3", shape: &[H, OUT], offset: IN * H + 2 * H + H * H },
        ThetaTensor { name: "b3", shape: &[OUT], offset: IN * H + 2 * H + H * H + H * OUT },
    ];

    /// The layers at the front of `theta`.
    ///
    /// # Panics
    /// If `theta` has fewer than `LEN` values.
    pub fn of(theta: &'a [f32]) -> Self {
        let (w1, rest) = theta.split_at(IN * H);
        let (b1, rest) = rest.split_at(H);
        let (w2, rest) = rest.split_at(H * H);
        let (b2, rest) = rest.split_at(H);
        let (w3, rest) = rest.split_at(H * OUT);
        let b3 = &rest[..OUT];
        Self {
            w1: rows(w1),
            b1: array(b1),
            w2: rows(w2),
            b2: array(b2),
            w3: rows(w3),
            b3: array(b3),
        }
    }
}

/// The `N` values of `flat` as an array.
///
/// # Panics
/// If `flat` does not have `N` values.
pub(super) fn array<const N: usize>(flat: &[f32]) -> &[f32; N] {
    flat.try_into().unwrap_or_else(|_| panic!("expected {N} values, found {}", flat.len()))
}

/// `flat` as `R` rows of `N` values.
///
/// # Panics
/// If `flat` does not have `R * N` values.
pub(super) fn rows<const N: usize, const R: usize>(flat: &[f32]) -> &[[f32; N]; R] {
    let (rows, rest) = flat.as_chunks::<N>();
    assert!(rest.is_empty(), "{} values do not make rows of {N}", flat.len());
    rows.try_into().unwrap_or_else(|_| panic!("expected {R} rows of {N}, found {}", rows.len()))
}
