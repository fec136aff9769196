"""The bundled trainer submitted as a local job, end to end, with the YAML files users submit."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from trainer.synthetic import write_synthetic
from tui.workspace import spec


pytestmark = pytest.mark.local_only("the trainer tracks to the local MLflow store")


@pytest.fixture
def mnist_ws(ws, tmp_path):
    data = write_synthetic(tmp_path / "mnist", n_train=600, n_test=200)
    ws.create_data({"name": "mnist-sample", "type": "uri_folder", "path": str(data)}, base_dir=tmp_path,
                   source="test")
    env_file = REPO / "environments" / "cpu.yml"
    ws.create_environment(spec.load_yaml_file(env_file), base_dir=env_file.parent, source=str(env_file))
    ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="test")
    return ws


def submit_file(ws, name: str, *overrides: str):
    path = REPO / "trainer" / name
    document = spec.apply_overrides(spec.load_yaml_file(path), list(overrides), str(path))
    return ws.create_job(document, base_dir=path.parent, source=str(path))


def test_trainer_job_logs_metrics_and_model(mnist_ws):
    ws = mnist_ws
    job = ws.wait_for_job(submit_file(ws, "job.yml", "inputs.epochs=1").name, 240)
    log = ws.read_log(job.name, "user_logs/std_log.txt").text
    assert job.status == "Completed", log
    assert "reusing" in ws.read_log(job.name, "system_logs/environment_build.txt").text  # no venv built
    metrics = ws.job_metrics(job.name)
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(metrics)
    model_dir = ws.root / "jobs" / job.name / "named-outputs" / "model"
    assert (model_dir / "MLmodel").is_file()
    assert not (ws.root / "jobs" / job.name / "snapshot" / "mlruns").exists()  # .amlignore honoured


def test_trainer_job_with_two_ddp_processes(mnist_ws):
    ws = mnist_ws
    job = ws.wait_for_job(submit_file(ws, "job-distributed.yml", "inputs.epochs=1").name, 300)
    logs = {f.name for f in ws.log_files(job.name)}
    assert {"user_logs/std_log_process_0.txt", "user_logs/std_log_process_1.txt"} <= logs
    rank0 = ws.read_log(job.name, "user_logs/std_log_process_0.txt").text
    assert job.status == "Completed", rank0 + ws.read_log(job.name, "user_logs/std_log_process_1.txt").text
    assert "training on cpu x2" in rank0  # both ranks joined one process group
    assert "val_accuracy" in ws.job_metrics(job.name)
    assert (ws.root / "jobs" / job.name / "named-outputs" / "model" / "MLmodel").is_file()
