"""The local job lifecycle, for real: SQLite catalog, detached runner processes, MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tiny_wheel, write
from tui.workspace.base import BackendUnavailableError, InvalidSpecError, NotFoundError


pytestmark = pytest.mark.local_only("the local engine itself: catalog, runner, environments, capacity")


def submit(ws, doc: dict, base: Path | None = None):
    return ws.create_job(doc, base_dir=base or Path.cwd(), source="job.yml")


def wait_status(ws, name: str, statuses: set[str], timeout: float = 30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = ws.get_job(name)
        if job.status in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{name} is {ws.get_job(name).status}, wanted one of {statuses}")


def log_text(ws, name: str, file: str = "user_logs/std_log.txt") -> str:
    return ws.read_log(name, file).text


def test_job_runs_with_inputs_environment_and_outputs(ws, tmp_path):
    code = tmp_path / "src"
    write(code / "main.py", """
import os, sys, pathlib
print("args", sys.argv[1:])
for k in ("AZUREML_RUN_ID", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "GREETING"):
    print(k, os.environ.get(k))
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/result.txt").write_text("default output")
pathlib.Path(sys.argv[-1], "model.txt").write_text("named output")
print("file says", open(sys.argv[3]).read())
""")
    write(tmp_path / "in.txt", "payload")
    job = submit(ws, {
        "code": "src", "command": "python main.py ${{inputs.n}} ${{inputs.lr}} ${{inputs.f}} ${{outputs.model}}",
        "inputs": {"n": 3, "lr": 0.5, "f": {"type": "uri_file", "path": "in.txt"}},
        "outputs": {"model": {"type": "uri_folder"}},
        "environment_variables": {"GREETING": "hi"}, "experiment_name": "exp", "display_name": "first",
    }, base=tmp_path)
    assert job.display_name == "first" and job.experiment_name == "exp"
    job = ws.wait_for_job(job.name, 60)
    out = log_text(ws, job.name)
    assert job.status == "Completed", out
    assert "args ['3', '0.5'," in out and "file says payload" in out
    assert f"AZUREML_RUN_ID {job.name}" in out and "GREETING hi" in out
    assert f"MLFLOW_RUN_ID {job.fields['properties']['mlflow.runId']}" in out
    assert "MLFLOW_TRACKING_URI sqlite:///" in out
    assert job.start_time and job.end_time and job.end_time >= job.start_time
    assert job.fields["inputs"]["n"] == 3 and job.fields["inputs"]["f"]["type"] == "uri_file"

    dest = ws.download_job(job.name, tmp_path / "dl", all=True)
    assert (dest / "artifacts" / "outputs" / "result.txt").read_text() == "default output"
    assert (dest / "named-outputs" / "model" / "model.txt").read_text() == "named output"
    assert (dest / "artifacts" / "user_logs" / "std_log.txt").exists()
    status_file = json.loads((ws.root / "jobs" / job.name / "status.json").read_text())
    assert status_file["status"] == "Completed"
    with pytest.raises(NotFoundError, match="outputs: default, model"):
        ws.download_job(job.name, tmp_path / "x", output_name="nope")


def test_mlflow_calls_in_the_job_land_in_its_run(ws):
    job = submit(ws, {"command": "python -c \"import mlflow; mlflow.start_run(); "
                      "[mlflow.log_metric('loss', 1.0 / s, step=s) for s in range(1, 4)]; mlflow.log_param('p', 7)\"",
                      "experiment_name": "tracked"})
    job = ws.wait_for_job(job.name, 120)
    assert job.status == "Completed", log_text(ws, job.name)
    metrics = ws.job_metrics(job.name)
    assert [p.step for p in metrics["loss"]] == [1, 2, 3]
    assert metrics["loss"][-1].value == pytest.approx(1 / 3)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{ws.root / 'mlflow.db'}")
    run = client.get_run(job.fields["properties"]["mlflow.runId"])
    assert run.info.status == "FINISHED" and run.data.params == {"p": "7"}
    assert client.get_experiment(run.info.experiment_id).name == "tracked"
    assert run.data.tags["azureml.job_name"] == job.name


def test_snapshot_honours_amlignore_then_gitignore_and_is_immutable(ws, tmp_path):
    code = tmp_path / "code"
    write(code / "run.sh", "echo version-1\n")
    write(code / "data" / "big.bin", "x" * 1000)
    write(code / "keep.txt", "k")
    write(code / ".gitignore", "keep.txt\n")
    write(code / ".amlignore", "data/\n*.bin\n")
    job = submit(ws, {"code": "code", "command": "bash run.sh; ls -A"}, base=tmp_path)
    write(code / "run.sh", "echo version-2\n")  # an edit after submission
    job = ws.wait_for_job(job.name, 30)
    out = log_text(ws, job.name)
    assert "version-1" in out and "version-2" not in out
    snap = ws.root / "jobs" / job.name / "snapshot"
    assert not (snap / "data").exists() and (snap / "keep.txt").exists()  # .amlignore wins over .gitignore

    (code / ".amlignore").unlink()
    job2 = ws.wait_for_job(submit(ws, {"code": "code", "command": "true"}, base=tmp_path).name, 30)
    snap2 = ws.root / "jobs" / job2.name / "snapshot"
    assert not (snap2 / "keep.txt").exists() and (snap2 / "data" / "big.bin").exists()


def test_data_assets_are_copied_versioned_and_resolved(ws, tmp_path):
    folder = tmp_path / "digits"
    write(folder / "a.txt", "one")
    d1 = ws.create_data({"name": "digits", "type": "uri_folder", "path": str(folder)}, base_dir=tmp_path,
                        source="cli")
    write(folder / "a.txt", "two")
    d2 = ws.create_data({"name": "digits", "type": "uri_folder", "path": str(folder)}, base_dir=tmp_path,
                        source="cli")
    assert (d1.version, d2.version) == ("1", "2")
    with pytest.raises(InvalidSpecError, match="immutable"):
        ws.create_data({"name": "digits", "version": "1", "type": "uri_folder", "path": str(folder)},
                       base_dir=tmp_path, source="cli")
    for ref, want in (("azureml:digits@latest", "two"), ("azureml:digits:1", "one")):
        job = submit(ws, {"command": "cat ${{inputs.d}}/a.txt", "inputs": {"d": {"type": "uri_folder", "path": ref}}})
        job = ws.wait_for_job(job.name, 30)
        assert log_text(ws, job.name).strip() == want
    assert [a.version for a in ws.list_versions(ws_kind("data"), "digits")] == ["2", "1"]


def ws_kind(name):
    from tui.workspace.base import AssetKind

    return AssetKind(name)


def test_failed_job_records_exit_code_and_log_tail(ws):
    job = submit(ws, {"command": "for i in $(seq 1 50); do echo line $i; done; echo boom >&2; exit 7"})
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Failed"
    assert job.fields["properties"]["exit_code"] == "7"
    err = job.fields["error"]
    assert err["code"] == "UserError" and "exited with code 7" in err["message"]
    assert err["log_tail"].endswith("line 50\nboom") and "line 10\n" not in err["log_tail"]


def test_pytorch_distribution_starts_ranks_with_torchrun_environment(ws):
    job = submit(ws, {"command": "echo rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE addr=$MASTER_ADDR port=$MASTER_PORT",
                      "distribution": {"type": "pytorch", "process_count_per_instance": 3}})
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Completed"
    names = [f.name for f in ws.log_files(job.name) if f.name.startswith("user_logs/")]
    assert names == [f"user_logs/std_log_process_{r}.txt" for r in range(3)]
    ports = set()
    for r in range(3):
        line = log_text(ws, job.name, f"user_logs/std_log_process_{r}.txt").strip()
        assert line.startswith(f"rank={r} local={r} world=3 addr=127.0.0.1 port=")
        ports.add(line.rsplit("=", 1)[1])
    assert len(ports) == 1


def test_one_failing_rank_fails_the_job_and_stops_the_others(ws):
    job = submit(ws, {"command": 'if [ "$RANK" = 1 ]; then exit 3; fi; sleep 60',
                      "distribution": {"type": "pytorch", "process_count_per_instance": 2}})
    t = time.time()
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Failed" and job.fields["properties"]["exit_code"] == "3"  # the rank that failed
    assert time.time() - t < 20


def test_capacity_queues_jobs_and_starts_them_in_order(ws):
    ws.create_compute({"name": "one", "type": "local", "max_concurrency": 1}, source="cli")
    names = [submit(ws, {"command": "sleep 0.3", "compute": "azureml:one"}).name for _ in range(3)]
    assert [ws.get_job(n).status for n in names][1:] == ["Queued", "Queued"]
    jobs = [ws.wait_for_job(n, 60) for n in names]
    assert all(j.status == "Completed" for j in jobs)
    for a, b in zip(jobs, jobs[1:]):
        assert a.end_time <= b.start_time  # one at a time, in submission order


def test_cancel_running_and_queued_jobs(ws):
    ws.create_compute({"name": "one", "type": "local", "max_concurrency": 1}, source="cli")
    running = submit(ws, {"command": "sleep 60", "compute": "one"})
    queued = submit(ws, {"command": "sleep 60", "compute": "one"})
    wait_status(ws, running.name, {"Running"})
    assert ws.cancel_job(queued.name).status == "Canceled"
    assert ws.cancel_job(running.name).status in ("CancelRequested", "Canceled")
    job = ws.wait_for_job(running.name, 20)
    assert job.status == "Canceled"
    assert ws.cancel_job(running.name).status == "Canceled"  # idempotent


def test_cancel_kills_a_job_that_ignores_sigterm_after_the_grace_period(ws):
    job = submit(ws, {"command": "trap '' TERM; sleep 60 & wait; sleep 60"})
    wait_status(ws, job.name, {"Running"})
    t = time.time()
    ws.cancel_job(job.name)
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Canceled" and time.time() - t < 15


def test_timeout_fails_the_job(ws):
    job = ws.wait_for_job(submit(ws, {"command": "sleep 60", "limits": {"timeout": 1}}).name, 30)
    assert job.status == "Failed" and job.fields["error"]["code"] == "JobTimeout"


def test_killed_runner_marks_job_failed_and_reaps_its_processes(ws):
    job = submit(ws, {"command": "sleep 120"})
    wait_status(ws, job.name, {"Running"})
    row = ws._conn.execute("SELECT runner_pid, pgid FROM jobs WHERE name = ?", (job.name,)).fetchone()
    os.kill(row["runner_pid"], signal.SIGKILL)
    job = wait_status(ws, job.name, {"Failed"}, timeout=10)  # the next read notices
    assert "died unexpectedly" in job.fields["error"]["message"]
    import psutil

    def alive() -> list:
        return [p for p in psutil.process_iter(["status"])
                if _pgid(p.pid) == row["pgid"] and p.info["status"] != psutil.STATUS_ZOMBIE]

    deadline = time.time() + 5
    while alive() and time.time() < deadline:
        time.sleep(0.05)
    assert alive() == []


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_jobs_survive_the_submitting_cli_being_killed(cli, tmp_path, ws_root):
    jobfile = write(tmp_path / "job.yml", "command: sleep 1.5; echo survived\n")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--local", str(ws_root), "job", "create",
                             "--file", str(jobfile), "--stream"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    from tui.workspace.local import LocalWorkspace

    ws = LocalWorkspace(ws_root)
    deadline = time.time() + 30
    while time.time() < deadline and not ws.list_jobs().items:
        time.sleep(0.05)
    name = ws.list_jobs().items[0].name
    wait_status(ws, name, {"Running"})
    proc.kill()
    proc.wait()
    job = ws.wait_for_job(name, 30)
    assert job.status == "Completed" and "survived" in log_text(ws, name)


SUBMITTER = """
import sys
from pathlib import Path
from tui.workspace.local import LocalWorkspace
ws = LocalWorkspace(sys.argv[1])
for i in range(25):
    ws.create_job({"command": "echo $AZUREML_RUN_ID >> %s", "compute": "burst"}, base_dir=Path("."), source="job.yml")
