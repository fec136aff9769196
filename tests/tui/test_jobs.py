"""Jobs: live status, logs following a real local job, submit (form, file, clone), cancel,
read-only, and failures that must not crash the app."""

from __future__ import annotations

import pytest

from tests.tui.conftest import JOB_TEMPLATE, run_job, text_of, wait_for
from tui.screens.logs import LogScreen
from tui.screens.main import MainScreen
from tui.screens.modals import ConfirmScreen, PromptScreen
from tui.screens.submit import SubmitScreen
from tui.widgets.asset_table import AssetTable
from tui.widgets.log_view import LogView
from tui.workspace.base import ACTIVE_STATUSES

THREE_LINES = "for i in 1 2 3; do echo line $i; sleep 0.2; done"


def main_table(app) -> AssetTable:
    return app.screen_stack[0].query_one(AssetTable)


def row_of(app, name: str):
    return next((r for r in main_table(app).rows if r.key == name), None)


@pytest.mark.local_only("asserts the local compute")
async def test_job_row_goes_live_to_completed_and_the_log_follows(ws, app_factory):
    name = run_job(ws, THREE_LINES, display_name="three", experiment_name="tui")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: row_of(app, name) is not None, what="job row")
        row = row_of(app, name)
        assert row.cells[1] == "three" and row.cells[4] == "tui" and row.cells[5] == "local"
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
        view = app.screen.query_one(LogView)
        await wait_for(pilot, lambda: app.screen.ended, what="end of the job's log")
        assert view.lines == ["line 1", "line 2", "line 3"]
        assert app.screen.file == "user_logs/std_log.txt"
        assert app.screen.status == "Completed"
        # Back on the table the auto-refresh has caught the terminal status, coloured.
        await pilot.press("escape")
        await wait_for(pilot, lambda: row_of(app, name).asset.status == "Completed", what="Completed row")
        assert row_of(app, name).styles[2] == "success"
        assert row_of(app, name).cells[6].endswith("s")  # a duration


async def test_log_view_keys_follow_wrap_timestamps_and_files(ws, app_factory):
    # Still running: following and pausing are about lines yet to come (an ended job's log says ENDED).
    name = run_job(ws, "seq 1 400; echo " + "x" * 300 + "; sleep 60")
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LogScreen(name)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and screen.view.total_lines == 401)
        view = screen.view
        # At the end, also once the long line's scrollbar has taken a row.
        await wait_for(pilot, lambda: view.scroll_y == view.max_scroll_y > 0 and view.show_horizontal_scrollbar,
                       what="the end of the log")
        assert view.follow
        await pilot.press("up")  # scrolling up pauses following
        assert not view.follow
        assert "PAUSED" in text_of(screen.query_one("#log-status"))
        view.append(["late 1", "late 2"])  # as the tail would
        await pilot.pause()
        assert view.new_lines == 2
        assert "2 new lines" in text_of(screen.query_one("#log-status"))
        await pilot.press("f")
        assert view.follow and view.new_lines == 0
        rows = view.virtual_size.height
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height > rows  # the long line wraps
        await pilot.press("t")
        assert view.timestamps
        strip = view.render_line(0)
        assert strip.text[2] == ":" and strip.text[5] == ":"  # HH:MM:SS.mmm prefix
        files = [f.name for f in screen.files]
        await pilot.press("right_square_bracket")
        assert screen.file == files[(files.index("user_logs/std_log.txt") + 1) % len(files)]
        await pilot.press("left_square_bracket")
        assert screen.file == "user_logs/std_log.txt"
    ws.cancel_job(name)


