"""Everything the local workspace creates is owner-only: folders 0700, files 0600.

run.json holds a job's secret environment variables and the catalog and logs may echo them,
so no file may be readable by others even for a moment: the mode comes from the umask at
creation, never from a chmod afterwards. The umask is process-wide, so every process that
writes into the workspace sets it early: the CLI and the app when they open the workspace
(their other files, a downloaded output or a saved log, are owner-only too, which suits
files that may hold secrets), our detached helpers (runners, the MLflow store set-up) from
their very start, and what they start in turn (pip builds) inherits it.

A job's own processes get the user's umask back (AML_TUI_USER_UMASK carries it to the
runner): what a job writes, in ./outputs or anywhere else, is as the user expects outside
aml-tui. Inside the workspace it is still private: the folders above it are 0700.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
USER_UMASK_ENV = "AML_TUI_USER_UMASK"

_user_umask: int | None = None


def owner_only() -> None:
    """From now on this process creates folders 0700 and files 0600."""
    global _user_umask
    previous = os.umask(OWNER_ONLY_UMASK)
    if _user_umask is None:
        inherited = os.environ.get(USER_UMASK_ENV)
        _user_umask = int(inherited, 8) if inherited else previous


def user_umask() -> int:
    """The umask the user started aml-tui with, for the job's own processes."""
    if _user_umask is not None:
        return _user_umask
    inherited = os.environ.get(USER_UMASK_ENV)
    if inherited:
        return int(inherited, 8)
    return _current_umask()


def _current_umask() -> int:
    try:  # Linux says it without changing it (setting it to read it races with threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(OWNER_ONLY_UMASK)
    os.umask(mask)
    return mask


def copy_file(src: Path, dst: Path) -> None:
    """Copy a file as the umask allows (shutil.copy2 would give it the source's mode, 0644 for
    most code), keeping its times and whether its owner may execute it."""
    shutil.copyfile(src, dst)
    st = os.stat(src)
    if st.st_mode & stat.S_IXUSR:
        os.chmod(dst, os.stat(dst).st_mode | stat.S_IXUSR)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def make_private(folder: Path) -> None:
    """Take group and others' bits off a finished venv: venv and pip chmod their scripts
    0644/0755 themselves, whatever the umask. Those hold no secrets and sit below 0700
    folders, but one rule for every file of the workspace is simpler to check."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if mode & 0o077 and not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & ~0o077)
