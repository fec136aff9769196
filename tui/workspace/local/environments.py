"""Materialise job environments: reuse this interpreter when it satisfies the conda file,
else build a venv once per conda-file hash and cache it under `envs/<hash>/`."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
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
    `on_build` the pip (or conda) process while it runs (its own process group, so cancel
    can stop it). Raises EnvironmentBuildError naming what cannot be provided here."""
    label = f"{env.get('name')}:{env.get('version')}" if env.get("name") else "inline environment"
    here = f"this interpreter, {sys.executable} (Python {platform.python_version()})"
    if env.get("registry"):
        log(f"environment {env['registry']}: registry environments are Docker images, not pulled "
            f"locally; the job runs on {here}\n")
    if env.get("curated"):
        log(f"environment {env['curated']}: curated Azure ML environments are Docker images, not pulled "
            f"locally; the job runs on {here}\n")
    if env.get("build"):
        log(f"environment {label}: the image of docker build context {env['build']['path']} was not built "
            f"(no Docker here); the job runs on {here}\n")
    if env.get("image"):
        log(f"environment {label}: image {env['image']} is not pulled locally; "
            "the job runs on this machine's Python\n")
    conda = env.get("conda_file")
    if not conda:
        log(f"environment {label}: no conda file; using {sys.executable}\n")
        return sys.executable
    from .. import spec as specs  # not before: a job with no conda file (most trials) needs none of it

    pip, pkgs = specs.conda_pip_requirements(conda, label)
    # azureml-* packages (azureml-mlflow, ...) talk to a cloud workspace; locally MLflow
    # tracks to the workspace's own store, so they are neither needed nor installed.
    azure_only = [p for p in pip if _requirement_name(p).startswith("azureml-")]
    if azure_only:
        log(f"skipping Azure-only packages here: {', '.join(azure_only)}\n")
        pip = [p for p in pip if p not in azure_only]
    absent = _absent_conda_packages(pkgs, log)
    if absent:
        tool = next((shutil.which(t) for t in CONDA_TOOLS if shutil.which(t)), None)
        if tool is None:
            raise EnvironmentBuildError(
                f"conda packages not available here: {', '.join(absent)} (this interpreter cannot import "
                f"them and there is no {', '.join(CONDA_TOOLS)} on PATH to install them; move them under "
                "pip: in the conda file, or install one of those tools)")
        stripped = {**conda, "dependencies": [d for d in conda.get("dependencies") or [] if not isinstance(d, dict)]
                    + [{"pip": pip}] * bool(pip)}
        return _conda_environment(root, stripped, tool, label, absent, log, on_build)
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


CONDA_TOOLS = ("micromamba", "mamba", "conda")
# conda package name -> the Python distributions that provide it under pip
CONDA_TO_PIP = {
    "pytorch": ("torch",), "pytorch-cpu": ("torch",), "pytorch-gpu": ("torch",),
    "py-xgboost": ("xgboost",), "py-xgboost-cpu": ("xgboost",), "py-xgboost-gpu": ("xgboost",),
    "matplotlib-base": ("matplotlib",), "tensorflow-gpu": ("tensorflow",), "tensorflow-cpu": ("tensorflow",),
    "opencv": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
    "py-opencv": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
    "python-graphviz": ("graphviz",), "msgpack-python": ("msgpack",), "pytables": ("tables",),
    "pyyaml": ("PyYAML",), "pillow": ("Pillow",),
}
_CONDA_SPEC_RE = re.compile(r"^(?:[^:\s]+::)?([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*(.*)$")


def _conda_spec(dep: str) -> tuple[str, str]:
    """`conda-forge::numpy=1.21=py38_0` -> ("numpy", "==1.21.*"): a name and a PEP 440
    specifier ("" for any). conda's `=X` is fuzzy (X.*), `==X` exact, `>=X,<Y` as in pip."""
    match = _CONDA_SPEC_RE.match(dep.strip())
    if not match:
        return dep.strip(), ""
    name, rest = match.group(1).lower(), match.group(2).replace(" ", "")
    if not rest:
        return name, ""
    if rest[0] not in "=<>!~":
        rest = "=" + rest  # `numpy 1.21`
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0]  # a third `=` part is a build string
        return name, f"=={version}" if version.endswith("*") else f"=={version}.*"
    return name, rest


