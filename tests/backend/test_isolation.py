"""A job cannot change the tool (issue 12): it installs into a throwaway layer of its own, and
nothing it starts outlives it, not even when its runner dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.backend.test_local_jobs import log_text, submit, wait_status
from tests.conftest import tiny_wheel, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")


pytestmark = pytest.mark.local_only("process isolation of the local runner")


def _processes(match) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.status() != psutil.STATUS_ZOMBIE and match(proc):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _of_job(name: str):
    return lambda proc: proc.environ().get("AZUREML_RUN_ID") == name


def _gone_within(match, seconds: float) -> list[psutil.Process]:
    deadline = time.time() + seconds
    while (left := _processes(match)) and time.time() < deadline:
        time.sleep(0.05)
    return left


def _appears(match, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while not _processes(match):
        assert time.time() < deadline, "the process never started"
        time.sleep(0.05)


@pytest.fixture
def leftovers():
    """Whatever a test's job leaves running (on code without the fix) is killed afterwards."""
    matches = []
    yield matches.append
    for match in matches:
        for proc in _processes(match):
            proc.kill()


def _daemon(name: str):
    return lambda proc: _of_job(name)(proc) and proc.cmdline()[:2] == ["sleep", "777"]


PROBE = ("import sys, os, importlib.util as u; "
         "f = [sys.executable == os.path.join(os.environ['VIRTUAL_ENV'], 'bin', 'python'), "
         "sys.prefix == os.environ['VIRTUAL_ENV'], {tool!r} not in (sys.prefix, os.path.realpath(sys.prefix)), "
         "u.find_spec('torch') is not None, u.find_spec('tui') is not None]; print(*f); assert all(f)")


def test_pip_install_in_a_job_lands_in_that_job_only(ws, tmp_path):
    first = tiny_wheel(tmp_path, "amltui_isopkg", 7)
    second = tiny_wheel(tmp_path, "amltui_isopkg_two", 8)
    probe = PROBE.format(tool=sys.prefix)
    # The probe goes first and must pass: if the job ran in the tool's interpreter, pip never runs.
    command = (f"python -c \"{probe}\" && "
               f"pip install --no-index --disable-pip-version-check {first} && "
               f"python -m pip install --no-index --disable-pip-version-check {second} && "
               "python -c 'import amltui_isopkg as a, amltui_isopkg_two as b, yaml; print(a.VALUE, b.VALUE)'")
    job = ws.wait_for_job(submit(ws, {"command": command}).name, 120)
    out = log_text(ws, job.name)
    assert job.status == "Completed", out
    lines = out.strip().splitlines()
    assert lines[0] == "True True True True True"  # the layer's python, seeing torch and the tool's own packages
    assert lines[-1] == "7 8"
    assert not (ws.root / "jobs" / job.name / "venv").exists()  # the layer is thrown away

    tool = subprocess.run([sys.executable, "-c", "import amltui_isopkg"], capture_output=True, text=True)
    assert "No module named 'amltui_isopkg'" in tool.stderr
    nxt = ws.wait_for_job(submit(ws, {"command": "python -c 'import importlib.util as u; "
                                                 "print(u.find_spec(\"amltui_isopkg\"), u.find_spec(\"yaml\") is not None)'"}
                                 ).name, 60)
    assert nxt.status == "Completed" and log_text(ws, nxt.name).strip() == "None True"


