"""What the screen says is true: a filtered submit shows the new job, an empty filter says so,
a failed job says why, the YAML pop-up has its own keys."""

from __future__ import annotations

import pytest

from tests.tui.conftest import run_job, text_of, wait_for, wait_for_workers
from tests.tui.test_jobs import main_table
from tui.screens.main import MainScreen
from tui.screens.modals import TextScreen
from tui.screens.submit import SubmitScreen


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
async def test_submit_while_filtered_shows_and_selects_the_new_job(ws, app_factory):
    old = run_job(ws, "echo old", display_name="old-one")
    ws.wait_for_job(old, timeout=30)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: main_table(app).cursor_key == old)
        await pilot.press("slash", *"old-one", "enter")
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert [r.key for r in main_table(app).rows] == [old]
        await pilot.press("n", "enter")
        screen = app.screen
        assert isinstance(screen, SubmitScreen)
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        new = next(j.name for j in ws.list_jobs().items if j.name != old)
        await wait_for(pilot, lambda: main_table(app).cursor_key == new, what="the new job selected")
        assert main_table(app).filter_text == ""
        assert any(new in n.message and "Filter cleared" in n.message for n in app._notifications)


async def test_a_filter_that_matches_nothing_says_so(ws, app_factory):
    for i in range(3):
        run_job(ws, "true", display_name=f"job-{i}")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main_table(app).total_rows == 3)
        await pilot.press("slash", *"zzz", "enter")
        await wait_for_workers(pilot)
        table = main_table(app)
        assert table.rows == []
        assert "Nothing matches 'zzz' (0 of 3)" in table.shown_empty_message
        assert "No jobs yet" not in table.shown_empty_message
        assert "0 of 3" in text_of(main.query_one("#table-title"))


@pytest.mark.local_only("the exit code in the error comes from the local runner")
async def test_a_failed_jobs_details_show_why(ws, app_factory):
    name = run_job(ws, "echo loading data; echo 'KeyError: lr' >&2; exit 2")
    ws.wait_for_job(name, timeout=30)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main_table(app).cursor_key == name)
        await wait_for(pilot, lambda: "KeyError" in text_of(main.query_one("#detail-body")), what="log tail")
        detail = text_of(main.query_one("#detail-body"))
        assert "exited with code 2" in detail and "loading data" in detail


async def test_the_yaml_popup_has_a_footer(ws, app_factory):
    name = run_job(ws, "true")
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: main_table(app).cursor_key == name)
        await pilot.press("y")
        assert isinstance(app.screen, TextScreen)
        await pilot.pause(0.2)
        assert "Close" in [k.description for k in app.screen.query("FooterKey")]


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
async def test_the_form_refuses_a_value_of_the_wrong_type_like_set(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n", "enter")
        screen = app.screen
        assert isinstance(screen, SubmitScreen)
        await wait_for(pilot, lambda: bool(screen.query("#field-inputs-epochs")), what="form")
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        screen.query_one("#field-inputs-epochs").value = "ten"
        await wait_for(pilot, lambda: screen.query_one("#error-inputs-epochs").display, what="error")
        assert "an integer" in text_of(screen.query_one("#error-inputs-epochs"))
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert isinstance(app.screen, SubmitScreen) and ws.list_jobs().items == []
        screen.query_one("#field-inputs-epochs").value = "4"
        await wait_for(pilot, lambda: "valid" in text_of(screen.query_one("#error-general")))
        assert "epochs: 4" in text_of(screen.query_one("#form-preview"))
