"""A command job runs as Azure runs it: bindings, optional segments, quoting, outputs,
environment references and conda dependencies (issue 12). Real workspace, real runners."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import install_mlflow_store, write
from tui.workspace import spec
from tui.workspace.base import InvalidSpecError


pytestmark = pytest.mark.local_only("runs commands through the local runner and its environment materialisation")


def submit(ws, doc: dict, base: Path):
    return ws.create_job(doc, base_dir=base, source="job.yml")


def run(ws, doc: dict, base: Path, timeout: float = 60):
    return ws.wait_for_job(submit(ws, doc, base).name, timeout)


def log(ws, name: str, file: str = "user_logs/std_log.txt") -> str:
    return ws.read_log(name, file).text


def build_log(ws, name: str) -> str:
    return log(ws, name, "system_logs/environment_build.txt")


@pytest.fixture
def no_conda_path(monkeypatch):
    """A PATH with no conda, mamba or micromamba on it, whatever the machine has."""
    dirs = [os.path.dirname(sys.executable), "/usr/bin", "/bin"]
    monkeypatch.setenv("PATH", os.pathsep.join(d for d in dirs if not any(
        os.path.exists(os.path.join(d, tool)) for tool in ("conda", "mamba", "micromamba"))))


# ---------------------------------------------------------------- bindings and optional segments


def test_shell_brackets_pass_through_verbatim(ws, tmp_path):
    write(tmp_path / "data" / "a.txt", "x")
    job = run(ws, {"command": "if [ -d ${{inputs.data}} ]; then echo is-a-dir; else echo no-dir; exit 3; fi; "
                              "[[ -f ${{inputs.data}}/a.txt ]] && echo has-a; arr=(1 2); echo ${arr[1]}",
                   "inputs": {"data": {"type": "uri_folder", "path": "data"}}}, tmp_path)
    assert job.status == "Completed", log(ws, job.name)
    assert log(ws, job.name).split() == ["is-a-dir", "has-a", "2"]


def test_optional_segments_are_azures_dollar_double_brackets(ws, tmp_path):
    job = run(ws, {"command": "echo start $[[--lr ${{inputs.lr}}]] $[[--name ${{inputs.name}}]] "
                              "$[[--gone ${{inputs.undeclared}}]] end",
                   "inputs": {"lr": {"type": "number", "optional": True}, "name": "x"}}, tmp_path)
    assert job.status == "Completed", log(ws, job.name)
    assert log(ws, job.name).split() == ["start", "--name", "x", "end"]
    assert "lr" not in job.fields["inputs"]
    set_later = run(ws, {"command": "echo $[[--lr ${{inputs.lr}}]]", "inputs": {"lr": 0.5}}, tmp_path)
    assert log(ws, set_later.name).split() == ["--lr", "0.5"]


@pytest.mark.parametrize("command, words", [
    ("echo ${{inputs.lr}}", "input 'lr' is optional and has no value here"),
    ("echo [ ${{inputs.missing}} ]", "undeclared input 'missing'"),
    ("echo $[[--lr ${{inputs.lr}}", "$[[ without a closing ]]"),
    ("echo $[[ a $[[--lr ${{inputs.lr}}]] ]]", "do not nest"),
])
def test_optional_inputs_only_inside_optional_segments(cli, tmp_path, ws_root, command, words):
    job = write(tmp_path / "job.yml", yaml.safe_dump(
        {"command": command, "inputs": {"lr": {"type": "number", "optional": True}}}))
    r = cli("job", "create", "--file", str(job))
    assert r.returncode == 2, r.stderr
    assert "job.yml: command: " in r.stderr and words in r.stderr
    assert not any((ws_root / "jobs").iterdir())


# ---------------------------------------------------------------- quoting of substituted paths


def test_substituted_paths_work_bare_and_inside_the_users_quotes(tmp_path, mlflow_template):
    from tui.workspace.local import LocalWorkspace

    root = tmp_path / "my workspace"  # every output path holds a space
    install_mlflow_store(mlflow_template, root)
    ws = LocalWorkspace(root)
    write(tmp_path / "in dir" / "a.txt", "payload")
    command = "\n".join([
        "cat ${{inputs.d}}/a.txt > ${{outputs.o}}/bare.txt",
        'cat "${{inputs.d}}/a.txt" > "${{outputs.o}}/double.txt"',
        "python -c 'import shutil; shutil.copy(\"${{inputs.d}}/a.txt\", \"${{outputs.o}}/single.txt\")'",
        'echo "$(cat ${{inputs.d}}/a.txt)" > "${{outputs.o}}"/mixed.txt  # it\'s a comment',
        "ls ${{inputs.d}} \"${{outputs.o}}\" > /dev/null",
    ])
    job = run(ws, {"command": command, "inputs": {"d": {"type": "uri_folder", "path": "in dir"}},
                   "outputs": {"o": {"type": "uri_folder"}}}, tmp_path)
    assert job.status == "Completed", log(ws, job.name)
    out = root / "jobs" / job.name / "named-outputs" / "o"
    assert {p.name: p.read_text().strip() for p in out.iterdir()} == {
        "bare.txt": "payload", "double.txt": "payload", "single.txt": "payload", "mixed.txt": "payload"}
    ws.close()


def test_quoting_follows_the_shell_context_of_each_binding():
    odd = "/w s/it's \"q\" $HOME `x` \\b"
    values, paths = {"inputs": {"d": odd, "n": "a b"}}, {"inputs": ["d"]}
    rendered = spec.render_command('echo ${{inputs.d}} "${{inputs.d}}" \'${{inputs.d}}\' ${{inputs.n}}',
                                   values, paths)
    import subprocess

    words = subprocess.run(["bash", "-c", rendered.replace("echo", "printf '%s\\n'", 1)],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert words == [odd, odd, odd, "a", "b"]  # literals go in verbatim, as on Azure


# ---------------------------------------------------------------- outputs


def test_a_uri_file_output_is_a_file_in_an_existing_folder(ws, tmp_path):
    job = run(ws, {"command": "echo result > ${{outputs.score}} && test -d $(dirname ${{outputs.score}})",
                   "outputs": {"score": {"type": "uri_file"}, "model": {"type": "uri_folder"}}}, tmp_path)
    assert job.status == "Completed", log(ws, job.name)
    named = ws.root / "jobs" / job.name / "named-outputs"
    assert (named / "score" / "score").read_text() == "result\n"
    assert (named / "model").is_dir() and job.fields["outputs"]["score"]["type"] == "uri_file"
    dest = ws.download_job(job.name, tmp_path / "dl", output_name="score")
    assert (dest / "named-outputs" / "score" / "score").read_text() == "result\n"


# ---------------------------------------------------------------- environments


@pytest.mark.parametrize("reference, words", [
    ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest", "curated Azure ML environments"),
    ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33", "curated Azure ML environments"),
    ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest", "registry environments"),
    ("azureml://registries/azureml/environments/sklearn-1.5/versions/3", "registry environments"),
])
def test_curated_and_registry_environments_run_on_this_interpreter(ws, tmp_path, reference, words):
    # The job's own layer sits over this interpreter: same binary, and its packages (yaml) import.
    command = "python -c 'import os, sys, yaml; print(os.path.realpath(sys.executable))'"
    job = run(ws, {"command": command, "environment": reference}, tmp_path)
    assert job.status == "Completed", build_log(ws, job.name)
    assert job.fields["environment"] == reference
    assert log(ws, job.name).strip() == os.path.realpath(sys.executable)
    assert f"environment {reference}: {words}" in build_log(ws, job.name)
    assert "the job runs on this interpreter" in build_log(ws, job.name)


@pytest.mark.parametrize("reference, words", [
    ("azureml:nope@latest", "unknown environment 'azureml:nope@latest'; registered: none"),
    ("azureml:AzureML-sklearn-1.0@stable", "only @latest is supported"),
    ("azureml://registries/azureml/sklearn", "expected azureml://registries/REGISTRY/environments/NAME/versions"),
    ("file:envs/missing.yml", "missing.yml: file not found"),
])
def test_bad_environment_references_name_the_field(ws, tmp_path, reference, words):
    with pytest.raises(InvalidSpecError) as info:
        submit(ws, {"command": "true", "environment": reference}, tmp_path)
    assert info.value.field == "environment" and words in str(info.value)


def test_file_environment_is_read_relative_to_the_job_file(cli, tmp_path, ws_root):
    project = tmp_path / "project"
    write(project / "envs" / "conda.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - pyyaml\n")
    write(project / "envs" / "env.yml", "name: from-file\nimage: library/python:latest\nconda_file: conda.yml\n")
    job_file = write(project / "jobs" / "job.yml", "command: python -c 'import yaml; print(42)'\n"
                                                    "environment: file:../envs/env.yml\n")
    r = cli("job", "create", "--file", str(job_file), "--stream", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    name = r.stderr.split("RunId: ", 1)[1].split()[0]
    shown = json.loads(cli("job", "show", "--name", name).stdout)
    assert shown["environment"]["image"] == "library/python:latest"
    assert shown["environment"]["conda_file"]["dependencies"][0] == "python=3.11"


def test_build_environments_keep_their_context_and_say_the_image_was_not_built(ws, tmp_path):
    write(tmp_path / "docker-context" / "Dockerfile", "FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n")
    context = str((tmp_path / "docker-context").resolve())
    job = run(ws, {"command": "echo built?", "environment": {"build": {"path": "docker-context"}}}, tmp_path)
    assert job.status == "Completed", build_log(ws, job.name)
    assert job.fields["environment"] == {"build": {"path": context}}
    assert f"docker build context {context} was not built (no Docker here)" in build_log(ws, job.name)

    env = ws.create_environment({"name": "docker-env", "build": {"path": "docker-context",
                                                                 "dockerfile_path": "Dockerfile"}},
                                base_dir=tmp_path, source="env.yml")
    assert env.fields["build"] == {"path": context, "dockerfile_path": "Dockerfile"} and env.fields["image"] is None
    job = run(ws, {"command": "true", "environment": "azureml:docker-env@latest"}, tmp_path)
    assert job.status == "Completed" and f"context {context} was not built" in build_log(ws, job.name)
    with pytest.raises(InvalidSpecError, match="env.yml: build.path: docker build context .* is not a folder"):
        ws.create_environment({"name": "e", "build": {"path": "no-such-context"}}, base_dir=tmp_path,
                              source="env.yml")
    with pytest.raises(InvalidSpecError, match="env.yml: build: use either image or build, not both"):
        ws.create_environment({"name": "e", "image": "python", "build": {"path": "docker-context"}},
                              base_dir=tmp_path, source="env.yml")


# ---------------------------------------------------------------- conda dependencies


def test_missing_conda_packages_fail_in_preparing_naming_them(ws, tmp_path, no_conda_path):
    conda = {"channels": ["conda-forge"], "dependencies": [
        "python=3.8", "pip=21.2.4", "conda-forge::lightgbm=3.3.5", "scikit-learn=0.24.2", "pytorch",
        "amltui-no-such-conda-pkg", {"pip": ["pyyaml", "azureml-mlflow"]}]}
    job = run(ws, {"command": "echo never runs", "environment": {"conda_file": conda}}, tmp_path)
    assert job.status == "Failed" and job.start_time is None  # never got past Preparing
    error = job.fields["error"]
    assert error["code"] == "EnvironmentBuildError"
    assert "conda packages not available here: conda-forge::lightgbm=3.3.5, amltui-no-such-conda-pkg" \
        in error["message"]
    assert "micromamba, mamba, conda" in error["message"]
    prepare = build_log(ws, job.name)
    assert "warning: the conda file asks for python=3.8; this machine runs Python 3." in prepare
    assert "scikit-learn=0.24.2; this interpreter has scikit-learn " in prepare  # present, other version
    assert not (ws.root / "jobs" / job.name / "user_logs" / "std_log.txt").exists()


def test_conda_names_map_to_what_this_interpreter_has(ws, tmp_path, no_conda_path):
    conda = {"dependencies": ["python=3.11", "pip", "pytorch", "pyyaml", "numpy>=1.0", "matplotlib-base",
                              "conda-forge::scikit-learn", "bash"]}
    job = run(ws, {"command": "true", "environment": {"conda_file": conda}}, tmp_path)
    assert job.status == "Completed", build_log(ws, job.name)
    assert "warning" not in build_log(ws, job.name)


def test_conda_packages_are_installed_by_a_conda_tool_on_path(ws, tmp_path, monkeypatch):
    """With micromamba on PATH the whole conda file becomes a conda environment, once."""
    tools = tmp_path / "bin"
    write(tools / "micromamba", f"""#!/bin/bash
