"""Job rows: status transitions, the scheduler and dead-runner detection.

Shared by `LocalWorkspace` (submitters, readers) and the runner processes. The catalog row
is the truth; `jobs/<name>/status.json` mirrors it (written atomically) for humans and tools.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from . import logtimes, tracking
from .catalog import transaction
from .detached import spawn_detached
from .layout import LIFECYCLE_LOG, RUNNER_LOG, JobLayout
from .plan import PlanError, plan_kind

WAITING = ("NotStarted", "Queued")
# Statuses that hold a slot of their compute.
HOLDING = ("Preparing", "Starting", "Running", "Finalizing", "CancelRequested")
# A claim whose runner never showed up is re-spawned, at most MAX_SPAWNS times in all: at once
# when the process that had to start it (spawn_pid) is gone, else after this long (a pid reused).
ORPHAN_CLAIM_S = 20.0
MAX_SPAWNS = 3


def iso(ts: float | None) -> str | None:
    """Azure's timestamp format: ISO 8601, microseconds, UTC offset."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds")


def job_dir(root: Path, name: str) -> Path:
    return JobLayout.of(root, name).dir


def write_status_file(root: Path, name: str, row: dict) -> None:
    d = job_dir(root, name)
    if not d.is_dir():
        return
    final = JobLayout(d).status_json
    tmp = final.with_name(f".{final.name}.{os.getpid()}")
    tmp.write_text(json.dumps(row, indent=2, default=str))
    os.replace(tmp, final)


def log_lifecycle(root: Path, name: str, message: str) -> None:
    layout = JobLayout.of(root, name)
    path = layout.log(LIFECYCLE_LOG)
    if path.parent.is_dir():
        # One clock reading: two could straddle a second and write a time a second early.
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")
            f.flush()
            # Its write time: lines come before the runner watches its logs, and after.
            logtimes.mark_written(layout, LIFECYCLE_LOG, f.fileno())


def set_status(conn: sqlite3.Connection, root: Path, name: str, status: str, *,
               expect: tuple[str, ...] | None = None, **columns) -> bool:
    """Move a job to `status` (only from one of `expect`, when given). Returns whether it moved."""
    sets = ["status = ?"] + [f"{k} = ?" for k in columns]
    args: list = [status, *columns.values()]
    # Keep the stored az-ml record complete, so listing never re-formats timestamps.
    for column, prop in (("start_time", "StartTimeUtc"), ("end_time", "EndTimeUtc")):
        if columns.get(column) is not None:
            sets.append(f"spec = json_set(spec, '$.properties.{prop}', ?)")
            args.append(iso(columns[column]))
    sets = ", ".join(sets)
    args.append(name)
    where = "name = ?"
    if expect:
        where += f" AND status IN ({','.join('?' * len(expect))})"
        args += list(expect)
    cur = conn.execute(f"UPDATE jobs SET {sets} WHERE {where}", args)
    if cur.rowcount == 0:
        return False
    row = conn.execute(
        "SELECT name, status, start_time, end_time, exit_code, error, runner_pid FROM jobs WHERE name = ?",
        (name,)).fetchone()
    write_status_file(root, name, dict(row))
    log_lifecycle(root, name, f"status {status}")
    return True


