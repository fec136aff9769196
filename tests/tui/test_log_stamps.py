"""The log view's `t` column shows when each line was written, the same on every reopen;
where no write time is known it says the times are times seen."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.tui.conftest import run_job, text_of, wait_for
from tui.screens.logs import LogScreen
from tui.widgets.log_view import LogView
from tui.workspace.local.layout import JobLayout


pytestmark = pytest.mark.local_only("the local runner's write-time marks in log files")


def _stamp(label: str) -> float:
    """Seconds since midnight of an `HH:MM:SS.mmm` label."""
    h, m, s = label.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


async def _open_with_times(app, pilot, name: str) -> tuple[LogScreen, list[str]]:
    screen = LogScreen(name)
    app.push_screen(screen)
    await wait_for(pilot, lambda: screen.ended, what="the end of the log")
    await pilot.press("t")
    view = screen.query_one(LogView)
    return screen, [view.render_line(y).text.rstrip() for y in range(len(view.lines))]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_t_shows_when_each_line_was_written_and_a_reopen_shows_the_same(ws, app_factory, size):
    # Each line is the time the job printed it, seconds since midnight, 0.4 s apart.
    name = run_job(ws, "for i in 1 2 3 4; do date +%H:%M:%S.%N; sleep 0.4; done")
    ws.wait_for_job(name, timeout=30)
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        screen, rows = await _open_with_times(app, pilot, name)
        assert "t: time written" in text_of(screen.query_one("#log-status"))
        assert len(rows) == 4
        for row in rows:
            label, printed = row.split()
            assert -0.02 <= _stamp(label) - _stamp(printed[:15]) <= 0.2, row
        await pilot.press("escape")
        await pilot.pause(1.0)  # a time read would now be a second later
        _, again = await _open_with_times(app, pilot, name)
        assert again == rows


async def test_without_write_times_the_column_says_time_seen(ws, app_factory):
    name = run_job(ws, "echo one; echo two")
    ws.wait_for_job(name, timeout=30)
    shutil.rmtree(JobLayout.of(ws.root, name).log_times_dir)  # a job from before write times
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        before = time.time()
        screen, rows = await _open_with_times(app, pilot, name)
        status = text_of(screen.query_one("#log-status"))
        assert "t: time seen" in status and "written" not in status
        assert screen.query_one(LogView).stamps[0] >= before
        await pilot.press("t")
        assert "t: time off" in text_of(screen.query_one("#log-status"))
