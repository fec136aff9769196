"""Faults lose nothing and say what happened: a catalog that cannot be written, an empty or
corrupt catalog, `workspace check` / `repair`, a CLI killed mid-create, a cold workspace."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, write


pytestmark = pytest.mark.local_only("faults of the local catalog, runner processes and disk")


def _live_runners(root: Path) -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline", "status"])
            if p.info["status"] != psutil.STATUS_ZOMBIE and "tui.workspace.local.runner" in (p.info["cmdline"] or [])
            and str(root) in p.info["cmdline"]]


def _quick_jobs(root: Path, names: list[str]) -> None:
    """Real jobs that ran to the end, and no runner left holding the catalog open."""
    from tui.workspace.local import LocalWorkspace

    ws = LocalWorkspace(root)
    try:
        for name in names:
            ws.create_job({"name": name, "command": f"echo ran {name}"}, base_dir=Path.cwd(), source="job.yml")
        for name in names:
            assert ws.wait_for_job(name, 60).status == "Completed"
    finally:
        ws.close()
    deadline = time.time() + 30
    while _live_runners(root.resolve()) and time.time() < deadline:
        time.sleep(0.05)
    assert not _live_runners(root.resolve())


def _checkpoint(root: Path) -> None:
    """Everything in the main file, no -wal: what a workspace looks like at rest."""
    conn = sqlite3.connect(root / "catalog.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert not (root / "catalog.db-wal").exists()


def _clean(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "sqlite3." not in r.stderr, r.stderr


def _jobs_dir_entries(root: Path) -> list[str]:
    """Everything under jobs/ except the (empty) folder new jobs are built in."""
    jobs = root / "jobs"
    out = [p.name for p in jobs.iterdir() if p.name != ".new"]
    if (jobs / ".new").exists():
        out += [f".new/{p.name}" for p in (jobs / ".new").iterdir()]
    return sorted(out)


# ---------------------------------------------------------------------------- 1. unwritable catalog


def test_job_create_with_a_locked_catalog_exits_1_and_leaves_no_folder(cli, ws_root, tmp_path):
    assert cli("job", "list").returncode == 0
    jobfile = write(tmp_path / "job.yml", "command: echo hi\n")
    holder = sqlite3.connect(ws_root / "catalog.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process owns the write lock for good
    try:
        r = cli("job", "create", "--file", str(jobfile), "--name", "blocked",
                env={"AML_TUI_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 1, r.stderr
    _clean(r)
    assert "catalog.db" in r.stderr and "write lock" in r.stderr and "nothing was written" in r.stderr
    assert _jobs_dir_entries(ws_root) == []
    # Nothing half-written: the same name is free once the lock is gone.
    r = cli("job", "create", "--file", str(jobfile), "--name", "blocked")
    assert r.returncode == 0, r.stderr


def test_job_create_on_a_full_disk_exits_1_and_leaves_no_folder(cli, ws_root, tmp_path):
    assert cli("job", "list").returncode == 0
    jobfile = write(tmp_path / "job.yml", "command: echo hi\n")
    reader = sqlite3.connect(ws_root / "catalog.db")
    reader.execute("SELECT count(*) FROM jobs").fetchone()  # keeps -shm in place, as a running app does
    # A file size limit of 4 KiB (root obeys it too): the job's own small files fit, the
    # catalog's next write-ahead-log frame (4 KiB + header) does not.
    cmd = (f"ulimit -f 4; exec {sys.executable} -m tui.cli --local {ws_root} job create "
           f"--file {jobfile} --name full")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=REPO, timeout=120)
    reader.close()
    assert r.returncode == 1, r.stderr
    _clean(r)
    assert "catalog.db" in r.stderr
    assert _jobs_dir_entries(ws_root) == []


# ---------------------------------------------------------------------------- 2. empty or corrupt catalog


def test_a_zero_byte_catalog_is_an_error_then_repair_rebuilds_it(cli, ws_root, tmp_path):
    names = ["zero_a", "zero_b", "zero_c"]
    _quick_jobs(ws_root, names)
    _checkpoint(ws_root)
    (ws_root / "catalog.db").write_bytes(b"")

    for args in (("job", "list"), ("job", "show", "--name", "zero_a"),
                 ("job", "create", "--file", str(write(tmp_path / "j.yml", "command: echo\n")), "--name", "new")):
        r = cli(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        _clean(r)
        assert "catalog.db is empty" in r.stderr and "aml-tui workspace repair" in r.stderr
    assert (ws_root / "catalog.db").stat().st_size == 0  # nothing migrated over it
    assert not (ws_root / "jobs" / "new").exists()

    r = cli("workspace", "check")
    assert r.returncode == 1 and "empty (0 bytes)" in r.stdout and "3 job folder(s)" in r.stdout

    r = cli("workspace", "repair")
    assert r.returncode == 0, r.stderr
    assert "jobs: 3 recovered" in r.stdout and "recreated `local`" in r.stdout
    aside = list(ws_root.glob("catalog.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 0  # kept, never deleted

    jobs = {j["name"]: j for j in json.loads(cli("job", "list").stdout)}
    assert set(jobs) == set(names) and {j["status"] for j in jobs.values()} == {"Completed"}
    shown = json.loads(cli("job", "show", "--name", "zero_b").stdout)
    assert shown["properties"]["mlflow.runId"]  # found again in the MLflow store
    assert "ran zero_b" in cli("job", "stream", "--name", "zero_b").stdout
    assert cli("workspace", "check").returncode == 0


def test_a_missing_catalog_beside_job_folders_is_an_error(cli, ws_root):
    _quick_jobs(ws_root, ["gone_a"])
    (ws_root / "catalog.db").unlink()
    r = cli("job", "list")
    assert r.returncode == 1 and "catalog.db is missing" in r.stderr
    _clean(r)
    assert not (ws_root / "catalog.db").exists()


def _bulk_jobs(root: Path, template: str, count: int) -> list[str]:
    """Many job rows and folders cloned from a real job: a big catalog in seconds."""
    import shutil

    names = [f"bulk_{i:04d}" for i in range(count)]
    conn = sqlite3.connect(root / "catalog.db")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(jobs)") if r[1] not in ("seq", "name", "spec")]
    for name in names:
        shutil.copytree(root / "jobs" / template, root / "jobs" / name, symlinks=True)
        conn.execute(f"INSERT INTO jobs (name, spec, {', '.join(cols)}) SELECT ?, json_set(spec, '$.name', ?), "
                     f"{', '.join(cols)} FROM jobs WHERE name = ?", (name, name, template))
    conn.commit()
    conn.close()
    return names


def test_a_corrupt_catalog_is_a_clear_error_then_repair_recovers_every_job(cli, ws_root, tmp_path):
    _quick_jobs(ws_root, ["real_a", "real_b"])
    data = write(tmp_path / "digits" / "a.txt", "1")
    assert cli("data", "create", "--name", "digits", "--path", str(data.parent), "--type", "uri_folder",
               "--description", "kept").returncode == 0
    names = ["real_a", "real_b"] + _bulk_jobs(ws_root, "real_a", 400)
    _checkpoint(ws_root)
    db = ws_root / "catalog.db"
    size = db.stat().st_size
    rng = random.Random(7)
    with open(db, "r+b") as f:  # garbage over the middle third: table and index pages alike
        f.seek(size // 3)
        f.write(bytes(rng.getrandbits(8) for _ in range(size // 3)))

    r = cli("job", "list")
    assert r.returncode == 1, r.stdout
    _clean(r)
    assert "catalog.db is corrupt" in r.stderr and "aml-tui workspace check" in r.stderr
    r = cli("job", "show", "--name", "bulk_0200")
    assert r.returncode == 1 and "is corrupt" in r.stderr
    _clean(r)

    r = cli("workspace", "check")
    assert r.returncode == 1 and "catalog.db" in r.stdout and ("damaged" in r.stdout or "cannot be read" in r.stdout)

    r = cli("workspace", "repair")
    assert r.returncode == 0, r.stderr
    assert "moved the damaged catalog aside to catalog.db.corrupt-" in r.stdout
    assert f"jobs: {len(names)} recovered" in r.stdout
    assert len([p for p in ws_root.glob("catalog.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]) == 1

    listed = json.loads(cli("job", "list").stdout)
    assert sorted(j["name"] for j in listed) == sorted(names)
    assert {j["status"] for j in listed} == {"Completed"}
    digits = json.loads(cli("data", "show", "--name", "digits").stdout)
    assert digits["version"] == "1" and Path(digits["path"].removeprefix("file://"), "a.txt").read_text() == "1"
    assert cli("workspace", "check").returncode == 0
    r = cli("job", "create", "--file", str(write(tmp_path / "j.yml", "command: echo after\n")), "--stream")
    assert r.returncode == 0 and "after" in r.stdout


def test_repair_fails_active_jobs_with_no_runner_and_recovers_data_and_environments(cli, ws_root, tmp_path):
    from tui.workspace.local import LocalWorkspace

    data = write(tmp_path / "one.txt", "payload")
    assert cli("data", "create", "--name", "single", "--path", str(data), "--type", "uri_file").returncode == 0
    env = write(tmp_path / "env.yml", "name: myenv\nversion: '3'\nimage: python:3.11\n")
    assert cli("environment", "create", "--file", str(env)).returncode == 0
    assert cli("compute", "create", "--name", "pair", "--type", "local", "--max-concurrency", "2").returncode == 0
    ws = LocalWorkspace(ws_root)
    job = ws.create_job({"name": "uses_env", "command": "cat ${{inputs.f}}", "environment": "azureml:myenv:3",
                         "compute": "pair", "inputs": {"f": {"type": "uri_file", "path": "azureml:single:1"}}},
                        base_dir=tmp_path, source="job.yml")
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    ws.close()
    _quick_jobs(ws_root, ["was_running"])
    status = ws_root / "jobs" / "was_running" / "status.json"
    doc = json.loads(status.read_text())
    status.write_text(json.dumps({**doc, "status": "Running", "end_time": None, "runner_pid": 999999}))
    _checkpoint(ws_root)
    (ws_root / "catalog.db").write_bytes(b"")

    r = cli("workspace", "repair")
    assert r.returncode == 0, r.stderr
    assert "1 were active with no runner left and are now Failed: was_running" in r.stdout
    assert "environments: 1 recovered from the jobs that used them" in r.stdout and "myenv:3" in r.stdout
    assert "recreated pair (used by jobs) with max_concurrency 1" in r.stdout
    failed = json.loads(cli("job", "show", "--name", "was_running").stdout)
    assert failed["status"] == "Failed" and "workspace repair" in failed["error"]["message"]
    assert json.loads(status.read_text())["status"] == "Failed"
    single = json.loads(cli("data", "show", "--name", "single").stdout)
    assert single["type"] == "uri_file" and single["path"].endswith("/datastore/single/1/one.txt")
    assert json.loads(cli("environment", "show", "--name", "myenv").stdout)["image"] == "python:3.11"
    assert cli("workspace", "check").returncode == 0


def test_check_of_a_healthy_workspace_exits_0(cli):
    assert cli("workspace", "check").returncode == 0  # new: nothing there yet
    assert cli("job", "list").returncode == 0
    r = cli("workspace", "check")
    assert r.returncode == 0 and "integrity ok" in r.stdout, r.stdout + r.stderr
    r = cli("workspace", "repair")
    assert r.returncode == 0 and "nothing else to repair" in r.stdout


def test_check_finds_a_lost_row_and_repair_restores_it(cli, ws_root):
    _quick_jobs(ws_root, ["kept", "lost"])
    with sqlite3.connect(ws_root / "catalog.db") as conn:
        conn.execute("DELETE FROM jobs WHERE name = 'lost'")
    r = cli("workspace", "check")
    assert r.returncode == 1 and "1 job folder(s) under jobs/ have no catalog row" in r.stdout and "lost" in r.stdout
    r = cli("workspace", "repair")
    assert r.returncode == 0 and "moved the old catalog (it disagreed with the folders) aside" in r.stdout
    assert sorted(j["name"] for j in json.loads(cli("job", "list").stdout)) == ["kept", "lost"]
    assert list(ws_root.glob("catalog.db.replaced-*"))


# ---------------------------------------------------------------------------- 4. killed mid-create


def test_a_cli_killed_while_snapshotting_leaves_nothing_after_the_next_call(cli, ws_root, tmp_path):
    code = tmp_path / "code"
    for i in range(3000):
        write(code / f"d{i % 30}" / f"f{i}.txt", "x" * 4000)
    jobfile = write(tmp_path / "job.yml", "code: code\ncommand: echo\n")
    assert cli("job", "list").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--local", str(ws_root), "job", "create",
                             "--file", str(jobfile), "--name", "killed"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = ws_root / "jobs"
    deadline = time.time() + 60
    while time.time() < deadline and not (list(jobs.glob("*killed*")) + list(jobs.glob(".new/*killed*"))):
        time.sleep(0.01)
    time.sleep(0.1)  # mid-copy
    proc.kill()
    proc.wait()
    assert _jobs_dir_entries(ws_root), "the kill came too late to leave anything"
    assert cli("job", "list").returncode == 0
    assert _jobs_dir_entries(ws_root) == []


KILLED_AFTER_THE_MOVE = """
import os, signal, sys
from pathlib import Path
from tui.workspace.local import LocalWorkspace
real = os.rename
def rename(src, dst):
    real(src, dst)
    if Path(dst).name == "halfway":
        os.kill(os.getpid(), signal.SIGKILL)
