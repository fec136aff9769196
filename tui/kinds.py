"""The UI's registry of asset kinds: one entry per kind, one table view and one detail view.

Like k9s's registry, each `KindSpec` says how to load a kind, which columns to show, how to
key a row, how to render its details and which extra actions it has. Screens never branch
on a kind beyond looking up its spec here.

Loaders and detail loaders block (they call the workspace): run them in workers. Formatting
cells happens in the worker too, so the event loop only swaps lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.workspace.base import (
    ACTIVE_STATUSES,
    Asset,
    AssetKind,
    Capabilities,
    Job,
    LogFile,
    MetricPoint,
    Workspace,
)

# Cap on how many assets one listing pulls (Azure pages are 100 each; local is one query).
MAX_LISTED = 100_000

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


def build_rows(spec: "KindSpec", assets: Sequence[Asset], now: float, depth: int = 0) -> list[Row]:
    rows: list[Row] = []
    columns = spec.columns
    for asset in assets:
        raw = tuple(c.get(asset, now) for c in columns)
        cells = tuple(c.fmt(v) for c, v in zip(columns, raw))
        styles = tuple(c.style(v) if c.style else None for c, v in zip(columns, raw))
        live = any(c.live(asset) for c in columns if c.live)
        keys = tuple(map(sort_key, raw))
        rows.append(Row(spec.row_key(asset), asset, cells, styles, keys, " ".join(cells).lower(), depth, live))
    return rows


SortOrders = dict[tuple[int, bool], list[int]]  # (column, reverse) -> positions in the rows


def sort_order(rows: Sequence[Row], column: int, reverse: bool = False) -> list[int]:
    """Positions of `rows` sorted by one column's stored key (stable, as `sorted` is)."""
    keys = [r.sort_keys[column] for r in rows]
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


def sort_orders(rows: Sequence[Row], columns: int) -> SortOrders:
    """Every column's order, both ways, computed in the worker that built the rows, so a sort
    keypress on 10,000 rows picks a list instead of sorting on the event loop."""
    return {(c, reverse): sort_order(rows, c, reverse) for c in range(columns) for reverse in (False, True)}


# ---------------------------------------------------------------------------- details


@dataclass(frozen=True)
class DetailData:
    """What a detail view shows: the asset (fresh), plus job extras loaded in the worker."""

    asset: Asset
    metrics: Mapping[str, Sequence[MetricPoint]] = field(default_factory=dict)
    log_files: Sequence[LogFile] = ()


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A one-line Unicode sparkline of the last `width` values."""
    values = list(values)[-width:]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1)))] for v in values)


def _props(rows: Sequence[tuple[str, Any]], title: str | None = None) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if value not in (None, "", {}, []):
            table.add_row(key, value if isinstance(value, Text) else _text(value))
    if title:
        table.title = title
        table.title_justify = "left"
        table.title_style = "bold underline"
    return table


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def generic_detail(data: DetailData) -> RenderableType:
    """Top-level scalar fields, then tags: good enough for data, compute, envs, models."""
    asset = data.asset
    scalars = [(k, v) for k, v in asset.fields.items() if not isinstance(v, (dict, list))]
    parts: list[RenderableType] = [_props([("kind", asset.kind.value), ("name", asset.name),
                                           ("version", asset.version)] +
                                          [(k, v) for k, v in scalars if k not in ("name", "version")])]
    created = created_ts(asset)
    if created:
        parts.append(_props([("created", format_time(created))]))
    for key, value in asset.fields.items():
        if isinstance(value, dict) and value and key != "creation_context":
            parts += [_section(key), _props(list(value.items()))]
    return Group(*parts)


def job_detail(data: DetailData, now: float | None = None) -> RenderableType:
    job = data.asset
    assert isinstance(job, Job)
    now = now or time.time()
    status = Text(job.status, style=_RICH_STATUS.get(STATUS_STYLES.get(job.status, ""), ""))
    error = job.get("error")
    log_tail = None
    if isinstance(error, Mapping):
        log_tail = error.get("log_tail")
        error = ": ".join(str(p) for p in (error.get("code"), error.get("message")) if p)
    parts: list[RenderableType] = [_props([
        ("name", job.name), ("display name", job.display_name), ("status", status),
        ("type", job.type), ("experiment", job.experiment_name), ("compute", job.compute),
        ("environment", job.get("environment")), ("parent", job.parent_job_name),
        ("created", format_time(job.created_at or None)), ("started", format_time(job.start_time)),
        ("ended", format_time(job.end_time)), ("duration", format_duration(job.duration(now))),
        ("command", job.get("command")), ("error", error),
    ])]
    if log_tail:
        # Why it failed is usually in the last lines the command printed.
        parts += [_section("last lines of the log (l for the whole log)"), Text(str(log_tail), style="dim")]
    for section in ("inputs", "outputs"):
        values = job.get(section)
        if isinstance(values, Mapping) and values:
            rows = [(k, v.get("path", v.get("value", _text(v))) if isinstance(v, Mapping) else v)
                    for k, v in values.items()]
            parts += [_section(section), _props(rows)]
    if data.metrics:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right")
        table.add_column(style="cyan", no_wrap=True)
        for key, points in sorted(data.metrics.items()):
            if points:
                table.add_row(key, f"{points[-1].value:.4g}", sparkline([p.value for p in points]))
        parts += [_section("metrics (latest, history)"), table]
    if data.log_files:
        parts += [_section("logs (l to open)"),
                  _props([(f.name, f"{f.size:,} bytes") for f in data.log_files])]
    return Group(*parts)


def render_detail(spec: "KindSpec", data: DetailData) -> RenderableType:
    """The kind's detail renderer, never raising: odd backend data shows as a message."""
    try:
        return spec.detail(data)
    except Exception as exc:  # a renderer bug must not take the app down
        return Text(f"Cannot show the details of {data.asset.key}: {type(exc).__name__}: {exc}", style="red")


