"""The fidelity corpus (tests/corpus/): job YAML in the shapes of the public Azure ML examples,
each submitted through the real CLI and ending the way its header records (see its README)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import install_mlflow_store, run_cli

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FILES = sorted(CORPUS.glob("*.yml"))
OUTCOMES = ("Completed", "refused ", "Preparing fails: ")


def expectations(path: Path) -> dict[str, list[str]]:
    """The `# key: value` lines of the file's leading comment block."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("# ").partition(": ")
        if sep and key in ("expect", "log", "build-log", "file"):
            found.setdefault(key, []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, mlflow_template):
    """Submit every file at once (the jobs run side by side), then wait for them all."""
    from tui.workspace.local import LocalWorkspace

    root = tmp_path_factory.mktemp("corpus") / "ws"
    install_mlflow_store(mlflow_template, root)
    no_conda = [d for d in (os.path.dirname(sys.executable), "/usr/bin", "/bin")
                if not any(os.path.exists(os.path.join(d, t)) for t in ("conda", "mamba", "micromamba"))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", os.pathsep.join(no_conda))  # runners inherit it: the no-conda path is tested
        created = run_cli("compute", "create", "--name", "cpu-cluster", "--type", "local",
                          "--max-concurrency", "4", root=root)
        assert created.returncode == 0, created.stderr
        submitted = {path.name: run_cli("job", "create", "--file", str(path), root=root) for path in FILES}
        ws = LocalWorkspace(root)
        jobs = {name: ws.wait_for_job(json.loads(r.stdout)["name"], 180)
                for name, r in submitted.items() if r.returncode == 0}
        yield ws, submitted, jobs
        ws.close()


def test_the_corpus_is_there_and_every_file_records_one_outcome():
    assert len(FILES) >= 12
    for path in FILES:
        expect = expectations(path).get("expect", [])
        assert len(expect) == 1 and expect[0].startswith(OUTCOMES), f"{path.name}: header {expect}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_file_ends_as_recorded(path, corpus_run):
    ws, submitted, jobs = corpus_run
    recorded = expectations(path)
    outcome = recorded["expect"][0]
    result = submitted[path.name]
    if outcome.startswith("refused "):
        field, _, words = outcome.removeprefix("refused ").partition(": ")
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{path.name}: {field}: " in result.stderr and words in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stderr
    job = jobs[path.name]
    prepare = ws.read_log(job.name, "system_logs/environment_build.txt").text
    if outcome.startswith("Preparing fails: "):
        assert job.status == "Failed" and job.start_time is None, job.status  # it never started running
        assert job.fields["error"]["code"] == "EnvironmentBuildError"
        assert outcome.removeprefix("Preparing fails: ") in job.fields["error"]["message"]
    else:
        log = ws.read_log(job.name, "user_logs/std_log.txt").text
        assert job.status == "Completed", log + prepare
        for words in recorded.get("log", []):
            assert words in log, log
        for spec in recorded.get("file", []):
            rel, _, words = spec.partition(": ")
            assert words in (ws.root / "jobs" / job.name / rel).read_text()
    for words in recorded.get("build-log", []):
        assert words in prepare, prepare


def test_refused_files_left_nothing_behind(corpus_run):
    ws, submitted, jobs = corpus_run
    folders = sorted(p.name for p in (ws.root / "jobs").iterdir() if not p.name.startswith("."))
    trials = [t.name for j in jobs.values() for t in ws.list_jobs(parent_job_name=j.name).items]
    assert folders == sorted([j.name for j in jobs.values()] + trials)
    incoming = ws.root / "jobs" / ".new"  # where create_job fills a job folder before it moves
    assert not incoming.exists() or not any(incoming.iterdir())
