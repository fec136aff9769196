"""Fixtures for the trainer tests: synthetic IDX data and a helper running train.py as jobs do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRAINER = REPO / "trainer"
if str(REPO) not in sys.path:  # `from trainer.synthetic import ...`
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    from trainer.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synthetic"), n_train=1200, n_test=300, seed=7)


def trainer_env(tracking_uri: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a job process: no inherited MLflow or DDP settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AZUREML_")) and k not in
           ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.update(extra)
    return env


def run_train(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180,
              wait: bool = True):
    """Run trainer/train.py as a job runs it: a script, in its own working directory."""
    cmd = [sys.executable, str(TRAINER / "train.py"), *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
