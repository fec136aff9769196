"""The local workspace catalog: one SQLite file (WAL) shared by the CLI, the TUI and runners.

Many processes write it at once (submitters, runners, the scheduler), so every write is a
short `BEGIN IMMEDIATE` transaction and readers never block writers (WAL).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..base import BackendUnavailableError

BUSY_TIMEOUT_MS = 30_000

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
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
    """Open the catalog, creating or migrating it. Autocommit mode: use `transaction()`."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            _migrate(conn)
        elif version > SCHEMA_VERSION:
            raise BackendUnavailableError(
                f"{path}: catalog schema version {version} is newer than this aml-tui "
                f"understands ({SCHEMA_VERSION}); upgrade aml-tui")
        return conn
    except sqlite3.DatabaseError as exc:
        raise BackendUnavailableError(f"{path}: cannot open the catalog: {exc}") from exc


def _migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        # Re-read inside the lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front, so read-then-write is atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