def schedule(conn: sqlite3.Connection, root: Path) -> list[str]:
    """Give free compute slots to waiting jobs in submission order; spawn their runners."""
    now = time.time()
    to_spawn: list[str] = []
    with transaction(conn):
        rows = conn.execute(
            f"SELECT name, type, status, compute, runner_pid, claimed_at, spawn_attempts, spawn_pid FROM jobs "
            f"WHERE status IN ({','.join('?' * (len(WAITING) + len(HOLDING)))}) ORDER BY seq",
            WAITING + HOLDING).fetchall()
        if not rows:
            return []
        caps = {r["name"]: r["max_concurrency"] for r in conn.execute("SELECT name, max_concurrency FROM compute")}
        held: dict[str, int] = {}
        for r in rows:
            if r["status"] in HOLDING:
                # A sweep only starts its trials: they take the compute's slots, it takes none.
                slot = 0 if r["type"] == "sweep" else 1
                held[r["compute"]] = held.get(r["compute"], 0) + slot
                if r["status"] == "Preparing" and r["runner_pid"] is None and claim_orphaned(r, now):
                    if r["spawn_attempts"] >= MAX_SPAWNS:
                        message = (f"the job's runner did not start after {MAX_SPAWNS} attempts; "
                                   f"see {RUNNER_LOG}")
                        set_status(conn, root, r["name"], "Failed", end_time=now,
                                   error=json.dumps({"code": "SystemError", "message": message}))
                        held[r["compute"]] -= slot
                        continue
                    conn.execute("UPDATE jobs SET claimed_at = ?, spawn_attempts = spawn_attempts + 1, "
                                 "spawn_pid = ? WHERE name = ?", (now, os.getpid(), r["name"]))
                    to_spawn.append(r["name"])
        for r in rows:
            if r["status"] not in WAITING:
                continue
            compute = r["compute"]
            if r["type"] == "sweep" or held.get(compute, 0) < caps.get(compute, 1):
                held[compute] = held.get(compute, 0) + (r["type"] != "sweep")
                set_status(conn, root, r["name"], "Preparing", claimed_at=now, spawn_attempts=1,
                           spawn_pid=os.getpid())
                to_spawn.append(r["name"])
            elif r["status"] == "NotStarted":
                set_status(conn, root, r["name"], "Queued")
    if not to_spawn:
        return to_spawn
    spawned = []
    try:
        for name in to_spawn:
            spawned.append((spawn_runner(root, name), name))
    finally:
        # From now on the runner's own life says whether the claim is still being worked on;
        # a claim we failed to spawn is handed back (claimed_at 0) for the next reconcile.
        with transaction(conn):
            conn.executemany("UPDATE jobs SET spawn_pid = ? WHERE name = ? AND runner_pid IS NULL",
                             spawned)
            conn.executemany("UPDATE jobs SET claimed_at = 0 WHERE name = ? AND runner_pid IS NULL",
                             [(n,) for n in to_spawn[len(spawned):]])
    return to_spawn


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_reasons(conn: sqlite3.Connection, computes: set[str]) -> dict[str, str]:
    """Why each waiting job of `computes` waits, as `schedule` sees it: "cpu-cluster 2/2 busy,
    3rd in line" (slots go to the waiting jobs of a compute in submission order). Two
    grouped queries over the active jobs (the jobs_active index), whatever the page size."""
    if not computes:
        return {}
    marks = ",".join("?" * len(computes))
    held = dict(conn.execute(
        f"SELECT compute, count(*) FROM jobs WHERE status IN ({','.join('?' * len(HOLDING))}) "
        f"AND compute IN ({marks}) AND type != 'sweep' GROUP BY compute", (*HOLDING, *computes)).fetchall())
    caps = dict(conn.execute(f"SELECT name, max_concurrency FROM compute WHERE name IN ({marks})",
                             tuple(computes)).fetchall())
    rows = conn.execute(
        f"SELECT name, compute, row_number() OVER (PARTITION BY compute ORDER BY seq) FROM jobs "
        f"WHERE status IN ({','.join('?' * len(WAITING))}) AND compute IN ({marks})",
        (*WAITING, *computes)).fetchall()
    return {name: f"{compute} {held.get(compute, 0)}/{caps.get(compute, 1)} busy, {_ordinal(place)} in line"
            for name, compute, place in rows}


