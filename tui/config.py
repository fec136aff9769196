"""The user config file: `~/.config/aml-tui/config.toml` (platformdirs; `AML_TUI_CONFIG`
overrides the path). Read with `tomllib`; every key is checked, and a bad file is an
`InvalidSpecError` naming the file and the key (exit 2), never a silent default.

```toml
[workspace]            # what aml-tui opens when no flag names a workspace
local = "~/ml/workspace"

[ui]
theme = "textual-dark"
refresh_interval = 1.0 # seconds between auto-refreshes of counts and active jobs

[keymap]               # binding id = keys (see `?` in the app, or README)
"jobs.logs" = "L"
"main.filter" = "slash,f"
```

Cheap to import (the CLI reads it): stdlib only at module level.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workspace.base import InvalidSpecError

CONFIG_ENV = "AML_TUI_CONFIG"
SECTIONS: dict[str, tuple[str, ...]] = {
    "workspace": ("local",),  # the Azure backend adds subscription_id, resource_group, workspace_name
    "ui": ("theme", "refresh_interval"),
    "keymap": (),  # any binding id
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

    @property
    def local_workspace(self) -> Path | None:
        local = self.workspace.get("local")
        return Path(local).expanduser() if local else None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "exists": self.exists, "workspace": dict(self.workspace),
                "ui": {"theme": self.theme, "refresh_interval": self.refresh_interval},
                "keymap": dict(self.keymap)}


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
    return Config(path, True, workspace, theme, float(interval), keymap)


def _string(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSpecError(f"expected a non-empty string, got {value!r}", source=source, field=key)
    return value.strip()
