"""`LocalWorkspace`: Azure ML's workspace model on one machine (see DESIGN.md).

A facade: resolution of job documents is resolve.py (-> a RunPlan, plan.py), a job's folder
is layout.py and jobfiles.py, each asset kind is a descriptor in assets.py, registration is
register.py, the job rows and their scheduler are jobstore.py, the runner runner.py.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..base import (
    TERMINAL_STATUSES,
    Asset,
    AssetKind,
    Capabilities,
    Job,
    LogChunk,
    LogFile,
    MetricPoint,
    NotFoundError,
    Page,
    ReadOnlyError,
    Workspace,
    WorkspaceInfo,
)
from . import assets, files, jobfiles, jobstore, tracking
from .catalog import connect, transaction
from .layout import JobLayout

if TYPE_CHECKING:
    from ..source import AssetSource

__all__ = ["LocalWorkspace", "default_root"]

# The local compute every workspace has (resolve.py names it the default too).
DEFAULT_COMPUTE = "local"


_ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lively",
               "lucid", "mellow", "nimble", "polite", "quiet", "shiny", "sleepy", "swift", "tidy", "witty")
_NOUNS = ("apple", "badger", "carrot", "comet", "falcon", "garden", "island", "kettle", "lemon", "meadow",
          "otter", "pepper", "puppy", "river", "rocket", "sparrow", "tiger", "tulip", "walnut", "yacht")


def default_root() -> Path:
    """`AML_TUI_HOME`, else the platform data dir."""
    env = os.environ.get("AML_TUI_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("aml-tui", appauthor=False)) / "workspace"


def _new_job_name() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    tail = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{tail}"


class LocalWorkspace(Workspace):
    """A workspace in a directory: catalog.db, mlflow.db, datastore/, jobs/, envs/."""

    capabilities = Capabilities(submit=True, cancel=True, sweeps=True, models=False, endpoints=False,
                                metrics=True, create_assets=True)

    def __init__(self, root: Path | str | None = None, *, read_only: bool = False):
        self.root = Path(root).expanduser().resolve() if root else default_root().resolve()
        self.read_only = read_only
        files.owner_only()  # before anything is created: the root and all inside it are private
        for sub in ("jobs", "datastore", "envs", "artifacts"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # One SQLite connection per thread: the UI calls from several workers at once, and a
        # connection shared between threads interleaves their transactions.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._conn  # open (and migrate) now, so a broken catalog fails here
        self._ensure_default_compute()
        if not read_only:
            jobfiles.sweep_unfinished(self.root, self._conn)
            tracking.prepare_store_in_background(self.root)

    # ------------------------------------------------------------------ plumbing

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.root / "catalog.db")
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _ensure_default_compute(self) -> None:
        if self._conn.execute("SELECT 1 FROM compute WHERE name = ?", (DEFAULT_COMPUTE,)).fetchone():
            return
        with transaction(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO compute (name, type, max_concurrency, description, created_at) "
                "VALUES (?, 'local', ?, 'this machine', ?)", (DEFAULT_COMPUTE, os.cpu_count() or 1, time.time()))

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the workspace is open read-only")

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    _source: "AssetSource | None" = None  # the SqlSource, made on first use

    def source(self) -> "AssetSource":
        """The table's window: counts, pages and changes queried in the catalog (window.py)."""
        with self._connections_lock:
            if self._source is None:
                from .window import SqlSource

                self._source = SqlSource(self)
            return self._source

    def info(self) -> WorkspaceInfo:
        return WorkspaceInfo(kind="local", name=self.root.name, location=str(self.root),
                             details={"tracking_uri": tracking.tracking_uri(self.root)})

    def counts(self) -> dict[AssetKind, int]:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        q = self._conn.execute
        found = {kind: q(d.count_sql()).fetchone()[0] for kind, d in assets.DESCRIPTORS.items()}
        found[AssetKind.JOBS] = q("SELECT count(*) FROM jobs WHERE parent_job_name IS NULL").fetchone()[0]
        return found

    # ------------------------------------------------------------------ listing (assets.py)

    def list_assets(self, kind: AssetKind, *, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        if AssetKind(kind) is AssetKind.JOBS:
            return self.list_jobs(max_results=max_results, page_token=page_token)
        return assets.list_latest(self._conn, self.root, kind, max_results, page_token)

    def list_versions(self, kind: AssetKind, name: str) -> list[Asset]:
        return assets.list_versions(self._conn, self.root, kind, name)

    def get_asset(self, kind: AssetKind, name: str, version: str | None = None) -> Asset:
        if AssetKind(kind) is AssetKind.JOBS:
            return self.get_job(name)
        return assets.get(self._conn, self.root, kind, name, version)

    # ------------------------------------------------------------------ jobs: read

    def list_jobs(self, *, status: str | None = None, experiment_name: str | None = None,
                  parent_job_name: str | None = None, max_results: int | None = None,
                  page_token: str | None = None) -> Page:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        where, args = [], []
        if parent_job_name is None:
            where.append("parent_job_name IS NULL")
        else:
            where.append("parent_job_name = ?")
            args.append(parent_job_name)
        if status:
            where.append("status = ?")
            args.append(status)
        if experiment_name:
            where.append("experiment_name = ?")
            args.append(experiment_name)
        if page_token:
            where.append("seq < ?")
            args.append(int(page_token))
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC"
        if max_results:
            sql += f" LIMIT {int(max_results) + 1}"
        rows = self._conn.execute(sql, args).fetchall()
        more = bool(max_results) and len(rows) > max_results
        if more:
            rows = rows[:max_results]
        return Page(assets.rows_to_jobs(self._conn, rows), str(rows[-1]["seq"]) if more else None)

    def get_job(self, name: str) -> Job:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        row = self._conn.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"job {name!r} not found")
        return assets.rows_to_jobs(self._conn, [row])[0]

    # ------------------------------------------------------------------ jobs: create (resolve.py, jobfiles.py)

    def validate_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> dict[str, Any]:
        from .resolve import JobResolver  # resolving imports the spec package: not on read paths

        return JobResolver(self).resolve(document, base_dir=Path(base_dir), source=source)[0]

    def create_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Job:
        self._writable()
        from .resolve import JobResolver

        shown, draft = JobResolver(self).resolve(document, base_dir=Path(base_dir), source=source)
        name = shown["name"] or _new_job_name()
        shown["name"] = name
        shown["display_name"] = shown["display_name"] or name
        jobfiles.create_job_folder(self.root, self._conn, name, shown, draft, source)
        jobstore.log_lifecycle(self.root, name, "status NotStarted")
        jobstore.schedule(self._conn, self.root)
        return self.get_job(name)

    def cancel_job(self, name: str) -> Job:
        self._writable()
        job = self.get_job(name)
        if job.status in TERMINAL_STATUSES:
            return job
        # A sweep's runner cancels its trials; one that no runner has claimed has none yet.
        jobstore.cancel(self._conn, self.root, name)
        return self.get_job(name)

    # ------------------------------------------------------------------ logs, metrics, outputs

    def _layout(self, name: str) -> JobLayout:
        if not self._conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
            raise NotFoundError(f"job {name!r} not found")
        return JobLayout.of(self.root, name)

    def log_files(self, name: str) -> list[LogFile]:
        return self._layout(name).log_files()

    def read_log(self, name: str, file: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        layout = self._layout(name)
        # Asked before reading: a job that had ended then writes no more, so a read to the end
        # has all of the file.
        ended = self._conn.execute("SELECT status FROM jobs WHERE name = ?", (name,)).fetchone()[0] \
            in TERMINAL_STATUSES
        return jobfiles.read_log(layout, name, file, offset, max_bytes, ended)

    def job_metrics(self, name: str) -> dict[str, list[MetricPoint]]:
        row = self._conn.execute("SELECT mlflow_run_id FROM jobs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"job {name!r} not found")
        return tracking.run_metrics(self.root, row["mlflow_run_id"]) if row["mlflow_run_id"] else {}

    def download_job(self, name: str, download_path: Path, *, output_name: str | None = None,
                     all: bool = False) -> Path:
        layout = self._layout(name)
        best = self._conn.execute("SELECT json_extract(spec, '$.properties.best_child_run_id') FROM jobs "
                                  "WHERE name = ? AND type = 'sweep'", (name,)).fetchone()
        if best and best[0]:  # a sweep's outputs are its best trial's, as on Azure
            name, layout = best[0], self._layout(best[0])
        return jobfiles.download(layout, name, Path(download_path), output_name, all)

    # ------------------------------------------------------------------ registration (register.py)

    def create_data(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        from . import register

        return register.create_data(self, document, base_dir=base_dir, source=source)

    def create_environment(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        from . import register

        return register.create_environment(self, document, base_dir=base_dir, source=source)

    def create_compute(self, document: Mapping[str, Any], *, source: str) -> Asset:
        self._writable()
        from . import register

        return register.create_compute(self, document, source=source)

    def wait_for_job(self, name: str, timeout: float | None = None, poll: float = 0.05) -> Job:
        """Block until the job is terminal (for scripts and tests)."""
        deadline = time.time() + timeout if timeout else None
        while True:
            job = self.get_job(name)
            if job.is_terminal:
                return job
            if deadline and time.time() > deadline:
                raise TimeoutError(f"job {name} still {job.status} after {timeout} s")
            time.sleep(poll)
