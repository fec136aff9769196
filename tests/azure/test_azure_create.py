"""Submitting, cancelling and creating: the same job YAML as locally, the code uploaded through
the routed storage client, long-running operations sent without waiting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.azure.conftest import assert_no_canary
from tests.conftest import write
from tui.workspace.base import AssetKind, InvalidSpecError, NotFoundError, ReadOnlyError, WorkspaceError

# azure-storage-blob warns about its own use inside the SDK's download; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:azure.storage.*")

JOB = {"command": "python main.py --n ${{inputs.n}}", "code": "src", "inputs": {"n": 3},
       "environment": "azureml:mnist-cpu:1", "compute": "azureml:cpu-cluster", "experiment_name": "mnist",
       "display_name": "first"}


@pytest.fixture
def project(tmp_path) -> Path:
    write(tmp_path / "src" / "main.py", "print('hello from azure')\n")
    write(tmp_path / "src" / "util" / "helpers.py", "X = 1\n")
    return tmp_path


def test_validate_sends_nothing_and_shows_the_job(fake, azure_ws, project):
    shown = azure_ws.validate_job(JOB, base_dir=project, source="job.yml")
    assert shown["command"] == JOB["command"] and shown["inputs"] == {"n": 3}
    assert shown["code"] == str(project / "src") and shown["environment"] == "azureml:mnist-cpu:1"
    assert shown["experiment_name"] == "mnist" and shown["type"] == "command"
    assert fake.requests == []


@pytest.mark.parametrize("change, field, message", [
    ({"command": None}, "command", "required: the shell command the job runs"),  # our spec, as locally
    ({"command": "python x.py ${{inputs.m}}"}, "command", "undeclared input 'm'"),
    ({"code": "nope"}, "code", "code folder .*nope does not exist"),
    ({"code": "src/main.py"}, "code", "is a file; code must be a folder"),
    ({"environment": None}, "environment", "Missing data for required field"),  # the SDK's schema
    ({"inputs": {"n": 3, "d": {"type": "mltable", "path": "azureml:x:1", "mode": "upload"}}}, "inputs.d.mode",
     "not in set"),
    ({"distribution": {"type": "tensorflow", "worker_count": 2, "include_key": True}},
     "distribution.include_key", "Unknown field"),
])
def test_a_bad_job_exits_2_naming_the_field_and_sends_nothing(fake, azure_ws, project, change, field, message):
    doc = {k: v for k, v in {**JOB, **change}.items() if v is not None}
    for call in (azure_ws.validate_job, azure_ws.create_job):
        with pytest.raises(InvalidSpecError, match=message) as info:
            call(doc, base_dir=project, source="job.yml")
        assert info.value.field == field and info.value.source == "job.yml" and info.value.exit_code == 2
    assert fake.requests == []


def test_create_uploads_the_code_and_submits(fake, azure_ws, project, monkeypatch):
    fake.route_storage(monkeypatch)
    fake.add_asset("environments", "mnist-cpu", "1")
    fake.add_compute("cpu-cluster")
    job = azure_ws.create_job(JOB, base_dir=project, source="job.yml")
    assert job.status == "Starting" and job.experiment_name == "mnist" and job.display_name == "first"
    assert job.name in fake.jobs
    uploaded = {p.split("/", 2)[2]: bytes(b) for p, b in fake.blobs.items()}
    assert uploaded == {"src/main.py": b"print('hello from azure')\n", "src/util/helpers.py": b"X = 1\n"}
    puts = [r for r in fake.requests if r.method == "PUT"]
    assert any(f"/jobs/{job.name}" in r.path for r in puts) and any("/codes/" in r.path for r in puts)
    submitted = fake.jobs[job.name].body["submitted"]
    assert submitted["codeId"].startswith("/subscriptions/") and "/codes/" in submitted["codeId"]
    assert submitted["command"] == JOB["command"] and submitted["computeId"].endswith("/computes/cpu-cluster")
    for r in fake.requests:
        if r.host.endswith(".blob.core.windows.net"):
            assert "Authorization" not in r.headers
    assert_no_canary(job)
    # The same snapshot again: found by its hash, not uploaded twice.
    blob_puts = sum(r.method == "PUT" and r.host.endswith("blob.core.windows.net") for r in fake.requests)
    azure_ws.create_job(JOB, base_dir=project, source="job.yml")
    assert sum(r.method == "PUT" and r.host.endswith("blob.core.windows.net") for r in fake.requests) == blob_puts


def test_cancel_sends_the_post_and_does_not_wait(fake, azure_ws):
    fake.add_job("j", "Running")
    job = azure_ws.cancel_job("j")
    assert job.status == "CancelRequested"
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.path.rsplit("/", 2)[-2:] for r in posts] == [["j", "cancel"]]
    time.sleep(0.2)
    assert not any("cancelstatus" in r.url for r in fake.requests)  # no poller left behind
    fake.tick()
    assert azure_ws.get_job("j").status == "Canceled"
    before = len(fake.requests)
    assert azure_ws.cancel_job("j").status == "Canceled"  # already over: nothing to send
    assert not any(r.method == "POST" for r in fake.requests[before:])
    with pytest.raises(NotFoundError):
        azure_ws.cancel_job("ghost")


@pytest.mark.parametrize("action, state", [("start", "Starting"), ("stop", "Stopping"), ("restart", "Restarting")])
def test_compute_instance_actions(fake, azure_ws, action, state):
    fake.add_compute("ci-ada", "ComputeInstance", state="Stopped")
    compute = azure_ws.compute_action("ci-ada", action)
    assert compute.fields["state"] == state
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.method == "POST"] == [action]
    time.sleep(0.2)
    assert not any("operationResults" in r.url for r in fake.requests)
    with pytest.raises(InvalidSpecError, match="allowed: start, stop, restart"):
        azure_ws.compute_action("ci-ada", "delete")


def test_create_compute_returns_while_it_provisions(fake, azure_ws):
    asset = azure_ws.create_compute({"name": "gpu", "type": "amlcompute", "size": "STANDARD_NC6",
                                     "min_instances": 0, "max_instances": 2}, source="compute.yml")
    assert asset.name == "gpu" and asset.fields["provisioning_state"] == "Creating"
    sent = fake.computes["gpu"]["submitted"]
    assert sent["computeType"] == "AmlCompute" and sent["properties"]["vmSize"] == "STANDARD_NC6"
    time.sleep(0.2)
    assert not any("computeOperations" in r.url for r in fake.requests)
    with pytest.raises(InvalidSpecError) as info:
        azure_ws.create_compute({"name": "x", "type": "amlcompute", "max_instances": "many"}, source="c.yml")
    assert info.value.field == "max_instances" and info.value.source == "c.yml"
    with pytest.raises(InvalidSpecError, match="required") as info:
        azure_ws.create_compute({"name": "x"}, source="c.yml")
    assert info.value.field == "type"


def test_create_environment_and_data(fake, azure_ws, tmp_path):
    env = azure_ws.create_environment({"name": "mnist-gpu", "version": "2", "image": "python:3.11-slim"},
                                      base_dir=tmp_path, source="env.yml")
    assert (env.name, env.version, env.fields["image"]) == ("mnist-gpu", "2", "python:3.11-slim")
    data = azure_ws.create_data({"name": "digits", "version": "3", "type": "uri_folder",
                                 "path": "azureml://datastores/workspaceblobstore/paths/digits/"},
                                base_dir=tmp_path, source="data.yml")
    assert (data.name, data.version, data.fields["type"]) == ("digits", "3", "uri_folder")
    with pytest.raises(InvalidSpecError) as info:
        azure_ws.create_data({"name": "bad name!", "path": "x"}, base_dir=tmp_path, source="data.yml")
    assert info.value.field == "name"


def test_read_only_refuses_every_change(fake):
    from tui.workspace.azure import AzureWorkspace

    fake.add_job("j", "Running")
    fake.add_compute("ci", "ComputeInstance")
    ws = AzureWorkspace(fake.client(), read_only=True)
    for call in (lambda: ws.create_job(JOB, base_dir=Path("."), source="job.yml"),
                 lambda: ws.cancel_job("j"), lambda: ws.compute_action("ci", "stop"),
                 lambda: ws.create_compute({"name": "c", "type": "amlcompute"}, source="c.yml"),
                 lambda: ws.create_data({"name": "d", "path": "x"}, base_dir=Path("."), source="d.yml"),
                 lambda: ws.create_environment({"name": "e", "image": "x"}, base_dir=Path("."), source="e.yml")):
        with pytest.raises(ReadOnlyError):
            call()
    assert fake.requests == []
    assert ws.get_job("j").status == "Running"  # reading still works


def test_get_asset_of_a_new_compute_kind(fake, azure_ws):
    azure_ws.create_compute({"name": "ci2", "type": "computeinstance", "size": "STANDARD_DS3_V2"},
                            source="ci.yml")
    assert azure_ws.get_asset(AssetKind.COMPUTE, "ci2").fields["type"] == "computeinstance"


@pytest.fixture
def finished(fake, monkeypatch):
    fake.route_storage(monkeypatch)
    fake.add_job("j", "Completed", logs={"user_logs/std_log.txt": b"log line\n"})
    fake.add_output("j", "outputs/result.txt", b"default output")
    fake.add_output("j", "model.txt", b"named output", output="model")
    return fake


def test_download_everything_as_locally(finished, azure_ws, tmp_path):
    dest = azure_ws.download_job("j", tmp_path / "dl", all=True)
    files = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert files == {"artifacts/outputs/result.txt": b"default output", "artifacts/user_logs/std_log.txt": b"log line\n",
                     "named-outputs/model/model.txt": b"named output"}
    for r in finished.requests:
        if r.host.endswith(".blob.core.windows.net"):
            assert not r.headers.get("Authorization", "").startswith("Bearer")
    assert_no_canary(dest)


def test_download_one_output_or_the_default(finished, azure_ws, tmp_path):
    one = azure_ws.download_job("j", tmp_path / "one", output_name="model")
    assert [p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file()] == ["named-outputs/model/model.txt"]
    default = azure_ws.download_job("j", tmp_path / "default")
    assert sorted(p.relative_to(default).as_posix() for p in default.rglob("*") if p.is_file()) == [
        "artifacts/outputs/result.txt", "artifacts/user_logs/std_log.txt"]
    with pytest.raises(NotFoundError, match="no output 'nope'; outputs: default, model"):
        azure_ws.download_job("j", tmp_path / "x", output_name="nope")


def test_download_refuses_a_running_job_and_a_file_as_folder(finished, azure_ws, tmp_path):
    finished.add_job("r", "Running")
    with pytest.raises(WorkspaceError, match="'r' is Running; outputs can be downloaded once it has ended"):
        azure_ws.download_job("r", tmp_path / "dl")
    write(tmp_path / "afile", "x")
    with pytest.raises(InvalidSpecError, match="is a file; the download path must be a folder"):
        azure_ws.download_job("j", tmp_path / "afile" / "dl")
    assert not (tmp_path / "dl").exists()
