"""Where the bundled trainer/ and environments/ are: beside the package in a checkout or an
editable install, else under `<prefix>/share/aml-tui/` where a wheel installs them
(pyproject's data-files), so `n` and `seed` find the trainer from any folder."""

from __future__ import annotations

import sys
from pathlib import Path

SHARE = Path("share") / "aml-tui"


def bundle_root(prefixes: tuple[str, ...] | None = None) -> Path | None:
    """The folder that holds trainer/ and environments/, or None."""
    checkout = Path(__file__).resolve().parents[1]
    candidates = [checkout] + [Path(p) / SHARE for p in (prefixes or (sys.prefix, sys.base_prefix))]
    for root in candidates:
        if (root / "trainer" / "train.py").is_file() and (root / "environments").is_dir():
            return root
    return None


def trainer_job() -> Path | None:
    root = bundle_root()
    return root / "trainer" / "job.yml" if root else None