"""


def test_four_concurrent_submitters_each_job_runs_exactly_once(ws, tmp_path):
    ws.create_compute({"name": "burst", "type": "local", "max_concurrency": 6}, source="cli")
    ledger = tmp_path / "ledger.txt"
    code = SUBMITTER % ledger
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws.root)]) for _ in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    names = {j.name for j in ws.list_jobs().items}
    assert len(names) == 100
    deadline = time.time() + 240
    while time.time() < deadline:
        jobs = ws.list_jobs().items
        if all(j.is_terminal for j in jobs):
            break
        time.sleep(0.5)
    assert {j.status for j in jobs} == {"Completed"}
    ran = ledger.read_text().split()
    assert sorted(ran) == sorted(names)  # every job once, none twice


def test_environment_reuses_this_interpreter_or_builds_a_cached_venv(ws, tmp_path):
    import yaml as _yaml

    write(tmp_path / "ok.yml", _yaml.safe_dump({"dependencies": ["python=3.11", "pip",
                                                                 {"pip": ["pyyaml>=5", "azureml-mlflow==1.0"]}]}))
    ws.create_environment({"name": "satisfied", "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
                           "conda_file": "ok.yml"}, base_dir=tmp_path, source="env.yml")
    job = ws.wait_for_job(submit(ws, {"command": "python -c 'import yaml'",
                                      "environment": "azureml:satisfied@latest"}).name, 30)
    assert job.status == "Completed"
    prepare = log_text(ws, job.name, "system_logs/environment_build.txt")
    assert "skipping Azure-only packages here: azureml-mlflow==1.0" in prepare and "reusing" in prepare
    assert job.fields["environment"] == "azureml:satisfied:1"

    wheel = tiny_wheel(tmp_path, "amltui_tinypkg", 42)
    env = {"conda_file": {"dependencies": ["python=3.11", {"pip": [f"amltui-tinypkg @ {wheel.as_uri()}"]}]}}
    cmd = "python -c 'import amltui_tinypkg, yaml; print(amltui_tinypkg.VALUE)'"
    first = ws.wait_for_job(submit(ws, {"command": cmd, "environment": env}).name, 180)
    assert first.status == "Completed", log_text(ws, first.name, "system_logs/environment_build.txt")
    assert log_text(ws, first.name).strip() == "42"
    build = log_text(ws, first.name, "system_logs/environment_build.txt")
    assert "building" in build and "environment ready" in build
    second = ws.wait_for_job(submit(ws, {"command": cmd, "environment": env}).name, 60)
    assert second.status == "Completed"
    assert "reusing cached environment" in log_text(ws, second.name, "system_logs/environment_build.txt")
    assert len(list((ws.root / "envs").iterdir())) == 1


def test_read_log_from_an_offset_never_splits_characters(ws):
    job = ws.wait_for_job(submit(ws, {"command": "printf 'héllo wörld\\n'"}).name, 30)
    full = ws.read_log(job.name, "user_logs/std_log.txt")
    assert full.text == "héllo wörld\n"
    part = ws.read_log(job.name, "user_logs/std_log.txt", 0, max_bytes=2)  # 'h' + half of 'é'
    assert part.text == "h" and part.next_offset == 1
    rest = ws.read_log(job.name, "user_logs/std_log.txt", part.next_offset)
    assert part.text + rest.text == full.text
    with pytest.raises(NotFoundError):
        ws.read_log(job.name, "../catalog.db")


def test_catalog_has_a_schema_version_and_refuses_a_newer_one(ws_root, ws):
    import sqlite3

    from tui.workspace.local import LocalWorkspace
    from tui.workspace.local.catalog import SCHEMA_VERSION

    conn = sqlite3.connect(ws_root / "catalog.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(BackendUnavailableError, match="newer"):
        LocalWorkspace(ws_root)


def test_the_job_sees_the_users_pythonpath_not_ours(ws, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mylib"))
    job = ws.wait_for_job(submit(ws, {"command": "echo \"[$PYTHONPATH]\""}).name, 30)
    assert log_text(ws, job.name).strip() == f"[{tmp_path / 'mylib'}]"


def test_one_workspace_is_safe_to_call_from_many_threads(ws):
    """The app's workers call one workspace concurrently (rows, counts, details, logs)."""
    import threading

    names = [submit(ws, {"command": "sleep 0.2; echo done"}).name for _ in range(4)]
    errors: list[BaseException] = []
    stop = time.time() + 3

    def hammer() -> None:
        try:
            while time.time() < stop:
                ws.counts()
                ws.list_jobs(max_results=50)
                for n in names:
                    ws.get_job(n)
                    ws.log_files(n)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {ws.wait_for_job(n, 30).status for n in names} == {"Completed"}


