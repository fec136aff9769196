"""The table's source: one kind's assets, filtered, sorted and read a page at a time.

The app's table is a window over an `AssetSource` (`source_for(workspace)`): it asks for the count and for the pages
it shows, never for the whole list, so its cost grows with the screen, not the workspace.
The local workspace runs a `ListQuery` in SQLite (local/window.py); the Azure backend's
cache runs it over its own store. `MemorySource` runs it in Python over a full listing: the
fallback for a backend with nothing better, and the oracle the other sources are tested
against: every source returns exactly what `MemorySource` returns for the same assets.

The semantics, which every source keeps:

- Cells are `tui.columns.COLUMNS[kind]`: a column's raw value is `Column.get(asset, now)`,
  its cell text `Column.fmt(value)`.
- Filter (`tui.query.Query`): `text` and `regex` match, case-insensitively, the *search
  text*: the cells of the searchable columns (not `clock`, not `live`: an age or a running
  duration changes by the second, so no index can hold it) joined with one space. A term
  matches its column's cell as a case-insensitive substring; a column that is not searchable
  has an empty cell here, so `age:1` matches no row and `-age:1` every row.
- Order: with no sort column, newest first (creation time descending), ties by key
  ascending. With a sort column: its raw value by `tui.columns.sort_key` (numbers before
  text, text case-insensitive), ascending or `descending`; a missing value (None) sorts
  last in both directions; ties keep the default order.
- Jobs: top-level jobs only, or the children of `parent`.
- Versioned kinds (data, environments, models): the latest version of each name.

No Textual or Rich here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from tui.query import Query
from tui.workspace.base import ACTIVE_STATUSES, Asset, AssetKind, Job

if TYPE_CHECKING:
    from tui.columns import Column
    from tui.workspace.base import Workspace

PAGE_ROWS = 500  # the most rows one fetch returns; the window holds at most 5 pages


@dataclass(frozen=True)
class ListQuery:
    """What the window shows: which kind, which rows, in which order."""

    kind: AssetKind
    filter: Query = field(default_factory=Query)
    sort: str | None = None  # a column title of the kind; None: newest first
    descending: bool = False
    parent: str | None = None  # jobs: the children of this job instead of top-level jobs


@dataclass(frozen=True)
class Count:
    """How many rows a query matches. `exact` is False while a backend has not loaded every
    page (Azure has no count API): the UI then says "of N loaded", or "N+"."""

    total: int
    exact: bool = True


@dataclass(frozen=True)
class Changes:
    """What changed in a kind since a watermark: the changed assets (new ones too) and, for
    jobs, every active one. `reset` asks the window to reload its pages (rows were removed,
    or the watermark is too old to answer from); `watermark` is the one to ask with next."""

    watermark: int
    assets: Sequence[Asset] = ()
    reset: bool = False


class AssetSource(ABC):
    """Counts, pages and changes of a workspace's assets. Methods block: call them from a
    worker thread. Thread-safe."""

    @abstractmethod
    def count(self, query: ListQuery) -> Count:
        """How many rows `query` matches."""

    @abstractmethod
    def fetch(self, query: ListQuery, offset: int, limit: int, *, now: float) -> list[Asset]:
        """Rows `offset` .. `offset + limit` (limit ≤ PAGE_ROWS) of `query`, in its order. `now`
        is the clock that ages and running durations are sorted by."""

    @abstractmethod
    def watermark(self, kind: AssetKind) -> int:
        """A number that grows whenever an asset of `kind` is added or changed: cheap to ask,
        so an idle app asks it every tick and does nothing more while it stands still."""

    @abstractmethod
    def changes(self, kind: AssetKind, since: int) -> Changes:
        """Assets of `kind` changed after watermark `since`, and (jobs) every active job."""


# ---------------------------------------------------------------------------- reference


def searchable(columns: Sequence["Column"]) -> list[int]:
    """Positions of the columns that the text filter and terms search (see the module doc)."""
    return [i for i, c in enumerate(columns) if not c.clock and c.live is None]


def search_text(asset: Asset, columns: Sequence["Column"], now: float) -> str:
    """The text a filter's `text`/`regex` matches: searchable cells, joined, lower-cased."""
    return " ".join(columns[i].fmt(columns[i].get(asset, now)) for i in searchable(columns)).lower()