def spawn_runner(root: Path, name: str) -> int:
    """Start a detached runner: its own session, so it outlives the CLI or TUI that started it.
    Returns its pid."""
    layout = JobLayout.of(root, name)
    path = layout.log(RUNNER_LOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        kind = plan_kind(layout.run_json)
    except PlanError:
        kind = "command"  # the runner claims the job and records why its plan is unreadable
    module = "sweep_runner" if kind == "sweep" else "runner"
    with open(path, "ab") as out:
        return spawn_detached(["-m", f"tui.workspace.local.{module}", str(root), name], cwd=root, stdout=out).pid


def claim_orphaned(row: sqlite3.Row, now: float) -> bool:
    """Whether a Preparing job that no runner has claimed is stuck: nobody is left to start it."""
    if (row["claimed_at"] or 0) < now - ORPHAN_CLAIM_S:
        return True
    return row["spawn_pid"] is not None and not process_alive(row["spawn_pid"], None)


def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether `pid` is still the process that started at `started` (pids get reused)."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def kill_job_processes(pgid: int | None, name: str, root: Path | None = None) -> None:
    """SIGKILL what is left of a job whose runner died: every process carrying the job's mark
    (its ranks, what they started in other sessions, its environment build), and those of its
    group carrying its AZUREML_RUN_ID. Group ids get reused (after a reboot, say), so the
    group alone proves nothing."""
    from .isolation import job_mark, kill_marked

    def in_group(proc) -> bool:
        return ((pgid or 0) > 1 and proc.environ().get("AZUREML_RUN_ID") == name
                and os.getpgid(proc.pid) == pgid)

    kill_marked(job_mark(job_dir(root, name)) if root is not None else None, extra=in_group)


def kill_group(pgid: int | None, sig: int = signal.SIGKILL) -> None:
    if pgid and pgid > 1:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reconcile(conn: sqlite3.Connection, root: Path, *, start_jobs: bool = True) -> None:
    """Fail jobs whose runner died; hand free slots to waiting jobs (unless `start_jobs` is
    False: a read-only viewer starts nothing). Cheap when idle."""
    rows = conn.execute(
        f"SELECT name, type, status, runner_pid, runner_started, pgid, mlflow_run_id, claimed_at, spawn_pid "
        f"FROM jobs WHERE status IN ({','.join('?' * (len(WAITING) + len(HOLDING)))})", WAITING + HOLDING).fetchall()
    if not rows:
        return
    need_schedule = any(r["status"] in WAITING for r in rows)
    now = time.time()
    for r in rows:
        if r["status"] == "Preparing" and r["runner_pid"] is None:
            need_schedule = need_schedule or claim_orphaned(r, now)
            continue
        if r["status"] not in HOLDING or process_alive(r["runner_pid"], r["runner_started"]):
            continue
        reason = f"the job's runner process (pid {r['runner_pid']}) died unexpectedly"
        final = "Canceled" if r["status"] == "CancelRequested" else "Failed"
        with transaction(conn):
            moved = set_status(conn, root, r["name"], final, expect=(r["status"],),
                               end_time=now, error=json.dumps({"code": "SystemError", "message": reason}))
        if moved:
            kill_job_processes(r["pgid"], r["name"], root)
            if r["mlflow_run_id"]:
                try:
                    tracking.end_run(root, r["mlflow_run_id"], "FAILED")
                except sqlite3.DatabaseError:
                    pass
            if r["type"] == "sweep":  # its trials would run on with nobody to judge or stop them
                cancel_trials(conn, root, r["name"], "the sweep's runner died")
            need_schedule = True
    if need_schedule and start_jobs:
        schedule(conn, root)


def cancel(conn: sqlite3.Connection, root: Path, name: str, *, reason: str | None = None,
           start_jobs: bool = True, reconcile_dead: bool = True) -> None:
    """Cancel a job: one that no runner has claimed ends at once; a running one gets
    CancelRequested and its runner SIGTERM (the runner ends it). `reason` (a sweep stopping
    its trial) goes in with the status, in `properties.stop_reason`. A runner found dead is
    left to `reconcile` (at once, unless `reconcile_dead` is False: one is under way)."""
    with transaction(conn):
        row = conn.execute("SELECT status, runner_pid, runner_started FROM jobs WHERE name = ?",
                           (name,)).fetchone()
        if row is None or row["status"] in ("Completed", "Failed", "Canceled"):
            return
        if reason:
            conn.execute("UPDATE jobs SET spec = json_set(spec, '$.properties.stop_reason', ?) WHERE name = ?",
                         (reason, name))
        # No runner has claimed it yet: the runner's claim fails once the job is Canceled.
        if row["status"] in WAITING or row["runner_pid"] is None:
            set_status(conn, root, name, "Canceled", end_time=time.time())
            return
        set_status(conn, root, name, "CancelRequested")
    if process_alive(row["runner_pid"], row["runner_started"]):
        os.kill(row["runner_pid"], signal.SIGTERM)
    elif reconcile_dead:
        reconcile(conn, root, start_jobs=start_jobs)


def cancel_trials(conn: sqlite3.Connection, root: Path, sweep: str, why: str) -> list[str]:
    """Cancel every trial of `sweep` that has not ended, saying why; returns their names."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM jobs WHERE parent_job_name = ? AND status NOT IN ('Completed', 'Failed', 'Canceled')",
        (sweep,))]
    for name in names:
        cancel(conn, root, name, reason=why, reconcile_dead=False)
    return names