def test_substituted_paths_survive_spaces(tmp_path, mlflow_template):
    from tests.conftest import install_mlflow_store
    from tui.workspace.local import LocalWorkspace

    root = tmp_path / "my workspace"
    install_mlflow_store(mlflow_template, root)
    ws = LocalWorkspace(root)
    write(tmp_path / "in dir" / "a.txt", "spaced")
    job = ws.wait_for_job(submit(ws, {
        "command": "cat ${{inputs.d}}/a.txt > ${{outputs.o}}/copy.txt",
        "inputs": {"d": {"type": "uri_folder", "path": "in dir"}}, "outputs": {"o": {}}}, base=tmp_path).name, 30)
    assert job.status == "Completed", log_text(ws, job.name)
    assert (root / "jobs" / job.name / "named-outputs" / "o" / "copy.txt").read_text() == "spaced"


def test_snapshot_follows_linked_folders_and_skips_a_workspace_inside_the_code(tmp_path, mlflow_template):
    from tests.conftest import install_mlflow_store
    from tui.workspace.local import LocalWorkspace

    project = tmp_path / "project"
    write(tmp_path / "shared" / "d.txt", "linked data")
    write(project / "run.sh", "cat linked/d.txt\n")
    (project / "linked").symlink_to(tmp_path / "shared", target_is_directory=True)
    (project / "loop").symlink_to(project, target_is_directory=True)  # a cycle must not recurse
    root = project / ".aml-ws"
    install_mlflow_store(mlflow_template, root)
    ws = LocalWorkspace(root)
    job = ws.wait_for_job(submit(ws, {"code": ".", "command": "bash run.sh"}, base=project).name, 30)
    assert job.status == "Completed" and log_text(ws, job.name).strip() == "linked data"
    snapshot = root / "jobs" / job.name / "snapshot"
    assert not (snapshot / ".aml-ws").exists() and not (snapshot / "loop" / "loop").exists()


def test_cancel_stops_an_environment_build(ws, tmp_path):
    """A venv build is part of the job: cancel stops pip and the job ends Canceled."""
    import socket

    # An index that accepts connections and never answers: pip waits on it until canceled.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    index = f"http://127.0.0.1:{silent.getsockname()[1]}/simple"
    env = {"conda_file": {"dependencies": [{"pip": [f"--index-url {index}", "amltui-never-installed-pkg==1.0"]}]}}
    job = submit(ws, {"command": "true", "environment": env})
    build_log = ws.root / "jobs" / job.name / "system_logs" / "environment_build.txt"
    deadline = time.time() + 60
    while not (build_log.exists() and "pip install" in build_log.read_text()):
        assert time.time() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    assert ws.get_job(job.name).status == "Preparing"  # still waiting on the silent index
    ws.cancel_job(job.name)
    job = ws.wait_for_job(job.name, 30)
    silent.close()
    assert job.status == "Canceled"
