"""The user config file: `~/.config/aml-tui/config.toml` (platformdirs; `AML_TUI_CONFIG`
overrides the path). Read with `tomllib`; every key is checked, and a bad file is an
`InvalidSpecError` naming the file and the key (exit 2), never a silent default.

```toml
[workspace]            # where the local workspace lives
local = "~/ml/workspace"

[azure]                # the default Azure ML workspace (wins over .azureml/config.json and az defaults)
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg-ml"
workspace_name = "ws-ml" # leave out (with resource_group too) for a picker
# or: config = "~/ml/.azureml/config.json"

[ui]
theme = "textual-dark"
refresh_interval = 1.0 # seconds between auto-refreshes of counts and active jobs

[keymap]               # binding id = keys (see `?` in the app, or README)
"jobs.logs" = "L"
"main.filter" = "slash,f"

[sort]                 # kind = "COLUMN" (ascending) or "-COLUMN"; the app writes it as you sort
jobs = "-DURATION"
```

Cheap to import (the CLI reads it): stdlib only at module level.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .workspace.base import AssetKind, InvalidSpecError

CONFIG_ENV = "AML_TUI_CONFIG"
SECTIONS: dict[str, tuple[str, ...]] = {
    "workspace": ("local",),
    "azure": ("subscription_id", "resource_group", "workspace_name", "config"),
    "ui": ("theme", "refresh_interval"),
    "keymap": (),  # any binding id
    "sort": tuple(k.value for k in AssetKind),
}
MIN_REFRESH_S, MAX_REFRESH_S = 0.2, 3600.0


@dataclass(frozen=True)
class Config:
    path: Path
    exists: bool = False
    workspace: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    refresh_interval: float = 1.0
    keymap: dict[str, str] = field(default_factory=dict)
    # kind -> "COLUMN" or "-COLUMN" (descending). Whether the column exists is the app's to
    # check (a warning there): the columns live in the UI's registry, which the CLI never loads.
    sort: dict[str, str] = field(default_factory=dict)
    # The default Azure workspace: subscription_id (+ resource_group, + workspace_name), or
    # config (a config.json, already resolved against the file's folder). Checked on load.
    azure: dict[str, str] = field(default_factory=dict)

    @property
    def local_workspace(self) -> Path | None:
        local = self.workspace.get("local")
        return Path(local).expanduser() if local else None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "exists": self.exists, "workspace": dict(self.workspace),
                "azure": dict(self.azure),
                "ui": {"theme": self.theme, "refresh_interval": self.refresh_interval},
                "keymap": dict(self.keymap), "sort": dict(self.sort)}


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("aml-tui", appauthor=False)) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    import tomllib

    path = path or config_path()
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        raise InvalidSpecError(f"cannot read: {exc.strerror or exc}", source=source) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidSpecError(f"invalid TOML: {exc}", source=source) from None

    for section, value in data.items():
        if section not in SECTIONS:
            raise InvalidSpecError(f"unknown section; allowed: {', '.join(SECTIONS)}", source=source, field=section)
        if not isinstance(value, dict):
            raise InvalidSpecError(f"expected a table ([{section}]), got {type(value).__name__}",
                                   source=source, field=section)
        allowed = SECTIONS[section]
        for key in value:
            if allowed and key not in allowed:
                raise InvalidSpecError(f"unknown key; allowed: {', '.join(allowed)}", source=source,
                                       field=f"{section}.{key}")

    workspace = {k: _string(v, source, f"workspace.{k}") for k, v in data.get("workspace", {}).items()}
    azure = _azure_table(data.get("azure", {}), path)

    ui = data.get("ui", {})
    theme = _string(ui["theme"], source, "ui.theme") if "theme" in ui else None
    interval = ui.get("refresh_interval", 1.0)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) \
            or not MIN_REFRESH_S <= interval <= MAX_REFRESH_S:
        raise InvalidSpecError(f"expected seconds between {MIN_REFRESH_S} and {MAX_REFRESH_S:g}, got {interval!r}",
                               source=source, field="ui.refresh_interval")

    keymap = {}
    for binding_id, keys in data.get("keymap", {}).items():
        keys = _string(keys, source, f"keymap.{binding_id}")
        if not all(k.strip() for k in keys.split(",")):
            raise InvalidSpecError(f"expected keys separated by commas, e.g. \"L\" or \"slash,f\", got {keys!r}",
                                   source=source, field=f"keymap.{binding_id}")
        keymap[binding_id] = keys

    sort = {}
    for kind, column in data.get("sort", {}).items():
        column = _string(column, source, f"sort.{kind}")
        if not SORT_VALUE.match(column):
            raise InvalidSpecError(f"expected a column title, \"-\" before it to sort descending "
                                   f"(e.g. \"-DURATION\"), got {column!r}", source=source, field=f"sort.{kind}")
        sort[kind] = column
    return Config(path, True, workspace, theme, float(interval), keymap, sort, azure=azure)


def _azure_table(table: Mapping[str, Any], path: Path) -> dict[str, str]:
    """`[azure]`: a config.json path, or the workspace's parts; a part needs the ones before it."""
    source = str(path)
    azure = {k: _string(v, source, f"azure.{k}") for k, v in table.items()}
    if "config" in azure:
        if len(azure) > 1:
            raise InvalidSpecError("give either config (a config.json) or subscription_id, resource_group "
                                   "and workspace_name, not both", source=source, field="azure.config")
        # Relative to the config file, so the file means the same from any cwd.
        azure["config"] = str((path.parent / Path(azure["config"]).expanduser()).resolve())
        return azure
    for key, needs in (("workspace_name", "resource_group"), ("resource_group", "subscription_id")):
        if key in azure and needs not in azure:
            raise InvalidSpecError(f"{key} needs {needs} too (leave out workspace_name for a picker)",
                                   source=source, field=f"azure.{needs}")
    return azure