echo "fake micromamba $*"
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift;; --file) file="$2"; shift;; esac; shift; done
grep -q lightgbm "$file" || exit 9
mkdir -p "$prefix/bin" && ln -s {sys.executable} "$prefix/bin/python"
printf '#!/bin/sh\\necho lightgbm from the conda environment\\n' > "$prefix/bin/lightgbm" && chmod +x "$prefix/bin/lightgbm"
""")
    (tools / "micromamba").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}/usr/bin{os.pathsep}/bin")
    env = {"conda_file": {"dependencies": ["python=3.11", "lightgbm", {"pip": ["azureml-mlflow"]}]}}
    command = "lightgbm"  # the conda environment's own tools are on the job's PATH
    first = run(ws, {"command": command, "environment": env}, tmp_path)
    assert first.status == "Completed", build_log(ws, first.name)
    prepare = build_log(ws, first.name)
    assert "not importable here: lightgbm" in prepare and "fake micromamba create --yes --prefix" in prepare
    assert log(ws, first.name).strip() == "lightgbm from the conda environment"
    written = yaml.safe_load(next((ws.root / "envs").glob("*/conda.yml")).read_text())
    assert written["dependencies"] == ["python=3.11", "lightgbm"]  # azureml-* skipped here too
    second = run(ws, {"command": command, "environment": env}, tmp_path)
    assert second.status == "Completed" and "reusing cached conda environment" in build_log(ws, second.name)


# ---------------------------------------------------------------- data create


@pytest.mark.parametrize("url", [
    "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv",
    "wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv",
    "abfss://data@account.dfs.core.windows.net/folder/",
    "azureml://datastores/workspaceblobstore/paths/example-data/iris.csv",
])
def test_data_create_refuses_a_cloud_path_showing_it_intact(cli, ws_root, url):
    r = cli("data", "create", "--name", "iris", "--path", url, "--type", "uri_file")
    assert r.returncode == 2, r.stdout
    assert f"data create: path: {url} is a cloud location" in r.stderr
    assert not any((ws_root / "datastore").iterdir())
