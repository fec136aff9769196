"""The UI's registry of asset kinds: one entry per kind, one table view and one detail view.

Like k9s's registry, each `KindSpec` says which columns to show, how to key a row, how to
render its details and which extra actions it has. Screens never branch on a kind beyond
looking up its spec here.

A kind's rows come a page at a time from the workspace's source (`SourcePager`, for the
table's window); they and detail loaders block (they call the workspace): run them in
workers. Formatting cells happens in the worker too, so the event loop only swaps lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.columns import (
    COLUMNS,
    Column,
    STATUS_STYLES,
    Row,
    _text,
    created_ts,
    format_duration,
    format_time,
    sort_key,
)
from tui.query import Query
from tui.workspace.base import (
    Asset,
    AssetKind,
    Capabilities,
    Job,
    LogFile,
    MetricPoint,
    Workspace,
)
from tui.workspace.source import PAGE_ROWS, ListQuery

if TYPE_CHECKING:
    from tui.widgets.window import PageRequest, PageResult
    from tui.workspace.source import AssetSource


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


class SourcePager:
    """The table's pages of one kind, read from the workspace's `AssetSource` and built into
    rows. Blocks: the table's screen runs it in a worker."""

    blocking = True

    def __init__(self, source: "AssetSource", spec: "KindSpec") -> None:
        self.source, self.spec = source, spec

    def run(self, request: "PageRequest", now: float) -> "PageResult":
        from tui.widgets.window import PageResult

        source, query = self.source, request.query
        result = PageResult(request.generation)
        if request.count:  # the watermark first: rows read after it are at least as new as it says
            result.watermark = source.watermark(query.kind)
        for page in request.pages:
            assets = source.fetch(query, page * PAGE_ROWS, request.limit, now=now)
            result.pages[page] = build_rows(self.spec, assets, now)
        if request.count:  # after the pages: a count that is not exact grows with what they loaded
            result.count = source.count(query)
            result.unfiltered = result.count if query.filter.empty else source.count(replace(query, filter=Query()))
        return result

    def children(self, parent: str, now: float) -> list[Row]:
        """Every child of `parent` (a sweep's trials: few), newest first."""
        query, assets = ListQuery(self.spec.kind, parent=parent), []
        while True:
            page = self.source.fetch(query, len(assets), PAGE_ROWS, now=now)
            assets.extend(page)
            if len(page) < PAGE_ROWS:
                return build_rows(self.spec, assets, now, depth=1)


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
        # Why a queued job has not started ("cpu-cluster 2/2 busy, 3rd in line").
        ("waiting", job.get("properties.queue_reason") if job.status in ("NotStarted", "Queued") else None),
        ("type", job.type), ("experiment", job.experiment_name), ("compute", job.compute),
        ("environment", job.get("environment")), ("parent", job.parent_job_name),
        ("created", format_time(job.created_at or None)), ("started", format_time(job.start_time)),
        ("ended", format_time(job.end_time)), ("duration", format_duration(job.duration(now))),
        ("command", job.get("command")), ("error", error),
        ("stop reason", job.get("properties.stop_reason")),  # a sweep's policy stopped this trial
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
    KindAction("v", "jobs.sweep_view", "Sweep view", lambda app, job: app.open_sweep(job),
               enabled=lambda caps, a, ro: a is None or getattr(a, "type", None) == "sweep", show=False),
    KindAction("e,space", "jobs.expand", "Expand trials", lambda app, job: app.main_screen.toggle_trials(job),
               enabled=lambda caps, a, ro: a is None or getattr(a, "type", None) == "sweep", show=False),
)


# A compute instance's states in which an action makes no sense (the service would refuse it).
_COMPUTE_ACTION_NOT_IN = {
    "start": ("Running", "Starting", "Restarting", "Creating", "Deleting"),
    "stop": ("Stopped", "Stopping", "Creating", "Deleting"),
    "restart": ("Stopped", "Stopping", "Starting", "Restarting", "Creating", "Deleting"),
}


