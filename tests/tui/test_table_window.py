"""The app's table over a source of 20,000 jobs that counts what it is asked: the table holds
a window of pages, fetches only what is on screen, sorts and filters through the source,
updates a changed job in place and keeps the cursor across refreshes."""

from __future__ import annotations

import pytest

from tests.tui.conftest import text_of, wait_for, wait_for_workers
from tests.tui.counting_source import BASE, CountingSource, fake_jobs
from tests.tui.test_jobs import main_table
from tui.query import Term
from tui.widgets.window import MAX_PAGES
from tui.workspace.base import AssetKind, Job
from tui.workspace.source import PAGE_ROWS

# The counting source stands in for the workspace's own: which backend is under it does not matter.
pytestmark = pytest.mark.local_only("a counting source replaces the workspace's source")

N = 20_000


@pytest.fixture
def source(ws, monkeypatch) -> CountingSource:
    """The workspace's source, and the job records its details read, are the counting list."""
    counting = CountingSource(fake_jobs(N))
    monkeypatch.setattr(ws, "_source", counting)
    monkeypatch.setattr(ws, "get_job", counting.get)
    monkeypatch.setattr(ws, "job_metrics", lambda name: {})
    monkeypatch.setattr(ws, "log_files", lambda name: [])
    return counting


async def first_rows(pilot):
    table = main_table(pilot.app)
    await wait_for(pilot, lambda: table.cursor_key == "job_19999", what="the first screens")
    await wait_for(pilot, lambda: table.row_at(PAGE_ROWS - 1) is not None, what="the rest of their page")
    await wait_for_workers(pilot)
    return table


def held(table) -> int:
    return sum(len(rows) for rows in table.window.pages.values())


