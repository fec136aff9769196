"""The local workspace's table source: a `ListQuery` run in SQLite (contract: ../source.py).

Jobs, the kind that grows to 100,000s, are read in two steps: the keys of one page, found in
the `jobs_window` covering index (catalog.py: filtering and sorting never read a job's whole
record, mostly its `spec`), then those rows. Every other kind is a small table: one query.

Each column's cell is a SQL expression here (`_CELLS`), so filters and sorts agree with
`MemorySource`, which formats each cell in Python (`Column.fmt`):
- text and terms match with LIKE, whose case folding is ASCII's; a needle with other
  characters goes through Python's `lower()` in a SQL function;
- text sorts with COLLATE NOCASE (ASCII folding too), numbers before text (SQLite's own
  order), NULL last both ways, ties in the default order (newest first, key ascending);
- a needle without a space matches the search text exactly when it matches one of its cells
  (cells are joined by one space), so the common filter is an OR of LIKEs; a needle with a
  space matches the joined cells;
- ages sort by `now - created_at` as Python computes them (the same IEEE double). Other
  kinds' creation times reach Python through an ISO string (microseconds): two assets made
  within one microsecond may tie there and not here.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from ..base import ACTIVE_STATUSES, Asset, AssetKind
from ..source import PAGE_ROWS, AssetSource, Changes, Count, ListQuery, MemorySource, searchable
from . import assets, jobstore

if TYPE_CHECKING:
    from .workspace import LocalWorkspace

# A `changes` answer with more changed rows than the window could hold asks it to reload.
MAX_CHANGED = 5 * PAGE_ROWS

_AGE = "CASE WHEN created_at = 0 THEN NULL ELSE :now - created_at END"
_NAME_VERSION = {"NAME": "name", "VERSION": "version"}


def _spec_field(column: str, key: str) -> str:
    """An endpoint's field: its stored `spec` overrides the column, as `_endpoint` merges them."""
    return (f"CASE WHEN json_type(spec, '$.{key}') IS NULL THEN {column} "
            f"ELSE json_extract(spec, '$.{key}') END")


# Each kind's columns (tui/columns.py COLUMNS) as SQL: title -> the raw value (what sorts;
# NULL where the column's `get` gives None), or (raw value, cell text) where `fmt` is more
# than the value as text.
_CELLS: dict[AssetKind, dict[str, str | tuple[str, str]]] = {
    AssetKind.JOBS: {
        "NAME": "name", "DISPLAY NAME": "display_name", "STATUS": "status", "TYPE": "type",
        "EXPERIMENT": "experiment_name", "COMPUTE": "compute",
        "DURATION": "CASE WHEN start_time IS NULL THEN NULL ELSE max(0.0, coalesce(end_time, :now) - start_time) END",
        "AGE": _AGE,
    },
    AssetKind.DATA: {**_NAME_VERSION, "TYPE": "type", "PATH": "file_uri(path)", "DESCRIPTION": "description",
                     "AGE": _AGE},
    AssetKind.ENVIRONMENTS: {**_NAME_VERSION, "IMAGE": "image",
                             "CONDA": ("conda_value(conda_file)", "conda_cell(conda_file)"), "AGE": _AGE},
    AssetKind.COMPUTE: {"NAME": "name", "TYPE": "type", "STATE": "'Running'", "CAPACITY": "max_concurrency",
                        "RUNNING": "running_jobs", "QUEUED": "queued_jobs", "SIZE": "NULL", "AGE": _AGE},
    AssetKind.MODELS: {**_NAME_VERSION, "TYPE": "type", "JOB": "job_name", "PATH": "path", "AGE": _AGE},
    AssetKind.ENDPOINTS: {"NAME": "name", "STATE": _spec_field("state", "provisioning_state"),
                          "AUTH": "json_extract(spec, '$.auth_mode')",
                          "SCORING URI": _spec_field("scoring_uri", "scoring_uri"), "AGE": _AGE},
}

# Job columns that are never NULL (catalog.py): their sort needs no NULLs-last term.
_JOB_NOT_NULL = {"name", "status", "type", "experiment_name", "compute"}

# The tables whose rows make a kind's rows: compute counts its running and queued jobs.
_TABLES: dict[AssetKind, tuple[str, ...]] = {
    AssetKind.JOBS: ("jobs",), AssetKind.COMPUTE: ("compute", "jobs"),
    **{k: (assets.DESCRIPTORS[k].table,) for k in
       (AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.MODELS, AssetKind.ENDPOINTS)},
}


def _value(kind: AssetKind, title: str) -> str:
    cell = _CELLS[kind][title]
    return cell[0] if isinstance(cell, tuple) else cell


