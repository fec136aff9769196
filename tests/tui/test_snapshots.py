"""Snapshots of the main screens (pytest-textual-snapshot; update with --snapshot-update).

Deterministic by construction: the workspace lives at a fixed path, its assets are created
through the real API while `time.time` is frozen, the app's clock is frozen 3 hours later,
and times print in UTC. Kinds whose rows hold machine-specific values (the default compute's
capacity is this machine's CPU count) are not snapshotted.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import install_mlflow_store
from tests.tui.conftest import JOB_TEMPLATE, text_of, wait_for, wait_for_workers
from tui.app import make_app
from tui.screens.logs import LogScreen
from tui.screens.main import MainScreen

SNAP_ROOT = Path("/tmp/aml-tui-snapshot-ws")
FROZEN = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SIZE = (140, 36)


@pytest.fixture
def snap_ws(mlflow_template, monkeypatch, tmp_path):
    from tui.workspace.local import LocalWorkspace

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)
    install_mlflow_store(mlflow_template, SNAP_ROOT)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: FROZEN)
    ws = LocalWorkspace(SNAP_ROOT)
    folder = tmp_path / "digits"
    folder.mkdir()
    (folder / "part-0.txt").write_text("0 1 2\n")
    ws.create_data({"name": "digits", "version": "1", "type": "uri_folder", "path": str(folder),
                    "description": "tiny digits"}, base_dir=tmp_path, source="snapshot")
    for name, image in (("tui-cpu", "python:3.11-slim"), ("tui-gpu", "nvidia/cuda:12.4-runtime")):
        ws.create_environment({"name": name, "version": "1", "image": image, "description": f"{name} image"},
                              base_dir=tmp_path, source="snapshot")
    monkeypatch.setattr(time, "time", real_time)
    yield ws
    ws.close()
    time.tzset()


def app_for(ws):
    return make_app(ws, job_template=JOB_TEMPLATE, clock=lambda: FROZEN + 3 * 3600)


def settle(*keys: str, until=None, blur: bool = False):
    """A run_before that presses keys and waits for the rows (and `until`) to arrive.

    `blur` drops the focus, so a blinking text cursor is not part of the picture.
    """

    async def run_before(pilot) -> None:
        main = pilot.app.screen_stack[0]
        await wait_for(pilot, lambda: isinstance(main, MainScreen) and bool(main.query("#table"))
                       and main.table.empty_message != "Loading…")
        await wait_for_workers(pilot)
        await pilot.press(*keys)
        await wait_for_workers(pilot)
        if until is not None:
            await wait_for(pilot, lambda: until(pilot.app))
        if blur:
            pilot.app.screen.set_focus(None)
        await pilot.pause(0.3)

    return run_before


def test_environments_table_and_detail(snap_ws, snap_compare):
    detail_ready = lambda app: "python:3.11-slim" in text_of(app.screen.query_one("#detail-body"))  # noqa: E731
    assert snap_compare(app_for(snap_ws), terminal_size=SIZE, run_before=settle("3", until=detail_ready))


def test_models_unavailable_note(snap_ws, snap_compare):
    assert snap_compare(app_for(snap_ws), terminal_size=SIZE, run_before=settle("5"))


def test_help_screen(snap_ws, snap_compare):
    assert snap_compare(app_for(snap_ws), terminal_size=SIZE, run_before=settle("question_mark"))


def test_submit_form(snap_ws, snap_compare):
    def valid(app) -> bool:
        general = app.screen.query("#error-general")
        return bool(general) and "valid" in text_of(general.first())

    assert snap_compare(app_for(snap_ws), terminal_size=SIZE, run_before=settle("n", "enter", until=valid, blur=True))


def test_log_screen_of_a_finished_job(snap_ws, snap_compare):
    name = snap_ws.create_job({"name": "snapshot_job", "command": "printf 'epoch 1 loss 0.50\\nepoch 2 loss 0.25\\n'"},
                              base_dir=SNAP_ROOT, source="snapshot").name
    snap_ws.wait_for_job(name, timeout=30)

    async def run_before(pilot) -> None:
        screen = LogScreen(name)
        pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.ended)
        await pilot.pause(0.3)

    assert snap_compare(app_for(snap_ws), terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def jobs_ws(snap_ws, monkeypatch):
    """snap_ws plus 30 finished jobs (Completed, Failed, Canceled) created at the frozen time."""
    from tui.workspace.local.bench import fill_jobs

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: FROZEN)
    fill_jobs(snap_ws, 30)
    monkeypatch.setattr(time, "time", real_time)
    return snap_ws


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_jobs_table_fits_the_terminal(jobs_ws, snap_compare, size):
    """The sidebar folds below 100 columns, statuses are whole and coloured, the footer keeps ? and q."""
    detail_ready = lambda app: "bench_job_000029" in text_of(app.screen.query_one("#detail-body"))  # noqa: E731
    assert snap_compare(app_for(jobs_ws), terminal_size=size, run_before=settle(until=detail_ready))


def test_sort_picker(jobs_ws, snap_compare):
    assert snap_compare(app_for(jobs_ws), terminal_size=(80, 24), run_before=settle("o"))
