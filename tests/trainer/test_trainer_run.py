"""train.py end to end as a subprocess: MLflow params/metrics/model, run resumption, DDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_train, trainer_env

EPOCHS = 2
FAST = ["--epochs", str(EPOCHS), "--batch-size", "64", "--lr", "0.005", "--log-every", "2"]


def client_for(db):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


@pytest.fixture(scope="module")
def single_run(synthetic_root, tmp_path_factory):
    """One two-epoch run on synthetic digits; several tests read it back."""
    work = tmp_path_factory.mktemp("single")
    db = work / "mlflow.db"
    proc = run_train(["--data", str(synthetic_root), *FAST, "--metrics-json", "metrics.json"], cwd=work,
                     env=trainer_env(f"sqlite:///{db}"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client = client_for(db)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    return work, client, runs[0], proc


def test_metrics_and_params_are_logged(single_run):
    _, client, run, _ = single_run
    assert run.info.status == "FINISHED"
    for key in ("train_loss", "val_loss", "val_accuracy", "epoch_time", "samples_per_sec"):
        history = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in history] == list(range(1, EPOCHS + 1)), key
    params = run.data.params
    for key in ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "dropout",
                "hidden", "seed", "device", "val_fraction", "num_threads"):
        assert key in params, key
    assert params["epochs"] == str(EPOCHS) and params["batch_size"] == "64"
    assert run.data.metrics["val_accuracy"] > 0.9
    assert run.data.metrics["test_accuracy"] == run.data.metrics["val_accuracy"]


def test_loss_decreases(single_run):
    _, client, run, _ = single_run
    steps = client.get_metric_history(run.info.run_id, "train_loss_step")
    # 1200 images / 64 per batch = 19 steps per epoch, logged every 2 steps.
    assert len(steps) == EPOCHS * 19 // 2
    assert steps[-1].value < steps[0].value / 3
    epochs = client.get_metric_history(run.info.run_id, "train_loss")
    assert epochs[-1].value < epochs[0].value


def test_logged_model_predicts_digits(single_run, synthetic_root, monkeypatch):
    import mlflow

    from trainer import idx

    work, _, run, _ = single_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    raw = synthetic_root / "MNIST" / "raw"
    images = idx.read(raw / "t10k-images-idx3-ubyte")[:200]
    labels = idx.read(raw / "t10k-labels-idx1-ubyte")[:200]
    # The model takes raw 0..255 pixels as float32 (N, 1, 28, 28) and returns logits.
    logits = model.predict(images.astype(np.float32)[:, None])
    assert logits.shape == (200, 10)
    predicted = logits.argmax(1)
    assert set(np.unique(predicted)) <= set(range(10))
    assert (predicted == labels).mean() > 0.9


def test_model_copy_saved_under_outputs(single_run):
    import mlflow

    work = single_run[0]
    saved = work / "outputs" / "model"
    assert (saved / "MLmodel").is_file()
    model = mlflow.pyfunc.load_model(str(saved))
    assert model.predict(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_logged_model_is_the_saved_folder_and_loads_with_mlflow_pytorch(single_run, synthetic_root,
                                                                       monkeypatch):
    import mlflow
    import torch

    from trainer import idx

    work, client, run, _ = single_run
    run_id = run.info.run_id
    logged = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/data", "model/code"} <= logged
    # Saved once, logged as is: the same model (a second serialisation gets its own uuid).
    copy = client.download_artifacts(run_id, "model/MLmodel", str(work / "download"))
    assert Path(copy).read_text() == (work / "outputs" / "model" / "MLmodel").read_text()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    net = mlflow.pytorch.load_model(f"runs:/{run_id}/model")
    raw = synthetic_root / "MNIST" / "raw"
    images = torch.from_numpy(idx.read(raw / "t10k-images-idx3-ubyte")[:200].astype(np.float32))
    labels = idx.read(raw / "t10k-labels-idx1-ubyte")[:200]
    with torch.inference_mode():
        predicted = net(images[:, None]).argmax(1).numpy()
    assert (predicted == labels).mean() > 0.9


def test_metrics_json_breaks_the_wall_time_down(single_run):
    summary = json.loads((single_run[0] / "metrics.json").read_text())
    phases = summary["phases"]
    for key in ("import_torch", "data_and_model", "train", "eval", "model_save_log_and_end_run",
                "mlflow_process:mlflow_import_and_run", "mlflow_process:model_save"):
        assert phases[key] >= 0, key
    # This process's phases follow one another; the MLflow process's overlap them.
    own = sum(v for k, v in phases.items() if not k.startswith("mlflow_process:"))
    assert own <= summary["total_time"] + 1e-6
    assert summary["run_id"] == single_run[2].info.run_id


def test_stdout_reports_epochs(single_run):
    out = single_run[3].stdout
    assert f"epoch {EPOCHS}/{EPOCHS}" in out and "val_accuracy=" in out


def test_resumes_the_run_named_by_mlflow_run_id(synthetic_root, tmp_path):
    db = tmp_path / "mlflow.db"
    client = client_for(db)
    exp = client.create_experiment("precreated")
    run_id = client.create_run(exp).info.run_id
    # A launcher may record inputs as params first, formatted its own way.
    client.log_param(run_id, "lr", "5e-3")
    out = tmp_path / "model-out"
    out.mkdir()  # like an Azure output mount: exists and is empty
    proc = run_train(
        ["--data", str(synthetic_root), "--epochs", "1", "--max-train-samples", "300",
         "--model-output", str(out)],
        cwd=tmp_path, env=trainer_env(f"sqlite:///{db}", MLFLOW_RUN_ID=run_id))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.run_id for r in runs] == [run_id]  # no experiment or run of its own
    data = client.get_run(run_id).data
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(data.metrics)
    assert data.params["max_train_samples"] == "300"
    assert data.params["lr"] == "5e-3"
    assert (out / "MLmodel").is_file()
    assert not (tmp_path / "outputs").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ddp_processes(synthetic_root, tmp_path):
    db = tmp_path / "mlflow.db"
    port = str(_free_port())
    procs, dirs = [], []
    for rank in range(2):
        cwd = tmp_path / f"rank{rank}"  # separate dirs show who wrote ./outputs
        cwd.mkdir()
        dirs.append(cwd)
        env = trainer_env(f"sqlite:///{db}", RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        # --batch-size is per process: 2 x 32 keeps the single run's global batch and steps.
        args = ["--data", str(synthetic_root), *FAST, "--batch-size", "32"]
        procs.append(run_train(args, cwd=cwd, env=env, wait=False))
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=240)[0])
        finally:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
    assert "x2" in outputs[0] and "epoch" not in outputs[1]  # rank 1 stays quiet

    client = client_for(db)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    run_id = runs[0].info.run_id
    assert runs[0].data.params["world_size"] == "2"
    history = client.get_metric_history(run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2]  # logged once per epoch, by rank 0 alone
    assert history[-1].value > 0.85
    assert (dirs[0] / "outputs" / "model" / "MLmodel").is_file()
    assert not (dirs[1] / "outputs").exists()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # exited, maybe unreaped
    except FileNotFoundError:
        return True


def _start_long_run(synthetic_root, tmp_path, db, **env):
    """A run long enough to be interrupted, once it is training (its MLflow child forked)."""
    proc = run_train(["--data", str(synthetic_root), "--epochs", "200", "--batch-size", "64"],
                     cwd=tmp_path, env=trainer_env(f"sqlite:///{db}", **env), wait=False)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("training on"):
            return proc, lines
    raise AssertionError("".join(lines))


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc")
def test_interrupted_trainer_fails_its_run_and_leaves_no_process(synthetic_root, tmp_path):
    db = tmp_path / "mlflow.db"
    proc, _ = _start_long_run(synthetic_root, tmp_path, db)
    try:
        children = _children(proc.pid)
        assert len(children) == 1  # the MLflow process
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=180)[0]
    finally:
        proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in out
    assert _gone(children[0])
    client = client_for(db)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs] == ["FAILED"]


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc")
def test_killed_trainer_leaves_no_mlflow_process_behind(synthetic_root, tmp_path):
    proc, _ = _start_long_run(synthetic_root, tmp_path, tmp_path / "mlflow.db")
    try:
        children = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    # The child sees the pipe close and exits once it has opened the store (slow on a busy machine).
    deadline = time.monotonic() + 120
    while not _gone(children[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(children[0])


def test_mlflow_failure_fails_the_job_with_mlflow_s_message(synthetic_root, tmp_path):
    proc = run_train(["--data", str(synthetic_root), "--epochs", "1", "--max-train-samples", "300"],
                     cwd=tmp_path, env=trainer_env(f"sqlite:///{tmp_path / 'mlflow.db'}",
                                                    MLFLOW_RUN_ID="0123456789abcdef"))
    assert proc.returncode == 1
    assert "TrackingError" in proc.stderr and "Run with id=0123456789abcdef not found" in proc.stderr
    assert not (tmp_path / "outputs").exists()
