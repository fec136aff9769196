"""Start our own helper processes (runners, the MLflow store set-up) detached: in a new
session, so they outlive the CLI or the app that started them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from . import files

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
# Pids this process started here. A runner schedules other jobs and so is the parent of their
# runners: when it ends its own job's processes it must spare these (and what is below them).
SPAWNED: set[int] = set()


def spawn_detached(args: list[str], *, cwd: Path, stdout: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen:
    """Run `python ARGS`. It finds `tui` through PYTHONPATH; the user's own PYTHONPATH is kept
    in AML_TUI_USER_PYTHONPATH, so a runner can hand exactly that to the job. It starts
    owner-only (files.py), the user's umask kept in AML_TUI_USER_UMASK for the same reason."""
    # A runner spawning another (the next queued job, a sweep's trial) passes on the user's
    # own PYTHONPATH, not its own, which has ours in front.
    user_path = os.environ.get("AML_TUI_USER_PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    env = {**os.environ, "AML_TUI_USER_PYTHONPATH": user_path,
           "PYTHONPATH": _PACKAGE_PARENT + os.pathsep + user_path,
           files.USER_UMASK_ENV: f"{files.user_umask():03o}"}
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, start_new_session=True, close_fds=True,
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                            umask=files.OWNER_ONLY_UMASK)
    SPAWNED.add(proc.pid)
    return proc
