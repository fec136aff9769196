"""The file behind the Azure list cache (cache.py): one SQLite file per workspace in the user
cache dir, owner-only, opened on first use.

It holds each list's rows as the engine made them (fields normalised and scrubbed of secrets)
and when the list was fetched. It is only a cache: a file that is not a database is started
again, and a store that cannot be opened or written leaves the lists in memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

import orjson

from tui.columns import created_ts

from ..base import Asset, AssetKind, Job

CACHE_ENV = "AML_TUI_CACHE"  # overrides the user cache dir (tests set it)
SCHEMA = 3


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("aml-tui", appauthor=False))


def cache_file(directory: Path | str, subscription: str, group: str, workspace: str) -> Path:
    """The store of one workspace: readable name, and a digest of the full identity (Azure
    names are case-insensitive, and two groups may hold workspaces of the same name)."""
    ident = f"{subscription}/{group}/{workspace}".lower()
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", workspace)[:60]
    return Path(directory) / f"azure-{readable}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.sqlite3"


def dump(asset: Asset) -> bytes:
    record: dict[str, Any] = {"kind": asset.kind.value, "name": asset.name, "version": asset.version,
                              "fields": asset.fields}
    if isinstance(asset, Job):
        record["job"] = {f.name: getattr(asset, f.name) for f in dataclasses.fields(Job)
                         if f.name not in ("kind", "name", "version", "fields")}
    return orjson.dumps(record, default=str)


def load(text: bytes) -> Asset:
    # orjson: parsing 5,000 stored jobs is most of the time it takes to read a whole list.
    record = orjson.loads(text)
    kind = AssetKind(record["kind"])
    if "job" in record:
        return Job(kind, record["name"], record["version"], record["fields"], **record["job"])
    return Asset(kind, record["name"], record["version"], record["fields"])


class Store:
    """A list is (kind, parent): a kind's assets, or (jobs) one job's children. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._closed = False

    def meta(self, kind: AssetKind, parent: str | None) -> tuple[float | None, bool] | None:
        """(when the list was fetched, whether every page was in), or None if never stored."""
        found = self._read("SELECT as_of, complete FROM lists WHERE kind=? AND parent=?", (kind.value, parent or ""))
        return (found[0][0], bool(found[0][1])) if found else None

    def assets(self, kind: AssetKind, parent: str | None) -> list[Asset]:
        """Every row of a list, read a slice at a time: a window asking for a page or a count
        meanwhile waits for one slice, not for thousands of rows."""
        out: list[Asset] = []
        after = ""
        while True:
            found = self._read("SELECT key, record FROM rows WHERE kind=? AND parent=? AND key>? ORDER BY key "
                               "LIMIT 500", (kind.value, parent or "", after))
            out += [load(text) for _, text in found]
            if len(found) < 500:
                return out
            after = found[-1][0]

    def count(self, kind: AssetKind, parent: str | None) -> int | None:
        found = self._read("SELECT COUNT(*) FROM rows WHERE kind=? AND parent=?", (kind.value, parent or ""))
        return found[0][0] if found else None

    def page(self, kind: AssetKind, parent: str | None, offset: int, limit: int) -> list[Asset] | None:
        """Rows in the default order (source.py: newest first, ties by key), from the index."""
        if self._open() is None:
            return None
        found = self._read("SELECT record FROM rows WHERE kind=? AND parent=? ORDER BY created DESC, key "
                           "LIMIT ? OFFSET ?", (kind.value, parent or "", limit, offset))
        return [load(text) for (text,) in found]

    def put(self, kind: AssetKind, parent: str | None, assets: Iterable[Asset]) -> None:
        self._write("INSERT OR REPLACE INTO rows (kind, parent, key, created, record) VALUES (?, ?, ?, ?, ?)",
                    [(kind.value, parent or "", a.key, created_ts(a) or 0.0, dump(a)) for a in assets])

    def delete(self, kind: AssetKind, parent: str | None, keys: Iterable[str]) -> None:
        self._write("DELETE FROM rows WHERE kind=? AND parent=? AND key=?",
                    [(kind.value, parent or "", key) for key in keys])

    def put_meta(self, kind: AssetKind, parent: str | None, as_of: float | None, complete: bool) -> None:
        self._write("INSERT OR REPLACE INTO lists (kind, parent, as_of, complete) VALUES (?, ?, ?, ?)",
                    [(kind.value, parent or "", as_of, int(complete))])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------ SQLite

    def _open(self) -> sqlite3.Connection | None:
        with self._lock:
            if self._db is None and not self._broken and not self._closed:
                try:
                    self._db = self._connect()
                except (OSError, sqlite3.Error):
                    self._broken = True
            return self._db

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for attempt in (1, 2):
            # Owner-only before SQLite writes a byte (its journal takes the file's mode).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=2)
            try:
                db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is fetched again
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                    db.executescript(f"""
                        DROP TABLE IF EXISTS rows; DROP TABLE IF EXISTS lists;
                        CREATE TABLE rows (kind TEXT NOT NULL, parent TEXT NOT NULL, key TEXT NOT NULL,
                                           created REAL NOT NULL, record BLOB NOT NULL,
                                           PRIMARY KEY (kind, parent, key)) WITHOUT ROWID;
                        CREATE INDEX rows_order ON rows (kind, parent, created DESC, key);
                        CREATE TABLE lists (kind TEXT NOT NULL, parent TEXT NOT NULL, as_of REAL,
                                            complete INTEGER NOT NULL, PRIMARY KEY (kind, parent)) WITHOUT ROWID;
                        PRAGMA user_version = {SCHEMA};""")
                return db
            except sqlite3.DatabaseError:
                db.close()
                if attempt == 2:
                    raise
                self.path.unlink()  # not a database (or damaged): it is only a cache, start again
        raise AssertionError("unreachable")

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        db = self._open()
        if db is None:
            return []
        with self._lock:
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error:
                return []

    def _write(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        db = self._open()
        if db is None:
            return
        with self._lock:
            try:
                with db:
                    db.execute("BEGIN")
                    db.executemany(sql, rows)
            except sqlite3.Error:
                self._broken = True  # disk full, the file gone: go on in memory
