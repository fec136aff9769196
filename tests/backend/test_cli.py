"""The headless az-ml-shaped CLI, run as a real subprocess: outputs, exit codes, bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.conftest import write


def job_count(root: Path) -> int:
    with sqlite3.connect(root / "catalog.db") as conn:
        return conn.execute("SELECT count(*) FROM jobs").fetchone()[0]


def job_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "jobs").iterdir()) if (root / "jobs").exists() else []


def test_job_create_stream_list_show_download(cli, ws_root, tmp_path):
    write(tmp_path / "src" / "hello.py", "import sys, pathlib\nprint('epochs', sys.argv[1])\n"
          "pathlib.Path('outputs').mkdir(exist_ok=True); pathlib.Path('outputs/o.txt').write_text('ok')\n")
    jobfile = write(tmp_path / "job.yml", """
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: src
command: python hello.py ${{inputs.epochs}}
inputs:
  epochs: 1
experiment_name: cli-exp
display_name: hello
environment: {image: python:3.11-slim}
""")
    r = cli("job", "create", "--file", str(jobfile), "--set", "inputs.epochs=3", "--stream")
    assert r.returncode == 0, r.stderr
    assert "epochs 3" in r.stdout and "Status: Completed" in r.stderr

    listed = json.loads(cli("job", "list", "-o", "json").stdout)
    assert len(listed) == 1
    job = listed[0]
    assert job["status"] == "Completed" and job["experiment_name"] == "cli-exp"
    # Azure ML's REST keeps a literal input as a string; the value is what counts.
    assert {k: str(v) for k, v in job["inputs"].items()} == {"epochs": "3"} and job["creation_context"]["created_at"]
    shown = yaml.safe_load(cli("job", "show", "--name", job["name"], "-o", "yaml").stdout)
    assert shown["name"] == job["name"] and shown["display_name"] == "hello"
    table = cli("job", "list", "-o", "table").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "DISPLAY", "NAME"] and job["name"] in table[2]  # the app's columns
    assert json.loads(cli("job", "list", "--status", "Failed").stdout) == []
    assert len(json.loads(cli("job", "list", "--experiment-name", "cli-exp").stdout)) == 1

    r = cli("job", "download", "--name", job["name"], "--download-path", str(tmp_path / "dl"))
    assert r.returncode == 0 and (tmp_path / "dl" / "artifacts" / "outputs" / "o.txt").read_text() == "ok"


@pytest.mark.local_only("the exit code and log tail in the job's error come from the local runner")
def test_stream_exits_1_for_a_failed_job(cli, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo doomed; exit 4\n")
    r = cli("job", "create", "--file", str(jobfile))
    name = json.loads(r.stdout)["name"]
    r = cli("job", "stream", "--name", name)
    assert r.returncode == 1 and "doomed" in r.stdout and "Status: Failed" in r.stderr
    shown = json.loads(cli("job", "show", "--name", name).stdout)
    assert shown["properties"]["exit_code"] == "4" and "doomed" in shown["error"]["log_tail"]


def test_max_results_and_cancel(cli, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: sleep 30\nenvironment: {image: python:3.11-slim}\n")
    names = [json.loads(cli("job", "create", "-f", str(jobfile)).stdout)["name"] for _ in range(3)]
    listed = json.loads(cli("job", "list", "--max-results", "2").stdout)
    assert [j["name"] for j in listed] == names[::-1][:2]
    for n in names:
        assert cli("job", "cancel", "--name", n).returncode == 0
    for n in names:
        r = cli("job", "stream", "--name", n)
        assert r.returncode == 1 and "Status: Canceled" in r.stderr


@pytest.mark.parametrize("text, field, words", [
    ("command: [unclosed\n", None, "invalid YAML: line 2, column 1: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 1"),
    ("command: echo\nfoo: 1\n", "foo", "unknown field; allowed:"),
    ("inputs: {a: 1}\n", "command", "required"),
    ("command: echo ${{inputs.nope}}\n", "command", "undeclared input 'nope'"),
    ("command: echo\ncode: ./missing\n", "code", "does not exist"),
    ("command: echo\ncompute: azureml:gpu-cluster\n", "compute", "unknown compute 'gpu-cluster'"),
    ("command: echo\nenvironment: azureml:nope@latest\n", "environment", "unknown environment"),
    ("command: echo\ninputs: {d: {type: uri_folder, path: azureml:nodata:1}}\n", "inputs.d.path",
     "unknown data asset"),
    ("command: echo\ninputs: {d: {type: uri_folder, path: ./nowhere}}\n", "inputs.d.path", "does not exist"),
    ("command: echo\nname: ../escape\n", "name", "no '/' or '..'"),
    ("command: echo\ninputs: {epochs: {type: integer, value: ten}}\n", "inputs.epochs.value", "expected integer"),
    ("command: echo\nresources: {instance_count: 2}\n", "resources.instance_count", "one instance"),
])
@pytest.mark.local_only("local rules (no environment, one instance) and its catalog on disk; "
                        "tests/azure/test_parity_cli.py checks Azure's references")
def test_bad_job_yaml_exits_2_naming_file_and_field_and_writes_nothing(cli, ws_root, tmp_path, text, field, words):
    jobfile = write(tmp_path / "job.yml", text)
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 2, r.stderr
    prefix = f"aml-tui: {jobfile}: " + (f"{field}: " if field else "")
    assert r.stderr.startswith(prefix) and words in r.stderr, r.stderr
    assert job_count(ws_root) == 0 and job_dirs(ws_root) == []


def test_bad_set_and_missing_file_exit_2(cli, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo\n")
    r = cli("job", "create", "--file", str(jobfile), "--set", "inputs")
    assert r.returncode == 2 and "expected key=value" in r.stderr
    r = cli("job", "create", "--file", str(tmp_path / "nope.yml"))
    assert r.returncode == 2 and "nope.yml: file not found" in r.stderr
    r = cli("job", "show", "--name", "ghost")
    assert r.returncode == 2 and "job 'ghost' not found" in r.stderr
    r = cli("job", "create")
    assert r.returncode == 2 and "--file" in r.stderr


@pytest.mark.local_only("local compute (--type local, --max-concurrency)")
def test_data_environment_and_compute_commands(cli, ws_root, tmp_path):
    write(tmp_path / "d" / "x.csv", "a,b\n")
    r = cli("data", "create", "--name", "tbl", "--path", str(tmp_path / "d" / "x.csv"), "--type", "uri_file")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "1"
    r = cli("data", "create", "--name", "tbl", "--version", "1", "--path", str(tmp_path / "d"),
            "--type", "uri_folder")
    assert r.returncode == 2 and "immutable" in r.stderr
    r = cli("data", "create", "--name", "bad/name", "--path", str(tmp_path / "d"))
    assert r.returncode == 2 and "name" in r.stderr
    r = cli("data", "create", "--name", "f", "--path", str(tmp_path / "d"), "--type", "uri_file")
    assert r.returncode == 2 and "is not a file" in r.stderr
    assert [d["name"] for d in json.loads(cli("data", "list").stdout)] == ["tbl"]
    assert json.loads(cli("data", "show", "--name", "tbl", "--version", "1").stdout)["type"] == "uri_file"

    write(tmp_path / "conda.yml", "name: e\ndependencies:\n  - python=3.11\n  - pip:\n    - pyyaml\n")
    envfile = write(tmp_path / "env.yml", "name: myenv\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n"
                    "conda_file: conda.yml\n")
    r = cli("environment", "create", "--file", str(envfile))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["conda_file"]["dependencies"][0] == "python=3.11"
    assert cli("environment", "create", "--file", str(envfile), "--set", "version=1").returncode == 2
    bad = write(tmp_path / "env2.yml", "name: e2\nconda_file: nope.yml\n")
    r = cli("environment", "create", "--file", str(bad))
    assert r.returncode == 2 and "conda_file" in r.stderr and "file not found" in r.stderr

    r = cli("compute", "create", "--name", "cpu-cluster", "--type", "local", "--max-concurrency", "3")
    assert r.returncode == 0 and json.loads(r.stdout)["max_concurrency"] == 3
    assert cli("compute", "create", "--name", "c2", "--max-concurrency", "0").returncode == 2
    names = [c["name"] for c in json.loads(cli("compute", "list").stdout)]
    assert names == ["cpu-cluster", "local"]
    assert json.loads(cli("model", "list").stdout) == []
    assert json.loads(cli("online-endpoint", "list").stdout) == []


def test_read_only_refuses_mutations(cli, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo\n")
    r = cli("--read-only", "job", "create", "--file", str(jobfile))
    assert r.returncode == 2 and "read-only" in r.stderr


@pytest.mark.local_only("reads the local runner's lifecycle file; tests/azure/test_canary.py covers Azure")
def test_secrets_are_never_printed(cli, ws_root, tmp_path):
    jobfile = write(tmp_path / "job.yml", "command: echo key=$API_KEY\nenvironment_variables:\n"
                    "  API_KEY: s3cr3t-value\n  PLAIN: visible\n")
    r = cli("job", "create", "--file", str(jobfile), "--stream")
    assert r.returncode == 0 and "key=s3cr3t-value" in r.stdout  # the job itself gets the value
    shown = json.loads(cli("job", "list").stdout)[0]
    assert shown["environment_variables"] == {"API_KEY": "***", "PLAIN": "visible"}
    lifecycle = (ws_root / "jobs" / shown["name"] / "system_logs" / "lifecycle.txt").read_text()
    assert "s3cr3t" not in lifecycle and "'API_KEY': '***'" in lifecycle

    sas = "https://acct.blob.core.windows.net/data/x?sv=2024&sig=TOPSECRETSIG"
    jobfile = write(tmp_path / "job2.yml", f"command: echo\ninputs:\n  d: {{type: uri_folder, path: '{sas}'}}\n")
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 2 and "inputs.d.path" in r.stderr
    assert "TOPSECRETSIG" not in r.stderr and "sig=***" in r.stderr


def test_an_old_catalog_is_migrated_keeping_its_jobs(tmp_path):
    from tui.workspace.local import LocalWorkspace
    from tui.workspace.local.catalog import MIGRATIONS, SCHEMA_VERSION

    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "catalog.db")
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO jobs (name, type, status, experiment_name, compute, created_at, spec) "
                 "VALUES ('kept', 'command', 'Completed', 'e', 'local', 1.0, '{}')")
    conn.commit()
    conn.close()
    ws = LocalWorkspace(root, read_only=True)
    assert ws.get_job("kept").status == "Completed"
    with sqlite3.connect(root / "catalog.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT spawn_attempts FROM jobs").fetchone()[0] == 0


@pytest.mark.local_only("fills the local catalog with 2,005 jobs directly")
def test_job_list_streams_every_page_in_every_format(ws, cli):
    """More jobs than one page of the stream: JSON and YAML equal the whole listing."""
    from tui.cli import PAGE
    from tui.workspace.local.bench import fill_jobs

    fill_jobs(ws, PAGE * 2 + 5)
    expected = [j.to_dict() for j in ws.list_jobs().items]
    assert json.loads(cli("job", "list").stdout) == expected
    assert yaml.safe_load(cli("job", "list", "-o", "yaml").stdout) == expected
    assert [r["name"] for r in json.loads(cli("job", "list", "--max-results", "1003").stdout)] == \
        [j["name"] for j in expected[:1003]]
    tsv = cli("job", "list", "-o", "tsv", "--status", "Failed").stdout.splitlines()
    assert len(tsv) == sum(j["status"] == "Failed" for j in expected)
    assert json.loads(cli("job", "list", "--status", "Running").stdout) == []
    assert yaml.safe_load(cli("job", "list", "--status", "Running", "-o", "yaml").stdout) == []


@pytest.mark.local_only("shows the local workspace's built-in compute")
def test_main_takes_a_ready_workspace(ws, capsys):
    from tui.cli import main

    assert main(["compute", "show", "--name", "local"], workspace=ws) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "local"
    assert main(["job", "show", "--name", "nope"], workspace=ws) == 2
    assert "not found" in capsys.readouterr().err


def test_set_of_a_wrong_type_exits_2_naming_the_input(cli):
    from tests.conftest import REPO

    proc = cli("job", "create", "--file", str(REPO / "trainer" / "job.yml"), "--set", "inputs.epochs=ten")
    assert proc.returncode == 2 and "inputs.epochs" in proc.stderr and "an integer" in proc.stderr
    assert "Traceback" not in proc.stderr