def test_a_layer_sees_its_base_venv_and_what_that_venv_links_in(tmp_path):
    from tui.workspace.local import isolation

    base = tmp_path / "base"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
    base_site = next(base.glob("lib/python*/site-packages"))
    write(base_site / "basemod.py", "WHERE = 'base'\n")
    write(tmp_path / "linked" / "linkedmod.py", "WHERE = 'linked'\n")
    write(base_site / "link.pth", f"{tmp_path / 'linked'}\n")  # as a cached env links this interpreter
    layer_python = isolation.make_layer(tmp_path / "layer", str(base / "bin" / "python"))
    out = subprocess.run([str(layer_python), "-c", "import sys, basemod, linkedmod; "
                          "print(sys.prefix, sys.executable, basemod.WHERE, linkedmod.WHERE)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(tmp_path / "layer"), str(layer_python), "base", "linked"]


def test_a_daemon_ends_with_its_completed_job(ws, leftovers):
    job = submit(ws, {"command": "setsid sleep 777 & (setsid sleep 777 &); echo left two daemons"})
    leftovers(_of_job(job.name))
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Completed"
    assert _gone_within(_of_job(job.name), 5) == []


def test_a_daemon_ends_with_its_canceled_job(ws, leftovers):
    job = submit(ws, {"command": "setsid sleep 777 & sleep 60"})
    leftovers(_of_job(job.name))
    wait_status(ws, job.name, {"Running"})
    _appears(_daemon(job.name))
    ws.cancel_job(job.name)
    assert ws.wait_for_job(job.name, 30).status == "Canceled"
    assert _gone_within(_of_job(job.name), 5) == []


def test_a_daemon_ends_when_the_runner_was_killed(ws, leftovers):
    job = submit(ws, {"command": "setsid sleep 777 & sleep 120"})
    leftovers(_of_job(job.name))
    wait_status(ws, job.name, {"Running"})
    _appears(_daemon(job.name))
    runner = ws._conn.execute("SELECT runner_pid FROM jobs WHERE name = ?", (job.name,)).fetchone()[0]
    os.kill(runner, signal.SIGKILL)
    job = wait_status(ws, job.name, {"Failed"}, timeout=10)  # the read that notices also cleans up
    assert "died unexpectedly" in job.fields["error"]["message"]
    assert _gone_within(_of_job(job.name), 5) == []


def test_a_job_process_outside_its_group_is_found_by_its_mark(ws_root):
    """Reconcile finds what a dead runner left by the job's mark, with no process group known
    (a runner that died while building the environment never had one)."""
    from tui.workspace.local import isolation, jobstore

    job_dir = jobstore.job_dir(ws_root, "job-a")
    job_dir.mkdir(parents=True)
    env = {**os.environ, isolation.JOB_MARK: isolation.job_mark(job_dir)}
    other = {**os.environ, isolation.JOB_MARK: isolation.job_mark(jobstore.job_dir(ws_root, "job-b"))}
    marked = subprocess.Popen(["sleep", "777"], env=env, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "777"], env=other, start_new_session=True)
    try:
        jobstore.kill_job_processes(None, "job-a", ws_root)
        assert marked.wait(5) == -signal.SIGKILL
        assert bystander.poll() is None
    finally:
        marked.kill()
        bystander.kill()
        bystander.wait()


def test_pip_of_an_environment_build_dies_with_its_runner(ws, leftovers):
    import socket

    silent = socket.socket()  # an index that accepts connections and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    index = f"http://127.0.0.1:{silent.getsockname()[1]}/simple"
    env = {"conda_file": {"dependencies": [{"pip": [f"--index-url {index}", "amltui-never-installed-pkg==1.0"]}]}}
    envs = str(ws.root / "envs")

    def pip(proc) -> bool:
        cmd = proc.cmdline()
        return "pip" in cmd and any(envs in part for part in cmd)

    def waiting_on_the_index(proc) -> bool:  # past its first output, which a dead reader would end
        return pip(proc) and any(c.raddr and c.raddr[1] == port for c in proc.net_connections("tcp"))

    port = silent.getsockname()[1]
    leftovers(pip)
    try:
        job = submit(ws, {"command": "true", "environment": env})
        _appears(waiting_on_the_index, 90)
        from tui.workspace.local import isolation

        mark = isolation.job_mark(ws.root / "jobs" / job.name)  # so a reconcile could find it too
        assert [p.environ().get(isolation.JOB_MARK) for p in _processes(pip)] == [mark]
        runner = ws._conn.execute("SELECT runner_pid FROM jobs WHERE name = ?", (job.name,)).fetchone()[0]
        os.kill(runner, signal.SIGKILL)
        assert _gone_within(pip, 5) == []
        job = wait_status(ws, job.name, {"Failed"}, timeout=10)
        assert "died unexpectedly" in job.fields["error"]["message"]
    finally:
        silent.close()


def test_the_runner_reaps_the_orphans_it_adopts_while_the_job_runs(ws):
    job = submit(ws, {"command": "for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 3"})
    wait_status(ws, job.name, {"Running"})
    runner = psutil.Process(ws._conn.execute("SELECT runner_pid FROM jobs WHERE name = ?",
                                             (job.name,)).fetchone()[0])
    time.sleep(1.5)  # the orphans ended long ago; the job still runs
    assert ws.get_job(job.name).status == "Running"
    assert [p for p in runner.children() if p.status() == psutil.STATUS_ZOMBIE] == []
    assert ws.wait_for_job(job.name, 30).status == "Completed"


SPARES_RUNNERS = """
import subprocess, sys, time
from pathlib import Path
from tui.workspace.local import isolation
from tui.workspace.local.detached import spawn_detached
runner = spawn_detached(["-c", "import time; time.sleep(30)"], cwd=Path("."))
job = subprocess.Popen(["sleep", "30"])
time.sleep(0.2)
isolation.end_descendants()
time.sleep(0.2)
print(runner.pid, runner.poll(), job.poll())
"""


def test_ending_a_jobs_processes_spares_the_runners_it_started_for_other_jobs():
    # A runner schedules other jobs when it claims and when it ends, so their runners are its
    # children: ending its own job must not kill them (they failed as "never started").
    out = subprocess.run([sys.executable, "-c", SPARES_RUNNERS], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    pid, runner_code, job_code = int(out[0]), out[1], out[2]
    try:
        assert runner_code == "None" and job_code == str(-signal.SIGKILL)
        assert psutil.pid_exists(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
