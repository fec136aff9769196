"""The user config file: read, checked key by key, applied by the CLI and the app."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, write
from tui.config import Config, load_config
from tui.workspace.base import InvalidSpecError


def test_missing_file_is_the_defaults(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert config == Config(tmp_path / "none.toml") and config.refresh_interval == 1.0 and not config.exists


def test_a_full_file(tmp_path):
    path = write(tmp_path / "c.toml", """
[workspace]
local = "~/ml/ws"
[ui]
theme = "nord"
refresh_interval = 2
[keymap]
"jobs.logs" = "L"
"main.filter" = "slash,f"
""")
    config = load_config(path)
    assert config.exists and config.theme == "nord" and config.refresh_interval == 2.0
    assert config.keymap == {"jobs.logs": "L", "main.filter": "slash,f"}
    assert config.local_workspace is not None and "~" not in str(config.local_workspace)


@pytest.mark.parametrize("text, field", [
    ("[ui]\nrefresh_interval = 0\n", "ui.refresh_interval"),
    ("[ui]\nrefresh_interval = 'fast'\n", "ui.refresh_interval"),
    ("[ui]\ncolour = 'red'\n", "ui.colour"),
    ("[colours]\nx = 1\n", "colours"),
    ("ui = 3\n", "ui"),
    ("[keymap]\n\"jobs.logs\" = 3\n", "keymap.jobs.logs"),
    ("[keymap]\n\"jobs.logs\" = \"L,\"\n", "keymap.jobs.logs"),
    ("[workspace]\nlocal = ''\n", "workspace.local"),
])
def test_bad_keys_are_named(tmp_path, text, field):
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(InvalidSpecError) as err:
        load_config(path)
    assert err.value.field == field and err.value.source == str(path)


def test_bad_toml_names_the_line(tmp_path):
    path = write(tmp_path / "c.toml", "[ui\n")
    with pytest.raises(InvalidSpecError, match=r"invalid TOML: .*line 1"):
        load_config(path)


def test_config_show_and_its_errors(tmp_path):
    path = write(tmp_path / "c.toml", "[ui]\nrefresh_interval = 0.5\n")
    proc = run_cli("config", "show", env={"AML_TUI_CONFIG": str(path)})
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["path"] == str(path) and shown["exists"] and shown["ui"]["refresh_interval"] == 0.5
    write(path, "[ui]\nrefresh_interval = -1\n")
    proc = run_cli("job", "list", env={"AML_TUI_CONFIG": str(path)})
    assert proc.returncode == 2 and "ui.refresh_interval" in proc.stderr and "Traceback" not in proc.stderr


def test_the_config_names_the_local_workspace(tmp_path, monkeypatch):
    folder = tmp_path / "from-config"
    path = write(tmp_path / "c.toml", f"[workspace]\nlocal = \"{folder}\"\n")
    env = {"AML_TUI_CONFIG": str(path), "AML_TUI_HOME": ""}
    proc = run_cli("compute", "list", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "catalog.db").exists()
    # --local still wins over the config file.
    other = tmp_path / "flag"
    assert run_cli("compute", "list", root=other, env=env).returncode == 0
    assert (other / "catalog.db").exists()
