"""Secrets at rest: an owner-only workspace, scrubbed error tails, and the end of a log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli, tiny_wheel, write
from tui.workspace.base import NotFoundError
from tui.workspace.redact import MASK


pytestmark = pytest.mark.local_only("the local runner's error and log files; tests/azure/test_canary.py covers Azure")


def _cli(root: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real CLI, started with the usual umask 022 (this test process may hold another)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", "--local", str(root), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, umask=0o022)


def _shared(root: Path, *, skip: tuple[Path, ...] = ()) -> list[str]:
    """Everything under `root` (itself included) that group or others may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink() or any(path == s or s in path.parents for s in skip):
            continue
        mode = path.lstat().st_mode
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


def _wait(root: Path, name: str, statuses: set[str], timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = json.loads(_cli(root, "job", "show", "--name", name).stdout)
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} is {job['status']}, wanted one of {statuses}")


def test_a_new_workspace_and_everything_a_job_writes_into_it_is_owner_only(tmp_path):
    root = tmp_path / "fresh" / "ws"  # a workspace created from nothing: MLflow store, venv and all
    code = tmp_path / "src"
    write(code / "main.py", """
import os, pathlib, sys, time
pathlib.Path("outputs/written-by-job.txt").write_text("mine")
pathlib.Path(sys.argv[1], "model.txt").write_text("named")
import amltui_secretpkg
while not os.path.exists(os.environ["RELEASE"]):
    time.sleep(0.05)
""")
    write(code / "run.sh", "#!/bin/sh\nexec python main.py \"$@\"\n").chmod(0o755)
    wheel = tiny_wheel(tmp_path, "amltui_secretpkg", 7)
    release = tmp_path / "release"
    jobfile = write(tmp_path / "job.yml", yaml.safe_dump({
        "code": "src", "command": "./run.sh ${{outputs.model}}", "outputs": {"model": {"type": "uri_folder"}},
        "environment": {"conda_file": {"dependencies": [{"pip": [f"amltui-secretpkg @ {wheel.as_uri()}"]}]}},
        "environment_variables": {"RELEASE": str(release), "DB_PASS": "pa55-w0rd-value"}}))
    r = _cli(root, "job", "create", "--file", str(jobfile))
    assert r.returncode == 0, r.stderr
    name = json.loads(r.stdout)["name"]
    job_dir = root / "jobs" / name
    written = (job_dir / "outputs" / "written-by-job.txt", job_dir / "named-outputs" / "model" / "model.txt")
    try:
        running = _wait(root, name, {"Running", "Failed", "Completed"})
        assert running["status"] == "Running", running
        deadline = time.time() + 60
        while not all(p.exists() for p in written) and time.time() < deadline:
            time.sleep(0.05)
        # While the runner holds the catalog open, its WAL files exist too.
        assert (root / "catalog.db-wal").exists() and (root / "catalog.db-shm").exists()
        assert _shared(root, skip=written) == []
    finally:
        release.touch()
    r = _cli(root, "job", "stream", "--name", name)
    assert r.returncode == 0, r.stdout + r.stderr
    for path in ("catalog.db", "mlflow.db", "run.json", "status.json", "job.yml", "snapshot/main.py",
                 "user_logs/std_log.txt", "system_logs/lifecycle.txt", "envs"):
        assert (root / path).exists() or (job_dir / path).exists(), path  # the walk below covers them
    assert _shared(root, skip=written) == []
    assert os.access(job_dir / "snapshot" / "run.sh", os.X_OK)  # the snapshot keeps what is executable
    # The job's own processes had the user's umask back: what it writes is as usual, and
    # private only through the 0700 folders above it.
    assert [stat.S_IMODE(p.stat().st_mode) for p in written] == [0o644, 0o644]
    assert stat.S_IMODE(root.stat().st_mode) == stat.S_IMODE((job_dir / "outputs").stat().st_mode) == 0o700


def test_a_failed_jobs_error_never_shows_its_secrets(cli, ws_root, tmp_path):
    password, token = "Pa55word-of-the-db", "ghp_" + "x7Y8z9" * 7
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    jobfile = write(tmp_path / "job.yml", yaml.safe_dump({
        "command": "echo connecting with $QUX_DB_PASS; echo header $REQ_HEADER; echo SERVICE_TOKEN=$TOK; "
                   "export ZED_SECRET=inline-literal-secret; echo $ZED_SECRET; exit 3",
        "environment_variables": {"QUX_DB_PASS": password, "REQ_HEADER": jwt, "TOK": token}}))
    name = json.loads(cli("job", "create", "--file", str(jobfile)).stdout)["name"]
    assert cli("job", "stream", "--name", name).returncode == 1
    shown = json.loads(cli("job", "show", "--name", name).stdout)
    listed = cli("job", "list", "-o", "yaml").stdout
    assert shown["error"]["code"] == "UserError" and "connecting with" in shown["error"]["log_tail"]
    assert MASK in shown["error"]["log_tail"]
    job_dir = ws_root / "jobs" / name
    lifecycle = (job_dir / "system_logs" / "lifecycle.txt").read_text()
    catalog = b"".join(p.read_bytes() for p in ws_root.glob("catalog.db*")).decode("latin-1")
    for text in (json.dumps(shown), listed, (job_dir / "status.json").read_text(), lifecycle, catalog):
        for secret in (password, token, jwt):
            assert secret not in text
    assert "ZED_SECRET=inline-literal-secret" not in lifecycle and f"ZED_SECRET={MASK}" in lifecycle


def test_the_end_of_a_log_cut_inside_a_character_is_shown_once_the_job_ended(ws, tmp_path):
    from tui.widgets.log_tail import LogTail

    release = tmp_path / "release"
    job = ws.create_job({"command": f"printf 'ab\\xc3'; while [ ! -e {release} ]; do sleep 0.05; done"},
                        base_dir=tmp_path, source="job.yml")
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if ws.read_log(job.name, "user_logs/std_log.txt").text == "ab":
                break
        except NotFoundError:  # not started yet
            pass
        time.sleep(0.05)
    chunk = ws.read_log(job.name, "user_logs/std_log.txt")
    assert (chunk.text, chunk.next_offset, chunk.final) == ("ab", 2, False)  # the rest may still come
    release.touch()
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    chunk = ws.read_log(job.name, "user_logs/std_log.txt", chunk.next_offset)
    assert (chunk.text, chunk.next_offset, chunk.final) == ("\ufffd", 3, True)
    assert ws.read_log(job.name, "user_logs/std_log.txt", 3).final
    lines: list[str] = []
    tail = LogTail(ws, job.name, "user_logs/std_log.txt")
    while tail.read(lines):
        pass
    assert (lines, tail.partial) == ([], "ab\ufffd")  # what the app's log view shows
    r = run_cli("job", "stream", "--name", job.name, root=ws.root)
    assert r.returncode == 0 and r.stdout.endswith("\nab\ufffd")