SORT_VALUE = re.compile(r"^-?[A-Za-z][A-Za-z0-9 _-]*$")


def save_sort(path: Path, sort: Mapping[str, str]) -> None:
    """Write `sort` as the file's `[sort]` table, the rest of the file as it was.

    Only that table is rewritten, so comments and layout elsewhere stay. The new text must
    parse back to the old data with the new table, or nothing is written (a `sort` spelled
    as dotted keys, say, is not this writer's to edit). Written atomically, owner-only.
    """
    import tomllib

    for kind, column in sort.items():
        if kind not in SECTIONS["sort"] or not SORT_VALUE.match(column):
            raise InvalidSpecError(f"cannot save sort {kind} = {column!r}", source=str(path), field=f"sort.{kind}")
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    try:
        data = tomllib.loads(old)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSpecError(f"cannot save the sort: invalid TOML: {exc}", source=str(path)) from None
    table = "".join(f"{kind} = {json.dumps(column)}\n" for kind, column in sort.items())
    table = f"[sort]\n{table}" if sort else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _TABLE.match(line) and _TABLE.match(line).group(1) == "sort"),
                 None)
    if start is None:
        gap = "" if not old or old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
        new = old + (gap + table if table else "")
    else:
        end = next((i for i in range(start + 1, len(lines)) if _TABLE.match(lines[i])), len(lines))
        new = "".join(lines[:start]) + table + ("\n" if table and end < len(lines) else "") + "".join(lines[end:])
    expected = {k: v for k, v in data.items() if k != "sort"}
    if sort:
        expected["sort"] = dict(sort)
    try:
        ok = tomllib.loads(new) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise InvalidSpecError("cannot save the sort: this file's [sort] is not one plain table; edit it by hand",
                               source=str(path), field="sort")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            out.write(new)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# A table header line: `[name]` (not `[[array]]`), with optional spaces and a comment.
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(#.*)?$")


def _string(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSpecError(f"expected a non-empty string, got {value!r}", source=source, field=key)
    return value.strip()
