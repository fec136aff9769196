"""The local workspace catalog: one SQLite file (WAL) shared by the CLI, the TUI and runners.

Many processes write it at once (submitters, runners, the scheduler), so every write is a
short `BEGIN IMMEDIATE` transaction and readers never block writers (WAL).

A catalog that cannot be read or written raises `CatalogError` (a `BackendUnavailableError`,
exit code 1) naming the file, never a bare `sqlite3` error; a damaged or lost one raises
`CatalogCorruptError`, which points at `aml-tui workspace check` / `repair`.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..base import BackendUnavailableError

# How long a writer waits for another one's lock; AML_TUI_BUSY_TIMEOUT_MS overrides it.
BUSY_TIMEOUT_MS = 30_000

REPAIR_HINT = "run `aml-tui workspace check`, then `aml-tui workspace repair` (it keeps the old file)"

# Each entry migrates the schema from version i to i+1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE data (
        name TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL,
        source_path TEXT, description TEXT, tags TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL, PRIMARY KEY (name, version));
    CREATE TABLE environments (
        name TEXT NOT NULL, version TEXT NOT NULL, image TEXT, conda_file TEXT,
        description TEXT, tags TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL,
        PRIMARY KEY (name, version));
    CREATE TABLE compute (
        name TEXT PRIMARY KEY, type TEXT NOT NULL, max_concurrency INTEGER NOT NULL,
        description TEXT, created_at REAL NOT NULL);
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE, display_name TEXT, type TEXT NOT NULL,
        status TEXT NOT NULL, experiment_name TEXT NOT NULL, compute TEXT NOT NULL,
        parent_job_name TEXT, created_at REAL NOT NULL, start_time REAL, end_time REAL,
        claimed_at REAL, runner_pid INTEGER, runner_started REAL, pgid INTEGER,
        exit_code INTEGER, error TEXT, mlflow_run_id TEXT, spec TEXT NOT NULL);
    CREATE INDEX jobs_active ON jobs (status, compute, seq);
    CREATE INDEX jobs_parent ON jobs (parent_job_name, seq);
    CREATE TABLE models (
        name TEXT NOT NULL, version TEXT NOT NULL, type TEXT, path TEXT, job_name TEXT,
        description TEXT, tags TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL,
        PRIMARY KEY (name, version));
    CREATE TABLE endpoints (
        name TEXT PRIMARY KEY, state TEXT, scoring_uri TEXT, spec TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL);
    """,
    # Runners spawned for a job; a runner that never starts is retried a bounded number of times.
    "ALTER TABLE jobs ADD COLUMN spawn_attempts INTEGER NOT NULL DEFAULT 0",
    # The process that must start a claimed job: its spawner, then the spawned runner. Once it
    # is gone and no runner claimed the job, the claim is orphaned at once (see jobstore).
    "ALTER TABLE jobs ADD COLUMN spawn_pid INTEGER",
    # An environment's docker build context ({path, dockerfile_path}), kept as az ml shows it.
    "ALTER TABLE environments ADD COLUMN build TEXT",
    # v5: what the table window needs (window.py). A change counter: every insert or update of
    # a row stamps it with the next value of `revision.rev` (a removal records it in `removed`),
    # so "what changed since N" is one indexed query. And one covering index over the columns
    # the job table sorts and filters by: a scan of it reads ~100 bytes a job, not the row's
    # whole record (its `spec` is most of a row).
    """
    CREATE TABLE revision (one INTEGER PRIMARY KEY CHECK (one = 1), rev INTEGER NOT NULL);
    INSERT INTO revision VALUES (1, 0);
    CREATE TABLE removed (tbl TEXT PRIMARY KEY, rev INTEGER NOT NULL);
    """ + "".join(f"""
    ALTER TABLE {table} ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER {table}_rev_insert AFTER INSERT ON {table} BEGIN
        UPDATE revision SET rev = rev + 1;
        UPDATE {table} SET rev = (SELECT rev FROM revision) WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER {table}_rev_update AFTER UPDATE ON {table} WHEN NEW.rev = OLD.rev BEGIN
        UPDATE revision SET rev = rev + 1;
        UPDATE {table} SET rev = (SELECT rev FROM revision) WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER {table}_rev_delete AFTER DELETE ON {table} BEGIN
        UPDATE revision SET rev = rev + 1;
        INSERT OR REPLACE INTO removed VALUES ('{table}', (SELECT rev FROM revision));
    END;
    """ for table in ("jobs", "data", "environments", "compute", "models", "endpoints")) + """
    CREATE INDEX jobs_rev ON jobs (rev);
    CREATE INDEX jobs_window ON jobs (parent_job_name, created_at DESC, name, display_name, status, type,
                                      experiment_name, compute, start_time, end_time);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class CatalogError(BackendUnavailableError):
    """The catalog cannot be read or written (locked, disk full, unreadable)."""


class CatalogCorruptError(CatalogError):
    """The catalog is damaged, empty or missing while the workspace holds jobs or data."""


def busy_timeout_ms() -> int:
    return int(os.environ.get("AML_TUI_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS))


# SQLite's primary result codes that mean "this file cannot be used", as opposed to a bug in
# a statement (SQLITE_ERROR) or a constraint the caller handles (SQLITE_CONSTRAINT).
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_UNUSABLE = _CORRUPT | _BUSY | {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                                sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_PROTOCOL}


def translate(path: Path | str, exc: sqlite3.Error) -> Exception:
    """The error to raise for `exc`: a `CatalogError` when the file is the problem, else `exc`."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in _CORRUPT:
        return CatalogCorruptError(f"{path} is corrupt ({exc}); {REPAIR_HINT}")
    if code in _BUSY:
        return CatalogError(f"{path}: another process has held the catalog's write lock for "
                            f"{busy_timeout_ms() / 1000:g} s ({exc}); nothing was written, try again")
    if code in _UNUSABLE:
        return CatalogError(f"{path}: cannot read or write the catalog: {exc}")
    return exc


