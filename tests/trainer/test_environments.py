"""Each environment of environments/ builds: pip resolves its whole pip list, azureml-* included.

Locally the azureml-* packages are skipped, so only a resolve against the package index finds a
set that cannot be installed on Azure (mlflow 3.17.2 beside azureml-mlflow, which requires
mlflow-skinny<=3.15.0, did not). Skipped when the index cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
CONDA_FILES = sorted((REPO / "environments").glob("conda-*.yml"))
# What pip says when it cannot reach the index (as opposed to "no version satisfies").
UNREACHABLE = ("Failed to establish a new connection", "Temporary failure in name resolution",
               "Network is unreachable", "Connection refused", "ConnectTimeoutError", "ReadTimeoutError",
               "ProxyError", "No route to host")


def pip_list(conda_file: Path) -> tuple[str, ...]:
    conda = yaml.safe_load(conda_file.read_text())
    return tuple(next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict)))


@lru_cache(maxsize=None)
def resolve(requirements: tuple[str, ...], tmp: Path) -> dict[str, str]:
    """pip's resolution of `requirements` as on a fresh machine: {name: version}."""
    req_file, report = tmp / f"req-{abs(hash(requirements))}.txt", tmp / f"report-{abs(hash(requirements))}.json"
    req_file.write_text("\n".join(requirements) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--retries", "1", "--timeout", "30", "--report", str(report), "-r", str(req_file)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 and any(marker in proc.stderr for marker in UNREACHABLE):
        pytest.skip("the package index cannot be reached, so the environments cannot be resolved here: "
                    + next(line for line in proc.stderr.splitlines() if any(m in line for m in UNREACHABLE))[:200])
    assert proc.returncode == 0, f"pip cannot resolve {req_file.read_text()}\n{proc.stderr[-3000:]}"
    return {item["metadata"]["name"].lower(): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("resolve")


@pytest.mark.parametrize("conda_file", CONDA_FILES, ids=[f.name for f in CONDA_FILES])
def test_the_pip_list_resolves_with_azureml_mlflow(conda_file, scratch):
    requirements = pip_list(conda_file)
    assert any(Requirement(r).name == "azureml-mlflow" for r in requirements)  # tracking on Azure ML
    resolved = resolve(requirements, scratch)
    for line in requirements:
        req = Requirement(line)
        assert req.specifier.contains(resolved[req.name.lower()], prereleases=True), (line, resolved[req.name.lower()])
    # mlflow and its skinny core move together; the trainer runs under the version chosen.
    assert resolved["mlflow-skinny"] == resolved["mlflow"]


def test_every_environment_is_checked():
    assert [f.name for f in CONDA_FILES] == ["conda-cpu.yml", "conda-gpu.yml"]
