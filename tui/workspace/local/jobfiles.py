"""A local job's files: creating its folder with its catalog row, reading its logs,
downloading its outputs; and cleaning up after `create_job` calls that were killed."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..base import InvalidSpecError, LogChunk, NotFoundError, WorkspaceError, split_utf8
from . import jobstore, logtimes
from .catalog import transaction
from .layout import JobLayout

if TYPE_CHECKING:  # resolving (and the spec package) is only needed to create a job
    from .resolve import Draft

# jobs/.new/<name>-<pid>/ holds a job folder while create_job fills it.
INCOMING = ".new"
# An unfinished creation this old is removed even if its pid is alive (the pid was reused).
UNFINISHED_STALE_S = 3600.0
_iso = jobstore.iso
# An output name is an identifier (spec's rule), so `../outputs` never leaves named-outputs/.
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def sweep_unfinished(root: Path, conn: sqlite3.Connection) -> None:
    """Remove what killed `create_job` calls left in jobs/.new/ (the creator's pid is in
    each name): folders still being filled, and a job folder moved into place whose row
    was never committed. Cheap when there is nothing: one small directory listing."""
    incoming = root / "jobs" / INCOMING
    try:
        with os.scandir(incoming) as it:
            entries = [e.name for e in it]
    except FileNotFoundError:
        return
    now = time.time()
    for entry in entries:
        stem = entry.removesuffix(".commit")
        name, _, pid = stem.rpartition("-")
        if not _creator_gone(incoming / entry, pid, now):
            continue
        if entry.endswith(".commit"):
            # Under the write lock no live create_job is between its move and its commit.
            with transaction(conn):
                if not conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
                    try:
                        os.rename(root / "jobs" / name, incoming / stem)
                    except OSError:
                        pass
                (incoming / entry).unlink(missing_ok=True)
            shutil.rmtree(incoming / stem, ignore_errors=True)
        else:
            shutil.rmtree(incoming / entry, ignore_errors=True)


def create_job_folder(root: Path, conn: sqlite3.Connection, name: str, shown: dict[str, Any], draft: Draft,
                      source: str, *, parent_job_name: str | None = None) -> None:
    """Make jobs/<name>/ (snapshot, run.json, job.yml) and its catalog row: both or neither.
    A sweep's trial names its sweep (`parent_job_name`) and copies the sweep's snapshot."""
    jobs = root / "jobs"
    sweep_unfinished(root, conn)
    incoming = jobs / INCOMING
    incoming.mkdir(exist_ok=True)
    tmp = incoming / f"{name}-{os.getpid()}"
    marker = incoming / f"{name}-{os.getpid()}.commit"
    final = jobs / name
    moved = False
    try:
        tmp.mkdir()
        staged = JobLayout(tmp)
        for sub in JobLayout.FOLDERS:
            (tmp / sub).mkdir()
        if draft.code_dir:
            from .snapshot import snapshot_code

            snapshot_code(Path(draft.code_dir), staged.snapshot, source=source, exclude=(root,))
        else:
            staged.snapshot.mkdir()
        output_paths = {}
        for oname, otype in draft.values["outputs"].items():
            (staged.named_outputs / oname).mkdir()
            path = JobLayout(final).named_outputs / oname
            # A uri_file output is a file the job writes, in a folder that exists.
            output_paths[oname] = str(path / oname if otype == "uri_file" else path)
        draft.plan(output_paths, shown["display_name"]).write(staged.run_json)
        _write_yaml(staged.job_yml, shown)
        created = time.time()
        shown["creation_context"] = {"created_at": _iso(created), "created_by": "local",
                                     "created_by_type": "User"}
        # The folder moves into place inside the row's transaction, so both appear or
        # neither does: a failed insert leaves no folder, and a kill between the move and
        # the commit leaves `marker` for the next `sweep_unfinished`.
        with transaction(conn):
            conn.execute(
                "INSERT INTO jobs (name, display_name, type, status, experiment_name, compute, created_at, spec,"
                " parent_job_name) VALUES (?, ?, ?, 'NotStarted', ?, ?, ?, ?, ?)",
                (name, shown["display_name"], shown.get("type", "command"), shown["experiment_name"],
                 draft.compute, created, json.dumps(shown), parent_job_name))
            marker.touch()
            try:
                os.rename(tmp, final)
            except OSError:
                raise InvalidSpecError(f"a job named {name!r} already exists", source=source,
                                       field="name") from None
            moved = True
    except BaseException as exc:
        shutil.rmtree(final if moved else tmp, ignore_errors=True)
        marker.unlink(missing_ok=True)
        if isinstance(exc, sqlite3.IntegrityError):
            raise InvalidSpecError(f"a job named {name!r} already exists", source=source,
                                   field="name") from None
        raise
    marker.unlink()


def read_log(layout: JobLayout, name: str, file: str, offset: int, max_bytes: int, ended: bool) -> LogChunk:
    """`ended`: the job had ended before this read, so a read to the end has all of the file."""
    path = layout.resolve_log(file)
    if path is None:
        raise NotFoundError(f"log file {file!r} is not a log of job {name!r}")
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max_bytes)
            # After the read: the time of the last write, so of every byte just read.
            mtime = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
        raise NotFoundError(f"job {name!r} has no log file {file!r}") from None
    if ended and len(data) < max_bytes:
        end = offset + len(data)
        return LogChunk(file, offset, end, data.decode("utf-8", "replace"), final=True,
                        times=_write_times(layout, file, offset, end, mtime))
    # Never split a multi-byte character: hold back an incomplete tail for the next read.
    data, _ = split_utf8(data)
    end = offset + len(data)
    return LogChunk(file, offset, end, data.decode("utf-8", "replace"),
                    times=_write_times(layout, file, offset, end, mtime))


def _write_times(layout: JobLayout, file: str, offset: int, end: int, mtime: float) -> tuple | None:
    """The marks covering bytes `offset`..`end` (see LogChunk.times), or None for a job
    whose write times are not recorded."""
    if not layout.log_times_dir.is_dir():
        return None
    if end == offset:
        return ()
    marks = logtimes.marks_covering(layout.log_times(file), offset, end) or []
    if not any(mark_end >= end for mark_end, _ in marks):
        # The runner marks every 100 ms (and a log written after it ended, not at all):
        # the log's own mtime covers what it has not marked yet.
        marks.append((end, mtime))
    return tuple(marks)


def download(layout: JobLayout, name: str, download_path: Path, output_name: str | None, all: bool) -> Path:
    d = layout.dir
    dest = Path(download_path)
    # The first folder that exists on the way down must be a folder, or copying fails halfway.
    try:
        existing = next(p for p in (dest, *dest.parents) if p.exists())
        is_dir = existing.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise InvalidSpecError(f"cannot use {str(dest)[:80]!r}: {getattr(exc, 'strerror', None) or exc}",
                               field="download_path") from None
    if not is_dir:
        raise InvalidSpecError(f"{existing} is a file; the download path must be a folder", field="download_path")
    named = layout.named_outputs
    if output_name is not None:
        if output_name == "default":
            output_name = None
        # An output name is an identifier; `../outputs` must not reach outside named-outputs/.
        elif not _IDENT_RE.fullmatch(output_name) or not (named / output_name).is_dir():
            outs = sorted(p.name for p in named.iterdir()) if named.is_dir() else []
            raise NotFoundError(f"job {name!r} has no output {output_name[:80]!r}; outputs: "
                                f"default{''.join(', ' + o for o in outs)}")
    try:
        if output_name is None or all:
            art = dest / "artifacts"
            for sub in ("outputs", "user_logs", "system_logs"):
                if (d / sub).is_dir():
                    shutil.copytree(d / sub, art / sub, dirs_exist_ok=True)
        if output_name or all:
            for o in ([output_name] if output_name else sorted(p.name for p in named.iterdir())):
                shutil.copytree(named / o, dest / "named-outputs" / o, dirs_exist_ok=True)
    except OSError as exc:  # a full disk, no permission: what was copied stays
        raise WorkspaceError(f"downloading job {name!r} to {dest} failed: {exc}") from None
    return dest


def _creator_gone(path: Path, pid: str, now: float) -> bool:
    try:
        age = now - path.lstat().st_mtime
    except FileNotFoundError:
        return False  # another process swept it
    if age > UNFINISHED_STALE_S:
        return True
    return pid.isdigit() and not jobstore.process_alive(int(pid), None)


def _write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    import yaml

    clean = {k: v for k, v in data.items() if v not in (None, {}, [])}
    path.write_text(yaml.safe_dump(clean, sort_keys=False, allow_unicode=True))
