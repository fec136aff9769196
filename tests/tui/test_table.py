"""The windowed table on its own, and on 10,000 real job records."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.conftest import wait_for, wait_for_workers
from tui.kinds import KINDS, build_rows
from tui.widgets.asset_table import AssetTable
from tui.workspace.base import AssetKind, Job

JOBS = KINDS[AssetKind.JOBS]


pytestmark = pytest.mark.local_only("fills the local catalog directly")


def job(name: str, *, status: str = "Completed", type: str = "command", parent: str | None = None,
        created: float = 1000.0) -> Job:
    """A job record as a backend returns it (the table only reads records)."""
    return Job(AssetKind.JOBS, name, None, {"name": name, "status": status}, status=status, type=type,
               display_name=name.upper(), experiment_name="exp", compute="local", created_at=created,
               start_time=created, end_time=None if status == "Running" else created + 5,
               parent_job_name=parent)


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield AssetTable(clock=lambda: 2000.0)

    def on_mount(self) -> None:
        self.query_one(AssetTable).configure(JOBS.columns)


async def test_sweep_trials_show_under_their_parent_when_expanded():
    app = TableApp()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(AssetTable)
        table.set_rows(build_rows(JOBS, [job("sweep_a", status="Running", type="sweep"), job("plain")], 2000.0))
        assert [r.key for r in table.rows] == ["sweep_a", "plain"]
        assert table.render_line(1).text.lstrip().startswith("▸ sweep_a")
        trials = build_rows(JOBS, [job("trial_2", parent="sweep_a"), job("trial_1", parent="sweep_a")], 2000.0,
                            depth=1)
        table.set_children("sweep_a", trials)
        assert [r.key for r in table.rows] == ["sweep_a", "plain"]  # collapsed
        assert table.toggle_expanded("sweep_a")
        assert [r.key for r in table.rows] == ["sweep_a", "trial_2", "trial_1", "plain"]
        assert table.render_line(1).text.lstrip().startswith("▾ sweep_a")
        assert table.render_line(2).text.startswith("  └ trial_2")
        # Sorting orders parents; trials stay under theirs, sorted the same way.
        table.action_cycle_sort()  # NAME ↑
        assert [r.key for r in table.rows] == ["plain", "sweep_a", "trial_1", "trial_2"]
        # A running job's duration is live: formatted from the clock at render time.
        table.clock = lambda: 1065.0  # 65 s after it started
        assert "1m05s" in table.render_line(2).text
        await pilot.pause()


async def test_ages_move_with_the_clock_on_every_row():
    app = TableApp()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(AssetTable)
        table.set_rows(build_rows(JOBS, [job("finished", created=1000.0)], 1000.0))
        assert table.render_line(1).text.rstrip().endswith("16m40s")  # the table's clock says 2000.0, not 1000.0
        table.clock = lambda: 1000.0 + 3 * 3600
        assert table.render_line(1).text.rstrip().endswith("3h00m")  # a finished job ages too
        await pilot.pause()


async def test_ten_thousand_jobs_stay_keyed_sorted_and_filterable(ws, app_factory):
    from tui.workspace.local.bench import fill_jobs

    fill_jobs(ws, 10_000)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.query_one(AssetTable)
        await wait_for(pilot, lambda: table.total_rows == 10_000, timeout=30, what="10,000 rows")
        assert table.rows[0].key == "bench_job_009999"  # newest first
        await pilot.press("end")  # the last page is fetched behind the cursor
        await wait_for(pilot, lambda: table.cursor_key == "bench_job_000000", what="the last row")
        await pilot.press("s")  # by name: the cursor stays on its job, now first
        await wait_for(pilot, lambda: table.cursor == 0 and table.cursor_key == "bench_job_000000", what="sorted")
        await pilot.press("slash", *"/^bench_job_00999[0-9] /", "enter")
        await wait_for(pilot, lambda: len(table.rows) == 10, what="the filtered rows")
        assert table.total_rows == 10_000


async def test_a_job_submitted_elsewhere_appears_by_itself(ws, other, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.query_one(AssetTable)
        await wait_for_workers(pilot)
        assert table.total_rows == 0
        name = other.create_job({"command": "echo from the CLI"}, base_dir=other.root, source="cli").name
        await wait_for(pilot, lambda: table.cursor_key == name, what="the new job's row")
        await wait_for(pilot, lambda: table.cursor_row.asset.status == "Completed", what="its final status")


def test_the_app_module_imports_no_heavy_sdk():
    """The first frame must not wait for MLflow, torch or azure (DESIGN.md)."""
    import subprocess
    import sys

    code = "import sys, tui.app, tui.screens.main; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not {"mlflow", "torch", "azure.ai.ml", "plotext"} & loaded
