"""The log screen tells the truth: a finished job's log opens at its end and says the job
ended; saving asks before overwriting, creates no folder, and names the absolute path."""

from __future__ import annotations

import pytest

from tests.tui.conftest import run_job, text_of, wait_for
from tui.screens.logs import LogScreen
from tui.screens.modals import ConfirmScreen, PromptScreen
from tui.widgets.log_view import LogView


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_finished_jobs_log_opens_at_its_end_and_says_it_ended(ws, app_factory, size):
    name = run_job(ws, "seq 1 400")
    ws.wait_for_job(name, timeout=30)
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        screen = LogScreen(name)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.ended, what="the end of the log")
        view = screen.query_one(LogView)
        await wait_for(pilot, lambda: view.scroll_y == view.max_scroll_y > 0, what="the log at its end")
        # The last line drawn at the bottom: a loaded machine may paint a frame after the scroll.
        await wait_for(pilot, lambda: view.render_line(view.scrollable_content_region.height - 1).text.strip() == "400",
                       what="the last line at the bottom")
        # The status line follows on its own refresh.
        await wait_for(pilot, lambda: "ENDED (job Completed)" in text_of(screen.query_one("#log-status")),
                       what="the status saying ENDED")
        status = text_of(screen.query_one("#log-status"))
        assert "ENDED (job Completed)" in status and "FOLLOW" not in status
        await pilot.press("g")  # to the top: still ended, and it says how to get back
        status = text_of(screen.query_one("#log-status"))
        assert "ENDED" in status and "G for the end" in status and "PAUSED" not in status


async def _open_save_prompt(pilot, app, name: str, path: str) -> None:
    await pilot.press("s")
    assert isinstance(app.screen, PromptScreen)
    app.screen.query_one("#value").value = path
    await pilot.press("enter")


async def test_saving_asks_before_overwriting_and_names_the_absolute_path(ws, app_factory, tmp_path, monkeypatch):
    name = run_job(ws, "seq 1 3")
    ws.wait_for_job(name, timeout=30)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.log").write_text("precious\n")
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LogScreen(name)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.ended)

        # A relative path is written where the app runs, and the notice gives it in full.
        await _open_save_prompt(pilot, app, name, "fresh.log")
        fresh = tmp_path / "fresh.log"
        await wait_for(pilot, lambda: any(f"to {fresh}" in n.message for n in app._notifications))
        assert fresh.read_text() == "1\n2\n3\n"

        # An existing file: asked first; "keep it" leaves it alone.
        await _open_save_prompt(pilot, app, name, "out.log")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(tmp_path / "out.log") in str(app.screen.question)
        await pilot.press("n")
        await pilot.pause(0.2)
        assert (tmp_path / "out.log").read_text() == "precious\n"
        # ... and "overwrite" replaces it.
        await _open_save_prompt(pilot, app, name, "out.log")
        await pilot.press("y")
        await wait_for(pilot, lambda: (tmp_path / "out.log").read_text() == "1\n2\n3\n")

        # A folder that does not exist is not created: the user is told.
        await _open_save_prompt(pilot, app, name, "no/such/dir/x.log")
        await wait_for(pilot, lambda: any("does not exist" in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if "does not exist" in n.message)
        assert str(tmp_path / "no" / "such" / "dir") in message
        assert not (tmp_path / "no").exists()
        # A folder is not a file name.
        await _open_save_prompt(pilot, app, name, str(tmp_path))
        await wait_for(pilot, lambda: any("is a folder" in n.message for n in app._notifications))
        assert isinstance(app.screen, LogScreen)