os.rename = rename
ws = LocalWorkspace(sys.argv[1])
ws.create_job({"name": "halfway", "command": "echo second try"}, base_dir=Path.cwd(), source="job.yml")
"""


def test_a_cli_killed_between_the_folder_move_and_the_row_leaves_no_orphan(cli, ws_root, tmp_path):
    assert cli("job", "list").returncode == 0
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_THE_MOVE, str(ws_root)], cwd=REPO, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (ws_root / "jobs" / "halfway").is_dir() or list((ws_root / "jobs").glob(".new/halfway*"))
    assert json.loads(cli("job", "list").stdout) == []
    assert _jobs_dir_entries(ws_root) == []
    r = cli("job", "create", "--file", str(write(tmp_path / "j.yml", "command: echo second try\n")),
            "--name", "halfway", "--stream")
    assert r.returncode == 0 and "second try" in r.stdout, r.stderr


KILLED_BEFORE_THE_SPAWN = """
import os, signal, sys
from pathlib import Path
from tui.workspace.local import LocalWorkspace, jobstore
jobstore.spawn_runner = lambda root, name: os.kill(os.getpid(), signal.SIGKILL)
ws = LocalWorkspace(sys.argv[1])
ws.create_job({"name": "claimed", "command": "echo started"}, base_dir=Path.cwd(), source="job.yml")
"""


def test_a_claim_whose_spawner_was_killed_is_started_by_the_next_cli_call(cli, ws_root):
    assert cli("job", "list").returncode == 0
    proc = subprocess.run([sys.executable, "-c", KILLED_BEFORE_THE_SPAWN, str(ws_root)], cwd=REPO, timeout=60)
    assert proc.returncode == -signal.SIGKILL

    def row():
        with sqlite3.connect(ws_root / "catalog.db") as conn:
            return conn.execute("SELECT status, runner_pid FROM jobs WHERE name = 'claimed'").fetchone()

    assert row() == ("Preparing", None)
    assert cli("job", "show", "--name", "claimed").returncode == 0  # one read, no waiting out a timeout
    deadline = time.time() + 15
    while row()[0] != "Completed" and time.time() < deadline:
        time.sleep(0.1)  # plain SQL: nothing here reconciles
    assert row()[0] == "Completed"
    assert "started" in cli("job", "stream", "--name", "claimed").stdout


def test_a_runner_start_rescues_a_claim_whose_spawner_was_killed(ws):
    for name, command in (("orphan", "echo rescued"), ("starter", "sleep 3")):
        ws.create_job({"name": name, "command": command}, base_dir=Path.cwd(), source="job.yml")
    for name in ("orphan", "starter"):
        ws.wait_for_job(name, 30)
    while _live_runners(ws.root):
        time.sleep(0.05)
    dead = subprocess.Popen(["true"])
    dead.wait()
    # Both claimed again: `orphan` as a killed spawner leaves it (its spawner's pid gone),
    # `starter` as a live spawner does (this process) - then only starter's runner starts.
    with ws._conn:
        for name, spawner in (("orphan", dead.pid), ("starter", os.getpid())):
            ws._conn.execute("UPDATE jobs SET status = 'Preparing', runner_pid = NULL, end_time = NULL, "
                             "claimed_at = ?, spawn_pid = ?, spawn_attempts = 1 WHERE name = ?",
                             (time.time(), spawner, name))
    runner = subprocess.Popen([sys.executable, "-m", "tui.workspace.local.runner", str(ws.root), "starter"],
                              cwd=REPO)
    try:
        deadline = time.time() + 15
        status = None
        while time.time() < deadline:
            status = ws._conn.execute("SELECT status FROM jobs WHERE name = 'orphan'").fetchone()[0]
            if status == "Completed":
                break
            time.sleep(0.05)
        assert status == "Completed"
        assert runner.poll() is None  # rescued while starter ran, not by its finish
    finally:
        runner.wait(30)


# ---------------------------------------------------------------------------- 5. cold workspace


def test_concurrent_opens_of_a_cold_workspace_start_one_store_helper(tmp_path, monkeypatch):
    from tui.workspace.local import LocalWorkspace, tracking

    spawned = []

    class Helper:
        pid = os.getpid()  # alive for the whole test: its marker stays fresh

    def spawn(args, *, cwd, stdout=None):
        spawned.append(args)
        time.sleep(0.05)  # a real spawn takes a while: the window the others race through
        return Helper()

    monkeypatch.setattr(tracking, "spawn_detached", spawn)
    root = tmp_path / "cold"
    barrier = threading.Barrier(20)
    errors = []

    def open_one():
        try:
            barrier.wait()
            LocalWorkspace(root).close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(spawned) == 1


def test_the_store_helper_replaces_a_dead_ones_marker_and_cleans_up(tmp_path):
    from tui.workspace.local import LocalWorkspace, tracking

    root = tmp_path / "cold"
    root.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    marker = root / "mlflow.db.preparing"
    marker.write_text(str(dead.pid))  # a helper that died mid-way
    LocalWorkspace(root).close()
    deadline = time.time() + 90
    while time.time() < deadline and not tracking._store_ready(root / "mlflow.db"):
        time.sleep(0.2)
    assert tracking._store_ready(root / "mlflow.db")
    while time.time() < deadline and marker.exists():
        time.sleep(0.05)
    assert not marker.exists()
