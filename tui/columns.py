"""Table columns of every asset kind, and the rows built from them: no Rich, no Textual,
so the CLI's `-o table` shows the app's columns without importing a UI (tui/kinds.py adds
the rest of the registry: details, actions, loaders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from tui.workspace.base import ACTIVE_STATUSES, Asset, AssetKind, Job

# Semantic style tokens; the table maps them to theme colours (see AssetTable).
STATUS_STYLES: dict[str, str] = {
    "Completed": "success",
    "Failed": "error",
    # Not plain text and not Failed: a canceled job was stopped on purpose.
    "Canceled": "warning",
    "CancelRequested": "warning",
    "Running": "primary",
    "Finalizing": "primary",
    "Starting": "secondary",
    "Preparing": "secondary",
    "Queued": "muted",
    "NotStarted": "muted",
}


# ---------------------------------------------------------------------------- formatting


def format_span(seconds: float | None) -> str:
    """The one format of a span of time, for ages and durations alike: the two largest
    units, the second zero-padded so a column lines up: 42s, 1m15s, 2h04m, 3d05h."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


# Ages and durations share `format_span` (one column showed "1m15s" beside another's "75s").
format_age = format_duration = format_span


def format_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def created_ts(asset: Asset) -> float | None:
    """Creation time as POSIX seconds, from a Job or from `creation_context.created_at`."""
    if isinstance(asset, Job):
        return asset.created_at or None
    raw = asset.get("creation_context.created_at")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str) and raw:
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(map(str, value))
    return str(value)


# ---------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """A table column.

    `get(asset, now)` returns the raw value (also the sort key); `fmt` turns it into the cell
    text; `style` names a semantic style token for the cell. A `live` column changes with the
    clock (a running job's duration), so the table formats it at render time. A `clock`
    column (an age) changes with the clock on every row but never changes its order, so it
    is formatted at render time while its sort keys stay as computed.

    When the table is narrower than its columns, a column with a `min_width` gives up cells
    down to it, then columns with a `drop_rank` hide, lowest first; the others (a status)
    always show whole.
    """

    title: str
    get: Callable[[Asset, float], Any]
    fmt: Callable[[Any], str] = _text
    style: Callable[[Any], str | None] | None = None
    live: Callable[[Asset], bool] | None = None
    clock: bool = False
    max_width: int = 48
    min_width: int | None = None
    drop_rank: int | None = None


def field_column(title: str, path: str, **kw: Any) -> Column:
    return Column(title, lambda a, now, _p=path: a.get(_p), **kw)


def attr_column(title: str, attr: str, **kw: Any) -> Column:
    return Column(title, lambda a, now, _a=attr: getattr(a, _a, None), **kw)


AGE = Column("AGE", lambda a, now: (now - ts) if (ts := created_ts(a)) else None, fmt=format_age, clock=True)
NAME = attr_column("NAME", "name", min_width=20)
VERSION = attr_column("VERSION", "version", max_width=12)


def _job_duration(job: Asset, now: float) -> float | None:
    return job.duration(now) if isinstance(job, Job) else None


def _job_is_live(job: Asset) -> bool:
    return isinstance(job, Job) and job.status in ACTIVE_STATUSES and job.start_time is not None


JOB_COLUMNS: tuple[Column, ...] = (
    NAME,
    attr_column("DISPLAY NAME", "display_name", max_width=32, min_width=8, drop_rank=3),
    attr_column("STATUS", "status", style=lambda s: STATUS_STYLES.get(s)),
    attr_column("TYPE", "type", max_width=10, drop_rank=2),
    attr_column("EXPERIMENT", "experiment_name", max_width=28, min_width=8, drop_rank=4),
    attr_column("COMPUTE", "compute", max_width=20, min_width=7, drop_rank=1),
    Column("DURATION", _job_duration, fmt=format_duration, live=_job_is_live),
    AGE,
)


# ---------------------------------------------------------------------------- rows


def sort_key(value: Any) -> tuple:
    """None sorts last; numbers before text; text case-insensitively."""
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value).lower())


@dataclass(slots=True)
class Row:
    """One table row, prepared in a worker: cells formatted, sort keys computed, and the
    text `/` matches, so sorting and filtering 10,000 rows on the event loop stays cheap."""

    key: str
    asset: Asset
    cells: tuple[str, ...]
    styles: tuple[str | None, ...]
    sort_keys: tuple[tuple, ...]
    search: str
    depth: int = 0
    live: bool = False


SortOrders = dict[tuple[int, bool], list[int]]  # (column, reverse) -> positions in the rows


def sort_order(rows: Sequence[Row], column: int, reverse: bool = False) -> list[int]:
    """Positions of `rows` sorted by one column's stored key (stable, as `sorted` is)."""
    keys = [r.sort_keys[column] for r in rows]
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


def sort_orders(rows: Sequence[Row], columns: int) -> SortOrders:
    """Every column's order, both ways, computed in the worker that built the rows, so a sort
    keypress on 10,000 rows picks a list instead of sorting on the event loop."""
    return {(c, reverse): sort_order(rows, c, reverse) for c in range(columns) for reverse in (False, True)}


# Every kind's columns: the app's table and the CLI's `-o table` show the same.
COLUMNS: dict[AssetKind, tuple[Column, ...]] = {
    AssetKind.JOBS: JOB_COLUMNS,
    AssetKind.DATA: (NAME, VERSION, field_column("TYPE", "type", max_width=14, drop_rank=2),
        field_column("PATH", "path", min_width=12, drop_rank=3),
        field_column("DESCRIPTION", "description", min_width=12, drop_rank=1), AGE),
    AssetKind.COMPUTE: (NAME, field_column("TYPE", "type", max_width=16, drop_rank=2),
        # An instance's own state (Running, Stopped) says more than its provisioning (Succeeded).
        Column("STATE", lambda a, now: a.get("state") or a.get("provisioning_state"), max_width=12),
        Column("CAPACITY", lambda a, now: a.get("max_concurrency", a.get("max_instances")), max_width=10),
        # Jobs holding a slot, and jobs waiting for one (a backend that does not count: blank).
        field_column("RUNNING", "running_jobs", max_width=8), field_column("QUEUED", "queued_jobs", max_width=8),
        field_column("SIZE", "size", max_width=24, min_width=8, drop_rank=1), AGE),
    AssetKind.ENVIRONMENTS: (NAME, VERSION, field_column("IMAGE", "image", max_width=40, min_width=12),
        field_column("CONDA", "conda_file", fmt=lambda v: "yes" if v else "", max_width=5), AGE),
    AssetKind.MODELS: (NAME, VERSION, field_column("TYPE", "type", max_width=16, drop_rank=2),
        field_column("JOB", "job_name", max_width=32, min_width=10, drop_rank=3),
        field_column("PATH", "path", min_width=12, drop_rank=1), AGE),
    AssetKind.ENDPOINTS: (NAME, field_column("STATE", "provisioning_state", max_width=14),
        field_column("AUTH", "auth_mode", max_width=10, drop_rank=1),
        field_column("SCORING URI", "scoring_uri", min_width=12), AGE),
}
