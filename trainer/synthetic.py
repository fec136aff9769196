"""Tiny synthetic MNIST-layout data set: seven-segment digits with jitter and noise.

    python synthetic.py --out DIR [--train 2000] [--test 500] [--seed 0]

Each class is a seven-segment glyph drawn at a random position, size and stroke width
on a noisy 28x28 canvas, so a small CNN learns it in one short epoch: good for tests
and for benchmarking at sizes beyond the 5,000 real digits. numpy only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:  # imported as trainer.synthetic
    from . import idx
except ImportError:  # run as a script from inside trainer/
    import idx

# Segments: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle.
SEGMENTS = {
    0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc",
    5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def _draw(canvas: np.ndarray, digit: int, rng: np.random.Generator) -> None:
    h = int(rng.integers(14, 21))  # glyph height
    w = int(rng.integers(8, 13))  # glyph width
    t = int(rng.integers(2, 4))  # stroke width
    top = int(rng.integers(2, 28 - h - 1))
    left = int(rng.integers(3, 28 - w - 2))
    mid = top + h // 2
    bottom, right = top + h, left + w
    ink = rng.uniform(180, 255)
    boxes = {  # (row0, row1, col0, col1)
        "a": (top, top + t, left, right),
        "g": (mid - t // 2, mid - t // 2 + t, left, right),
        "d": (bottom - t, bottom, left, right),
        "f": (top, mid + 1, left, left + t),
        "e": (mid, bottom, left, left + t),
        "b": (top, mid + 1, right - t, right),
        "c": (mid, bottom, right - t, right),
    }
    for seg in SEGMENTS[digit]:
        r0, r1, c0, c1 = boxes[seg]
        canvas[r0:r1, c0:c1] = ink


def generate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 28, 28), labels uint8 (n,)) with classes balanced and shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    canvas = np.zeros((n, 28, 28), dtype=np.float32)
    for i, digit in enumerate(labels):
        _draw(canvas[i], int(digit), rng)
    canvas += rng.normal(0.0, 20.0, size=canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 255).astype(np.uint8), labels


def write_synthetic(out_dir: Path, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> Path:
    """Write OUT_DIR/MNIST/raw/ IDX files and return OUT_DIR (the trainer's --data)."""
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need at least one train and one test image, got {n_train}/{n_test}")
    out_dir = Path(out_dir)
    idx.write_split(out_dir, "train", *generate(n_train, seed))
    idx.write_split(out_dir, "test", *generate(n_test, seed + 1))
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="root folder (gets MNIST/raw/)")
    parser.add_argument("--train", type=int, default=2000, help="train images (default: 2000)")
    parser.add_argument("--test", type=int, default=500, help="test images (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="default: 0")
    args = parser.parse_args(argv)
    for name in ("train", "test"):
        if getattr(args, name) < 1:
            parser.error(f"argument --{name}: must be >= 1, got {getattr(args, name)}")
    root = write_synthetic(args.out, args.train, args.test, args.seed)
    print(f"wrote {args.train}/{args.test} synthetic digits to {idx.raw_dir(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