def _text(kind: AssetKind, title: str) -> str:
    cell = _CELLS[kind][title]
    return cell[1] if isinstance(cell, tuple) else f"coalesce(CAST({cell} AS TEXT), '')"


def _key(kind: AssetKind) -> str:
    """`Asset.key` in SQL: the default order's tie-breaker."""
    if kind is not AssetKind.JOBS and assets.DESCRIPTORS[kind].versioned:
        return "CASE WHEN version = '' THEN name ELSE name || ':' || version END"
    return "name"


def _like(value: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", value) + "%"


@functools.lru_cache(maxsize=64)
def _pattern(regex: str) -> re.Pattern:
    return re.compile(regex, re.IGNORECASE)


def _conda_value(text: str | None):
    """CONDA's raw value, as `sort_key` orders it: a number, else its text lower-cased."""
    value = json.loads(text) if text else None
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value).lower()


def _register(conn: sqlite3.Connection, root: Path) -> None:
    """The SQL functions the queries use, on one connection (each thread has its own)."""
    conn.create_function("regexp", 2, lambda regex, text: _pattern(regex).search(text.lower()) is not None,
                         deterministic=True)
    conn.create_function("contains", 2, lambda needle, text: needle in text.lower(), deterministic=True)
    conn.create_function("file_uri", 1, lambda path: Path(root, path).as_uri(), deterministic=True)
    conn.create_function("conda_value", 1, _conda_value, deterministic=True)
    conn.create_function("conda_cell", 1, lambda text: "yes" if text and json.loads(text) else "",
                         deterministic=True)


