//! scikit-learn's 8x8 handwritten digits (UCI Optical Recognition of Handwritten Digits),
//! bundled as `tasks/data/digits.bin`; see `tasks/data/README.md` for origin and licence.

use super::{Splits, splits_from_records};
use std::sync::{Arc, OnceLock};

/// 64 pixel intensities in 0..=16 then the label, per record, in the export's shuffled order.
const RAW: &[u8] = include_bytes!("../../data/digits.bin");
/// Pixels per image.
pub const PIXELS: usize = 64;
/// Number of classes.
pub const CLASSES: usize = 10;
/// The first this many records form the training split, the rest the held-out split.
pub const TRAIN_EXAMPLES: usize = 1437;

/// The digits splits with pixels scaled to [0, 1], decoded once per process and shared.
pub fn splits() -> Arc<Splits> {
    static SPLITS: OnceLock<Arc<Splits>> = OnceLock::new();
    SPLITS.get_or_init(|| Arc::new(decode(RAW))).clone()
}

fn decode(raw: &[u8]) -> Splits {
    splits_from_records(raw, (PIXELS, PIXELS, CLASSES), TRAIN_EXAMPLES, |pixels, out| {
        out.extend(pixels.iter().map(|&p| f32::from(p) / 16.0));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_digits_have_the_expected_shape() {
        let s = splits();
        assert_eq!((s.train.len(), s.heldout.len()), (1437, 360));
        assert!(s.train.inputs.iter().all(|&p| (0.0..=1.0).contains(&p)));
        for c in 0..CLASSES as u32 {
            assert!(s.heldout.labels.contains(&c), "digit {c} missing from the held-out split");
        }
    }
}
