"""Opening an Azure ML workspace: where one is named (flags, config.json, az CLI defaults),
`open_azure_workspace`, which builds `MLClient` and imports the SDK only when called, and
`AzureOpener`, the sign-in steps the CLI and the app take (the app on a worker).

Tests give a `Connector` with a fake credential and transport; users get the default one
(DefaultAzureCredential, the real network). No other way in exists.
"""

from __future__ import annotations

import configparser
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..base import InvalidSpecError, WorkspaceError
from .sdk import DEFAULT_RETRY_TOTAL, MANAGEMENT_SCOPE, load_sdk

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

    def describe(self) -> str:
        if self.complete:
            return f"{self.workspace_name} (resource group {self.resource_group}, subscription {self.subscription_id})"
        group = f", resource group {self.resource_group}" if self.resource_group else ""
        return f"a workspace of subscription {self.subscription_id}{group}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "azure", "subscription_id": self.subscription_id, "resource_group": self.resource_group,
                "workspace_name": self.workspace_name, "source": self.source}


# ARM's rules (a name goes into URL paths, so nothing else may pass): a subscription is a GUID;
# a resource group 1-90 of letters, digits, -_.() not ending in "."; a workspace 3-33 of
# letters, digits, - and _, starting with a letter or digit.
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
REF_FIELDS = ("subscription_id", "resource_group", "workspace_name")


def check_ref(ref: WorkspaceRef, fields: dict[str, str] | None = None, source: str | None = None) -> WorkspaceRef:
    """Each part of `ref` is a valid ARM name, else InvalidSpecError naming `source` and the
    field as the user spelled it (`fields` maps subscription_id... to a flag or a key)."""
    fields = fields or {}
    rules = (("subscription_id", _GUID, "a subscription ID (a GUID, as `az account show --query id` prints)"),
             ("resource_group", _GROUP, "a resource group name: 1-90 letters, digits, -_.() not ending in '.'"),
             ("workspace_name", _WORKSPACE, "a workspace name: 3-33 letters, digits, - and _"))
    for key, rule, what in rules:
        value = getattr(ref, key)
        if value is not None and not rule.match(value):
            raise InvalidSpecError(f"expected {what}, got {value[:80]!r}", source=source,
                                   field=fields.get(key, key))
    return ref


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
            ref = WorkspaceRef(values["subscriptions"], values["resourcegroups"], values["workspaces"], str(path))
        except (KeyError, IndexError):
            raise InvalidSpecError("expected /subscriptions/S/resourceGroups/G/providers/"
                                   "Microsoft.MachineLearningServices/workspaces/W", source=str(path),
                                   field="Scope") from None
        return check_ref(ref, dict.fromkeys(REF_FIELDS, "Scope"), str(path))
    values = {}
    for key in ("subscription_id", "resource_group", "workspace_name"):
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidSpecError("required: a non-empty string (the file needs subscription_id, "
                                   "resource_group and workspace_name)", source=str(path), field=key)
        values[key] = value.strip()
    return check_ref(WorkspaceRef(values["subscription_id"], values["resource_group"], values["workspace_name"],
                                  str(path)), source=str(path))


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


def _az_subscriptions(profile: Path) -> list[dict]:
    doc = _read_json(profile)
    subs = doc.get("subscriptions") if isinstance(doc, dict) else None
    if not isinstance(subs, list):
        raise InvalidSpecError("expected a 'subscriptions' list (run `az login` to rewrite it)",
                               source=str(profile), field="subscriptions")
    return [s for s in subs if isinstance(s, dict) and s.get("id")]


def az_subscription(name_or_id: str | None = None, config_dir: Path | str | None = None) -> tuple[str, str] | None:
    """The az profile's default subscription, or the one named (by name or ID) as `az --subscription`
    takes it: (its ID, the profile's path). None when the profile has no such subscription."""
    folder = Path(config_dir).expanduser() if config_dir else azure_config_dir()
    profile = folder / "azureProfile.json"
    if not profile.is_file():
        return None
    for sub in _az_subscriptions(profile):
        if (sub.get("isDefault") if name_or_id is None
                else name_or_id.lower() in (str(sub["id"]).lower(), str(sub.get("name", "")).lower())):
            return str(sub["id"]), str(profile)
    return None


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
    default = next((s for s in _az_subscriptions(profile) if s.get("isDefault")), None)
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
    ref = WorkspaceRef(str(default["id"]), group, workspace, f"az CLI defaults ({config} and {profile})")
    if workspace and not group:
        raise InvalidSpecError("workspace is set but group is not (`az configure --defaults group=NAME`)",
                               source=str(config), field="defaults.group")
    check_ref(WorkspaceRef(ref.subscription_id, None, None, ref.source), {"subscription_id": "subscriptions"},
              str(profile))
    return check_ref(ref, {"resource_group": "defaults.group", "workspace_name": "defaults.workspace"}, str(config))


