"""The local workspace: Azure ML's job lifecycle on this machine (see DESIGN.md)."""

from .workspace import LocalWorkspace, default_root

__all__ = ["LocalWorkspace", "default_root"]
