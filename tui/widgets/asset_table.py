"""A windowed table for assets: renders only the rows on screen (Textual's Line API).

Textual's DataTable builds every row up front (0.6 s to first paint 1,000 rows here, 2.3 s
for 10,000). This table keeps `Row`s (cells formatted in a worker, see `tui.kinds`) and
renders a row only when `render_line` asks for it, so 100,000 rows cost what 40 do.

It owns what is per-table: cursor (kept on the same row key across refreshes), sort
column and direction, the `/` filter, and expanded parent rows (sweep trials).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, Iterable, Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.widgets.styles import CachedStyles
from tui.columns import Column, Row, SortOrders, sort_key, sort_order
from tui.query import Query, parse_query

GAP = 2  # spaces between columns
SPAN_WIDTH = 6  # the widest `format_span` under 100 days: "23h59m"
STYLE_TOKENS = ("success", "error", "warning", "primary", "secondary", "muted")


def _fit(text: str, width: int) -> str:
    """Pad or truncate `text` to exactly `width` cells (with an ellipsis when cut)."""
    if text.isascii():
        if len(text) <= width:
            return text.ljust(width)
        return text[: width - 1] + "…" if width > 1 else text[:width]
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


def _total(widths: Sequence[int]) -> int:
    """Cells a row takes: a leading space, then each shown column and its gap."""
    return 1 + sum(w + GAP for w in widths if w)


def fit_widths(natural: Sequence[int], columns: Sequence[Column], available: int) -> list[int]:
    """Column widths for a table `available` cells wide (0 = hidden).

    Columns that may shrink (`Column.min_width`) give up cells widest first; when that is not
    enough, columns that may go (`Column.drop_rank`) are hidden, lowest rank first. The others
    (STATUS, durations, ages) keep their full width, so a status is never cut. What still does
    not fit scrolls sideways.
    """
    widths = list(natural)
    if available <= 0 or _total(widths) <= available:
        return widths
    droppable = sorted((c.drop_rank, i) for i, c in enumerate(columns) if c.drop_rank is not None)
    while True:
        shrunk = list(widths)
        excess = _total(shrunk) - available
        floors = [c.min_width if c.min_width is not None else w for c, w in zip(columns, shrunk)]
        while excess > 0:
            candidates = [i for i, w in enumerate(shrunk) if w and w > floors[i]]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: shrunk[i] - floors[i])
            shrunk[widest] -= 1
            excess -= 1
        if excess <= 0 or not droppable:
            return shrunk
        widths[droppable.pop(0)[1]] = 0


class AssetTable(CachedStyles, ScrollView, can_focus=True):
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
    class Highlighted(Message):
        """The cursor moved to another row (or to none)."""

        table: "AssetTable"
        row: Row | None

        @property
        def control(self) -> "AssetTable":
            return self.table

    @dataclass
    class Selected(Message):
        """Enter was pressed on a row."""

        table: "AssetTable"
        row: Row

        @property
        def control(self) -> "AssetTable":
            return self.table

    @dataclass
    class Sorted(Message):
        """The sort column or direction changed (the screen shows it in its title)."""

        table: "AssetTable"

        @property
        def control(self) -> "AssetTable":
            return self.table

    def __init__(self, *, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.columns: tuple[Column, ...] = ()
        self.empty_message = ""
        self._rows: list[Row] = []  # top-level rows, as loaded
        self._orders: SortOrders = {}  # sort orders of `_rows`, precomputed or cached
        self._any_live = False  # some row's live cell changes its sort key with the clock
        self._children: dict[str, list[Row]] = {}  # parent key -> child rows
        self.expanded: set[str] = set()
        self._view: list[Row] = []  # filtered, sorted, with expanded children
        self._natural: list[int] = []  # each column's width for its widest cell
        self._widths: list[int] = []  # as fitted to the table's width (0 = hidden)
        self._filter_text = ""
        self.query = Query()
        self._filter: Callable[[str, Sequence[str]], bool] | None = None
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._highlighted_key: str | None = None

    # ------------------------------------------------------------------ data in

    def configure(self, columns: Sequence[Column], *, empty_message: str = "",
                  sort_column: int | None = None, sort_reverse: bool = False) -> None:
        """Switch to another kind: new columns, no rows, filter kept by the caller's choice."""
        self.columns = tuple(columns)
        self.empty_message = empty_message
        self._rows, self._children, self.expanded = [], {}, set()
        self._orders, self._any_live = {}, False
        self.sort_column, self.sort_reverse = sort_column, sort_reverse
        self._highlighted_key = None
        self.cursor = 0
        self._rebuild(keep_key=None)
        self.scroll_to(0, 0, animate=False, immediate=True)

    def set_rows(self, rows: list[Row], *, empty_message: str | None = None,
                 children: dict[str, list[Row]] | None = None, orders: SortOrders | None = None) -> None:
        """Replace the rows (and, when given, child rows by parent key); the cursor stays
        on the same key when it still exists. `orders` (`kinds.sort_orders` of these rows,
        from the worker) spare the event loop the sorting; missing ones are computed here."""
        self._rows = rows
        self._orders = dict(orders) if orders else {}
        self._any_live = any(r.live for r in rows)
        if empty_message is not None:
            self.empty_message = empty_message
        keys = {r.key for r in rows}
        if children:
            self._children.update(children)
        self._children = {k: v for k, v in self._children.items() if k in keys}
        self.expanded &= keys
        self._rebuild(keep_key=self.cursor_key)

    def update_rows(self, rows: list[Row], *, children: dict[str, list[Row]] | None = None) -> None:
        """Replace the rows that have these keys (a poll of active jobs); others stay."""
        fresh = {r.key: r for r in rows}
        old, self._rows = self._rows, [fresh.get(r.key, r) for r in self._rows]
        # Rows keep their positions, so a cached order stays right unless a sort key changed.
        stale = {c for a, b in zip(old, self._rows) if a is not b
                 for c, (ka, kb) in enumerate(zip(a.sort_keys, b.sort_keys)) if ka != kb}
        if stale:
            self._orders = {k: v for k, v in self._orders.items() if k[0] not in stale}
        self._any_live = any(r.live for r in self._rows)
        for key, child_rows in (children or {}).items():
            if key in self._children or key in self.expanded:
                self._children[key] = child_rows
        self._rebuild(keep_key=self.cursor_key)

    def set_children(self, parent_key: str, rows: list[Row]) -> None:
        """Rows shown under `parent_key` while it is expanded (sweep trials)."""
        for row in rows:
            row.depth = 1
        self._children[parent_key] = rows
        self._rebuild(keep_key=self.cursor_key)

    def toggle_expanded(self, key: str) -> bool:
        """Expand or collapse a parent row; returns whether it is now expanded."""
        if key in self.expanded:
            self.expanded.discard(key)
        else:
            self.expanded.add(key)
        self._rebuild(keep_key=self.cursor_key)
        return key in self.expanded

    def set_filter(self, text: str) -> None:
        """Show only the rows the `/` filter matches (see tui/query.py for its language)."""
        self._filter_text = text
        self.query = parse_query(text, [c.title for c in self.columns])
        self._filter = self.query.predicate([c.title for c in self.columns])
        self._rebuild(keep_key=self.cursor_key, data_changed=False)

    @property
    def filter_error(self) -> str | None:
        return self.query.error

    @property
    def filter_text(self) -> str:
        return self._filter_text

    @property
    def shown_empty_message(self) -> str:
        """What an empty table says: a filter that hides every row says so, not "no rows"."""
        if self._rows and self._filter_text and not self._view:
            return f"Nothing matches {self._filter_text!r} (0 of {len(self._rows):,}). Press esc to clear the filter."
        return self.empty_message

    # ------------------------------------------------------------------ data out

    @property
    def rows(self) -> list[Row]:
        """The rows as shown (filtered, sorted, children under their parents)."""
        return self._view

    @property
    def total_rows(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> Row | None:
        return self._view[self.cursor] if 0 <= self.cursor < len(self._view) else None

    @property
    def cursor_key(self) -> str | None:
        row = self.cursor_row
        return row.key if row else None

    def move_to_key(self, key: str) -> bool:
        for index, row in enumerate(self._view):
            if row.key == key:
                self.cursor = index
                return True
        return False

    # ------------------------------------------------------------------ view building

    def _rebuild(self, *, keep_key: str | None, data_changed: bool = True) -> None:
        """Filter, sort and flatten into the view. Column widths come from all rows (not the
        filtered view) so they stay put while the user filters or sorts; only new data
        recomputes them."""
        rows = self._ordered()
        if self._filter is not None:
            match = self._filter
            rows = [r for r in rows if match(r.search, r.cells)]
        if self.expanded:
            view: list[Row] = []
            for row in rows:
                view.append(row)
                if row.key in self.expanded:
                    children = self._children.get(row.key, [])
                    view.extend(self._sorted(children) if self.sort_column is not None else children)
        else:
            view = rows if rows is not self._rows else list(rows)
        self._view = view
        if data_changed or not self._widths:
            self._compute_widths()
        self.virtual_size = Size(self._total_width(), len(view) + 1)
        index = 0
        if keep_key is not None:
            index = self._index_of(keep_key, default=min(self.cursor, len(view) - 1))
        self.set_reactive(AssetTable.cursor, max(0, index))
        self._scroll_cursor_into_view()
        self._post_highlight()
        self.refresh()

    def _index_of(self, key: str, default: int) -> int:
        view = self._view
        if 0 <= self.cursor < len(view) and view[self.cursor].key == key:
            return self.cursor
        try:
            return list(map(attrgetter("key"), view)).index(key)
        except ValueError:
            return default

    def _ordered(self) -> list[Row]:
        """The top-level rows in sort order, from a cached order when one is valid: a sort
        keypress then costs a list build, not a 10,000-row sort."""
        rows, index = self._rows, self.sort_column
        if index is None or index >= len(self.columns):
            return rows
        if self.columns[index].live and self._any_live:
            return self._sorted(rows)  # live keys move with the clock: no cached order holds
        order = self._orders.get((index, self.sort_reverse))
        if order is None or len(order) != len(rows):
            order = self._orders[(index, self.sort_reverse)] = sort_order(rows, index, self.sort_reverse)
        return list(map(rows.__getitem__, order))

    def _sorted(self, rows: list[Row]) -> list[Row]:
        column = self.columns[self.sort_column]  # type: ignore[index]
        index = self.sort_column
        if column.live:
            now = self.clock()
            # Only live rows' keys move; the others' stored keys are what their cells show.
            key = lambda r: sort_key(column.get(r.asset, now)) if r.live else r.sort_keys[index]  # noqa: E731
        else:
            key = lambda r: r.sort_keys[index]  # noqa: E731
        return sorted(rows, key=key, reverse=self.sort_reverse)

    def _compute_widths(self) -> None:
        widths = [cell_len(c.title) + 2 for c in self.columns]  # room for the sort arrow
        children = [r for key in self.expanded for r in self._children.get(key, ())]
        for row in (*self._rows, *children):
            for i, cell in enumerate(row.cells):
                n = len(cell)
                if n > widths[i]:
                    widths[i] = n
        for i, column in enumerate(self.columns):
            if column.live or column.clock:
                widths[i] = max(widths[i], SPAN_WIDTH)  # its text changes after the widths are set
            widths[i] = min(widths[i], max(column.max_width, cell_len(column.title) + 2))
        if widths:
            widths[0] += 3  # tree prefix for child rows / expand marker
        self._natural = widths
        self._fit_widths()

    def _fit_widths(self) -> None:
        self._widths = fit_widths(self._natural, self.columns, self.scrollable_content_region.width)

    def _total_width(self) -> int:
        return _total(self._widths)

    def on_resize(self, event: events.Resize) -> None:
        if self._natural:
            self._fit_widths()
            self.virtual_size = Size(self._total_width(), len(self._view) + 1)
            self.refresh()

    # ------------------------------------------------------------------ cursor & keys

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self._refresh_row(old)
        self._refresh_row(new)
        self._post_highlight()

    def _post_highlight(self) -> None:
        row = self.cursor_row
        key = row.key if row else None
        if key != self._highlighted_key:
            self._highlighted_key = key
            self.post_message(self.Highlighted(self, row))

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + 1)

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        page = self._page
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + page:
            self.scroll_to(y=self.cursor - page + 1, animate=False, immediate=True)

    def _move(self, delta: int) -> None:
        if self._view:
            self.cursor = max(0, min(len(self._view) - 1, self.cursor + delta))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-self._page)

    def action_page_down(self) -> None:
        self._move(self._page)

    def action_first(self) -> None:
        self._move(-len(self._view))

    def action_last(self) -> None:
        self._move(len(self._view))

    def action_select(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def sort_by(self, column: int | None, reverse: bool | None = None) -> None:
        """Sort by `column` (None: as loaded, newest first). Without `reverse`, the column
        already sorted by flips its direction and another one starts ascending."""
        if column is not None and not 0 <= column < len(self.columns):
            return
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column and column is not None else False
        self.sort_column, self.sort_reverse = column, reverse
        self._rebuild(keep_key=self.cursor_key, data_changed=False)
        self.post_message(self.Sorted(self))

    def column_at(self, x: int) -> int | None:
        """The column under content x (scrolled), or None in a gap or past the last."""
        left = 1
        for i, w in enumerate(self._widths):
            if w and left <= x < left + w + GAP:
                return i
            left += w + GAP if w else 0
        return None

    def action_cycle_sort(self) -> None:
        """s: sort by the next column (none -> first -> ... -> last -> none)."""
        if not self.columns:
            return
        if self.sort_column is None:
            self.sort_column = 0
        elif self.sort_column + 1 < len(self.columns):
            self.sort_column += 1
        else:
            self.sort_column = None
        self._rebuild(keep_key=self.cursor_key, data_changed=False)
        self.post_message(self.Sorted(self))

    def action_reverse_sort(self) -> None:
        """S: reverse the sort direction."""
        if self.sort_column is None and self.columns:
            self.sort_column = 0
        self.sort_reverse = not self.sort_reverse
        self._rebuild(keep_key=self.cursor_key, data_changed=False)
        self.post_message(self.Sorted(self))

    def sort_description(self) -> str:
        if self.sort_column is None:
            return "newest first"
        arrow = "↓" if self.sort_reverse else "↑"
        return f"{self.columns[self.sort_column].title} {arrow}"

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:  # a header: sort by its column, again to reverse
            column = self.column_at(offset.x + int(self.scroll_x))
            if column is not None:
                self.sort_by(column)
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self._view):
            if index == self.cursor and event.chain >= 2:
                self.action_select()
            self.cursor = index

    # ------------------------------------------------------------------ rendering

    def refresh_live(self) -> None:
        """Repaint rows whose cells change with the clock (running jobs' durations, ages)."""
        if any(c.clock for c in self.columns):
            self.refresh()  # every visible row's age moves; only the window is painted
            return
        top = int(self.scroll_y)
        for index in range(top, min(len(self._view), top + self._page)):
            if self._view[index].live:
                self._refresh_row(index)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base_style()
        if y == 0:
            return self._render_header().crop_extend(int(self.scroll_x), int(self.scroll_x) + width, base)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._view):
            if not self._view and y == 2 and self.shown_empty_message:
                text = "  " + self.shown_empty_message
                return Strip([Segment(text, base + self._style("empty"))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        row = self._view[index]
        is_cursor = index == self.cursor
        fill = base + self._style("cursor") if is_cursor else base
        # One segment per run of same-styled cells, not two per cell: every segment costs
        # again in the compositor's filters, and a full repaint (a sort) draws every row.
        segments: list[Segment] = []
        run, run_style = [" "], fill
        gap = " " * GAP
        now = None
        for i, (column, w) in enumerate(zip(self.columns, self._widths)):
            if not w:
                continue  # hidden: the table is too narrow for it
            text = row.cells[i]
            if (column.live and row.live) or column.clock:
                now = now or self.clock()
                text = column.fmt(column.get(row.asset, now))
            if i == 0:
                text = self._prefix(row) + text
            token = row.styles[i]
            if token and not is_cursor:
                style = base + self._style(token)
                segments.append(Segment("".join(run), run_style))
                segments.append(Segment(_fit(text, w), style))
                run, run_style = [gap], fill
            else:
                run.append(_fit(text, w))
                run.append(gap)
        segments.append(Segment("".join(run), run_style))
        strip = Strip(segments, self._total_width())
        return strip.crop_extend(int(self.scroll_x), int(self.scroll_x) + width, fill)

    def _prefix(self, row: Row) -> str:
        if row.depth:
            return " └ "
        if getattr(row.asset, "type", None) == "sweep":
            return "▾ " if row.key in self.expanded else "▸ "
        return ""

    def _render_header(self) -> Strip:
        style = self.rich_style + self._style("header")
        segments = [Segment(" ", style)]
        for i, (column, w) in enumerate(zip(self.columns, self._widths)):
            if not w:
                continue
            title = column.title
            if i == self.sort_column:
                title += " ↓" if self.sort_reverse else " ↑"
            segments.append(Segment(_fit(title, w) + " " * GAP, style))
        return Strip(segments, self._total_width())

    def row_texts(self) -> Iterable[str]:
        """Rows as plain text (what a test or the tmux smoke test would read)."""
        for row in self._view:
            yield "  ".join(row.cells)
