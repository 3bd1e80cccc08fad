"""Export the first book of Cicero's De finibus bonorum et malorum, as shipped in the Rust crate
`lipsum` 0.9.1 (`src/liber-primus.txt`), to liber_primus.txt for the character-level LSTM of
`pesto repro lstm-variance`.

Run once with any Python 3 (standard library only) on the crate's source, which `cargo vendor`
unpacks from a scratch project that depends on it:

    cargo new --vcs none /tmp/lipsum-src && cd /tmp/lipsum-src
    cargo add lipsum@=0.9.1 && cargo vendor
    python3 export_text.py vendor/lipsum/src/liber-primus.txt liber_primus.txt

Normalisation: lower case; every run of whitespace becomes one space; only the letters a-z, the
space and the punctuation `.,;?` are kept, every other character is dropped (quotes, dashes,
brackets, `!`, `:`, `*`), and a run of spaces this leaves becomes one space. The output is one
line of ASCII without a trailing newline. After writing, the file is read back and checked
against the normalisation of the input.
"""

import re
import sys

KEPT = set("abcdefghijklmnopqrstuvwxyz .,;?")


def normalise(text: str) -> str:
    text = re.sub(r"\s+", " ", text.lower())
    text = "".join(c for c in text if c in KEPT)
    return re.sub(r" +", " ", text).strip()


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        text = normalise(f.read())
    with open(target, "w", encoding="ascii", newline="") as f:
        f.write(text)
    with open(target, encoding="ascii") as f:
        assert f.read() == text
    alphabet = "".join(sorted(set(text)))
    print(f"{len(text)} characters, {len(alphabet)} distinct: {alphabet!r}")


if __name__ == "__main__":
    main()
