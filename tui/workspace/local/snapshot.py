"""Code snapshots: a job runs a copy of its code folder, so later edits do not change it."""

from __future__ import annotations

import os
from pathlib import Path

from ..base import InvalidSpecError
from .files import copy_file

# Azure ML refuses snapshots over 300 MB by default; so do we, before copying everything.
MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
ALWAYS_IGNORED = (".git/", ".amlignore.bak")


def ignore_spec(code_dir: Path):
    """`.amlignore` if present, else `.gitignore` (gitignore syntax), plus `.git/`."""
    from pathspec import GitIgnoreSpec

    lines = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        path = code_dir / name
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    return GitIgnoreSpec.from_lines(lines)


def snapshot_code(code_dir: Path, dest: Path, *, source: str, exclude: tuple[Path, ...] = ()) -> int:
    """Copy `code_dir` to `dest` honouring the ignore file; returns bytes copied.

    Linked folders are copied as folders (Azure uploads their content); `exclude` holds
    folders never copied (the workspace itself, when it lives inside the code).
    Raises InvalidSpecError (field `code`) when the snapshot would exceed the size limit.
    """
    try:
        return _copy(code_dir, dest, exclude)
    except OSError as exc:
        raise InvalidSpecError(f"cannot snapshot {code_dir}: {exc}", source=source, field="code") from None
    except _TooLarge:
        raise InvalidSpecError(
            f"the code snapshot of {code_dir} exceeds {MAX_SNAPSHOT_BYTES // 2**20} MB; "
            "list large files or folders in an .amlignore file", source=source, field="code") from None


class _TooLarge(Exception):
    pass


def _copy(code_dir: Path, dest: Path, exclude: tuple[Path, ...]) -> int:
    spec = ignore_spec(code_dir)
    skip = {p.resolve() for p in exclude}
    seen: set[Path] = set()
    total = 0
    dest.mkdir(parents=True)
    for dirpath, dirnames, filenames in os.walk(code_dir, followlinks=True):
        real = Path(dirpath).resolve()
        if real in seen or real in skip:  # a link cycle, or the workspace inside the code
            dirnames[:] = []
            continue
        seen.add(real)
        rel_dir = Path(dirpath).relative_to(code_dir)
        keep = []
        for d in sorted(dirnames):
            rel = (rel_dir / d).as_posix() + "/"
            if not spec.match_file(rel) and (Path(dirpath) / d).resolve() not in skip:
                keep.append(d)
        dirnames[:] = keep
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for f in sorted(filenames):
            rel = (rel_dir / f).as_posix()
            if spec.match_file(rel):
                continue
            src = Path(dirpath) / f
            if src.is_symlink() and not src.exists():
                continue
            total += src.stat().st_size
            if total > MAX_SNAPSHOT_BYTES:
                raise _TooLarge()
            copy_file(src, dest / rel)  # owner-only, whatever the source's mode
    return total
