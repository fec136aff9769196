"""Sort by any column in one key (`o`), or by clicking a header; each kind keeps its sort in
the config file's [sort] table, written without disturbing the rest of the file."""

from __future__ import annotations

import stat

import pytest

from tests.conftest import run_cli, write
from tests.tui.conftest import text_of, wait_for, wait_for_workers
from tests.tui.test_jobs import main_table
from tui.config import load_config, save_sort
from tui.columns import sort_key
from tui.screens.main import SortPicker
from tui.workspace.base import AssetKind, InvalidSpecError

CONFIG = """\
# my settings
[ui]
refresh_interval = 2   # seconds

[sort]
data = "NAME"

[keymap]
"jobs.logs" = "l"
"""


def statuses(app) -> list[str]:
    return [r.asset.status for r in main_table(app).rows]


def header_x(table, title: str) -> int:
    """The screen column of a header's first cell."""
    from tui.widgets.asset_table import GAP

    x = 1
    for column, width in zip(table.columns, table._widths):
        if column.title == title:
            return x
        x += width + GAP if width else 0
    raise AssertionError(title)


@pytest.mark.local_only("fills the local catalog directly")
async def test_pick_a_column_reverse_it_and_keep_it_in_the_config(ws, app_factory, tmp_path):
    from tui.workspace.local.bench import fill_jobs

    fill_jobs(ws, 30)
    path = write(tmp_path / "config.toml", CONFIG)
    app = app_factory(config=load_config(path))
    async with app.run_test(size=(160, 45)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main_table(app).total_rows == 30)
        await pilot.press("o")
        assert isinstance(app.screen, SortPicker)
        await pilot.press("down", "down", "down", "enter")  # as loaded, NAME, DISPLAY NAME, STATUS
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert statuses(app) == sorted(statuses(app))
        assert "sort: STATUS ↑" in text_of(main.query_one("#table-title"))
        await wait_for(pilot, lambda: 'jobs = "STATUS"' in path.read_text(), what="the sort saved")
        await pilot.press("o", "enter")  # the current column, picked again: reversed
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert statuses(app) == sorted(statuses(app), reverse=True)
        await wait_for(pilot, lambda: 'jobs = "-STATUS"' in path.read_text())
        # The rest of the file is as it was; the file is the owner's only.
        text = path.read_text()
        assert text.startswith("# my settings\n[ui]\nrefresh_interval = 2   # seconds\n")
        assert '[keymap]\n"jobs.logs" = "l"\n' in text and 'data = "NAME"' in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_config(path).sort == {"jobs": "-STATUS", "data": "NAME"}

        # A click on a header sorts by it; a second click reverses.
        table = main_table(app)
        x = header_x(table, "DURATION")
        await pilot.click("#table", offset=(x + 1, 0))
        await wait_for_workers(pilot)
        durations = [sort_key(r.asset.duration()) for r in table.rows]
        assert table.sort_description() == "DURATION ↑" and durations == sorted(durations)
        await pilot.click("#table", offset=(x + 1, 0))
        assert table.sort_description() == "DURATION ↓"
        await wait_for(pilot, lambda: 'jobs = "-DURATION"' in path.read_text())
        # Each kind keeps its own sort.
        await pilot.press("2")
        await wait_for_workers(pilot)
        assert main_table(app).sort_description() == "NAME ↑"
        await pilot.press("1")
        await wait_for_workers(pilot)
        assert main_table(app).sort_description() == "DURATION ↓"

    # A new session starts with the saved sort.
    app = app_factory(config=load_config(path))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: main_table(app).total_rows == 30)
        assert main_table(app).sort_description() == "DURATION ↓"


async def test_a_sort_on_no_such_column_is_a_warning(ws, app_factory, tmp_path):
    path = write(tmp_path / "config.toml", '[sort]\njobs = "-LOSS"\n')
    app = app_factory(config=load_config(path))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_workers(pilot)
        assert any("sort.jobs" in n.message and "'LOSS'" in n.message and "DURATION" in n.message
                   for n in app._notifications)
        assert main_table(app).sort_description() == "newest first"


@pytest.mark.parametrize("text, field", [
    ('[sort]\ncolours = "NAME"\n', "sort.colours"),
    ("[sort]\njobs = 3\n", "sort.jobs"),
    ('[sort]\njobs = "--NAME"\n', "sort.jobs"),
    ('[sort]\njobs = ""\n', "sort.jobs"),
])
def test_a_bad_sort_is_named_and_exits_2(tmp_path, text, field):
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(InvalidSpecError) as err:
        load_config(path)
    assert err.value.field == field and err.value.source == str(path)
    proc = run_cli("config", "show", env={"AML_TUI_CONFIG": str(path)})
    assert proc.returncode == 2 and field in proc.stderr


def test_save_sort_writes_only_its_table(tmp_path):
    path = tmp_path / "new" / "config.toml"
    save_sort(path, {"jobs": "-DURATION"})  # no file (nor folder) yet
    assert path.read_text() == '[sort]\njobs = "-DURATION"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text('[sort]\njobs = "NAME"\n# kept\n\n[ui]\ntheme = "nord"\n')
    save_sort(path, {"jobs": "STATUS", "data": "-AGE"})
    assert path.read_text() == '[sort]\njobs = "STATUS"\ndata = "-AGE"\n\n[ui]\ntheme = "nord"\n'
    save_sort(path, {})
    assert path.read_text() == '[ui]\ntheme = "nord"\n'
    # A [sort] spelled as dotted keys is not this writer's to edit: the file stays as it was.
    path.write_text('sort.jobs = "NAME"\n')
    with pytest.raises(InvalidSpecError, match="not one plain table"):
        save_sort(path, {"jobs": "STATUS"})
    assert path.read_text() == 'sort.jobs = "NAME"\n'
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary file left
    with pytest.raises(InvalidSpecError):
        save_sort(path, {"jobs": 'NAME"\n[ui]\ntheme = "x'})  # no injection through a value
    assert AssetKind.JOBS.value == "jobs"
