"""The typed run plan (versioned run.json) and the job folder layout with its log roles."""

from __future__ import annotations

import json

import pytest

from tui.workspace.base import LogFile, build_log, primary_log
from tui.workspace.local.layout import JobLayout, log_file, std_log_name
from tui.workspace.local.plan import PLAN_VERSION, PlanError, RunPlan


pytestmark = pytest.mark.local_only("the local runner's plan and folders")


def test_plan_round_trips_with_its_version(tmp_path):
    plan = RunPlan(command="echo hi", experiment_name="exp", display_name="d", compute="local",
                   environment={"name": "e", "version": "1"}, environment_variables={"A": "1"},
                   process_count=2, timeout=5, code_dir="/src")
    plan.write(tmp_path / "run.json")
    assert json.loads((tmp_path / "run.json").read_text())["version"] == PLAN_VERSION
    assert RunPlan.read(tmp_path / "run.json") == plan


def test_a_plan_of_another_version_or_shape_is_refused(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": PLAN_VERSION + 1, "command": "x"}))
    with pytest.raises(PlanError, match="version"):
        RunPlan.read(path)
    path.write_text(json.dumps({"version": PLAN_VERSION, "command": "x", "experiment_name": "e",
                                "display_name": "d", "compute": "local", "surprise": 1}))
    with pytest.raises(PlanError, match="surprise"):
        RunPlan.read(path)
    with pytest.raises(PlanError):
        RunPlan.read(tmp_path / "missing.json")


def test_a_plan_written_before_versions_still_runs(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"command": "echo", "values": {}, "paths": {}, "environment": {},
                                "environment_variables": {}, "process_count": 1, "timeout": None,
                                "experiment_name": "e", "code_dir": None, "compute": "local",
                                "display_name": "d"}))
    assert RunPlan.read(path).command == "echo"


def test_log_roles_come_from_the_layout(tmp_path):
    assert log_file("user_logs/std_log.txt", 3) == LogFile("user_logs/std_log.txt", 3, "user", None)
    assert log_file("user_logs/std_log_process_1.txt", 0).rank == 1
    assert log_file("system_logs/environment_build.txt", 0).role == "build"
    assert log_file("system_logs/lifecycle.txt", 0).role == "system"
    layout = JobLayout(tmp_path)
    for rank in (1, 0, 10):
        layout.user_logs.mkdir(exist_ok=True)
        layout.std_log(rank, 3).write_text("x")
    layout.system_logs.mkdir()
    (layout.system_logs / "environment_build.txt").write_text("b")
    files = layout.log_files()
    assert [f.rank for f in files if f.is_user] == [0, 1, 10]
    assert primary_log(files).rank == 0 and build_log(files).name.endswith("environment_build.txt")
    assert std_log_name(0, 1) == "std_log.txt"
    assert layout.resolve_log("../run.json") is None and layout.resolve_log("/etc/passwd") is None


def test_runner_refuses_a_plan_it_does_not_understand(ws):
    from tests.backend.test_local_jobs import submit

    ws.create_compute({"name": "held", "type": "local", "max_concurrency": 1}, source="t")
    blocker = submit(ws, {"command": "sleep 30", "compute": "held"})
    job = submit(ws, {"command": "echo hi", "compute": "held"})
    run_json = JobLayout.of(ws.root, job.name).run_json
    data = json.loads(run_json.read_text())
    run_json.write_text(json.dumps({**data, "version": 99}))
    ws.cancel_job(blocker.name)
    done = ws.wait_for_job(job.name, timeout=60)
    assert done.status == "Failed" and "version 99" in done.fields["error"]["message"]


def test_default_experiment_is_the_submitting_folder(ws, tmp_path, monkeypatch):
    from tests.backend.test_local_jobs import submit

    folder = tmp_path / "my project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert submit(ws, {"command": "true"}).experiment_name == "myproject"