def _compute_action_enabled(action: str) -> Callable[[Capabilities, Asset | None, bool], bool]:
    def enabled(caps: Capabilities, asset: Asset | None, read_only: bool) -> bool:
        if not caps.compute_actions or read_only:
            return False
        if asset is None:
            return True
        # Clusters scale by themselves: only compute instances are started and stopped.
        return (str(asset.get("type") or "").lower() == "computeinstance"
                and asset.get("state") not in _COMPUTE_ACTION_NOT_IN[action])

    return enabled


def request_compute_action(app: Any, compute: Asset, action: str) -> None:
    """Ask, then send the action in a worker; the table refreshes to show the new state."""
    if not app.check_writable(f"{action} compute"):
        return
    from tui.screens.modals import ConfirmScreen

    def run() -> None:
        try:
            asset = app.workspace.compute_action(compute.name, action)
        except Exception as exc:  # a worker of the app: report it like a screen's worker
            app.call_from_thread(app.report_error, exc, group="mutate")
            return
        app.call_from_thread(done, asset)

    def done(asset: Asset) -> None:
        app.notify(f"{asset.name}: {asset.get('state') or action}", title=f"{action} compute", markup=False)
        app.main_screen.action_refresh()

    def confirmed(yes: bool | None) -> None:
        if yes:
            app.run_worker(run, thread=True, group="mutate", exit_on_error=False)

    state = compute.get("state")
    app.push_screen(ConfirmScreen(f"{action.capitalize()} compute instance [b]{compute.name}[/b]"
                                  + (f" ({state})?" if state else "?"),
                                  yes=f"{action.capitalize()}", no="Keep as is"), confirmed)


COMPUTE_ACTIONS: tuple[KindAction, ...] = tuple(
    KindAction(key, f"compute.{action}", f"{action.capitalize()} instance",
               lambda app, asset, action=action: request_compute_action(app, asset, action),
               enabled=_compute_action_enabled(action), key_display=key)
    for key, action in (("t", "start"), ("x", "stop"), ("R", "restart"))
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

    def action(self, action_id: str) -> KindAction | None:
        return next((a for a in self.actions if a.id == action_id), None)


KINDS: dict[AssetKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            AssetKind.JOBS, "Jobs", ("jobs", "job", "j"), COLUMNS[AssetKind.JOBS],
            detail=job_detail, load_detail=load_job_detail,
            actions=JOB_ACTIONS,
        ),
        KindSpec(
            AssetKind.DATA, "Data", ("data", "dataset", "d"),
            COLUMNS[AssetKind.DATA],
        ),
        KindSpec(
            AssetKind.COMPUTE, "Compute", ("compute", "computes", "c"),
            COLUMNS[AssetKind.COMPUTE],
            actions=COMPUTE_ACTIONS,
        ),
        KindSpec(
            AssetKind.ENVIRONMENTS, "Environments", ("environments", "env", "envs", "environment", "e"),
            COLUMNS[AssetKind.ENVIRONMENTS],
        ),
        KindSpec(
            AssetKind.MODELS, "Models", ("models", "model", "m"),
            COLUMNS[AssetKind.MODELS],
            available=lambda caps: caps.models,
            unavailable="This workspace backend does not support models.",
        ),
        KindSpec(
            AssetKind.ENDPOINTS, "Endpoints", ("endpoints", "endpoint", "ep", "online-endpoints"),
            COLUMNS[AssetKind.ENDPOINTS],
            available=lambda caps: caps.endpoints,
            unavailable="This workspace backend does not support online endpoints.",
        ),
    )
}

# The sidebar's order (k9s keeps the most used first).
KIND_ORDER: list[AssetKind] = [
    AssetKind.JOBS, AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.COMPUTE,
    AssetKind.MODELS, AssetKind.ENDPOINTS,
]


def register_kind(spec: KindSpec) -> None:
    """Add a kind to the registry (the sidebar, `:` commands, the palette); call before the app
    starts. With its `AssetKind` member, its columns (tui/columns.py) and a descriptor per
    backend, that is all a new kind needs (tests/tui/test_toy_kind.py proves it)."""
    KINDS[spec.kind] = spec
    COLUMNS.setdefault(spec.kind, spec.columns)
    if spec.kind not in KIND_ORDER:
        KIND_ORDER.append(spec.kind)


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
