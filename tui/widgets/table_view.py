"""The asset table's cursor, keys, sorting and painting: a mixin of `AssetTable`
(tui/widgets/asset_table.py), apart so each module stays readable. It reads the table's
view through `height`, `row_at` and the fitted `_widths`."""

from __future__ import annotations

from rich.segment import Segment
from textual import events
from textual.strip import Strip

from tui.columns import Row
from tui.widgets.column_fit import GAP, fit, total_width

PLACEHOLDER = "  …"


class TableView:
    """Cursor, keys, sort and `render_line` of `AssetTable` (whose attributes it uses)."""

    cursor: int

    # ------------------------------------------------------------------ cursor & keys

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._post_highlight()

    def _post_highlight(self) -> None:
        row = self.cursor_row
        key = row.key if row else None
        self._cursor_key = key
        if key != self._highlighted_key:
            self._highlighted_key = key
            self.post_message(self.Highlighted(self, row))

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
        if self.height:
            self.cursor = max(0, min(self.height - 1, self.cursor + delta))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-self._page)

    def action_page_down(self) -> None:
        self._move(self._page)

    def action_first(self) -> None:
        self._move(-self.height)

    def action_last(self) -> None:
        self._move(self.height)

    def action_select(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def _sort(self, column: int | None, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self._request(top=True)
        self.refresh()  # the header's arrow, at once; the rows follow
        self.post_message(self.Sorted(self))

    def sort_by(self, column: int | None, reverse: bool | None = None) -> None:
        """Sort by `column` (None: as loaded, newest first). Without `reverse`, the column
        already sorted by flips its direction and another one starts ascending."""
        if column is not None and not 0 <= column < len(self.columns):
            return
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column and column is not None else False
        self._sort(column, reverse)

    def action_cycle_sort(self) -> None:
        """s: sort by the next column (none -> first -> ... -> last -> none)."""
        if not self.columns:
            return
        column = self.sort_column
        self._sort(0 if column is None else column + 1 if column + 1 < len(self.columns) else None,
                   self.sort_reverse)

    def action_reverse_sort(self) -> None:
        """S: reverse the sort direction."""
        if self.columns:
            self._sort(0 if self.sort_column is None else self.sort_column, not self.sort_reverse)

    def sort_description(self) -> str:
        if self.sort_column is None:
            return "newest first"
        arrow = "↓" if self.sort_reverse else "↑"
        return f"{self.columns[self.sort_column].title} {arrow}"

    def column_at(self, x: int) -> int | None:
        """The column under content x (scrolled), or None in a gap or past the last."""
        left = 1
        for i, w in enumerate(self._widths):
            if w and left <= x < left + w + GAP:
                return i
            left += w + GAP if w else 0
        return None

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
        if 0 <= index < self.height:
            if index == self.cursor and event.chain >= 2:
                self.action_select()
            self.cursor = index

    # ------------------------------------------------------------------ rendering

    def refresh_live(self) -> None:
        """Repaint the lines whose clock cells (ages, running durations) read differently now:
        an age in hours changes once a minute, so most ticks repaint nothing."""
        clocked = [(i, c) for i, c in enumerate(self.columns) if c.clock or c.live]
        if not clocked:
            return
        now, top = self.clock(), int(self.scroll_y)
        shown: dict[int, tuple] = {}
        for line in range(top, min(self.height, top + self._page)):
            row = self.row_at(line)
            if row is not None:
                shown[line] = tuple(c.fmt(c.get(row.asset, now)) if c.clock or row.live else row.cells[i]
                                    for i, c in clocked)
        painted = getattr(self, "_clock_cells", {})
        for line, cells in shown.items():
            if painted.get(line) != cells:
                self.refresh_line(line + 1)
        self._clock_cells = shown

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base_style()
        scroll_x = int(self.scroll_x)
        if y == 0:
            return self._render_header().crop_extend(scroll_x, scroll_x + width, base)
        index = int(self.scroll_y) + y - 1
        if index >= self.height:
            message = self.shown_empty_message
            if not self.height and y == 2 and message:
                return Strip([Segment("  " + message, base + self._style("empty"))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        row = self.row_at(index)
        is_cursor = index == self.cursor
        fill = base + self._style("cursor") if is_cursor else base
        if row is None:  # not fetched yet: its page is on its way
            self.call_after_refresh(self._want_visible)
            return Strip([Segment(PLACEHOLDER, fill + self._style("muted"))]).crop_extend(0, width, fill)
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
                segments.append(Segment("".join(run), run_style))
                segments.append(Segment(fit(text, w), base + self._style(token)))
                run, run_style = [gap], fill
            else:
                run.append(fit(text, w))
                run.append(gap)
        segments.append(Segment("".join(run), run_style))
        return Strip(segments, total_width(self._widths)).crop_extend(scroll_x, scroll_x + width, fill)

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
            segments.append(Segment(fit(title, w) + " " * GAP, style))
        return Strip(segments, total_width(self._widths))
