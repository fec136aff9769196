"""The Azure ML backend. Importing this package imports no Azure SDK: `AzureWorkspace` and
`open_azure_workspace` load it when first used (see client.load_sdk)."""

from __future__ import annotations

from typing import Any

from .client import (
    WorkspaceRef,
    az_cli_defaults,
    find_workspace_config,
    open_azure_workspace,
    read_workspace_config,
)
from .sdk import load_sdk

__all__ = ["AzureWorkspace", "WorkspaceRef", "az_cli_defaults", "find_workspace_config", "load_sdk",
           "open_azure_workspace", "read_workspace_config"]


def __getattr__(name: str) -> Any:
    if name == "AzureWorkspace":
        from .workspace import AzureWorkspace

        return AzureWorkspace
    raise AttributeError(name)
