"""Read and write MNIST IDX files with numpy only (no torch: seeding data must stay fast).

IDX is big-endian: a 4-byte magic (2051 for images, 2049 for labels), then one
big-endian uint32 per dimension, then the uint8 payload.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

# The four files torchvision.datasets.MNIST reads from ROOT/MNIST/raw/.
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def raw_dir(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def _write_atomic(path: Path, payload: bytes) -> None:
    # A reader (or a crashed writer) never sees half a file.
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def encode_images(images: np.ndarray) -> bytes:
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, rows, cols), got shape {images.shape}")
    header = np.array([IMAGES_MAGIC, *images.shape], dtype=">u4").tobytes()
    return header + images.tobytes()


def encode_labels(labels: np.ndarray) -> bytes:
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    if labels.ndim != 1:
        raise ValueError(f"labels must be (N,), got shape {labels.shape}")
    header = np.array([LABELS_MAGIC, labels.shape[0]], dtype=">u4").tobytes()
    return header + labels.tobytes()


def write_split(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write one split ("train" or "test") under ROOT/MNIST/raw/."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    out = raw_dir(root)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / FILES[(split, "images")], encode_images(images))
    _write_atomic(out / FILES[(split, "labels")], encode_labels(labels))


def read(path: Path) -> np.ndarray:
    """Read one IDX file (plain or .gz) into a uint8 array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        raise ValueError(f"{path}: not an MNIST IDX file (magic {magic})")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
