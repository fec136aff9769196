"""Opening an Azure ML workspace: where one is named (flags, config.json, az CLI defaults) and
`open_azure_workspace`, which builds `MLClient` and imports the SDK only when called."""

from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base import InvalidSpecError
from .sdk import DEFAULT_RETRY_TOTAL, load_sdk

if TYPE_CHECKING:
    from .workspace import AzureWorkspace

_CONFIG_FOLDERS = (".azureml", "aml_config")
_MAX_LEVELS = 20  # as MLClient.from_config


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace named by flags, a config file or the az CLI defaults. `source` says where."""

    subscription_id: str
    resource_group: str | None
    workspace_name: str | None
    source: str

    @property
    def complete(self) -> bool:
        return bool(self.subscription_id and self.resource_group and self.workspace_name)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # az writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpecError(f"cannot read it: {exc}", source=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InvalidSpecError(f"not valid JSON: {exc.msg} at line {exc.lineno}", source=str(path)) from None


def read_workspace_config(path: Path) -> WorkspaceRef:
    """A `config.json` as the Studio downloads it: subscription_id, resource_group,
    workspace_name (or one ARM `Scope`). Raises InvalidSpecError naming the file and field."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise InvalidSpecError("expected a JSON object with subscription_id, resource_group and workspace_name",
                               source=str(path))
    scope = doc.get("Scope") or doc.get("scope")
    if isinstance(scope, str) and scope:
        parts = scope.strip("/").split("/")
        try:
            values = {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
            return WorkspaceRef(values["subscriptions"], values["resourcegroups"], values["workspaces"], str(path))
        except (KeyError, IndexError):
            raise InvalidSpecError("expected /subscriptions/S/resourceGroups/G/providers/"
                                   "Microsoft.MachineLearningServices/workspaces/W", source=str(path),
                                   field="Scope") from None
    values = {}
    for key in ("subscription_id", "resource_group", "workspace_name"):
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidSpecError("required: a non-empty string (the file needs subscription_id, "
                                   "resource_group and workspace_name)", source=str(path), field=key)
        values[key] = value.strip()
    return WorkspaceRef(values["subscription_id"], values["resource_group"], values["workspace_name"], str(path))


def find_workspace_config(start: Path | str) -> WorkspaceRef | None:
    """`.azureml/config.json` (or `aml_config/config.json`) in `start` or a folder above it,
    up to 20 levels, as `MLClient.from_config` looks. None when there is none."""
    folder = Path(start).resolve()
    for _ in range(_MAX_LEVELS):
        for sub in _CONFIG_FOLDERS:
            candidate = folder / sub / "config.json"
            if candidate.is_file():
                return read_workspace_config(candidate)
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def azure_config_dir() -> Path:
    return Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure").expanduser()


def az_cli_defaults(config_dir: Path | str | None = None) -> WorkspaceRef | None:
    """The az CLI defaults: `[defaults] group/workspace` of `~/.azure/config` (written by
    `az configure --defaults`) and the default subscription of `azureProfile.json`.

    None when no default subscription is set; the group and workspace may be None (then a
    workspace picker asks).
    """
    folder = Path(config_dir).expanduser() if config_dir else azure_config_dir()
    profile = folder / "azureProfile.json"
    if not profile.is_file():
        return None
    doc = _read_json(profile)
    subs = doc.get("subscriptions") if isinstance(doc, dict) else None
    if not isinstance(subs, list):
        raise InvalidSpecError("expected a 'subscriptions' list (run `az login` to rewrite it)",
                               source=str(profile), field="subscriptions")
    default = next((s for s in subs if isinstance(s, dict) and s.get("isDefault") and s.get("id")), None)
    if default is None:
        return None
    group = workspace = None
    config = folder / "config"
    if config.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(config, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise InvalidSpecError(f"not a valid INI file: {str(exc).splitlines()[0]}", source=str(config)) from None
        if parser.has_section("defaults"):
            group = parser.get("defaults", "group", fallback=None) or None
            workspace = parser.get("defaults", "workspace", fallback=None) or None
    return WorkspaceRef(str(default["id"]), group, workspace, f"{config} and {profile}")


def default_credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def open_azure_workspace(subscription_id: str, resource_group: str, workspace_name: str, credential: Any = None,
                         *, read_only: bool = False, cache_dir: Path | str | None = None,
                         **client_kwargs: Any) -> "AzureWorkspace":
    """Build `MLClient` (no network call yet) and the workspace over it.

    Telemetry and progress bars are off and retries are few; tests pass
    `transport=` and a test credential through `client_kwargs`/`credential`.
    """
    sdk = load_sdk()
    from .workspace import AzureWorkspace

    # show_progress=False: the SDK's upload progress bars write to stderr, over a TUI.
    kwargs = {"enable_telemetry": False, "show_progress": False, "retry_total": DEFAULT_RETRY_TOTAL,
              **client_kwargs}
    client = sdk.MLClient(credential or default_credential(), subscription_id, resource_group, workspace_name,
                          **kwargs)
    return AzureWorkspace(client, read_only=read_only, cache_dir=cache_dir)
