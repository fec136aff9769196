"""What the shared CLI tests found missing on Azure, checked on both backends: a job naming an
environment, compute or data asset the workspace lacks (or a local input that is not there)
exits 2 naming the field, before anything is uploaded or submitted."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write

ENV = "environment: {image: python:3.11-slim}\n"


@pytest.mark.parametrize("text, field, words", [
    (ENV + "compute: azureml:gpu-cluster\n", "compute", "unknown compute 'gpu-cluster'"),
    ("environment: azureml:nope@latest\n", "environment", "unknown environment 'azureml:nope@latest'"),
    ("environment: azureml:nope:3\n", "environment", "unknown environment 'azureml:nope:3'"),
    (ENV + "inputs: {d: {type: uri_folder, path: azureml:nodata:1}}\n", "inputs.d.path",
     "unknown data asset 'azureml:nodata:1'"),
    (ENV + "inputs: {d: {type: uri_folder, path: ./nowhere}}\n", "inputs.d.path", "nowhere does not exist"),
])
def test_a_missing_reference_exits_2_naming_the_field(cli, backend, tmp_path, text, field, words, request):
    (tmp_path / "src").mkdir()
    jobfile = write(tmp_path / "job.yml", "command: echo hi\ncode: src\n" + text)
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"aml-tui: {jobfile}: {field}: ") and words in r.stderr, r.stderr
    assert json.loads(cli("job", "list").stdout) == []
    if backend == "azure":  # not even the code snapshot went up
        fake = request.getfixturevalue("azure_service")
        assert not any(r.method == "PUT" for r in fake.requests), [r.url for r in fake.requests if r.method == "PUT"]


def test_an_input_path_the_os_refuses_exits_2(cli, tmp_path):
    jobfile = write(tmp_path / "job.yml", ENV + "command: echo hi\ninputs: {d: {type: uri_folder, path: " + "x" * 300
                    + "}}\n")
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 2 and r.stderr.startswith(f"aml-tui: {jobfile}: inputs.d.path: "), r.stderr
    assert "Traceback" not in r.stderr and json.loads(cli("job", "list").stdout) == []
