"""A table of assets that is a window over a paged source (Textual's Line API).

It knows how many rows its query matches and holds at most a few pages of them around
the viewport (tui/widgets/window.py); it renders a line only when `render_line` asks, so
100,000 rows cost what 40 do. Pages come from a `Pager`: a source's runs in its screen's
workers (`request_pages`), rows already in memory (`set_rows`) answer at once. A row not
fetched yet shows as a dim placeholder until its page arrives.

It owns what is per-table: the cursor (kept on the same row key across refreshes while
the key is in the window), the sort column and direction and the `/` filter (each makes a
new query: counted again, from the first page), and expanded parent rows (sweep trials,
loaded whole).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView

from tui.columns import Column, Row
from tui.query import Query, parse_query
from tui.widgets.column_fit import GAP, fit_widths, grow, title_widths, total_width
from tui.widgets.styles import CachedStyles
from tui.widgets.table_view import TableView
from tui.widgets.window import PageRequest, PageResult, Pager, RowsPager, ViewMap, Window, order_rows, search_text
from tui.workspace.base import AssetKind
from tui.workspace.source import PAGE_ROWS, Count, ListQuery, searchable

__all__ = ["AssetTable", "GAP", "fit_widths"]

STYLE_TOKENS = ("success", "error", "warning", "primary", "secondary", "muted")


@dataclass
class _TableMessage(Message):
    table: "AssetTable"

    @property
    def control(self) -> "AssetTable":
        return self.table


class AssetTable(TableView, CachedStyles, ScrollView, can_focus=True):
    """Rows of one asset kind; see module docstring."""

    COMPONENT_PREFIX = "asset-table"

    DEFAULT_CSS = """
    AssetTable {
        background: $surface;
        scrollbar-gutter: stable;
    }
    AssetTable > .asset-table--header { text-style: bold; color: $text-accent; }
    AssetTable > .asset-table--cursor { background: $block-cursor-blurred-background; }
    AssetTable:focus > .asset-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    AssetTable > .asset-table--empty { color: $text-muted; text-style: italic; }
    AssetTable > .asset-table--success { color: $text-success; }
    AssetTable > .asset-table--error { color: $text-error; text-style: bold; }
    AssetTable > .asset-table--warning { color: $text-warning; }
    AssetTable > .asset-table--primary { color: $text-primary; }
    AssetTable > .asset-table--secondary { color: $text-secondary; }
    AssetTable > .asset-table--muted { color: $text-muted; }
    """

    COMPONENT_CLASSES = {
        "asset-table--header",
        "asset-table--cursor",
        "asset-table--empty",
        *(f"asset-table--{t}" for t in STYLE_TOKENS),
    }

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First row", show=False, id="table.first"),
        Binding("end,G", "last", "Last row", show=False, id="table.last"),
        Binding("left,h", "scroll_left", "Scroll left", show=False, id="table.left"),
        Binding("right", "scroll_right", "Scroll right", show=False, id="table.right"),
        Binding("enter", "select", "Details", id="table.select"),
        Binding("s", "cycle_sort", "Sort by the next column", show=False, id="table.sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="table.reverse_sort"),
    ]

    cursor: reactive[int] = reactive(0, always_update=False, repaint=False)

    @dataclass
    class Highlighted(_TableMessage):
        """The cursor moved to another row (or to none: a row not fetched yet)."""

        row: Row | None

    @dataclass
    class Selected(_TableMessage):
        """Enter was pressed on a row."""

        row: Row

    class Sorted(_TableMessage):
        """The sort column or direction changed (the screen shows it in its title)."""

    class Loaded(_TableMessage):
        """Rows or counts arrived (the screen updates its title)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.columns: tuple[Column, ...] = ()
        self.kind: AssetKind | None = None
        self.empty_message = ""
        self.pager: Pager | None = None
        # Set by the screen: runs a blocking pager's request in a worker, then `receive`.
        self.request_pages: Callable[[Pager, PageRequest], None] | None = None
        self.window = Window()
        self._view = ViewMap()
        self._children: dict[str, list[Row]] = {}  # parent key -> child rows, as loaded
        self._shown_children: dict[str, list[Row]] = {}  # ... in the table's sort order
        self.expanded: set[str] = set()
        self._natural: list[int] = []  # each column's width for the widest cell seen
        self._widths: list[int] = []  # as fitted to the table's width (0 = hidden)
        self._filter_text = ""
        self.query = Query()
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._highlighted_key: str | None = None
        self._cursor_key: str | None = None  # the row under the cursor, kept across answers
        self._to_top = False  # the awaited answer is a new query's: start from its top

    # ------------------------------------------------------------------ data in

    def configure(self, columns: Sequence[Column], *, kind: AssetKind | None = None, pager: Pager | None = None,
                  empty_message: str = "", sort_column: int | None = None, sort_reverse: bool = False) -> None:
        """Switch to another kind: its columns, no rows, no filter; rows come from `pager`."""
        self.columns, self.kind, self.pager = tuple(columns), kind, pager
        self.empty_message = empty_message
        self._children, self._shown_children, self.expanded = {}, {}, set()
        self._filter_text, self.query = "", Query()
        self.sort_column, self.sort_reverse = sort_column, sort_reverse
        self._highlighted_key = self._cursor_key = None
        self.window.begin(forget=True)
        self._natural = title_widths(self.columns)
        self._fit_widths()
        self.set_reactive(AssetTable.cursor, 0)
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        if pager is not None:
            self._request(top=True)

    def set_rows(self, rows: list[Row], *, empty_message: str | None = None) -> None:
        """Show `rows` (already built), filtered and sorted in memory; the cursor stays on its key."""
        if empty_message is not None:
            self.empty_message = empty_message
        self.pager = RowsPager(rows, self.columns)
        self._request(top=False)

    def reload(self) -> None:
        """Count again and fetch the pages on screen again (the data changed)."""
        self._request(top=False)

    def receive(self, result: PageResult) -> bool:
        """An answer from the pager; False when it was for an older query or reload."""
        if not self.window.receive(result):
            return False
        top = self._to_top and result.count is not None
        if result.count is not None:
            self._to_top = False
        grow(self._natural, self.columns, (r for rows in result.pages.values() for r in rows))
        self._fit_widths()
        self._relayout()
        line = self._line_of_key(self._cursor_key) if self._cursor_key is not None else None
        if line is None and top:
            line = 0
            self.scroll_to(0, 0, animate=False, immediate=True)
        self._settle_cursor(line)
        self.post_message(self.Loaded(self))
        self._want_visible()
        return True

    def update_rows(self, rows: Iterable[Row]) -> bool:
        """Put fresh rows in place of the held rows with their keys (children too). False when
        one may now belong elsewhere: not held, or its sort value or filter match changed."""
        test = self.query.predicate([c.title for c in self.columns])
        searched = searchable(self.columns)
        column = self.sort_column
        live_sort = column is not None and self.columns[column].live is not None
        in_place, fresh = True, []
        for row in rows:
            fresh.append(row)
            parent = getattr(row.asset, "parent_job_name", None)
            if parent:
                self._replace_child(parent, row)
                continue
            old = self.window.replace(row)
            if old is None or (test is not None and not test(search_text(row, searched), row.cells)):
                in_place = False
            elif column is not None and not live_sort and old.sort_keys[column] != row.sort_keys[column]:
                in_place = False
        if grow(self._natural, self.columns, fresh):
            self._fit_widths()
        self._relayout()
        self._settle_cursor(self._line_of_key(self._cursor_key) if self._cursor_key else None)
        return in_place

    def _replace_child(self, parent: str, row: Row) -> None:
        rows = self._children.get(parent)
        if rows is not None:
            row.depth = 1
            self._children[parent] = [row if r.key == row.key else r for r in rows]

    def set_children(self, parent_key: str, rows: list[Row]) -> None:
        """Rows shown under `parent_key` while it is expanded (sweep trials)."""
        for row in rows:
            row.depth = 1
        self._children[parent_key] = rows
        grow(self._natural, self.columns, rows)
        self._fit_widths()
        self._relayout()
        self._settle_cursor(self._line_of_key(self._cursor_key) if self._cursor_key else None)

    def toggle_expanded(self, key: str) -> bool:
        """Expand or collapse a parent row; returns whether it is now expanded."""
        if key in self.expanded:
            self.expanded.discard(key)
        else:
            self.expanded.add(key)
        self._relayout()
        self._settle_cursor(self._line_of_key(self._cursor_key) if self._cursor_key else None)
        return key in self.expanded

    def set_filter(self, text: str) -> None:
        """Show only the rows the `/` filter matches (see tui/query.py for its language): a new
        query, counted and fetched by the pager."""
        self._filter_text = text
        query = parse_query(text, [c.title for c in self.columns])
        if query != self.query:
            self.query = query
            self._request(top=True)

    @property
    def filter_error(self) -> str | None:
        return self.query.error

    @property
    def filter_text(self) -> str:
        return self._filter_text

    @property
    def list_query(self) -> ListQuery:
        column = self.sort_column
        sort = self.columns[column].title if column is not None and column < len(self.columns) else None
        return ListQuery(self.kind, self.query, sort, self.sort_reverse if sort else False)  # type: ignore[arg-type]

    @property
    def shown_empty_message(self) -> str:
        """What an empty table says: a filter that hides every row says so, not "no rows"."""
        unfiltered = self.window.unfiltered.total
        if self._filter_text and self.window.counted and not self.window.total and unfiltered:
            return f"Nothing matches {self._filter_text!r} (0 of {unfiltered:,}). Press esc to clear the filter."
        return self.empty_message

    # ------------------------------------------------------------------ fetching

    def _request(self, *, top: bool) -> None:
        """A new generation: the first page (`top`: a new query) or the pages on screen."""
        top = top or self._to_top  # a reload before a new query's answer: still a new query
        generation = self.window.begin()
        first, last = self._visible()
        pages = [0] if top else (self.window.pages_for(first, last) or [0])
        self.window.ask(pages, first // PAGE_ROWS)
        self._to_top = top
        # A new query's first page: its first screens first (sooner on screen), the rest next.
        limit = min(PAGE_ROWS, 2 * self._page + 1) if top else PAGE_ROWS
        self._dispatch(PageRequest(generation, self.list_query, tuple(pages), count=True, limit=limit))

    def _want_visible(self) -> None:
        """Ask for the pages the viewport (and its margin) needs and the window lacks."""
        if self.pager is None or not self.window.counted:
            return  # the query's first answer, still awaited, brings the first page
        first, last = self._visible()
        pages = self.window.wanted(first, last)
        count = self.window.recount(last)
        if pages or count:
            self._dispatch(PageRequest(self.window.generation, self.list_query, tuple(pages), count=count))

    def _dispatch(self, request: PageRequest) -> None:
        pager = self.pager
        if pager is None:
            return
        if pager.blocking and self.request_pages is not None:
            self.request_pages(pager, request)
        else:
            self.receive(pager.run(request, self.clock()))

    def _visible(self) -> tuple[int, int]:
        """Top-level indices of the first and last lines on screen."""
        top = int(self.scroll_y)
        return self._view.locate(top)[0], self._view.locate(top + self._page - 1)[0]

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want_visible()

    # ------------------------------------------------------------------ data out

    @property
    def rows(self) -> list[Row]:
        """The rows held, as shown (every row of a query that fits in the window)."""
        out: list[Row] = []
        for _, row in self.window.loaded():
            out.append(row)
            if row.key in self.expanded:
                out.extend(self._shown_children.get(row.key, ()))
        return out

    @property
    def count(self) -> Count:
        """How many rows the query (with its filter) matches."""
        return self.window.count

    @property
    def total(self) -> Count:
        """How many rows the query matches without its filter."""
        return self.window.unfiltered

    @property
    def total_rows(self) -> int:
        return self.window.unfiltered.total

    @property
    def height(self) -> int:
        return self._view.height(self.window.total)

    def row_at(self, line: int) -> Row | None:
        """The row on view line `line`, or None when not fetched yet."""
        index, child = self._view.locate(line)
        if child is None:
            return self.window.row(index)
        parent = self.window.row(index)
        children = self._shown_children.get(parent.key, []) if parent else []
        return children[child] if child < len(children) else None

    @property
    def cursor_row(self) -> Row | None:
        return self.row_at(self.cursor) if 0 <= self.cursor < self.height else None

    @property
    def cursor_key(self) -> str | None:
        row = self.cursor_row
        return row.key if row else None

    def move_to_key(self, key: str) -> bool:
        line = self._line_of_key(key)
        if line is not None:
            self.cursor = line
        return line is not None

    def _line_of_key(self, key: str) -> int | None:
        index = self.window.index_of(key)
        if index is not None:
            return self._view.line_of(index)
        for parent, children in self._shown_children.items():
            where = self.window.index_of(parent)
            if where is not None and parent in self.expanded:
                for i, row in enumerate(children):
                    if row.key == key:
                        return self._view.line_of(where, i)
        return None

    # ------------------------------------------------------------------ view building

    def _relayout(self) -> None:
        """Children under their expanded parents (the parents held), and the virtual size."""
        spans = []
        self._shown_children = {}
        for key in self.expanded:
            index = self.window.index_of(key)
            children = self._children.get(key)
            if index is not None and children:
                self._shown_children[key] = order_rows(children, self.sort_column, self.sort_reverse)
                spans.append((index, len(children)))
        self._view = ViewMap(spans)
        self.virtual_size = Size(total_width(self._widths), self.height + 1)

    def _settle_cursor(self, line: int | None) -> None:
        """The cursor on `line` (its key's new place), or where it was, within the rows. The
        view scrolls only when the cursor moved: the user may have scrolled away from it."""
        line = max(0, min(self.cursor, self.height - 1) if line is None else line)
        if line != self.cursor:
            self.set_reactive(AssetTable.cursor, line)
            self._scroll_cursor_into_view()
        self._post_highlight()
        self.refresh()

    def _fit_widths(self) -> None:
        self._widths = fit_widths(self._natural, self.columns, self.scrollable_content_region.width)

    def on_resize(self, event: events.Resize) -> None:
        if self._natural:
            self._fit_widths()
            self._relayout()
            self.refresh()
        self._want_visible()