def _version_ok(specifier: str, have: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return any(SpecifierSet(alt).contains(have, prereleases=True) for alt in specifier.split("|"))
    except InvalidSpecifier:
        return True  # a conda form we cannot read: no verdict, no false warning


def _absent_conda_packages(deps: list[str], log: Callable[[str], None]) -> list[str]:
    """The conda packages this interpreter lacks. `python` and versions that differ are
    warnings (the job runs on this interpreter anyway); `pip` is always there."""
    from importlib import metadata, util

    absent = []
    for dep in deps:
        name, specifier = _conda_spec(dep)
        if name == "pip":
            continue
        if name == "python":
            have = platform.python_version()
            if specifier and not _version_ok(specifier, have):
                log(f"warning: the conda file asks for {dep.strip()}; this machine runs Python {have}, "
                    "and the job runs on it\n")
            continue
        have = None
        for dist in CONDA_TO_PIP.get(name, (name,)):
            try:
                have = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                pass
        if have is None:
            module = name.removeprefix("py-").replace("-", "_")
            try:
                found = util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found and not shutil.which(name):  # a tool, e.g. git
                absent.append(dep.strip())
            continue
        if specifier and not _version_ok(specifier, have):
            log(f"warning: the conda file asks for {dep.strip()}; this interpreter has {name} {have}\n")
    return absent


def _conda_environment(root: Path, conda: dict[str, Any], tool: str, label: str, absent: list[str],
                       log: Callable[[str], None], on_build: Callable[[subprocess.Popen], None]) -> str:
    """Create (once per conda-file hash) a conda environment from the whole conda file, as
    Azure does, with the conda/mamba/micromamba found on PATH."""
    import yaml

    digest = conda_hash(conda)
    env_dir = root / "envs" / digest
    env_dir.mkdir(parents=True, exist_ok=True)
    prefix = env_dir / "conda"
    python = prefix / "bin" / "python"
    with open(env_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_log = env_dir / "build.log"
        if (env_dir / "conda-ready").exists():
            log(f"environment {label}: reusing cached conda environment {digest}\n")
            log(build_log.read_text(errors="replace") if build_log.exists() else "")
            return str(python)
        log(f"environment {label}: creating conda environment {digest} with {tool}; "
            f"not importable here: {', '.join(absent)}\n")
        if prefix.exists():
            shutil.rmtree(prefix)  # a half-built environment from a build that died
        (env_dir / "conda.yml").write_text(yaml.safe_dump(conda, sort_keys=False))
        if os.path.basename(tool) == "micromamba":
            cmd = [tool, "create", "--yes", "--prefix", str(prefix), "--file", str(env_dir / "conda.yml")]
        else:
            cmd = [tool, "env", "create", "--prefix", str(prefix), "--file", str(env_dir / "conda.yml")]
        with open(build_log, "w", encoding="utf-8") as out:
            def emit(text: str) -> None:
                text = redact(text)
                out.write(text)
                out.flush()
                log(text)

            code = _run_build(cmd, env_dir, emit, on_build)
            if code != 0:
                emit(f"{tool} failed with exit code {code}\n")
                raise EnvironmentBuildError(f"{os.path.basename(tool)} could not create the environment "
                                            f"(exit code {code}); see {build_log}")
            if not python.exists():
                raise EnvironmentBuildError(f"the conda environment has no {python}; add python to the "
                                            "conda file's dependencies")
            emit("environment ready\n")
        (env_dir / "conda-ready").touch()
    return str(python)


def _run_build(cmd: list[str], cwd: Path, emit: Callable[[str], None],
               on_build: Callable[[subprocess.Popen], None]) -> int:
    """Run a build command (pip, conda), its output to `emit`; returns its exit code. In its own
    group, so cancel can stop it, and it dies with the runner, even of SIGKILL."""
    from .isolation import die_with_parent

    emit("$ " + " ".join(cmd) + "\n")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                            stdin=subprocess.DEVNULL, process_group=0, preexec_fn=die_with_parent())
    on_build(proc)
    assert proc.stdout is not None
    for line in proc.stdout:
        emit(line)
    return proc.wait()


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
        code = _run_build(cmd, env_dir, emit, on_build)
        if code != 0:
            emit(f"pip install failed with exit code {code}\n")
            raise EnvironmentBuildError(f"pip install failed with exit code {code}; see {env_dir / 'build.log'}")
        make_private(venv)
        emit("environment ready\n")
