"""Export scikit-learn's 8x8 digits to digits.bin for the `mlp-digits` task family.

Run once, in a throwaway environment with scikit-learn installed:

    python3 export_digits.py digits.bin

File layout: 1797 records of 65 bytes, each 64 pixel intensities (0..16, row-major 8x8)
followed by the label (0..9). Records are in a fixed shuffled order (NumPy's default_rng(0)
permutation), so the first 1437 make the training split and the last 360 the held-out split.
"""

import sys

import numpy as np
from sklearn.datasets import load_digits

SHUFFLE_SEED = 0


def main(path: str) -> None:
    digits = load_digits()
    pixels = digits.data.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    assert pixels.shape == (1797, 64) and pixels.max() <= 16 and labels.max() <= 9
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(labels))
    records = np.concatenate([pixels[order], labels[order, None]], axis=1)
    with open(path, "wb") as f:
        f.write(records.tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