async def test_log_search_and_save_cover_the_whole_file(ws, app_factory, tmp_path, monkeypatch):
    name = run_job(ws, "seq 1 5000")
    ws.wait_for_job(name, timeout=30)
    monkeypatch.chdir(tmp_path)
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LogScreen(name, max_lines=1000)  # a small buffer: most of the file is off it
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.ended)
        view = screen.query_one(LogView)
        assert view.total_lines == 5000 and len(view.lines) <= 1100 and view.lines[-1] == "5000"
        await pilot.press("slash", *"/^42$/", "enter")
        await wait_for(pilot, lambda: view.matches == [41], what="search result")
        # Line 42 left the buffer: the user is told, with the line.
        await wait_for(pilot, lambda: any("line 42" in n.message for n in app._notifications))
        await pilot.press("slash", "ctrl+u", *"/^499\\d?$/", "enter")
        await wait_for(pilot, lambda: len(view.matches) == 11)  # 499, 4990..4999
        assert view.match_index is not None and view.matches[view.match_index] >= view.first_lineno
        first = view.match_index
        await pilot.press("n")
        assert view.match_index == (first + 1) % 11
        await pilot.press("N")
        assert view.match_index == first
        await pilot.press("s")
        assert isinstance(app.screen, PromptScreen)
        default = app.screen.query_one("#value").value
        assert default == f"./{name}-std_log.log"
        await pilot.press("enter")
        saved = tmp_path / f"{name}-std_log.log"
        await wait_for(pilot, lambda: saved.exists() and saved.read_text().count("\n") == 5000)
        assert saved.read_text().splitlines()[:2] == ["1", "2"]


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
async def test_submit_form_prefilled_validates_inline_and_selects_the_new_job(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n", "enter")  # the chooser: a command job
        assert isinstance(app.screen, SubmitScreen)
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.query("#field-inputs-epochs")), what="form")
        assert screen.query_one("#field-display_name").value == "tui-train"
        assert screen.query_one("#field-inputs-lr").value == "0.5"
        assert screen.query_one("#field-compute").value == "azureml:local"
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        assert "epochs: 2" in text_of(screen.query_one("#form-preview"))
        # A bad value: the validator's message shows under the field it names.
        screen.query_one("#field-inputs-epochs").value = "ten"
        screen.query_one("#field-code").value = "./no-such-folder"
        await wait_for(pilot, lambda: "✗" in text_of(screen.query_one("#error-general")), what="error")
        errors = {w.id: text_of(w) for w in screen.query(".field-error") if w.display}
        assert any(k in ("error-code", "error-inputs-epochs") for k in errors), errors
        await pilot.press("ctrl+s")  # refused by the validator: nothing is created
        await pilot.pause(0.5)
        assert isinstance(app.screen, SubmitScreen) and app.workspace.list_jobs().items == []
        screen.query_one("#field-code").value = "./src"
        screen.query_one("#field-inputs-epochs").value = "3"
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back to the table")
        jobs = app.workspace.list_jobs().items
        assert len(jobs) == 1 and jobs[0].get("inputs.epochs") == 3
        await wait_for(pilot, lambda: main_table(app).cursor_key == jobs[0].name, what="new job selected")
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen) and app.screen.job == jobs[0].name
        await wait_for(pilot, lambda: app.screen.ended)
        assert app.screen.query_one(LogView).lines == ["epoch 1/3 lr=0.5", "epoch 2/3 lr=0.5", "epoch 3/3 lr=0.5"]


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
async def test_submit_from_yaml_file_with_overrides(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n", "enter")
        screen = app.screen
        screen.query_one("#submit-tabs").active = "tab-file"
        await pilot.pause()
        assert screen.query_one("#file-path").value == str(JOB_TEMPLATE)
        screen.query_one("#file-overrides").value = "code=./missing"
        await wait_for(pilot, lambda: "code: " in text_of(screen.query_one("#error-file")), what="error")
        screen.query_one("#file-overrides").value = "inputs.epochs=1 display_name=from-file"
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        (job,) = app.workspace.list_jobs().items
        assert job.display_name == "from-file" and job.get("inputs.epochs") == 1


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
async def test_clone_prefills_the_form_from_a_job(ws, app_factory):
    name = run_job(ws, "echo cloned ${{inputs.n}}", inputs={"n": 7}, display_name="orig", experiment_name="exp")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: main_table(app).cursor_key == name)
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, SubmitScreen)
        await wait_for(pilot, lambda: bool(screen.query("#field-inputs-n")))
        assert screen.query_one("#field-display_name").value == "orig (clone)"
        assert screen.query_one("#field-experiment_name").value == "exp"
        assert screen.query_one("#field-inputs-n").value == "7"
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and len(app.workspace.list_jobs().items) == 2)
        clone = app.workspace.list_jobs().items[0]
        assert clone.name != name and clone.get("inputs.n") == 7


async def test_cancel_asks_first(ws, app_factory):
    name = run_job(ws, "sleep 30")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: row_of(app, name) is not None)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep it running
        assert isinstance(app.screen, MainScreen)
        assert app.workspace.get_job(name).status in ACTIVE_STATUSES
        await pilot.press("c")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.workspace.get_job(name).status in ("CancelRequested", "Canceled"))
        await wait_for(pilot, lambda: row_of(app, name).asset.status in ("CancelRequested", "Canceled"))
    ws.wait_for_job(name, timeout=30)
    assert ws.get_job(name).status == "Canceled"


async def test_failures_are_notifications_not_crashes(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(LogScreen("no_such_job"))
        await wait_for(pilot, lambda: any("not found" in n.message for n in app._notifications))
        assert app.is_running
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pytest.mark.local_only("breaks the local workspace's folder; tests/azure covers network down")
async def test_unreachable_backend_is_a_banner_with_retry(ws, app_factory):
    ws.close()
    for suffix in ("-wal", "-shm"):
        (ws.root / f"catalog.db{suffix}").unlink(missing_ok=True)
    (ws.root / "catalog.db").write_bytes(b"not a database" * 100)  # every call now fails
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        banner = app.screen.query_one("#banner")
        await wait_for(pilot, lambda: banner.display, what="banner")
        assert "Cannot reach the workspace" in text_of(banner) and "press r to retry" in text_of(banner)
        await pilot.press("r")  # retrying keeps the app alive and the banner up
        await pilot.pause(0.3)
        assert app.is_running and banner.display
