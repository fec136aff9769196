"""The lazy import of azure-ai-ml, with its stderr logging removed.

`import tui.workspace.azure` imports none of the SDK; `load_sdk()` does (about 1.7 s), on a
worker. The SDK attaches `StreamHandler(sys.stderr)` to its loggers, which in a TUI writes
over the screen ("experimental class" notices...): those handlers are swapped for null ones
right after the import, and for the submodules the SDK imports later too.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

DEFAULT_RETRY_TOTAL = 3  # the SDK's default policy retries 10 times
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
_sdk_lock = threading.Lock()


def _quiet_logger(logger: logging.Logger, terminator: str = "\n") -> None:
    """What the SDK's `initialize_logger_info` does, without the stderr handler."""
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def quiet_sdk_loggers() -> None:
    """Remove every stream handler the SDK attached to an `azure.*` logger."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not name.startswith("azure") or not isinstance(logger, logging.Logger):
            continue
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
                _quiet_logger(logger)


def load_sdk() -> Any:
    """Import `azure.ai.ml` (about 1.7 s) with its loggers silenced; returns the module."""
    with _sdk_lock:
        import azure.ai.ml
        from azure.ai.ml._utils import _logger_utils

        # Submodules imported later call this at their import: keep them off stderr too.
        _logger_utils.initialize_logger_info = _quiet_logger
        quiet_sdk_loggers()
        return azure.ai.ml
