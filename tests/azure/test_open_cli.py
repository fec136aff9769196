"""Naming an Azure workspace on the command line: the five places, first found wins, each
checked; the CLI runs for real (`tui.cli.main`) against the fake service, never the network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.azure.fake import RG, SUB, WS, FakeAzure, FakeCredential
from tests.conftest import REPO, write
from tui.cli import main
from tui.workspace.azure.client import Connector

SOURCES = ("flags", "config", "user_config", "config_json", "az")


def refuse_network(monkeypatch) -> list[object]:
    """Every socket connection fails (the fake transport needs none); returns what was tried."""
    tried: list[object] = []

    def refuse(*args, **kwargs):
        tried.append(args[1:2] or args)
        raise AssertionError(f"a test reached for the network: {args[1:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tried


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    tried = refuse_network(monkeypatch)
    yield
    assert tried == []


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A project folder as the cwd, an az config folder and a user config file, all empty."""
    project = tmp_path / "proj"
    cwd = project / "src" / "deep"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "az"))
    monkeypatch.setenv("AML_TUI_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


def connector_for(fake: FakeAzure, credential=None) -> Connector:
    return Connector(credential=credential or FakeCredential,
                     client_kwargs=lambda: {"transport": fake.transport(), "retry_backoff_factor": 0.01})


def run(argv, fake, capsys, credential=None):
    code = main(list(argv), connector=connector_for(fake, credential))
    out = capsys.readouterr()
    return code, out.out, out.err


def az_login(folder, *, group=None, workspace=None, name="Dev subscription"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "azureProfile.json").write_text(json.dumps({"subscriptions": [
        {"id": "99999999-1111-2222-3333-444444444444", "name": "Other", "isDefault": False},
        {"id": SUB, "name": name, "isDefault": True}]}), encoding="utf-8-sig")
    defaults = "".join(f"{k} = {v}\n" for k, v in (("group", group), ("workspace", workspace)) if v)
    if defaults:
        write(folder / "config", f"[core]\noutput = json\n\n[defaults]\n{defaults}")


def config_json(path, workspace, group=RG):
    return write(path, json.dumps({"subscription_id": SUB, "resource_group": group, "workspace_name": workspace}))


def name_in(source: str, winner: str) -> str:
    return WS if source == winner else f"ws-{source.replace('_', '-')}"


def set_up(places, source: str, workspace: str) -> list[str]:
    """Name `workspace` in `source`; returns the flags that go with it."""
    if source == "flags":
        return ["--subscription", SUB, "-g", RG, "-w", workspace]
    if source == "config":
        return ["--config", str(config_json(places / "elsewhere" / "ws.json", workspace))]
    if source == "user_config":
        write(places / "config.toml", f'[azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\n'
                                      f'workspace_name = "{workspace}"\n')
    elif source == "config_json":
        config_json(places / "proj" / ".azureml" / "config.json", workspace)
    else:
        az_login(places / "az", group=RG, workspace=workspace)
    return []


@pytest.mark.parametrize("winner", SOURCES)
def test_each_source_wins_over_the_ones_after_it(places, capsys, winner):
    fake = FakeAzure()
    fake.add_job("j1")
    argv: list[str] = []
    for source in SOURCES[SOURCES.index(winner):]:
        argv += set_up(places, source, name_in(source, winner))
    code, out, err = run([*argv, "workspace", "show"], fake, capsys)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["kind"] == "azure" and shown["workspace_name"] == WS and shown["subscription_id"] == SUB
    expected_source = {"flags": "--subscription/-g/-w flags", "config": "ws.json", "user_config": "config.toml",
                       "config_json": ".azureml/config.json", "az": "az CLI defaults"}[winner]
    assert expected_source in shown["source"]
    assert fake.requests == []  # showing which workspace opens signs in to nothing

    code, out, err = run([*argv, "job", "list"], fake, capsys)
    assert code == 0, err
    assert [j["name"] for j in json.loads(out)] == ["j1"]
    arm = [r.path for r in fake.requests if r.host == "management.azure.com"]
    assert arm and all(f"/workspaces/{WS}/" in p or p.endswith(f"/workspaces/{WS}") for p in arm)


def test_nothing_named_is_the_local_workspace_and_an_az_login_alone_names_nothing(places, capsys):
    fake = FakeAzure()
    az_login(places / "az")  # a default subscription, no `az configure --defaults`
    code, out, err = run(["workspace", "show"], fake, capsys)
    assert code == 0, err
    assert json.loads(out)["kind"] == "local" and json.loads(out)["source"] == "$AML_TUI_HOME"
    code, out, err = run(["compute", "list"], fake, capsys)
    assert code == 0, err
    assert fake.requests == []


def test_local_forces_the_local_workspace(places, capsys, tmp_path):
    fake = FakeAzure()
    set_up(places, "config_json", WS)
    set_up(places, "az", WS)
    set_up(places, "user_config", WS)
    code, out, err = run(["--local", str(tmp_path / "here"), "workspace", "show"], fake, capsys)
    assert code == 0, err
    assert json.loads(out) == {"kind": "local", "location": str((tmp_path / "here").resolve()), "source": "--local"}
    code, out, err = run(["--local", str(tmp_path / "here"), "-g", RG, "-w", WS, "job", "list"], fake, capsys)
    assert code == 2 and "--local" in err and "--resource-group" in err
    assert fake.requests == []


def test_config_show_says_what_opens_and_from_where(places, capsys):
    set_up(places, "user_config", WS)
    code, out, err = run(["config", "show"], FakeAzure(), capsys)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["azure"] == {"subscription_id": SUB, "resource_group": RG, "workspace_name": WS}
    assert shown["opens"] == {"kind": "azure", "subscription_id": SUB, "resource_group": RG, "workspace_name": WS,
                              "source": f"{places / 'config.toml'} [azure]"}


def test_the_user_config_may_name_a_config_json_relative_to_itself(places, capsys):
    config_json(places / "ml" / "config.json", WS)
    write(places / "config.toml", '[azure]\nconfig = "ml/config.json"\n')
    code, out, err = run(["workspace", "show"], FakeAzure(), capsys)
    assert code == 0, err
    assert json.loads(out)["source"] == str(places / "ml" / "config.json")


def test_a_subscription_name_is_looked_up_in_the_az_profile(places, capsys):
    az_login(places / "az", name="Dev subscription")
    code, out, err = run(["--subscription", "dev subscription", "-g", RG, "-w", WS, "workspace", "show"],
                         FakeAzure(), capsys)
    assert code == 0, err
    assert json.loads(out)["subscription_id"] == SUB
    # -g/-w alone take the az profile's default subscription, as az ml does.
    code, out, err = run(["-g", RG, "-w", WS, "workspace", "show"], FakeAzure(), capsys)
    assert code == 0, err
    assert json.loads(out)["subscription_id"] == SUB and "azureProfile.json" in json.loads(out)["source"]


BAD = [
    (["-w", WS], None, "--resource-group", "needs --resource-group"),
    (["-g", RG, "-w", WS], None, "--subscription", "az login"),  # no az profile to take it from
    (["--subscription", "nope", "-g", RG, "-w", WS], None, "--subscription", "a subscription ID"),
    (["--subscription", SUB, "-g", "a/b", "-w", WS], None, "--resource-group", "a resource group name"),
    (["--subscription", SUB, "-g", RG, "-w", "x"], None, "--workspace-name", "3-33"),
    (["--subscription", SUB, "-g", RG, "-w", ""], None, "--workspace-name", "empty"),
    (["--config", "{tmp}/missing.json"], None, "missing.json", "cannot read"),
    (["--config", "{tmp}/partial.json"], None, "partial.json: workspace_name", "required"),
    (["--config", "{tmp}/ok.json", "-w", WS], None, "--resource-group", "needs"),  # the flags win, and are partial
    ([], ("config.toml", '[azure]\nsubscription_id = "S"\nworkspace_name = "w"\n'), "azure.resource_group", "needs"),
    ([], ("config.toml", '[azure]\nconfig = "x.json"\nsubscription_id = "S"\n'), "azure.config", "not both"),
    ([], ("config.toml", f'[azure]\nsubscription_id = "{SUB}"\nresource_group = "bad/group"\n'),
     "config.toml: azure.resource_group", "resource group name"),
    ([], ("proj/.azureml/config.json", '{"subscription_id": "x"}'), "config.json: resource_group", "required"),
    ([], ("az/config", "[defaults]\nworkspace = ws-demo\n"), "config: defaults.group", "group is not"),
]


@pytest.mark.parametrize("argv, file, field, message", BAD)
def test_bad_or_partial_names_exit_2_naming_the_flag_or_file_and_field(places, capsys, argv, file, field, message):
    fake = FakeAzure()
    write(places / "partial.json", json.dumps({"subscription_id": SUB, "resource_group": RG}))
    config_json(places / "ok.json", WS)
    if file and file[0].startswith("az/"):
        az_login(places / "az")
    if file:
        write(places / file[0], file[1])
    argv = [a.replace("{tmp}", str(places)) for a in argv]
    code, out, err = run([*argv, "job", "list"], fake, capsys)
    assert code == 2, err
    assert field in err and message in err and "Traceback" not in err
    assert out == "" and fake.requests == []


def test_only_a_subscription_asks_for_a_workspace_and_lists_them(places, capsys):
    fake = FakeAzure()
    fake.workspaces.append(("rg-2", "ws-two"))
    code, out, err = run(["--subscription", SUB, "job", "list"], fake, capsys)
    assert code == 2 and out == ""
    assert "--workspace-name" in err and "ws-demo (-g rg-ml), ws-two (-g rg-2)" in err
    # A group narrows the list; the az defaults with a group and no workspace ask the same way.
    az_login(places / "az", group="rg-2")
    code, out, err = run(["job", "list"], fake, capsys)
    assert code == 2 and "ws-two (-g rg-2)" in err and "ws-demo" not in err and "az CLI defaults" in err


def test_only_a_subscription_when_listing_fails_still_says_what_to_pass(places, capsys):
    fake = FakeAzure()
    fake.auth_status = 403
    code, _, err = run(["--subscription", SUB, "job", "list"], fake, capsys)
    assert code == 2 and "--workspace-name" in err and "listing its workspaces failed" in err and "403" in err


class NotSignedIn:
    def get_token(self, *scopes, **kwargs):
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError("EnvironmentCredential: environment variables are not fully configured")


@pytest.mark.parametrize("fault, expected", [
    ("signin", "az login"), ("403", "AzureML Data Scientist"), ("404", "workspace not found"),
    ("network", "cannot reach Azure")])
def test_cli_failures_say_what_to_do_and_which_workspace(places, capsys, fault, expected):
    fake = FakeAzure()
    fake.auth_status = 403 if fault == "403" else None
    fake.workspace_exists = fault != "404"
    fake.network_down = fault == "network"
    set_up(places, "config_json", WS)
    code, out, err = run(["job", "show", "-n", "x"], fake, capsys, NotSignedIn if fault == "signin" else None)
    assert code == (2 if fault == "404" else 1) and out == ""  # not found exits 2, as for a job
    assert expected in err and "named by " in err and ".azureml/config.json" in err and "--local DIR" in err
    if fault == "network":  # the retry total is small and explicit: 1 try + 3 retries
        assert len(fake.requests) == 4


def test_the_real_default_credential_fails_quietly_with_no_network(places):
    """DefaultAzureCredential with nothing to sign in with: our message only (its WARNING logs
    would go to stderr through Python's last-resort handler), and no socket opened."""
    code = ("import socket, sys\n"
            "def refuse(*a, **k): raise SystemExit('network: %r' % (a[1:2],))\n"
            "socket.socket.connect = refuse; socket.create_connection = refuse\n"
            "from tui.cli import main\n"
            f"sys.exit(main(['--subscription', '{SUB}', '-g', '{RG}', '-w', '{WS}', 'job', 'list']))\n")
    env = {**os.environ, "AZURE_TOKEN_CREDENTIALS": "dev", "PATH": str(places / "nothing"),
           "HOME": str(places), "PYTHONPATH": str(REPO)}
    for key in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME", "IDENTITY_ENDPOINT",
                "MSI_ENDPOINT"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=places)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("aml-tui: not signed in to Azure: sign in with `az login`")
    assert lines[1].startswith("aml-tui: (Azure workspace ws-demo") and "network:" not in proc.stderr


def test_seed_fills_the_local_workspace_even_where_azure_is_named(places, capsys, monkeypatch):
    fake = FakeAzure()
    set_up(places, "config_json", WS)
    monkeypatch.setenv("AML_TUI_HOME", str(places / "local"))
    seeded = []
    # The demo's assets take seconds to build; where they go is what this checks.
    monkeypatch.setattr("tui.workspace.local.seed.seed_demo", lambda ws, with_jobs: seeded.append(ws.info()) or [])
    code, _, err = run(["seed", "--no-jobs"], fake, capsys)
    assert code == 0, err
    assert [(i.kind, i.location) for i in seeded] == [("local", str((places / "local").resolve()))]
    assert fake.requests == []
