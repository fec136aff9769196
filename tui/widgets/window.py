"""The table's window over a paged source: which pages of rows it holds, which it still
needs, and which row each line of the view shows. No Textual here: all of it is tested
on its own (tests/tui/test_window.py).

The table never holds more than `MAX_PAGES` pages of `PAGE_ROWS` rows: it asks for the
pages around the viewport and forgets the ones farthest from it. A page is asked for
under a *generation*; a new query or a reload starts a new one, and a page that arrives
for an older generation is dropped, so a slow answer never overwrites a newer one. The
pages held before a reload stay on screen, stale, until the fresh ones replace them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from tui.columns import Column, Row
from tui.workspace.source import PAGE_ROWS, Count, ListQuery, searchable

MAX_PAGES = 5
MARGIN = 100  # rows past the viewport's edges that are fetched before the user gets there


@dataclass(frozen=True)
class PageRequest:
    """Pages `pages` of `query`, for the window's `generation`; `count`: count it again too.
    `limit`: the first rows of each page only (a new query's first screen, on screen sooner;
    the window asks for the whole page next)."""

    generation: int
    query: ListQuery
    pages: tuple[int, ...]
    count: bool = False
    limit: int = PAGE_ROWS


@dataclass
class PageResult:
    """A `PageRequest` answered. `unfiltered` counts the query without its filter (the title's
    "of N"); `watermark` is the source's, read before the rows (so no change is missed)."""

    generation: int
    pages: dict[int, list[Row]] = field(default_factory=dict)
    count: Count | None = None
    unfiltered: Count | None = None
    watermark: int | None = None


class Pager(Protocol):
    """Answers the table's requests. `blocking`: call `run` in a worker, never on the event
    loop (a source); False for rows already in memory."""

    blocking: bool

    def run(self, request: PageRequest, now: float) -> PageResult: ...