class _Cursor(sqlite3.Cursor):
    # Corruption can surface on any page read, so fetches are translated as well as execute.
    def execute(self, sql, parameters=()):
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc

    def executemany(self, sql, seq_of_parameters):
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc

    def fetchmany(self, size=1):
        try:
            return super().fetchmany(size)
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc

    def __next__(self):
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            raise translate(self.connection.path, exc) from exc


class CatalogConnection(sqlite3.Connection):
    """A connection whose statements raise `CatalogError` for an unusable file."""

    path: Path

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    # sqlite3.Connection.execute does not go through an overridden cursor(): route it there.
    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        return self.cursor().executemany(sql, seq_of_parameters)


def connect(path: Path, *, rebuild: bool = False) -> sqlite3.Connection:
    """Open the catalog, creating or migrating it. Autocommit mode: use `transaction()`.
    `rebuild`: a new catalog is wanted although the workspace holds jobs (repair)."""
    if not rebuild:
        _refuse_lost(Path(path))
    timeout_ms = busy_timeout_ms()
    try:
        conn = sqlite3.connect(path, timeout=timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False, factory=CatalogConnection)
    except sqlite3.DatabaseError as exc:
        raise translate(path, exc) from exc
    conn.path = path
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            _migrate(conn)
        elif version > SCHEMA_VERSION:
            raise CatalogError(
                f"{path}: catalog schema version {version} is newer than this aml-tui "
                f"understands ({SCHEMA_VERSION}); upgrade aml-tui")
        return conn
    except BaseException:
        conn.close()
        raise


def workspace_content(root: Path) -> tuple[int, int]:
    """(job folders, data names) on disk: what only a catalog that existed can describe."""
    counts = []
    for sub in ("jobs", "datastore"):
        try:
            with os.scandir(root / sub) as entries:
                counts.append(sum(1 for e in entries if not e.name.startswith(".") and e.is_dir()))
        except FileNotFoundError:
            counts.append(0)
    return counts[0], counts[1]


def _refuse_lost(path: Path) -> None:
    """SQLite turns a missing or zero-byte file into a new, empty catalog; over a workspace
    that has jobs or data that would silently hide them all. A new workspace has neither."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    if size:
        return
    jobs, data = workspace_content(path.parent)
    if jobs or data:
        state = "missing" if size is None else "empty (0 bytes)"
        raise CatalogCorruptError(f"{path} is {state}, but the workspace holds {jobs} job folder(s) and "
                                  f"{data} data asset(s); refusing to start an empty catalog over them: "
                                  f"{REPAIR_HINT}")


def _migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        # Re-read inside the lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")


def _statements(script: str) -> Iterator[str]:
    """The statements of `script`: split at each `;` that ends one (a trigger holds several)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front, so read-then-write is atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # A failed COMMIT may already have ended the transaction; the original error matters.
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except (sqlite3.Error, CatalogError):
                pass
        raise
    else:
        conn.execute("COMMIT")
