"""The workspace's MLflow store (`mlflow.db`), written and read without importing MLflow.

Importing MLflow and opening its store costs ~2.1 s per process. A job's run must exist
before the job's command starts (it gets `MLFLOW_RUN_ID`), so creating it through MLflow
would put those seconds on every job's critical path. MLflow creates the schema once
(`ensure_store`, the slow path); after that runs are inserted and finished with plain
SQL against the tables MLflow itself reads, and metrics are read the same way.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ..base import MetricPoint
from .detached import spawn_detached


def tracking_uri(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


def _artifact_root(root: Path) -> str:
    return (root / "artifacts").resolve().as_uri()


def ensure_store(root: Path) -> None:
    """Create mlflow.db with MLflow's own migrations, once, in a child process."""
    db = root / "mlflow.db"
    if _store_ready(db):
        return
    with open(root / "mlflow.db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _store_ready(db):
            return
        code = (
            "import sys; from mlflow.tracking import MlflowClient; "
            "MlflowClient(sys.argv[1]).search_experiments(max_results=1)"
        )
        proc = subprocess.run([sys.executable, "-c", code, tracking_uri(root)], cwd=root,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot create the MLflow store {db}: {proc.stderr.strip()[-2000:]}")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                         (f"{_artifact_root(root)}/0",))


# Names the one store set-up helper of a workspace (its pid), while it works.
PREPARING = "mlflow.db.preparing"
# A helper this old is taken to hang, and replaced.
HELPER_STALE_S = 300.0


def prepare_store_in_background(root: Path) -> None:
    """Create the store in a detached process now, so the first job does not wait ~4 s for it.
    Only one helper per workspace: many submits to a cold workspace would otherwise each
    start one (each paying ~2 s of MLflow import on a busy machine)."""
    if _store_ready(root / "mlflow.db"):
        return
    marker = root / PREPARING
    if not _take_marker(marker):
        return
    # Niced and a little late: it must not slow the app's first frame on a fresh workspace.
    code = "import os, sys, time; os.nice(10); time.sleep(1.5); from pathlib import Path; " \
           "from tui.workspace.local.tracking import _store_helper; _store_helper(Path(sys.argv[1]))"
    try:
        pid = spawn_detached(["-c", code, str(root)], cwd=root).pid
    except BaseException:
        marker.unlink(missing_ok=True)
        raise
    tmp = marker.with_name(f"{PREPARING}.{os.getpid()}")
    tmp.write_text(str(pid))
    os.replace(tmp, marker)  # the marker never disappears meanwhile, so O_EXCL keeps others out


def _take_marker(marker: Path) -> bool:
    """Whether this process starts the helper: the one that creates the marker does. A marker
    whose owner is gone is taken over (two processes doing so at once may both start a helper;
    `ensure_store`'s lock keeps that harmless)."""
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _marker_stale(marker):
                return False
            marker.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _marker_pid(marker: Path) -> int | None:
    try:
        return int(marker.read_text())
    except (OSError, ValueError):
        return None


def _marker_stale(marker: Path) -> bool:
    try:
        age = time.time() - marker.stat().st_mtime
    except FileNotFoundError:
        return True
    if age > HELPER_STALE_S:
        return True
    pid = _marker_pid(marker)
    if pid is None:  # being written right now
        return False
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def _store_helper(root: Path) -> None:
    try:
        ensure_store(root)
    finally:
        marker = root / PREPARING
        if _marker_pid(marker) == os.getpid():
            marker.unlink(missing_ok=True)


def _store_ready(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM experiments WHERE experiment_id = 0").fetchone()[0] == 1
    except sqlite3.DatabaseError:
        return False


def _connect(root: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(root / "mlflow.db", timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _experiment_id(conn: sqlite3.Connection, root: Path, name: str, now_ms: int) -> int:
    row = conn.execute("SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?", (name,)).fetchone()
    if row:
        if row[1] != "active":  # deleted in the MLflow UI: a job naming it brings it back, visible
            conn.execute("UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ? "
                         "WHERE experiment_id = ?", (now_ms, row[0]))
        return row[0]
    cur = conn.execute(
        "INSERT INTO experiments (name, lifecycle_stage, creation_time, last_update_time) VALUES (?, 'active', ?, ?)",
        (name, now_ms, now_ms))
    exp_id = cur.lastrowid
    conn.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                 (f"{_artifact_root(root)}/{exp_id}", exp_id))
    return exp_id


def create_run(root: Path, *, experiment_name: str, run_name: str, tags: dict[str, str]) -> str:
    """Insert a RUNNING run as MLflow's `create_run` would; returns its run id."""
    ensure_store(root)
    run_id = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    conn = _connect(root)
    try:
        conn.execute("BEGIN IMMEDIATE")
        exp_id = _experiment_id(conn, root, experiment_name, now_ms)
        artifact_uri = f"{_artifact_root(root)}/{exp_id}/{run_id}/artifacts"
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
            " start_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
            " VALUES (?, ?, 'JOB', ?, '', ?, 'RUNNING', ?, '', 'active', ?, ?)",
            (run_id, run_name, tags.get("mlflow.source.name", ""), _user(), now_ms, artifact_uri, exp_id))
        all_tags = {"mlflow.runName": run_name, "mlflow.user": _user(), "mlflow.source.type": "JOB", **tags}
        conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                         [(k, v, run_id) for k, v in all_tags.items()])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return run_id


def end_run(root: Path, run_id: str, status: str) -> None:
    """Finish a run: status is MLflow's FINISHED, FAILED or KILLED."""
    conn = _connect(root)
    try:
        conn.execute("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
                     (status, int(time.time() * 1000), run_id))
    finally:
        conn.close()


def run_metrics(root: Path, run_id: str) -> dict[str, list[MetricPoint]]:
    db = root / "mlflow.db"
    if not db.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.DatabaseError:
        return {}
    try:
        rows = conn.execute(
            "SELECT key, step, value, timestamp FROM metrics WHERE run_uuid = ? ORDER BY key, step, timestamp",
            (run_id,)).fetchall()
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()
    out: dict[str, list[MetricPoint]] = {}
    for key, step, value, ts in rows:
        out.setdefault(key, []).append(MetricPoint(int(step), float(value), ts / 1000.0))
    return out


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")