class Window:
    """The pages of one query that the table holds (see the module docstring)."""

    def __init__(self) -> None:
        self.generation = 0
        self.count = Count(0)
        self.unfiltered = Count(0)
        self.counted = False  # whether this window's query has been counted yet
        self.pages: dict[int, list[Row]] = {}
        self._fresh: set[int] = set()  # pages of the current generation
        self._pending: set[int] = set()  # asked for, not arrived
        self._focus = 0  # the viewport's page: eviction keeps the pages nearest it
        self._keys: dict[str, int] | None = None
        self._recounted: tuple[int, int] | None = None  # (generation, total) last counted again

    @property
    def total(self) -> int:
        return self.count.total

    def begin(self, *, forget: bool = False) -> int:
        """A new generation: held pages go stale (still shown until replaced), or, with
        `forget`, away (another kind's rows must not show under these columns)."""
        self.generation += 1
        self._fresh.clear()
        self._pending.clear()
        if forget:
            self.pages, self._keys = {}, None
            self.count, self.unfiltered, self.counted = Count(0), Count(0), False
        return self.generation

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def row(self, index: int) -> Row | None:
        page = self.pages.get(index // PAGE_ROWS)
        offset = index % PAGE_ROWS
        return page[offset] if page is not None and offset < len(page) else None

    def pages_for(self, first: int, last: int) -> list[int]:
        """The pages that hold rows `first`..`last` and the margin around them."""
        top, bottom = max(0, first - MARGIN), min(last + MARGIN, self.total - 1)
        return list(range(top // PAGE_ROWS, bottom // PAGE_ROWS + 1)) if bottom >= top else []

    def wanted(self, first: int, last: int) -> list[int]:
        """Pages to ask for so rows `first`..`last` show: neither fresh nor already asked
        for. They are marked as asked for."""
        self._focus = max(0, first) // PAGE_ROWS
        pages = [p for p in self.pages_for(first, last) if not self._complete(p) and p not in self._pending]
        self._pending.update(pages)
        return pages

    def _complete(self, page: int) -> bool:
        """Fresh, and whole: a page cut short by a request's `limit` is not, unless the last."""
        return page in self._fresh and (len(self.pages[page]) == PAGE_ROWS or page == (self.total - 1) // PAGE_ROWS)

    def recount(self, last: int) -> bool:
        """Whether to count again because row `last` is near the end of a count that is not
        exact (a backend that has not loaded every page: the count grows as it does). Once
        per count: True marks it asked."""
        if self.count.exact or last + MARGIN < self.total or self._recounted == (self.generation, self.total):
            return False
        self._recounted = (self.generation, self.total)
        return True

    def ask(self, pages: Sequence[int], focus: int) -> None:
        """`pages` are asked for outside `wanted` (a reload's)."""
        self._focus = focus
        self._pending.update(pages)

    def receive(self, result: PageResult) -> bool:
        """Take an answer; False (and nothing changes) when it is for an older generation."""
        if result.generation != self.generation:
            return False
        if result.count is not None:
            self.count, self.counted = result.count, True
        if result.unfiltered is not None:
            self.unfiltered = result.unfiltered
        for page, rows in result.pages.items():
            self.pages[page] = rows
            self._fresh.add(page)
            self._pending.discard(page)
        last = (self.total - 1) // PAGE_ROWS
        for page in list(self.pages):
            if page > last or (page not in self._fresh and page not in self._pending):
                del self.pages[page]  # beyond the end, or stale and not being refreshed
        while len(self.pages) > MAX_PAGES:
            del self.pages[max(self.pages, key=lambda p: (abs(p - self._focus), p))]
        self._fresh &= set(self.pages)
        self._keys = None
        return True

    def loaded(self) -> Iterator[tuple[int, Row]]:
        """(index, row) of every held row, in order."""
        for page in sorted(self.pages):
            for offset, row in enumerate(self.pages[page]):
                yield page * PAGE_ROWS + offset, row

    def index_of(self, key: str) -> int | None:
        if self._keys is None:
            self._keys = {row.key: index for index, row in self.loaded()}
        return self._keys.get(key)

    def replace(self, row: Row) -> Row | None:
        """Put `row` in place of the held row with its key; returns the old one (or None)."""
        index = self.index_of(row.key)
        if index is None:
            return None
        page = self.pages[index // PAGE_ROWS]
        old, page[index % PAGE_ROWS] = page[index % PAGE_ROWS], row
        return old


class ViewMap:
    """Lines of the view: the top-level rows, and under each expanded parent its children.
    `spans` are (parent's index, number of children), by index."""

    def __init__(self, spans: Sequence[tuple[int, int]] = ()) -> None:
        self.spans = sorted((i, n) for i, n in spans if n)

    def height(self, total: int) -> int:
        return total + sum(n for _, n in self.spans)

    def locate(self, line: int) -> tuple[int, int | None]:
        """The line's (top-level index, child position or None)."""
        shift = 0
        for parent, n in self.spans:
            at = parent + shift
            if line <= at:
                break
            if line <= at + n:
                return parent, line - at - 1
            shift += n
        return line - shift, None

    def line_of(self, index: int, child: int | None = None) -> int:
        shift = sum(n for parent, n in self.spans if parent < index)
        return index + shift + (0 if child is None else child + 1)


# ---------------------------------------------------------------------------- in memory


def order_rows(rows: Sequence[Row], column: int | None, descending: bool) -> list[Row]:
    """`rows` by one column's stored sort key (stable); a missing value last both ways,
    as `tui.workspace.source` orders them. None: as given."""
    if column is None:
        return list(rows)
    present = [r for r in rows if r.sort_keys[column][0] != 2]  # sort_key(None) is (2, 0)
    missing = [r for r in rows if r.sort_keys[column][0] == 2]
    return sorted(present, key=lambda r: r.sort_keys[column], reverse=descending) + missing


def search_text(row: Row, searched: Sequence[int]) -> str:
    """The text a filter's text and regex match (`tui.workspace.source.search_text`): the
    searchable cells, not ages or running durations."""
    return " ".join([row.cells[i] for i in searched]).lower()


class RowsPager:
    """Rows already built, filtered and sorted in memory: what a table shows without a
    source (a kind the backend lacks, and tests of the table on its own)."""

    blocking = False

    def __init__(self, rows: Sequence[Row], columns: Sequence[Column]) -> None:
        self.rows, self.titles = list(rows), [c.title for c in columns]
        self._searched = searchable(columns)

    def run(self, request: PageRequest, now: float) -> PageResult:
        query, rows = request.query, self.rows
        test = query.filter.predicate(self.titles)
        if test is not None:
            rows = [r for r in rows if test(search_text(r, self._searched), r.cells)]
        matched = rows
        column = self.titles.index(query.sort) if query.sort in self.titles else None
        ordered = order_rows(matched, column, query.descending)
        pages = {p: ordered[p * PAGE_ROWS:p * PAGE_ROWS + request.limit] for p in request.pages}
        return PageResult(request.generation, pages, Count(len(ordered)), Count(len(self.rows)))
