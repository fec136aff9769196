"""Materialise job environments: reuse this interpreter when it satisfies the conda file,
else build a venv once per conda-file hash and cache it under `envs/<hash>/`."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from ..redact import redact
from .files import make_private


class EnvironmentBuildError(RuntimeError):
    pass


def conda_hash(conda: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(conda or {}, sort_keys=True).encode()).hexdigest()[:16]


def _pip_and_conda(conda: dict[str, Any]) -> tuple[list[str], list[str]]:
    pip: list[str] = []
    pkgs: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, str):
            pkgs.append(dep)
        elif isinstance(dep, dict):
            pip.extend(str(p) for p in dep.get("pip") or [])
    return pip, pkgs


def _requirement_name(line: str) -> str:
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return match.group(1).lower().replace("_", "-") if match else ""


def unsatisfied(requirements: list[str]) -> list[str]:
    """The requirements this interpreter does not satisfy (paths and URLs never are)."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            missing.append(line)
            continue
        if req.url or (req.marker is not None and not req.marker.evaluate()):
            if req.url:
                missing.append(line)
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (have {version})")
    return missing


def materialise(root: Path, env: dict[str, Any], log: Callable[[str], None],
                on_build: Callable[[subprocess.Popen], None] = lambda proc: None) -> str:
    """Return the python executable the job runs with; `log` receives the build log and
    `on_build` the pip process while it runs (its own process group, so cancel can stop it)."""
    label = f"{env.get('name')}:{env.get('version')}" if env.get("name") else "inline environment"
    conda = env.get("conda_file")
    if env.get("image"):
        log(f"environment {label}: image {env['image']} is not pulled locally; "
            "the job runs on this machine's Python\n")
    if not conda:
        log(f"environment {label}: no conda file; using {sys.executable}\n")
        return sys.executable
    pip, pkgs = _pip_and_conda(conda)
    for pkg in pkgs:
        if pkg.replace(" ", "").startswith("python="):
            wanted = pkg.split("=", 1)[1]
            have = f"{sys.version_info.major}.{sys.version_info.minor}"
            if not have.startswith(wanted.rstrip(".*")) and not wanted.startswith(have):
                log(f"warning: conda file asks for python={wanted}; this machine runs {have}\n")
    # azureml-* packages (azureml-mlflow, ...) talk to a cloud workspace; locally MLflow
    # tracks to the workspace's own store, so they are neither needed nor installed.
    azure_only = [p for p in pip if _requirement_name(p).startswith("azureml-")]
    if azure_only:
        log(f"skipping Azure-only packages here: {', '.join(azure_only)}\n")
        pip = [p for p in pip if p not in azure_only]
    missing = unsatisfied(pip)
    if not missing:
        log(f"environment {label}: this interpreter satisfies all {len(pip)} pip requirements; "
            f"reusing {sys.executable}\n")
        return sys.executable
    digest = conda_hash(conda)
    env_dir = root / "envs" / digest
    env_dir.mkdir(parents=True, exist_ok=True)
    python = env_dir / "venv" / "bin" / "python"
    with open(env_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_log = env_dir / "build.log"
        if (env_dir / "ready").exists():
            log(f"environment {label}: reusing cached environment {digest}\n")
            log(build_log.read_text(errors="replace") if build_log.exists() else "")
            return str(python)
        log(f"environment {label}: building {digest}; not satisfied here: {', '.join(missing)}\n")
        _build(env_dir, pip, log, on_build)
        (env_dir / "ready").touch()
    return str(python)


def _build(env_dir: Path, pip: list[str], log: Callable[[str], None],
           on_build: Callable[[subprocess.Popen], None]) -> None:
    import shutil

    venv = env_dir / "venv"
    if venv.exists():
        shutil.rmtree(venv)  # a half-built venv from a build that died
    with open(env_dir / "build.log", "w", encoding="utf-8") as out:
        def emit(text: str) -> None:
            text = redact(text)  # pip echoes index URLs, which may carry tokens
            out.write(text)
            out.flush()
            log(text)

        emit(f"$ {sys.executable} -m venv {venv}\n")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        # See this interpreter's packages (torch is GBs) behind the venv's own ones.
        purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        base = [p for p in site.getsitepackages() if os.path.isdir(p)]
        Path(purelib, "_aml_tui_base.pth").write_text("\n".join(base) + "\n")
        (env_dir / "requirements.txt").write_text("\n".join(pip) + "\n")
        cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
               "-r", str(env_dir / "requirements.txt")]
        emit("$ " + " ".join(cmd) + "\n")
        from .isolation import die_with_parent

        # Its own group, so cancel can stop it; and it dies with the runner, even of SIGKILL.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=env_dir,
                                process_group=0, preexec_fn=die_with_parent())
        on_build(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            emit(line)
        if proc.wait() != 0:
            emit(f"pip install failed with exit code {proc.returncode}\n")
            raise EnvironmentBuildError(f"pip install failed with exit code {proc.returncode}; see {env_dir / 'build.log'}")
        make_private(venv)
        emit("environment ready\n")
