"""Secrets planted in every kind of fake response never come back: not in records, `to_dict()`,
log file names, log text, metrics, workspace info or error messages."""

from __future__ import annotations

import pytest

from tests.azure.conftest import assert_no_canary
from tests.azure.fake import ACCOUNT, CANARY_SIG, CONNECTION_STRING
from tui.workspace.base import AssetKind, WorkspaceError


@pytest.fixture
def planted(fake):
    fake.add_job("train", "Completed", metrics={"loss": [(1, 0.5)]}, logs={
        "user_logs/std_log.txt": b"hello\n",
        "system_logs/cs_capability/cs-capability.log":
            f"mounting {ACCOUNT}/azureml/x?sv=2021&sig={CANARY_SIG}\n{CONNECTION_STRING}\n".encode()})
    fake.add_sweep("sweep", trials=4)
    fake.add_asset("data", "digits", "1")
    fake.add_asset("environments", "env", "1")
    fake.add_asset("models", "model", "1")
    fake.add_compute("cluster")
    fake.add_compute("ci", "ComputeInstance")
    fake.add_endpoint("ep", {"blue": 100}, {"blue": {}})
    return fake


def test_no_secret_in_any_record(planted, azure_ws):
    ws = azure_ws
    returned = [ws.info(), ws.counts(), ws.list_jobs(), ws.list_jobs(parent_job_name="sweep"),
                ws.get_job("train"), ws.get_job("sweep"), ws.get_job("sweep_1"), ws.log_files("train"),
                ws.job_metrics("train")]
    for kind in AssetKind:
        page = ws.list_assets(kind)
        returned.append(page)
        for asset in page.items:
            returned.append(ws.get_asset(kind, asset.name))
            if kind in (AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.MODELS):
                returned.append(ws.list_versions(kind, asset.name))
    for f in ws.log_files("train"):
        returned.append(ws.read_log("train", f.name))
    assert_no_canary(returned)
    text = ws.read_log("train", "system_logs/cs_capability/cs-capability.log").text
    assert "sig=***" in text and "AccountKey=***" in text  # masked, the rest of the line kept


def test_no_secret_in_any_error(planted, azure_ws):
    # The fake's error bodies echo a bearer token and a SAS URL, as some services do.
    errors = []
    for where, call in [("/jobs?", azure_ws.list_jobs), ("/jobs/train?", lambda: azure_ws.get_job("train")),
                        ("/runs/sweep/children", lambda: azure_ws.list_jobs(parent_job_name="sweep")),
                        ("/data?", lambda: azure_ws.list_assets(AssetKind.DATA)),
                        ("/computes/cluster?", lambda: azure_ws.get_asset(AssetKind.COMPUTE, "cluster")),
                        ("/api/2.0/mlflow/runs/get", lambda: azure_ws.job_metrics("train")),
                        ("/details", lambda: azure_ws.log_files("train"))]:
        planted.inject(where, 400)
        with pytest.raises(WorkspaceError) as info:
            call()
        errors.append(str(info.value))
    assert all(errors) and len(errors) == 7
    assert_no_canary(errors)
    assert any("Bearer ***" in e or "sig=***" in e for e in errors)


def test_the_bearer_token_goes_only_to_azure_apis(planted, azure_ws):
    azure_ws.get_job("train")
    azure_ws.read_log("train", "user_logs/std_log.txt")
    azure_ws.job_metrics("train")
    for r in planted.requests:
        has_bearer = r.headers.get("Authorization", "").startswith("Bearer ")
        assert has_bearer == (not r.host.endswith(".blob.core.windows.net") and r.path != "/discovery"), r.url
