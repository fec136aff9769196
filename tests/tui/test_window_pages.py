"""The table's window on its own (no Textual): at most 5 pages of 500 rows, fetched around
the viewport, answers of older queries dropped, and the view lines of expanded parents."""

from __future__ import annotations

import time

from tests.tui.counting_source import CountingSource, fake_jobs
from tui.kinds import KINDS, SourcePager
from tui.query import parse_query
from tui.widgets.window import MAX_PAGES, PageRequest, RowsPager, ViewMap, Window
from tui.workspace.base import AssetKind
from tui.workspace.source import PAGE_ROWS, ListQuery, apply_query

JOBS = KINDS[AssetKind.JOBS]
SCREEN = 45  # rows a tall terminal shows


def show(window: Window, pager: SourcePager, query: ListQuery, first: int) -> None:
    """What the table does when the viewport's first row is `first`: ask for the pages it
    lacks and take the answer."""
    pages = window.wanted(first, first + SCREEN - 1)
    if pages:
        assert window.receive(pager.run(PageRequest(window.generation, query, tuple(pages)), time.time()))


def start(window: Window, pager: SourcePager, query: ListQuery) -> None:
    generation = window.begin()
    window.ask([0], 0)
    assert window.receive(pager.run(PageRequest(generation, query, (0,), count=True), time.time()))


def test_scrolling_through_20000_rows_never_holds_more_than_5_pages():
    source = CountingSource(fake_jobs(20_000))
    pager, window, query = SourcePager(source, JOBS), Window(), ListQuery(AssetKind.JOBS)
    start(window, pager, query)
    assert window.total == 20_000 and source.fetched == PAGE_ROWS  # the first page, nothing more
    assert window.row(0).key == "job_19999"  # newest first
    for first in range(0, 20_000, 37):  # the whole list, a screen at a time
        show(window, pager, query, first)
        assert len(window.pages) <= MAX_PAGES
        assert all(len(rows) <= PAGE_ROWS for rows in window.pages.values())
        assert all(window.row(i) is not None for i in range(first, min(first + SCREEN, 20_000)))
    assert window.row(19_999).key == "job_00000"
    assert source.fetched == 20_000  # each page once: none fetched twice on the way down
    assert sum(len(rows) for rows in window.pages.values()) <= MAX_PAGES * PAGE_ROWS


def test_jumping_to_the_end_fetches_only_the_pages_near_it():
    source = CountingSource(fake_jobs(20_000))
    pager, window, query = SourcePager(source, JOBS), Window(), ListQuery(AssetKind.JOBS)
    start(window, pager, query)
    before = source.fetched
    show(window, pager, query, 20_000 - SCREEN)  # G
    assert source.fetched - before == PAGE_ROWS  # the last page (the margin stays inside it)
    assert [offset for _, offset, _ in source.fetches] == [0, 19_500]
    assert window.row(19_999).key == "job_00000" and window.row(10_000) is None
    show(window, pager, query, 9_990)  # a jump to the middle, across a page boundary
    assert sorted(window.pages) == [0, 19, 20, 39]


def test_an_answer_for_an_older_query_is_dropped_and_stale_pages_show_until_replaced():
    source = CountingSource(fake_jobs(3_000))
    pager, window = SourcePager(source, JOBS), Window()
    by_date = ListQuery(AssetKind.JOBS)
    start(window, pager, by_date)
    old = PageRequest(window.generation, by_date, (1,))
    by_name = ListQuery(AssetKind.JOBS, sort="NAME")
    generation = window.begin()
    window.ask([0], 0)
    assert window.row(0).key == "job_02999"  # the old rows stay on screen meanwhile
    assert not window.receive(pager.run(old, time.time()))  # a slow answer to the old query
    assert window.receive(pager.run(PageRequest(generation, by_name, (0,), count=True), time.time()))
    assert window.row(0).key == "job_00000" and list(window.pages) == [0]


def test_rows_are_found_by_key_and_replaced_in_place():
    source = CountingSource(fake_jobs(1_200))
    pager, window, query = SourcePager(source, JOBS), Window(), ListQuery(AssetKind.JOBS)
    start(window, pager, query)
    show(window, pager, query, 600)
    assert window.index_of("job_00599") == 600 and window.index_of("job_00000") is None  # page 2 not held
    fresh = pager.run(PageRequest(window.generation, query, (1,)), time.time()).pages[1][100]
    old = window.replace(fresh)
    assert old is not None and old.key == fresh.key and window.row(600) is fresh


def test_the_in_memory_pager_filters_and_sorts_like_the_reference_source():
    from tui.kinds import build_rows

    jobs = fake_jobs(50)
    now = time.time()
    built = build_rows(JOBS, apply_query(jobs, ListQuery(AssetKind.JOBS), now), now)
    pager = RowsPager(built, JOBS.columns)
    titles = [c.title for c in JOBS.columns]
    cases = (("status:fail", "NAME", True), ("/run 1\\d/", "DURATION", False), ("/1s/", None, False),
             ("", "EXPERIMENT", False))
    for text, sort, descending in cases:
        query = ListQuery(AssetKind.JOBS, parse_query(text, titles), sort, descending)
        got = pager.run(PageRequest(1, query, (0,), count=True), now)
        expected = apply_query(jobs, query, now)
        assert [r.key for r in got.pages[0]] == [j.key for j in expected]
        assert got.count.total == len(expected) and got.unfiltered.total == 50


class LoadingSource(CountingSource):
    """A backend that knows only what it has loaded (Azure has no count API): its count is
    the rows fetched so far and one page more, not exact until it has them all."""

    def count(self, query):
        from tui.workspace.source import Count

        seen = max((offset + n for _, offset, n in self.fetches), default=0)
        total = len(self._rows(query))
        return Count(min(total, seen + PAGE_ROWS), exact=seen + PAGE_ROWS >= total)


def test_a_count_that_is_not_exact_is_asked_again_as_the_viewport_nears_its_end():
    source = LoadingSource(fake_jobs(1_800))
    pager, window, query = SourcePager(source, JOBS), Window(), ListQuery(AssetKind.JOBS)
    start(window, pager, query)
    assert (window.total, window.count.exact) == (2 * PAGE_ROWS, False)  # what it loaded, and a page more
    totals = []
    for _ in range(6):  # the user keeps going to the end (G)
        last = window.total - 1
        pages = window.wanted(last - SCREEN + 1, last)
        count = window.recount(last)
        if pages or count:
            window.receive(pager.run(PageRequest(window.generation, query, tuple(pages), count=count), time.time()))
        totals.append(window.total)
    assert totals[-1] == 1_800 and window.count.exact and totals == sorted(totals)
    assert not window.recount(1_799)  # exact: never counted again


def test_view_lines_of_expanded_parents():
    view = ViewMap([(5, 2), (0, 1)])  # row 0 has one child, row 5 two
    assert view.height(10) == 13
    lines = [view.locate(line) for line in range(13)]
    assert lines[:3] == [(0, None), (0, 0), (1, None)]
    assert lines[6:9] == [(5, None), (5, 0), (5, 1)]
    assert lines[9] == (6, None) and lines[12] == (9, None)
    assert all(view.line_of(i, c) == line for line, (i, c) in enumerate(lines))