# Rich styles for the detail renderables (which are plain Rich, not themed widgets).
_RICH_STATUS = {"success": "bold green", "error": "bold red", "warning": "yellow",
                "primary": "bold blue", "secondary": "blue", "muted": "dim"}


def load_plain_detail(ws: Workspace, asset: Asset) -> DetailData:
    return DetailData(ws.get_asset(asset.kind, asset.name, asset.version))


def load_job_detail(ws: Workspace, asset: Asset) -> DetailData:
    job = ws.get_job(asset.name)
    metrics = ws.job_metrics(job.name) if ws.capabilities.metrics else {}
    return DetailData(job, metrics, ws.log_files(job.name))


# ---------------------------------------------------------------------------- registry


def _list_all(ws: Workspace, kind: AssetKind) -> list[Asset]:
    items: list[Asset] = []
    token: str | None = None
    while True:
        page = ws.list_assets(kind, page_token=token)
        items.extend(page.items)
        token = page.next_token
        if not token or len(items) >= MAX_LISTED:
            return items


def _always(caps: Capabilities, asset: Asset | None, read_only: bool) -> bool:
    return True


@dataclass(frozen=True)
class KindAction:
    """One key a kind adds to browse/describe/YAML (k9s's extenders): `l` logs on jobs.

    Screens bind every registered action generically; the footer, `?` and the palette show
    an action only where `enabled(capabilities, asset, read_only)` holds for the current kind
    (`asset` is None when asked for the footer: only the kind and the mode decide there).
    `run(app, asset)` asks the app for what it needs (`open_logs`, `request_cancel`, ...), so
    this registry never imports a screen.
    """

    key: str
    id: str  # the binding id (`jobs.logs`): the keymap in the config file rebinds by id
    description: str
    run: Callable[[Any, Asset], None]
    enabled: Callable[[Capabilities, Asset | None, bool], bool] = _always
    key_display: str | None = None
    show: bool = True  # in the footer (always in `?` and the palette)


def _is_job(asset: Asset | None) -> bool:
    return asset is None or isinstance(asset, Job)


JOB_ACTIONS: tuple[KindAction, ...] = (
    KindAction("l", "jobs.logs", "Logs", lambda app, job: app.open_logs(job.name),
               enabled=lambda caps, a, ro: _is_job(a)),
    KindAction("c", "jobs.cancel", "Cancel job", lambda app, job: app.request_cancel(job),
               enabled=lambda caps, a, ro: caps.cancel and not ro and _is_job(a)),
    KindAction("C", "jobs.clone", "Clone job", lambda app, job: app.clone_job(job),
               enabled=lambda caps, a, ro: caps.submit and not ro and _is_job(a), key_display="C"),
    KindAction("e,space", "jobs.expand", "Expand trials", lambda app, job: app.main_screen.toggle_trials(job),
               enabled=lambda caps, a, ro: a is None or getattr(a, "type", None) == "sweep", show=False),
)


