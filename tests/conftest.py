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


# The backends the workspace tests (CLI and app) run against: the same tests, through the `ws`
# and `cli` fixtures. Azure is its stateful in-process fake (tests/azure/fake.py), which runs a
# submitted command for real, so what a job prints is checked alike. A test that needs the
# local engine itself (its catalog, runner processes, files on disk) says so with
# `@pytest.mark.local_only("why")`, and its azure run is skipped with that reason.
BACKENDS = ("local", "azure")


def pytest_configure(config):
    config.addinivalue_line("markers", "local_only(reason): runs on the local backend only, saying why")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    marker = request.node.get_closest_marker("local_only")
    if request.param != "local" and marker is not None:
        pytest.skip(f"local only: {marker.args[0] if marker.args else marker.kwargs.get('reason', '')}")
    return request.param


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a real network connection fails the test (Unix sockets still work)."""
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(address):
        raise AssertionError(f"a test tried to reach the network: {address!r}")

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **kw: refuse(host))


@pytest.fixture
def azure_service(monkeypatch, no_network):
    """The fake Azure ML services one test's `ws` and `cli` share; storage is routed to it too."""
    from tests.azure.fake import FakeAzure

    fake = FakeAzure(execute=True, auto_tick=True)
    fake.route_storage(monkeypatch)
    yield fake
    fake.close()


def _azure_workspace(fake, read_only: bool = False):
    from tui.workspace.azure import AzureWorkspace

    class FakeBackedWorkspace(AzureWorkspace):
        def wait_for_job(self, name: str, timeout: float = 30.0, poll: float = 0.02):
            """What LocalWorkspace.wait_for_job is to the shared tests: poll until the job ends."""
            import time

            deadline = time.monotonic() + timeout
            while not (job := self.get_job(name)).is_terminal:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {name} still {job.status} after {timeout}s")
                time.sleep(poll)
            return job

    return FakeBackedWorkspace(fake.client(), read_only=read_only)


@pytest.fixture
def ws(request, backend, ws_root):
    """A real workspace of each backend; tests talk to it only through the Workspace contract
    (local-only tests may reach into the LocalWorkspace, and say so with `local_only`)."""
    if backend == "azure":
        workspace = _azure_workspace(request.getfixturevalue("azure_service"))
        yield workspace
        workspace.close()
        return
    from tui.workspace.local import LocalWorkspace

    # Asked for here, not as an argument: a session fixture is set up before `backend` can skip,
    # and an Azure test has no use for the MLflow schema (seconds to build).
    install_mlflow_store(request.getfixturevalue("mlflow_template"), ws_root)
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


def run_cli_in_process(workspace_for, *args: str, cwd: Path | None = None, env: dict | None = None,
                       **_: object) -> subprocess.CompletedProcess:
    """`tui.cli.main(argv, workspace=...)` with its stdout, stderr and exit code captured as a
    subprocess's would be; each call opens a fresh workspace, as a new process would."""
    import contextlib
    import io

    from tui.cli import main

    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if cwd is not None:
            mp.chdir(cwd)
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        workspace = workspace_for(read_only="--read-only" in args)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args), workspace=workspace)
                except SystemExit as exc:  # argparse's usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            workspace.close()
    out.flush()
    return subprocess.CompletedProcess(["aml-tui", *args], code, out.buffer.getvalue().decode(), err.getvalue())


@pytest.fixture
def cli(request, backend, ws_root):
    """The real `aml-tui` CLI against this backend's workspace: for local, the real binary in a
    subprocess; for azure, `tui.cli.main(argv, workspace=...)` in process over the fake."""
    if backend == "azure":
        fake = request.getfixturevalue("azure_service")
        return lambda *args, **kw: run_cli_in_process(lambda read_only: _azure_workspace(fake, read_only),
                                                      *args, **kw)
    install_mlflow_store(request.getfixturevalue("mlflow_template"), ws_root)

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
