"""Every bad input exits 2 through the real CLI: a message naming the field, no traceback,
nothing written (no job folder or row, no datastore folder, no compute)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli, write


def rows(root: Path, table: str) -> list[tuple]:
    with sqlite3.connect(root / "catalog.db") as conn:
        return conn.execute(f"SELECT name FROM {table} ORDER BY name").fetchall()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def refused(r, field: str, words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert field in r.stderr and words in r.stderr, r.stderr


def laughs(levels: int) -> str:
    lines = ["    l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines)


TOO_MANY = max(8, os.cpu_count() or 1) + 1

JOB_CASES = [
    ("name-250", ["--name", "a" * 250], "command: echo\n", "name: ", "at most 240 bytes"),
    ("name-empty", ["--name", ""], "command: echo\n", "name: ", "non-empty string"),
    ("name-dot", ["--name", "run.1"], "command: echo\n", "name: ", "letters, digits, '-' and '_'"),
    ("output-300", [], f"command: echo\noutputs:\n  {'o' * 300}: {{}}\n", "outputs.ooo", "this one has 300"),
    ("input-null", [], "command: echo\ninputs: {null: 4}\n", "inputs: ", "got null as a name"),
    ("instance-type-list", [], "command: echo\nresources: {instance_type: [a]}\n", "resources.instance_type: ",
     "expected a string, got a list"),
    ("processes", [], f"command: echo\ndistribution: {{type: pytorch, process_count_per_instance: {TOO_MANY}}}\n",
     "distribution.process_count_per_instance: ", f"at most {TOO_MANY - 1} processes"),
    ("processes-set", ["--set", "distribution.process_count_per_instance=1e23"],
     "command: echo\ndistribution: {type: pytorch}\n", "distribution.process_count_per_instance: ",
     "expected an integer, got a string '1e23'"),
    ("code-file", [], "command: echo\ncode: job.yml\n", "code: ", "is a file; code must be a folder"),
    ("code-too-long", [], f"command: echo\ncode: {'c' * 300}\n", "code: ", "File name too long"),
    # A million "lol" in an inline conda file: the old engine wrote it all to run.json.
    ("laughs", [], "command: echo\nenvironment:\n  image: python\n  conda_file:\n" + laughs(5) + "\n",
     "YAML over the limits: line 10", "aliases (*name) are expanded"),
    ("too-big", [], "command: echo\n# " + "x" * (1 << 20) + "\n", "job.yml: ", "larger than 1 MiB"),
]


@pytest.mark.local_only("checks that the local catalog and folders stay empty")
@pytest.mark.parametrize("flags, text, field, words", [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES])
def test_bad_job_input_exits_2_and_writes_nothing(cli, ws_root, tmp_path, flags, text, field, words):
    jobfile = write(tmp_path / "job.yml", text)
    r = cli("job", "create", "--file", str(jobfile), *flags)
    refused(r, field, words)
    assert rows(ws_root, "jobs") == [] and listing(ws_root / "jobs") == []


@pytest.mark.local_only("checks that the local catalog and folders stay empty")
def test_data_create_with_a_255_character_version_writes_no_datastore_folder(cli, ws_root, tmp_path):
    write(tmp_path / "d" / "x.csv", "a,b\n")
    r = cli("data", "create", "--name", "digits", "--path", str(tmp_path / "d"), "--version", "1" * 255)
    refused(r, "data create: version: ", "at most 240 bytes")
    assert rows(ws_root, "data") == [] and listing(ws_root / "datastore") == []


@pytest.mark.local_only("local compute (--max-concurrency)")
@pytest.mark.parametrize("how", ["flag", "yaml"])
def test_compute_create_with_a_huge_max_concurrency(cli, ws_root, tmp_path, how):
    if how == "flag":
        r = cli("compute", "create", "--name", "big", "--max-concurrency", "99999999999999999999999")
    else:
        f = write(tmp_path / "compute.yml", "name: big\ntype: local\nmax_concurrency: 99999999999999999999999\n")
        r = cli("compute", "create", "--file", str(f))
    refused(r, "max_concurrency: ", "expected an integer <= 1024")
    assert rows(ws_root, "compute") == [("local",)]


def test_job_download_to_a_file_or_out_of_the_outputs_is_refused(cli, ws_root, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo hi\noutputs:\n  model: {}\nenvironment: {image: python:3.11-slim}\n")
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 0, r.stderr
    name = json.loads(r.stdout)["name"]
    target = write(tmp_path / "already-here.txt", "keep me")
    r = cli("job", "download", "--name", name, "--download-path", str(target))
    refused(r, "download_path: ", "is a file; the download path must be a folder")
    r = cli("job", "download", "--name", name, "--download-path", str(target / "sub"))
    refused(r, "download_path: ", "is a file")
    assert target.read_text() == "keep me"
    # `../outputs` would name the job's own outputs/ folder from inside named-outputs/.
    r = cli("job", "download", "--name", name, "--output-name", "../outputs", "--download-path", str(tmp_path / "dl"))
    refused(r, "has no output '../outputs'", "outputs: default, model")
    assert not (tmp_path / "dl").exists()


@pytest.mark.parametrize("command", [("job", "list"), ("data", "list"), ("model", "list")])
@pytest.mark.parametrize("value", ["-1", "0", "99999999999999999999"])
def test_max_results_must_be_a_positive_count(cli, command, value):
    r = cli(*command, "--max-results", value)
    refused(r, "--max-results", "expected an integer from 1 to 2147483647")


@pytest.mark.local_only("checks that the local catalog and folders stay empty")
def test_set_with_an_alias_bomb_is_refused(cli, ws_root, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo\n")
    bomb = "[" + ", ".join(["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]) + "]"
    r = cli("job", "create", "--file", str(jobfile), "--set", "tags.x=" + bomb)
    refused(r, "tags.x: --set: ", "aliases (*name) are expanded")
    assert rows(ws_root, "jobs") == [] and listing(ws_root / "jobs") == []


def test_local_pointing_into_a_file_is_refused(tmp_path):
    afile = write(tmp_path / "afile", "not a folder")
    r = run_cli("--local", str(afile / "ws"), "job", "list")
    refused(r, "--local: cannot open a local workspace in ", "Not a directory")
    assert afile.read_text() == "not a folder"