async def test_the_table_fetches_what_is_on_screen_and_holds_at_most_5_pages(source, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await first_rows(pilot)
        # The first screens, then the rest of their page: nothing more.
        first = source.fetches[0][2]
        assert [f[1:] for f in source.fetches] == [(0, first), (0, PAGE_ROWS)] and first < 2 * 48
        assert "Jobs 20,000 of 20,000" in text_of(app.screen.query_one("#table-title"))
        # G: the cursor is on the last line at once; its row arrives behind it.
        source.gate.clear()
        await pilot.press("G")
        assert table.cursor == N - 1 and table.cursor_row is None
        assert "…" in table.render_line(table.cursor - int(table.scroll_y) + 1).text  # a placeholder
        await pilot.press("up")  # keys do not wait for the page
        assert table.cursor == N - 2
        source.gate.set()
        await wait_for(pilot, lambda: table.cursor_key == "job_00001", what="the last page")
        assert source.fetched == first + 2 * PAGE_ROWS and sorted(table.window.pages) == [0, N // PAGE_ROWS - 1]
        # Jumps around the list (a scrollbar drag): never more than 5 pages held.
        for y in (3_000, 7_400, 12_000, 15_250, 9_990, 100, 18_000):
            table.scroll_to(y=y, animate=False, immediate=True)
            await wait_for(pilot, lambda: table.row_at(int(table.scroll_y) + 10) is not None, what=f"rows at {y}")
            assert len(table.window.pages) <= MAX_PAGES and held(table) <= MAX_PAGES * PAGE_ROWS
        # Each jump fetched the page or two around it, not the list.
        assert source.fetched <= first + 2 * PAGE_ROWS + 7 * 2 * PAGE_ROWS


async def test_sort_and_filter_are_queries_of_the_source(source, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await first_rows(pilot)
        await pilot.press("s")  # NAME ascending: the source sorts, the table shows its first page
        await wait_for(pilot, lambda: table.rows[0].key == "job_00000", what="sorted by name")
        assert source.counts[-1].sort == "NAME" and source.fetches[-1][1] == 0
        assert table.cursor_key == "job_00000" and table.scroll_y == 0
        source.gate.clear()  # the source is slow: typing and moving never wait for it
        await pilot.press("slash", *"status:Failed", "enter", "down", "down")
        assert table.cursor == 2
        source.gate.set()
        failed = sum(1 for j in source.assets if j.status == "Failed")
        await wait_for(pilot, lambda: table.count.total == failed, what="the filtered count")
        await wait_for_workers(pilot)
        assert any(q.filter.terms == (Term("STATUS", "Failed"),) and q.sort == "NAME" for q in source.counts)
        await wait_for(pilot, lambda: len(table.rows) == PAGE_ROWS, what="the first screens' whole page")
        assert {r.asset.status for r in table.rows} == {"Failed"}
        assert f"Jobs {failed:,} of 20,000" in text_of(app.screen.query_one("#table-title"))
        await pilot.press("slash", "ctrl+u", *"/^job_1999[0-4] /", "enter")
        await wait_for(pilot, lambda: [r.key for r in table.rows] == [f"job_1999{i}" for i in range(5)])


async def test_an_idle_app_asks_only_the_watermark(source, ws, app_factory, monkeypatch):
    counted = []
    counts = ws.counts
    monkeypatch.setattr(ws, "counts", lambda: counted.append(1) or counts())
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await first_rows(pilot)
        main = app.screen
        await wait_for(pilot, lambda: main._ticks >= 1 and not main._polling, what="a first tick")
        asked = (source.fetched, len(source.counts), len(counted), source.watermarks)
        for _ in range(3):
            main._tick()
            await wait_for_workers(pilot)
        assert (source.fetched, len(source.counts), len(counted)) == asked[:3]  # no rows, no counts
        assert source.watermarks > asked[3]


async def test_a_job_that_changes_while_the_user_scrolls_updates_in_place(source, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await first_rows(pilot)
        table.scroll_to(y=10_000, animate=False, immediate=True)
        await wait_for(pilot, lambda: table.row_at(10_020) is not None)
        await wait_for_workers(pilot)
        table.move_to_key("job_09979")  # line 10,020, on screen
        fetched, scroll, cursor = source.fetched, table.scroll_y, table.cursor
        was = source.get("job_09979").status
        source.change("job_09979", status="Failed" if was != "Failed" else "Completed")
        await wait_for(pilot, lambda: table.cursor_row.asset.status != was, what="the new status")
        assert source.fetched == fetched  # in place: nothing fetched again
        assert (table.scroll_y, table.cursor, table.cursor_key) == (scroll, cursor, "job_09979")
        line = table.render_line(table.cursor - int(table.scroll_y) + 1).text
        assert table.cursor_row.asset.status in line


async def test_the_cursor_and_scroll_survive_a_refresh_that_adds_rows(source, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await first_rows(pilot)
        await pilot.press(*["pagedown"] * 3, "up", "up")
        key, cursor, scroll = table.cursor_key, table.cursor, table.scroll_y
        assert key is not None and scroll > 0
        source.add(Job(AssetKind.JOBS, "job_new", None, {"name": "job_new"}, status="Queued", type="command",
                       created_at=BASE + N * 60))
        await wait_for(pilot, lambda: table.count.total == N + 1, what="the new job counted")
        await wait_for_workers(pilot)
        assert table.cursor_key == key and table.cursor == cursor + 1  # the newest row came on top
        assert table.scroll_y == scroll
        assert table.row_at(0).key == "job_new"
        await pilot.press("r")  # a refresh by hand keeps them too
        await wait_for_workers(pilot)
        assert (table.cursor_key, table.scroll_y) == (key, scroll)


async def test_a_reload_before_a_new_querys_answer_still_starts_from_its_top():
    """A watermark can move between a sort and its answer: the reload must not fetch the
    scrolled-to pages of the new order (that lost the sort's "from the top")."""
    import time

    from tests.tui.test_table import JOBS, TableApp
    from tui.kinds import SourcePager
    from tui.widgets.asset_table import AssetTable

    app = TableApp()
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(AssetTable)
        pager, asked = SourcePager(CountingSource(fake_jobs(3_000)), JOBS), []
        table.request_pages = lambda _, request: asked.append(request)

        def answer() -> None:
            while asked:
                table.receive(pager.run(asked.pop(0), time.time()))

        table.configure(JOBS.columns, kind=AssetKind.JOBS, pager=pager)
        answer()
        await pilot.pause()  # laid out: the table knows how tall it is
        table.scroll_to(y=2_000, animate=False, immediate=True)
        answer()
        table.move_to_key(table.row_at(2_005).key)
        table.action_cycle_sort()  # NAME: a new query, from its top
        table.reload()  # before its answer
        assert [r.pages for r in asked] == [(0,), (0,)]
        answer()
        assert (table.scroll_y, table.cursor, table.cursor_key) == (0, 0, "job_00000")
        await pilot.pause()
