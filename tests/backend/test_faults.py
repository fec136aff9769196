"""Faults lose nothing and say what happened: a catalog that cannot be written, an empty or
corrupt catalog, `workspace check` / `repair`, a CLI killed mid-create, a cold workspace."""

from __future__ import annotations

import os
import subprocess
import threading
import time



# ---------------------------------------------------------------------------- 5. cold workspace


def test_concurrent_opens_of_a_cold_workspace_start_one_store_helper(tmp_path, monkeypatch):
    from tui.workspace.local import LocalWorkspace, tracking

    spawned = []

    class Helper:
        pid = os.getpid()  # alive for the whole test: its marker stays fresh

    def spawn(args, *, cwd, stdout=None):
        spawned.append(args)
        time.sleep(0.05)  # a real spawn takes a while: the window the others race through
        return Helper()

    monkeypatch.setattr(tracking, "spawn_detached", spawn)
    root = tmp_path / "cold"
    barrier = threading.Barrier(20)
    errors = []

    def open_one():
        try:
            barrier.wait()
            LocalWorkspace(root).close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(spawned) == 1


def test_the_store_helper_replaces_a_dead_ones_marker_and_cleans_up(tmp_path):
    from tui.workspace.local import LocalWorkspace, tracking

    root = tmp_path / "cold"
    root.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    marker = root / "mlflow.db.preparing"
    marker.write_text(str(dead.pid))  # a helper that died mid-way
    LocalWorkspace(root).close()
    deadline = time.time() + 90
    while time.time() < deadline and not tracking._store_ready(root / "mlflow.db"):
        time.sleep(0.2)
    assert tracking._store_ready(root / "mlflow.db")
    while time.time() < deadline and marker.exists():
        time.sleep(0.05)
    assert not marker.exists()
