"""The local workspace: Azure ML's job lifecycle on this machine (see DESIGN.md)."""

__all__ = ["LocalWorkspace", "default_root"]


def __getattr__(name: str):
    # Lazy: a job's runner imports modules of this package and needs no LocalWorkspace.
    if name in __all__:
        from . import workspace

        return getattr(workspace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