def apply_query(assets: Sequence[Asset], query: ListQuery, now: float) -> list[Asset]:
    """`query`'s filter and order over `assets` (already the right kind and level), in Python."""
    from tui.columns import COLUMNS, created_ts, sort_key

    columns = COLUMNS[query.kind]
    titles = [c.title for c in columns]
    rows = list(assets)
    test = query.filter.predicate(titles)
    if test is not None:
        shown = set(searchable(columns))
        kept = []
        for asset in rows:
            cells = [c.fmt(c.get(asset, now)) if i in shown else "" for i, c in enumerate(columns)]
            if test(" ".join(cells[i] for i in sorted(shown)).lower(), cells):
                kept.append(asset)
        rows = kept
    # The default order first; a sort by column is stable, so ties keep it.
    rows.sort(key=lambda a: a.key)
    rows.sort(key=lambda a: created_ts(a) or 0.0, reverse=True)
    if query.sort is not None and query.sort in titles:
        column = columns[titles.index(query.sort)]
        keyed = [(column.get(a, now), a) for a in rows]
        present = [(sort_key(v), a) for v, a in keyed if v is not None]
        missing = [a for v, a in keyed if v is None]
        # Python's sort is stable also with reverse=True: ties keep the default order.
        present.sort(key=lambda p: p[0], reverse=query.descending)
        rows = [a for _, a in present] + missing
    return rows


class MemorySource(AssetSource):
    """The reference source: every asset loaded through the `Workspace` listing methods, then
    filtered and sorted in Python. A listing is loaded once per kind and level and reused
    until `changes` says it moved (any change reloads it: this source is for small lists)."""

    def __init__(self, workspace: "Workspace") -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._lists: dict[tuple[AssetKind, str | None], list[Asset]] = {}
        self._marks: dict[AssetKind, tuple] = {}
        self._counter = 0
        self._active: list[str] = []  # active jobs when the list was last loaded

    def _assets(self, kind: AssetKind, parent: str | None) -> list[Asset]:
        with self._lock:
            cached = self._lists.get((kind, parent))
        if cached is not None:
            return cached
        ws = self.workspace
        if kind is AssetKind.JOBS:
            found = list(ws.list_jobs(parent_job_name=parent).items) if parent else _all(ws, kind)
        else:
            found = _all(ws, kind)
        with self._lock:
            self._lists[(kind, parent)] = found
        return found

    def count(self, query: ListQuery) -> Count:
        return Count(len(apply_query(self._assets(query.kind, query.parent), query, _now())))

    def fetch(self, query: ListQuery, offset: int, limit: int, *, now: float) -> list[Asset]:
        rows = apply_query(self._assets(query.kind, query.parent), query, now)
        return rows[offset:offset + min(limit, PAGE_ROWS)]

    def _signature(self, kind: AssetKind) -> tuple:
        """What tells that a kind moved: its count, and each active job's status."""
        ws = self.workspace
        count = ws.counts().get(kind)
        if kind is not AssetKind.JOBS:
            return (count,)
        with self._lock:
            jobs = self._lists.get((kind, None))
            if jobs is not None:  # the names outlive the dropped list: its signature must not change by itself
                self._active = [j.name for j in jobs if isinstance(j, Job) and j.status in ACTIVE_STATUSES]
            names = list(self._active)
        return (count, tuple(sorted((name, ws.get_job(name).status) for name in names)))

    def watermark(self, kind: AssetKind) -> int:
        signature = self._signature(kind)
        with self._lock:
            if self._marks.get(kind) != signature:
                self._marks[kind] = signature
                self._counter += 1
                self._lists = {k: v for k, v in self._lists.items() if k[0] is not kind}
            return self._counter

    def changes(self, kind: AssetKind, since: int) -> Changes:
        mark = self.watermark(kind)
        return Changes(mark, reset=mark != since)


def _all(ws: "Workspace", kind: AssetKind) -> list[Asset]:
    out: list[Asset] = []
    token = None
    while True:
        page = ws.list_assets(kind, page_token=token)
        out.extend(page.items)
        token = page.next_token
        if not token:
            return out


def _now() -> float:
    import time

    return time.time()


def source_for(workspace: "Workspace") -> AssetSource:
    """The workspace's own source (a backend with a store defines `source()`), else one
    `MemorySource` over its listings. Not a method of `Workspace`: the reference needs the
    columns, which need base.py."""
    own = getattr(workspace, "source", None)
    if callable(own):
        return own()
    memory = workspace.__dict__.get("_memory_source")
    if memory is None:
        memory = workspace.__dict__.setdefault("_memory_source", MemorySource(workspace))
    return memory
