"""80x24 and colour: the sidebar folds, STATUS is never cut, the footer keeps `?` and `q`,
Canceled and Failed have colours of their own, and times have one format."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.conftest import wait_for, wait_for_workers
from tests.tui.test_jobs import main_table
from tests.tui.test_table import JOBS, job
from tui.columns import STATUS_STYLES, format_span
from tui.kinds import build_rows
from tui.widgets.asset_table import AssetTable
from tui.widgets.sidebar import KindList

SIZES = [(80, 24), (160, 45)]


def _fill(ws, n: int = 30) -> None:
    from tui.workspace.local.bench import fill_jobs

    fill_jobs(ws, n)


@pytest.mark.local_only("fills the local catalog directly")
@pytest.mark.parametrize("size", SIZES)
async def test_main_screen_fits_the_terminal(ws, app_factory, size):
    _fill(ws)
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        table = main_table(app)
        await wait_for(pilot, lambda: table.total_rows == 30)
        await wait_for_workers(pilot)
        width = size[0]
        sidebar = app.screen.query_one(KindList)
        if width < 100:  # folded to its numbers
            assert sidebar.folded and sidebar.size.width <= 5
            assert str(sidebar.get_option_at_index(0).prompt) == "1"
        else:
            assert not sidebar.folded and "Jobs" in str(sidebar.get_option_at_index(0).prompt)
        # Every status on screen is whole, and no row is wider than the table.
        shown = table.scrollable_content_region.height - 1
        for y, row in enumerate(table.rows[:shown], start=1):
            line = table.render_line(y).text
            assert f" {row.asset.status} " in line, line
            assert table.virtual_size.width <= table.scrollable_content_region.width
        header = table.render_line(0).text
        assert "NAME" in header and "STATUS" in header and "AGE" in header
        if width >= 160:
            assert "EXPERIMENT" in header and "COMPUTE" in header and "DISPLAY NAME" in header
        # `?` and `q` are in the footer, whole, and nothing covers them.
        for key in ("question_mark", "q"):
            footer_key = next(k for k in app.screen.query("FooterKey") if k.key == key)
            region = footer_key.region
            assert region.width > 0 and region.right <= width, (key, region)
            for x in range(region.x, region.right):
                widget, _ = app.screen.get_widget_at(x, region.y)
                assert widget is footer_key, (key, x, widget)
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"


async def test_the_status_column_gets_its_width_first(ws, app_factory):
    """At 80 columns the long columns shrink or hide; STATUS keeps "CancelRequested" whole."""
    records = [job(f"a_rather_long_job_name_{i:03d}", status=s) for i, s in
               enumerate(("Completed", "CancelRequested", "Failed", "Canceled"))]

    class Narrow(App):
        def compose(self) -> ComposeResult:
            yield AssetTable(clock=lambda: 2000.0)

        def on_mount(self) -> None:
            table = self.query_one(AssetTable)
            table.configure(JOBS.columns)
            table.set_rows(build_rows(JOBS, records, 2000.0))

    app = Narrow()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(AssetTable)
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(1, 5)]
        for line, record in zip(lines, records):
            assert f" {record.status} " in line and len(line.rstrip()) <= 60, line
        assert "…" in lines[0]  # the name gave up cells, the status did not
        await pilot.resize_terminal(160, 10)
        await pilot.pause()
        assert "a_rather_long_job_name_000 " in table.render_line(1).text


def _cell_colors(table: AssetTable, y: int) -> dict[str, object]:
    """text of each styled segment -> its foreground colour."""
    return {seg.text.strip(): seg.style.color for seg in table.render_line(y) if seg.text.strip()}


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord"])
async def test_canceled_and_failed_have_colours_of_their_own(theme):
    statuses = ["Failed", "Canceled", "Completed"]

    class Colours(App):
        def compose(self) -> ComposeResult:
            yield AssetTable(clock=lambda: 2000.0)

        def on_mount(self) -> None:
            self.theme = theme
            table = self.query_one(AssetTable)
            table.configure(JOBS.columns)
            table.set_rows(build_rows(JOBS, [job(f"j{i}", status=s) for i, s in enumerate(statuses)], 2000.0))

    app = Colours()
    async with app.run_test(size=(160, 10)) as pilot:
        table = app.query_one(AssetTable)
        table.cursor = 2  # the cursor row paints in its own colours
        await pilot.pause()
        failed, canceled = _cell_colors(table, 1), _cell_colors(table, 2)
        plain = next(color for text, color in failed.items() if text.startswith("j0"))
        assert failed["Failed"] != plain and canceled["Canceled"] != plain
        assert failed["Failed"] != canceled["Canceled"]
        assert STATUS_STYLES["Canceled"] != STATUS_STYLES["Queued"]  # no longer "muted" like plain text


def test_one_format_for_ages_and_durations():
    assert [format_span(s) for s in (None, 0, 42, 75, 3599, 3600, 7440, 86400 + 5 * 3600)] == \
        ["", "0s", "42s", "1m15s", "59m59s", "1h00m", "2h04m", "1d05h"]


async def test_a_75_second_duration_and_age_read_the_same():
    import dataclasses

    record = dataclasses.replace(job("same", created=1000.0), end_time=1075.0)  # ran 75 s, 75 s old

    class Same(App):
        def compose(self) -> ComposeResult:
            yield AssetTable(clock=lambda: 1075.0)

        def on_mount(self) -> None:
            table = self.query_one(AssetTable)
            table.configure(JOBS.columns)
            table.set_rows(build_rows(JOBS, [record], 1075.0))

    app = Same()
    async with app.run_test(size=(160, 6)) as pilot:
        await pilot.pause()
        line = app.query_one(AssetTable).render_line(1).text
        assert line.count("1m15s") == 2, line  # DURATION and AGE


def _distance(a, b) -> float:
    return sum((x - y) ** 2 for x, y in zip(a.rgb, b.rgb)) ** 0.5


@pytest.mark.local_only("the form's template is a local job (compute azureml:local, no environment)")
@pytest.mark.parametrize("size", SIZES)
async def test_the_focused_field_of_the_form_is_plainly_visible(ws, app_factory, size):
    from tui.screens.submit import SubmitScreen

    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await pilot.press("n", "enter")
        screen = app.screen
        assert isinstance(screen, SubmitScreen)
        await wait_for(pilot, lambda: bool(screen.query("#field-code")), what="the form")
        focused, other = screen.query_one("#field-code"), screen.query_one("#field-display_name")
        focused.focus()
        await pilot.pause(0.1)
        # Was 235 on 234 on 233 (a distance of ~10): now a tint of the theme's accent.
        assert _distance(focused.background_colors[1], other.background_colors[1]) > 40
        row, other_row = focused.parent, other.parent
        assert row.styles.border_left[0] == "outer" and other_row.styles.border_left[0] != "outer"
        label, other_label = row.query_one(".field-label"), other_row.query_one(".field-label")
        assert label.rich_style.color != other_label.rich_style.color and label.rich_style.bold
