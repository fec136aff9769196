"""Keep a job from changing the tool, other jobs, or the machine after it ended.

- Every job runs in a throwaway layer: a minimal venv of its own in its job folder, over the
  environment `materialise` chose. The layer sees every package installed there (PyTorch is
  never reinstalled), but the job's own `pip install` lands in the layer only: not in
  aml-tui's interpreter, and not in the next job on the same environment.
- A job's processes end with it. The runner is a child subreaper, so what the job leaves
  behind (a `setsid` daemon, a double fork) stays below the runner and is ended with the job.
  Every process started for a job carries its mark (`AML_TUI_JOB`), so when the runner itself
  died they are still found; its environment build's pip dies with the runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

JOB_MARK = "AML_TUI_JOB"
LAYER = "venv"  # the layer's folder in the job folder

# prctl(2) options (linux/prctl.h)
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def job_mark(job_dir: Path) -> str:
    """The value of AML_TUI_JOB for a job: its folder, which no other job of any workspace has."""
    return os.path.realpath(job_dir)


def make_layer(layer: Path, python: str) -> Path:
    """Create the job's layer over `python`'s environment; returns the layer's python.

    Made by hand rather than with `python -m venv` (no ensurepip, no subprocess): ~1 ms.
    """
    version, site_dirs = _base_environment(python)
    real = os.path.realpath(python)
    bindir = layer / "bin"
    site_packages = layer / "lib" / f"python{version}" / "site-packages"
    site_packages.mkdir(parents=True)
    bindir.mkdir()
    (layer / "lib64").symlink_to("lib")  # where pip looks for platlib on some Linux builds
    (layer / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(real)}\ninclude-system-site-packages = false\nversion = {version}\n")
    # A symlink to the real interpreter: Python finds the pyvenv.cfg beside the link it was run as.
    (bindir / "python").symlink_to(real)
    for alias in ("python3", f"python{version}"):
        (bindir / alias).symlink_to("python")
    # addsitedir, not a plain path: the base's own .pth files (an editable install, the cached
    # env's link to this interpreter) must work too. The base comes after the layer.
    (site_packages / "_aml_tui_base.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in site_dirs))
    # The base's bin/pip would install into the base: these shims install into the layer.
    shim = f'#!/bin/sh\nexec "{bindir / "python"}" -m pip "$@"\n'
    for name in ("pip", "pip3", f"pip{version}"):
        (bindir / name).write_text(shim)
        (bindir / name).chmod(0o700)
    return bindir / "python"


def _base_environment(python: str) -> tuple[str, list[str]]:
    """(X.Y, site-packages folders) of the environment `python` runs in."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        import site

        # This interpreter is a venv itself: its site-packages, not the system's, are the base.
        return f"{sys.version_info[0]}.{sys.version_info[1]}", [d for d in site.getsitepackages() if os.path.isdir(d)]
    out = subprocess.run(
        [python, "-I", "-c", "import site, sys; print('%d.%d' % sys.version_info[:2]); "
                             "print(*site.getsitepackages(), sep='\\n')"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    return out[0], [d for d in out[1:] if os.path.isdir(d)]


def _prctl(option: int, arg: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, arg, 0, 0, 0) == 0


def become_subreaper() -> bool:
    """Orphans below this process (daemons, double forks) become its children, not init's."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn`: the child gets SIGKILL when this process dies, even of SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded before the fork, not in the child
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def end_descendants(sig: int = signal.SIGKILL, *, rounds: int = 50) -> None:
    """Send `sig` to every process below this one, in whatever session or group.

    With SIGKILL, repeat until none is left: a process forking while we look leaves its
    children to us (we are the subreaper), and the next round ends them. The runners and
    helpers this process spawned for other jobs (`detached.SPAWNED`) and their processes are
    not the job's: they are spared.
    """
    import psutil

    from .detached import SPAWNED

    me = psutil.Process()
    for _ in range(rounds):
        alive = []
        for proc in _descendants(me, SPAWNED):
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    proc.send_signal(sig)
                    alive.append(proc)
            except psutil.Error:
                continue
        # The killed stay zombies until we exit: a wait(-1) here could take the exit status
        # that a Popen of ours is still to read.
        if not alive or sig != signal.SIGKILL:
            return
        time.sleep(0.005)


def _descendants(root, spare: set[int]) -> list:
    """Every process below `root`, leaving out the subtrees of the pids in `spare`."""
    import psutil

    found, todo = [], [root]
    while todo:
        try:
            children = todo.pop().children()
        except psutil.Error:
            continue
        for child in children:
            if child.pid not in spare:
                found.append(child)
                todo.append(child)
    return found


def reap_adopted(own: set[int]) -> None:
    """Collect the exit status of adopted orphans that ended, or they stay zombies until we
    exit. Our own children (`own`, read by their Popen) are left alone: peek, then reap."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in own:
            return
        os.waitpid(info.si_pid, os.WNOHANG)


def kill_marked(mark: str | None, *, extra: Callable[[object], bool] = lambda proc: False) -> int:
    """SIGKILL the processes carrying AML_TUI_JOB=mark, or for which `extra(proc)` is true;
    returns how many."""
    import psutil

    me = os.getpid()
    killed = 0
    for _ in range(3):  # children forked during a pass carry the mark too
        found = 0
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            try:
                if (mark is not None and proc.environ().get(JOB_MARK) == mark) or extra(proc):
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        proc.kill()
                        found += 1
            except (psutil.Error, OSError):
                continue
        killed += found
        if not found:
            break
    return killed