class SqlSource(AssetSource):
    """`ListQuery`s over a `LocalWorkspace`'s catalog; each thread queries through its own
    connection, as the workspace does. A kind, or a column, that `_CELLS` does not know yet
    (a new kind needs only its descriptor in assets.py) is served by `MemorySource`."""

    def __init__(self, workspace: "LocalWorkspace") -> None:
        self.workspace = workspace
        self._memory = MemorySource(workspace)

    @staticmethod
    def in_sql(kind: AssetKind) -> bool:
        """Whether `kind`'s queries run in SQL (else in `MemorySource`)."""
        from tui.columns import COLUMNS

        cells = _CELLS.get(kind)
        return cells is not None and all(c.title in cells for c in COLUMNS.get(kind, ()))

    def _conn(self) -> sqlite3.Connection:
        conn = self.workspace._conn
        if not getattr(conn, "window_functions", False):
            _register(conn, self.workspace.root)
            conn.window_functions = True
        return conn

    def _reconcile(self, conn: sqlite3.Connection) -> None:
        """Dead runners fail their jobs (as every job listing does), bumping the watermark."""
        ws = self.workspace
        jobstore.reconcile(conn, ws.root, start_jobs=not ws.read_only)

    # ------------------------------------------------------------------ queries

    def _from(self, kind: AssetKind) -> str:
        return "jobs" if kind is AssetKind.JOBS else f"{assets.descriptor(kind).listed_from} AS t"

    def _where(self, query: ListQuery, params: dict) -> str:
        kind = query.kind
        parts = []
        if kind is AssetKind.JOBS:
            if query.parent is None:
                parts.append("parent_job_name IS NULL")
            else:
                parts.append("parent_job_name = :parent")
                params["parent"] = query.parent
        from tui.columns import COLUMNS

        columns = COLUMNS[kind]
        shown = [columns[i].title for i in searchable(columns)]
        cells = [_text(kind, t) for t in shown]
        joined = " || ' ' || ".join(cells)
        f = query.filter
        if f.text is not None:
            parts.append(self._contains(cells, joined, f.text.lower(), params))
        if f.regex is not None:
            params["regex"] = f.regex
            parts.append(f"regexp(:regex, {joined})")
        for term in f.terms:
            if term.column not in _CELLS[kind]:
                continue  # not a column of this kind: MemorySource ignores it too
            # A column outside the search text has an empty cell there: no value is in it.
            test = self._contains([_text(kind, term.column)], None, term.value.lower(), params) \
                if term.column in shown else "0"
            parts.append(f"NOT ({test})" if term.negate else test)
        return " AND ".join(parts) or "1"

    def _contains(self, cells: list[str], joined: str | None, needle: str, params: dict) -> str:
        """SQL: `needle` (lower-cased) is in one of `cells`, or in `joined` (the cells joined
        with spaces) when it holds a space."""
        name = f"p{len(params)}"
        if not needle.isascii():
            params[name] = needle
            return f"contains(:{name}, {joined or cells[0]})"
        params[name] = _like(needle)
        if " " not in needle or joined is None:
            return "(" + " OR ".join(f"{c} LIKE :{name} ESCAPE '\\'" for c in cells) + ")"
        # Only rows holding the needle's longest word somewhere can hold the needle.
        word = max(needle.split(" "), key=len)
        test = f"{joined} LIKE :{name} ESCAPE '\\'"
        if word:
            return f"({self._contains(cells, None, word, params)} AND {test})"
        return test

    def _order(self, query: ListQuery) -> str:
        kind = query.kind
        default = f"created_at DESC, {_key(kind)}"
        if query.sort is None or query.sort not in _CELLS[kind]:
            return default
        value = _value(kind, query.sort)
        order = f"({value}) COLLATE NOCASE {'DESC' if query.descending else 'ASC'}, {default}"
        if kind is AssetKind.JOBS and value in _JOB_NOT_NULL:
            return order  # as the jobs_by_name index orders them
        return f"({value}) IS NULL, {order}"

    def count(self, query: ListQuery) -> Count:
        if not self.in_sql(query.kind):
            return self._memory.count(query)
        conn = self._conn()
        if query.kind is AssetKind.JOBS:
            self._reconcile(conn)
        params: dict = {}
        where = self._where(query, params)
        return Count(conn.execute(f"SELECT count(*) FROM {self._from(query.kind)} WHERE {where}", params).fetchone()[0])

    def fetch(self, query: ListQuery, offset: int, limit: int, *, now: float) -> list[Asset]:
        if not self.in_sql(query.kind):
            return self._memory.fetch(query, offset, limit, now=now)
        conn = self._conn()
        kind = query.kind
        params: dict = {"now": now, "limit": max(0, min(limit, PAGE_ROWS)), "offset": max(0, offset)}
        where = self._where(query, params)
        page = f"WHERE {where} ORDER BY {self._order(query)} LIMIT :limit OFFSET :offset"
        if kind is not AssetKind.JOBS:
            d = assets.descriptor(kind)
            return [d.to_asset(self.workspace.root, r)
                    for r in conn.execute(f"SELECT * FROM {self._from(kind)} {page}", params)]
        # The scan in the sort's own order, or newest first: ties then arrive in their order.
        index = "jobs_by_name" if query.sort == "NAME" else "jobs_window"
        seqs = [r[0] for r in conn.execute(f"SELECT seq FROM jobs INDEXED BY {index} {page}", params)]
        if not seqs:
            return []
        rows = {r["seq"]: r for r in conn.execute(
            f"SELECT * FROM jobs WHERE seq IN ({','.join(map(str, seqs))})")}
        return assets.rows_to_jobs(conn, [rows[s] for s in seqs if s in rows])

    # ------------------------------------------------------------------ changes

    def _watermark(self, conn: sqlite3.Connection, kind: AssetKind) -> tuple[int, int]:
        """(the newest change to `kind`'s tables, the newest removal from them)."""
        tables = _TABLES[AssetKind(kind)]
        changed = ", ".join(f"(SELECT coalesce(max(rev), 0) FROM {t})" for t in tables)
        marks = ",".join("?" * len(tables))
        row = conn.execute(f"SELECT max(0, {changed}), "
                           f"(SELECT coalesce(max(rev), 0) FROM removed WHERE tbl IN ({marks}))", tables).fetchone()
        return row[0], row[1]

    def watermark(self, kind: AssetKind) -> int:
        if not self.in_sql(kind):
            return self._memory.watermark(kind)
        return max(self._watermark(self._conn(), kind))

    def changes(self, kind: AssetKind, since: int) -> Changes:
        kind = AssetKind(kind)
        if not self.in_sql(kind):
            return self._memory.changes(kind, since)
        conn = self._conn()
        if kind in (AssetKind.JOBS, AssetKind.COMPUTE):
            self._reconcile(conn)
        changed, removed = self._watermark(conn, kind)
        mark = max(changed, removed)
        if kind is not AssetKind.JOBS:
            # Small kinds reload: a new version replaces its name's row under another key.
            return Changes(mark, reset=mark != since)
        # A counter behind `since` belongs to another catalog (a repaired one): reload.
        if removed > since or mark < since:
            return Changes(mark, reset=True)
        rows = conn.execute("SELECT * FROM jobs WHERE rev > ? ORDER BY rev LIMIT ?",
                            (since, MAX_CHANGED + 1)).fetchall()
        if len(rows) > MAX_CHANGED:
            return Changes(mark, reset=True)
        seen = {r["name"] for r in rows}
        active = sorted(ACTIVE_STATUSES)
        rows += [r for r in conn.execute(f"SELECT * FROM jobs WHERE status IN ({','.join('?' * len(active))})",
                                         active) if r["name"] not in seen]
        return Changes(mark, assets.rows_to_jobs(conn, rows))
