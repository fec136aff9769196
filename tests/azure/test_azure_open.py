"""Naming and opening a workspace: config.json upward, the az CLI defaults, the lazy and quiet SDK."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.azure.fake import RG, SUB, WS, FakeAzure, FakeCredential
from tests.conftest import REPO, write
from tui.workspace.azure import WorkspaceRef, az_cli_defaults, find_workspace_config, read_workspace_config
from tui.workspace.base import InvalidSpecError

CONFIG = {"subscription_id": SUB, "resource_group": RG, "workspace_name": WS}


def test_config_json_found_upward(tmp_path):
    write(tmp_path / "proj" / ".azureml" / "config.json", json.dumps(CONFIG))
    deep = tmp_path / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    ref = find_workspace_config(deep)
    assert ref == WorkspaceRef(SUB, RG, WS, str(tmp_path / "proj" / ".azureml" / "config.json"))
    assert ref.complete


def test_config_json_nearest_wins_and_aml_config_is_read(tmp_path):
    write(tmp_path / ".azureml" / "config.json", json.dumps({**CONFIG, "workspace_name": "outer"}))
    write(tmp_path / "inner" / "aml_config" / "config.json", json.dumps({**CONFIG, "workspace_name": "inner"}))
    assert find_workspace_config(tmp_path / "inner").workspace_name == "inner"


def test_no_config_json(tmp_path):
    assert find_workspace_config(tmp_path) is None


def test_config_json_with_an_arm_scope(tmp_path):
    path = write(tmp_path / "config.json", json.dumps({"Scope": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                                                                f"Microsoft.MachineLearningServices/workspaces/{WS}"}))
    assert read_workspace_config(path) == WorkspaceRef(SUB, RG, WS, str(path))


@pytest.mark.parametrize("text, field, message", [
    (json.dumps({"subscription_id": SUB, "resource_group": RG}), "workspace_name", "required"),
    (json.dumps({**CONFIG, "resource_group": 5}), "resource_group", "non-empty string"),
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "expected a JSON object"),
    (json.dumps({"Scope": "/subscriptions/x"}), "Scope", "/subscriptions/S/resourceGroups/G"),
])
def test_a_bad_config_json_names_file_and_field(tmp_path, text, field, message):
    path = write(tmp_path / ".azureml" / "config.json", text)
    with pytest.raises(InvalidSpecError, match=message) as info:
        find_workspace_config(tmp_path)
    assert info.value.source == str(path) and info.value.field == field and info.value.exit_code == 2


def _az_profile(folder, subs):
    # az writes azureProfile.json with a UTF-8 byte order mark.
    (folder / "azureProfile.json").write_text(json.dumps({"installationId": "x", "subscriptions": subs}),
                                              encoding="utf-8-sig")


def test_az_cli_defaults(tmp_path):
    _az_profile(tmp_path, [{"id": "other", "isDefault": False}, {"id": SUB, "isDefault": True, "name": "Dev"}])
    write(tmp_path / "config", f"[core]\noutput = json\n\n[defaults]\ngroup = {RG}\nworkspace = {WS}\n")
    ref = az_cli_defaults(tmp_path)
    assert (ref.subscription_id, ref.resource_group, ref.workspace_name) == (SUB, RG, WS) and ref.complete


def test_az_cli_defaults_with_only_a_subscription_ask_for_a_picker(tmp_path, monkeypatch):
    _az_profile(tmp_path, [{"id": SUB, "isDefault": True}])
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path))
    ref = az_cli_defaults()
    assert ref.subscription_id == SUB and ref.resource_group is None and not ref.complete


def test_no_az_login_no_defaults(tmp_path):
    assert az_cli_defaults(tmp_path) is None
    _az_profile(tmp_path, [{"id": SUB, "isDefault": False}])
    assert az_cli_defaults(tmp_path) is None


def test_bad_az_files_are_named(tmp_path):
    (tmp_path / "azureProfile.json").write_text('{"subscriptions": 3}')
    with pytest.raises(InvalidSpecError, match="subscriptions") as info:
        az_cli_defaults(tmp_path)
    assert info.value.source == str(tmp_path / "azureProfile.json")
    _az_profile(tmp_path, [{"id": SUB, "isDefault": True}])
    write(tmp_path / "config", "no section here\n")
    with pytest.raises(InvalidSpecError, match="not a valid INI file") as info:
        az_cli_defaults(tmp_path)
    assert info.value.source == str(tmp_path / "config")


def test_importing_the_backend_imports_no_sdk():
    code = "import sys, tui.workspace.azure; print([m for m in sys.modules if m.startswith('azure')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_the_sdk_writes_nothing_to_stderr_once_loaded():
    # An experimental-class notice is logged at INFO/WARNING by the SDK's own stderr handler.
    code = ("from tui.workspace.azure import load_sdk; load_sdk()\n"
            "from azure.ai.ml.entities import Job\n"
            "Job._load(data={'type': 'sweep', 'trial': {'command': 'x', 'environment': 'azureml:e:1'},"
            " 'search_space': {'lr': {'type': 'uniform', 'min_value': 0.1, 'max_value': 1}},"
            " 'objective': {'goal': 'maximize', 'primary_metric': 'a'}, 'sampling_algorithm': 'random',"
            " 'compute': 'azureml:c', 'limits': {'max_total_trials': 2}})\n"
            "import azure.ai.ml._utils._endpoint_utils\n"  # a submodule that adds its own handler on import
            "import logging; logging.getLogger('azure.ai.ml').warning('still quiet')\n"
            "logging.getLogger('azure.ai.ml._utils._endpoint_utils').warning('also quiet')\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    assert out.stderr == ""


def test_open_azure_workspace_builds_a_quiet_client(monkeypatch):
    from tui.workspace.azure import open_azure_workspace

    fake = FakeAzure()
    fake.add_job("j1")
    ws = open_azure_workspace(SUB, RG, WS, FakeCredential(), transport=fake.transport())
    assert ws.ml._kwargs["retry_total"] == 3
    assert ws.ml._operation_config.enable_telemetry is False and ws.ml._operation_config.show_progress is False
    assert [j.name for j in ws.list_jobs().items] == ["j1"]
    ro = open_azure_workspace(SUB, RG, WS, FakeCredential(), read_only=True, transport=fake.transport())
    assert ro.read_only


def test_default_credential_is_only_made_when_none_is_given(monkeypatch):
    from tui.workspace.azure import client

    made = []
    monkeypatch.setattr(client, "default_credential", lambda: made.append(1) or FakeCredential())
    fake = FakeAzure()
    client.open_azure_workspace(SUB, RG, WS, transport=fake.transport())
    assert made == [1]
    assert fake.requests == []  # building the client calls nothing
