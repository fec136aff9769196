"""Find and load MNIST IDX files in torchvision's layout.

`locate_raw` is torch-free so that train.py can reject a bad --data folder before
paying for `import torch`. `load_splits` reads through the real
`torchvision.datasets.MNIST` class and hands back its `.data` / `.targets` tensors:
the trainer works on whole preloaded tensors, never per-sample PIL transforms.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SEARCH_DEPTH = 3  # how deep below --data to look for the files (mounts add levels)


class DataError(ValueError):
    """The --data folder is unusable; the message says why and what is expected."""


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _candidates(root: Path):
    # The documented layout first, then a root that is itself MNIST/ or raw/,
    # then any folder below that holds the train images (e.g. a mounted data asset
    # with an extra level).
    yield root / "MNIST" / "raw"
    yield root / "raw"
    yield root
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth >= _SEARCH_DEPTH:
            dirnames.clear()
        dirnames.sort()
        if any(f.startswith(NAMES[0]) for f in filenames):
            yield Path(dirpath)


def locate_raw(data_dir: str | os.PathLike) -> Path:
    """The folder holding all four IDX files (plain or .gz), or DataError."""
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DataError(f"folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    partial: tuple[Path, list[str]] | None = None
    seen: set[Path] = set()
    for folder in _candidates(root):
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        missing = [n for n in NAMES if _find(folder, n) is None]
        if not missing:
            return folder
        if len(missing) < len(NAMES) and partial is None:
            partial = (folder, missing)
    if partial:
        folder, missing = partial
        raise DataError(f"{folder} lacks {', '.join(missing)} (plain or .gz)")
    raise DataError(
        f"no MNIST IDX files in {root}: expected {root}/MNIST/raw/ to hold "
        f"{', '.join(NAMES)} (plain or .gz)"
    )


def _stage(raw: Path, into: Path) -> Path:
    """Give torchvision the ROOT/MNIST/raw/<uncompressed names> layout it insists on."""
    dest = into / "MNIST" / "raw"
    dest.mkdir(parents=True)
    for name in NAMES:
        src = _find(raw, name)
        if src.suffix == ".gz":
            with gzip.open(src, "rb") as fin, open(dest / name, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        else:
            try:
                (dest / name).symlink_to(src.resolve())
            except OSError:
                shutil.copyfile(src, dest / name)
    return into


def mnist_class():
    """torchvision's MNIST dataset class, loaded without running torchvision's __init__.

    `import torchvision` imports all its models and ops, and through `torchvision.ops`
    torch._dynamo: 1.5-2 s, more than torch itself, for a class that needs three small
    modules (torchvision.utils, datasets.utils, datasets.vision). The packages are
    stood in for while torchvision.datasets.mnist loads, then dropped from sys.modules,
    so a later `import torchvision` still gets the whole, real package.
    """
    if "torchvision" in sys.modules:
        from torchvision.datasets import MNIST

        return MNIST
    try:
        for package in ("torchvision", "torchvision.datasets"):
            spec = importlib.util.find_spec(package)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"no package {package}")
            sys.modules[package] = importlib.util.module_from_spec(spec)
        return importlib.import_module("torchvision.datasets.mnist").MNIST
    except ImportError:
        pass  # another torchvision layout: pay for the whole package below
    finally:
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    from torchvision.datasets import MNIST

    return MNIST


def load_splits(raw: Path):
    """((train_images, train_labels), (test_images, test_labels)) as uint8 / int64 tensors.

    Images are (N, 28, 28) uint8 exactly as stored; labels int64.
    """
    MNIST = mnist_class()

    def read(root: Path):
        out = []
        for train in (True, False):
            ds = MNIST(root=str(root), train=train, download=False)
            out.append((ds.data, ds.targets.long()))
        return tuple(out)

    plain = all((raw / n).is_file() for n in NAMES)
    if plain and raw.name == "raw" and raw.parent.name == "MNIST":
        return read(raw.parent.parent)
    # Data is read once into memory, so the staged copy can go right after.
    with tempfile.TemporaryDirectory(prefix="mnist-") as tmp:
        return read(_stage(raw, Path(tmp)))
