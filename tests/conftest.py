"""Shared fixtures: a real LocalWorkspace in a temporary directory, and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    # Never touch a developer's real workspace.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AML_TUI_HOME", str(home / "ws"))
    monkeypatch.setenv("AML_TUI_CONFIG", str(home / "config.toml"))  # nor their config file
    monkeypatch.setenv("AML_TUI_CACHE", str(home / "cache"))  # nor their Azure list caches
    monkeypatch.setenv("AML_TUI_CANCEL_GRACE", "2")
    # Nor their az login and `az configure --defaults`, which would name an Azure workspace.
    # (Not HOME itself: git's and pip's config live there, and tests need them.)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(home / "azure"))


@pytest.fixture(autouse=True, scope="session")
def _no_azure_workspace_above_the_checkout():
    # The CLI tests run from REPO: a .azureml/config.json above it would open Azure for all of them.
    from tui.workspace.azure.client import find_workspace_config

    found = find_workspace_config(REPO)
    if found is not None:
        pytest.exit(f"{found.source} names an Azure workspace for every test run from {REPO}: move it away",
                    returncode=4)


@pytest.fixture
def ws_root(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """MLflow creates its schema once per session (seconds); each workspace gets a copy."""
    from tui.workspace.local import tracking

    root = tmp_path_factory.mktemp("mlflow-template")
    tracking.ensure_store(root)
    return root / "mlflow.db"


def install_mlflow_store(template: Path, root: Path) -> None:
    import shutil
    import sqlite3

    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, root / "mlflow.db")
    with sqlite3.connect(root / "mlflow.db") as conn:
        conn.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                     ((root / "artifacts" / "0").resolve().as_uri(),))


# The backends the workspace tests (CLI and app) run against. Azure joins when its fake
# service serves these same tests (tests/azure has its own until then).
BACKENDS = ("local",)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def ws(backend, ws_root, mlflow_template):
    """A real workspace of each backend; tests talk to it only through the Workspace contract
    (local-only tests may reach into the LocalWorkspace, and say so by their place in tests/backend)."""
    from tui.workspace.local import LocalWorkspace

    assert backend == "local"
    install_mlflow_store(mlflow_template, ws_root)
    workspace = LocalWorkspace(ws_root)
    yield workspace
    workspace.close()


def run_cli(*args: str, root: Path | None = None, cwd: Path | None = None, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `aml-tui` entry point in a subprocess."""
    cmd = [sys.executable, "-m", "tui.cli"]
    if root is not None:
        cmd += ["--local", str(root)]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd or REPO,
                          timeout=timeout, env=full_env)


@pytest.fixture
def cli(backend, ws_root, mlflow_template):
    """The real `aml-tui` CLI against this backend's workspace: for local, the real binary in a
    subprocess; a remote backend will call `tui.cli.main(argv, workspace=...)` in process."""
    assert backend == "local"
    install_mlflow_store(mlflow_template, ws_root)

    def call(*args: str, **kw) -> subprocess.CompletedProcess:
        return run_cli(*args, root=ws_root, **kw)

    return call


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tiny_wheel(folder: Path, module: str, value: int) -> Path:
    """A real, minimal pure-Python wheel of `module` (with `VALUE = value`); pip installs it offline."""
    import zipfile

    dist = module.replace("_", "-")
    wheel = folder / f"{module}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{module}/__init__.py", f"VALUE = {value}\n")
        z.writestr(f"{module}-0.1.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        z.writestr(f"{module}-0.1.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{module}-0.1.dist-info/RECORD", "")
    return wheel
