"""A queued job's details say why it waits; the compute view counts running and queued jobs."""

from __future__ import annotations

import pytest

from tests.tui.conftest import run_job, text_of, wait_for, wait_for_workers
from tests.tui.test_jobs import main_table


pytestmark = pytest.mark.local_only("the local compute queue")


@pytest.fixture
def queued(ws):
    ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="t")
    names = [run_job(ws, "sleep 60", compute="cpu-cluster") for _ in range(5)]
    yield names
    for name in names:
        ws.cancel_job(name)


async def test_a_queued_jobs_details_say_why_it_waits(ws, app_factory, queued):
    app = app_factory()
    async with app.run_test(size=(160, 45)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main_table(app).cursor_key == queued[-1])
        await wait_for(pilot, lambda: "in line" in text_of(main.query_one("#detail-body")), what="the reason")
        detail = text_of(main.query_one("#detail-body"))
        assert "waiting" in detail and "cpu-cluster 2/2 busy, 3rd in line" in detail
        # A job that runs waits for nothing.
        await pilot.press("end")
        await wait_for(pilot, lambda: main_table(app).cursor_key == queued[0])
        await wait_for(pilot, lambda: queued[0] in text_of(main.query_one("#detail-body")))
        assert "in line" not in text_of(main.query_one("#detail-body"))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_compute_view_shows_running_and_queued_counts(ws, app_factory, queued, size):
    app = app_factory()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: main_table(app).total_rows == 5)
        await pilot.press("4")
        table = main_table(app)
        await wait_for(pilot, lambda: any(r.key == "cpu-cluster" for r in table.rows), what="the computes")
        await wait_for_workers(pilot)
        header = table.render_line(0).text.split()
        assert "RUNNING" in header and "QUEUED" in header
        y = next(i for i, r in enumerate(table.rows, start=1) if r.key == "cpu-cluster")
        cells = table.render_line(y).text.split()
        assert cells[header.index("RUNNING")] == "2" and cells[header.index("QUEUED")] == "3", (header, cells)