@dataclass(frozen=True)
class KindSpec:
    """Everything the UI knows about one asset kind."""

    kind: AssetKind
    title: str
    aliases: tuple[str, ...]
    columns: tuple[Column, ...]
    detail: Callable[[DetailData], RenderableType] = generic_detail
    load_detail: Callable[[Workspace, Asset], DetailData] = load_plain_detail
    # Keys this kind offers beyond browse/describe/YAML (see KindAction).
    actions: tuple[KindAction, ...] = ()
    # Whether a backend supports the kind; if not, the table stays empty with `unavailable`.
    available: Callable[[Capabilities], bool] = lambda caps: True
    unavailable: str = ""

    @property
    def name(self) -> str:
        return self.kind.value

    def row_key(self, asset: Asset) -> str:
        return asset.key

    def load(self, ws: Workspace) -> list[Asset]:
        return _list_all(ws, self.kind)

    def action(self, action_id: str) -> KindAction | None:
        return next((a for a in self.actions if a.id == action_id), None)


KINDS: dict[AssetKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            AssetKind.JOBS, "Jobs", ("jobs", "job", "j"), JOB_COLUMNS,
            detail=job_detail, load_detail=load_job_detail,
            actions=JOB_ACTIONS,
        ),
        KindSpec(
            AssetKind.DATA, "Data", ("data", "dataset", "d"),
            (NAME, VERSION, field_column("TYPE", "type", max_width=14, drop_rank=2),
             field_column("PATH", "path", min_width=12, drop_rank=3),
             field_column("DESCRIPTION", "description", min_width=12, drop_rank=1), AGE),
        ),
        KindSpec(
            AssetKind.COMPUTE, "Compute", ("compute", "computes", "c"),
            (NAME, field_column("TYPE", "type", max_width=16, drop_rank=2),
             field_column("STATE", "provisioning_state", max_width=12),
             Column("CAPACITY", lambda a, now: a.get("max_concurrency", a.get("max_instances")), max_width=10),
             field_column("SIZE", "size", max_width=24, min_width=8, drop_rank=1), AGE),
        ),
        KindSpec(
            AssetKind.ENVIRONMENTS, "Environments", ("environments", "env", "envs", "environment", "e"),
            (NAME, VERSION, field_column("IMAGE", "image", max_width=40, min_width=12),
             field_column("CONDA", "conda_file", fmt=lambda v: "yes" if v else "", max_width=5), AGE),
        ),
        KindSpec(
            AssetKind.MODELS, "Models", ("models", "model", "m"),
            (NAME, VERSION, field_column("TYPE", "type", max_width=16, drop_rank=2),
             field_column("JOB", "job_name", max_width=32, min_width=10, drop_rank=3),
             field_column("PATH", "path", min_width=12, drop_rank=1), AGE),
            available=lambda caps: caps.models,
            unavailable="This workspace backend does not support models.",
        ),
        KindSpec(
            AssetKind.ENDPOINTS, "Endpoints", ("endpoints", "endpoint", "ep", "online-endpoints"),
            (NAME, field_column("STATE", "provisioning_state", max_width=14),
             field_column("AUTH", "auth_mode", max_width=10, drop_rank=1),
             field_column("SCORING URI", "scoring_uri", min_width=12), AGE),
            available=lambda caps: caps.endpoints,
            unavailable="This workspace backend does not support online endpoints.",
        ),
    )
}

# The sidebar's order (k9s keeps the most used first).
KIND_ORDER: tuple[AssetKind, ...] = (
    AssetKind.JOBS, AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.COMPUTE,
    AssetKind.MODELS, AssetKind.ENDPOINTS,
)


def all_actions() -> list[KindAction]:
    """Every registered action once (screens bind them all; `check_action` picks per kind)."""
    seen: dict[str, KindAction] = {}
    for kind in KIND_ORDER:
        for action in KINDS[kind].actions:
            seen.setdefault(action.id, action)
    return list(seen.values())


def resolve_kind(word: str) -> KindSpec | None:
    """A `:` command word (`jobs`, `env`, ...) -> its kind, or None."""
    word = word.strip().lower()
    for spec in KINDS.values():
        if word in spec.aliases:
            return spec
    return None


def command_words() -> list[str]:
    """What `:` completes: the canonical name of each kind, then `quit`."""
    return [spec.aliases[0] for spec in (KINDS[k] for k in KIND_ORDER)] + ["env", "quit", "q"]