def quiet_identity_logs() -> None:
    """azure-identity logs each failed credential at WARNING; with no handler anywhere, Python's
    last-resort handler prints those to stderr, over the app (and beside the CLI's own message).
    A null handler on `azure` keeps them off; our errors say what went wrong."""
    logger = logging.getLogger("azure")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def default_credential() -> Any:
    quiet_identity_logs()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass(frozen=True)
class Connector:
    """How clients reach Azure: a credential factory and extra `MLClient` keyword arguments
    (made fresh for each client). The default is DefaultAzureCredential over the network;
    tests pass a fake credential and transport (`tui.cli.main(..., connector=...)`)."""

    credential: Callable[[], Any] = default_credential
    client_kwargs: Callable[[], dict[str, Any]] = field(default=dict)


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


class AzureOpener:
    """The steps from a named workspace to an open one, each blocking (the app runs them on a
    worker): sign in (the first token), list the subscription's workspaces when none is named,
    open one (a GET of the workspace, so a wrong name or a missing role shows here, once).
    Each raises a WorkspaceError from errors.translate: NotSignedInError, AuthError,
    WorkspaceNotFoundError, NetworkError."""

    def __init__(self, ref: WorkspaceRef, *, read_only: bool = False, connector: Connector | None = None,
                 cache_dir: Path | str | None = None) -> None:
        self.ref = ref
        self.read_only = read_only
        self.connector = connector or Connector()
        self.cache_dir = cache_dir
        self._credential: Any = None

    def _translate(self, exc: Exception, ref: WorkspaceRef | None = None) -> WorkspaceError:
        from .errors import translate

        return translate(exc, workspace=(ref or self.ref).describe())

    def sign_in(self) -> None:
        load_sdk()
        quiet_identity_logs()
        if self._credential is None:
            self._credential = self.connector.credential()
        try:
            self._credential.get_token(MANAGEMENT_SCOPE)
        except Exception as exc:  # a credential raises many kinds; each becomes one the user can act on
            self._credential = None  # a retry starts afresh (after `az login`, new environment variables)
            raise self._translate(exc) from None

    def list_workspaces(self) -> list[WorkspaceRef]:
        """The workspaces of the subscription (of the resource group, when one is named), by name."""
        if self._credential is None:
            self.sign_in()
        sdk = load_sdk()
        ref = self.ref
        kwargs = {"enable_telemetry": False, "retry_total": DEFAULT_RETRY_TOTAL, **self.connector.client_kwargs()}
        client = sdk.MLClient(self._credential, ref.subscription_id, ref.resource_group, **kwargs)
        try:
            found = list(client.workspaces.list(scope="resource_group" if ref.resource_group else "subscription"))
        except Exception as exc:
            raise self._translate(exc) from None
        refs = [WorkspaceRef(ref.subscription_id, w.resource_group, w.name, ref.source) for w in found
                if getattr(w, "name", None) and getattr(w, "resource_group", None)]
        return sorted(refs, key=lambda r: (r.workspace_name.lower(), r.resource_group.lower()))

    def open(self, ref: WorkspaceRef | None = None, *, check: bool = True) -> "AzureWorkspace":
        """The workspace over a new client. `check`: sign in and GET the workspace first (the
        app); without it nothing is sent (the CLI: its first call reports what is wrong)."""
        ref = ref or self.ref
        if not ref.complete:
            raise InvalidSpecError("no workspace named: pass --workspace-name (-w) and --resource-group (-g)",
                                   source=ref.source, field="--workspace-name")
        if self._credential is None and check:
            self.sign_in()
        elif self._credential is None:
            quiet_identity_logs()
            self._credential = self.connector.credential()
        ws = open_azure_workspace(ref.subscription_id, ref.resource_group, ref.workspace_name, self._credential,
                                  read_only=self.read_only, cache_dir=self.cache_dir,
                                  **self.connector.client_kwargs())
        if not check:
            return ws
        try:
            ws.info()  # the workspace GET: not found, 403 and a dead network show here, at once
        except BaseException:
            ws.close()
            raise
        self.ref = ref
        return ws
