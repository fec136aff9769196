"""A log viewer built on the Line API: a bounded buffer of lines, rendered on demand.

Lines arrive in batches (`append`), one message per ~50 ms from the tailing worker, so a
job printing 100,000 lines a second costs ~20 appends a second, each O(batch). Only the
lines on screen are turned into segments. The buffer keeps the last `max_lines` lines;
search and save read the whole file again (see `LogScreen`), so nothing is lost to them.

Follow mode keeps the view at the end; scrolling up pauses it and counts new lines.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.widgets.styles import CachedStyles

STAMP_WIDTH = 13  # "HH:MM:SS.mmm "


class LogView(CachedStyles, ScrollView, can_focus=True):
    """See module docstring. The screen drives it; it reports follow/position changes."""

    COMPONENT_PREFIX = "log-view"

    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView > .log-view--stamp { color: $text-muted; }
    LogView > .log-view--match { background: $warning 40%; }
    LogView > .log-view--current-match { background: $accent; color: $text; text-style: bold; }
    LogView > .log-view--partial { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"log-view--stamp", "log-view--match", "log-view--current-match", "log-view--partial"}

    BINDINGS = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False, id="log.up"),
        Binding("down,j", "scroll_by(1)", "Down", show=False, id="log.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="log.page_up"),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False, id="log.page_down"),
        Binding("home,g", "top", "Top", show=False, id="log.top"),
        Binding("end,G", "bottom", "End (follow)", show=False, id="log.end"),
        Binding("left,h", "scroll_left", "Left", show=False, id="log.left"),
        Binding("right,l", "scroll_right", "Right", show=False, id="log.right"),
    ]

    @dataclass
    class StateChanged(Message):
        """Follow mode, line count, new-line count or search position changed."""

        view: "LogView"

    def __init__(self, *, max_lines: int = 100_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.lines: list[str] = []
        self.stamps: list[float] = []  # per line: when it was written (or, see `written`, read)
        self.partial = ""
        self.partial_stamp: float | None = None
        self.written = True  # the stamps are write times; False once any line came without one
        self.first_lineno = 0  # file line number of lines[0] (earlier lines were dropped)
        self.follow = True
        self.wrap = False
        self.timestamps = False
        self.new_lines = 0  # lines that arrived while not following
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[int] = []  # file line numbers, ascending
        self.match_index: int | None = None
        self._max_width = 0
        self._wrap_rows: list[tuple[int, int]] = []  # display row -> (buffer index, start col)
        self._wrap_width = 0

    # ------------------------------------------------------------------ content

    @property
    def total_lines(self) -> int:
        """Lines seen in the file so far (complete ones), dropped ones included."""
        return self.first_lineno + len(self.lines)

    def clear(self) -> None:
        self.lines, self.stamps, self.partial, self.partial_stamp = [], [], "", None
        self.written = True
        self.first_lineno = self.new_lines = self._max_width = 0
        self.matches, self.match_index = [], None
        self._wrap_rows = []
        self.follow = True
        self._update_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        self._changed()

    def append(self, lines: list[str], partial: str = "", stamp: float | None = None,
               stamps: list[float] | None = None, partial_stamp: float | None = None,
               written: bool = True) -> None:
        """Add complete lines (already cleaned) and the current unterminated tail, with when
        each was written (`stamps`, one per line) or, without, `stamp` (default: now) for all;
        `written` False says the stamps are when the lines were read, not written."""
        old_rows = self._row_count()
        start = len(self.lines)
        self.lines.extend(lines)
        if stamps is not None and len(stamps) == len(lines):
            self.stamps.extend(stamps)
        else:
            self.stamps.extend([time.time() if stamp is None else stamp] * len(lines))
            written = written and stamps is not None
        self.partial = partial
        self.partial_stamp = partial_stamp
        if lines and not written:
            self.written = False
        if lines:
            self._max_width = max(self._max_width, max(map(len, lines)))
        if len(self.lines) > self.max_lines + self.max_lines // 10:
            # Trim in blocks, not per line: a list slice is a memmove of the whole buffer.
            drop = len(self.lines) - self.max_lines
            del self.lines[:drop], self.stamps[:drop]
            self.first_lineno += drop
            self._rebuild_wrap()
        elif self.wrap:
            self._extend_wrap(start)
        if not self.follow:
            self.new_lines += len(lines)
        self._update_size()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
            # Again after layout: a long line brings a horizontal scrollbar that would hide
            # the last line (a finished job's log gets no later batch to fix it).
            self.call_after_refresh(self._keep_at_end)
            self.refresh()
        elif self._row_count() != old_rows:
            self.refresh()
        self._changed()

    def _keep_at_end(self) -> None:
        if self.follow and self.scroll_y != self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    # ------------------------------------------------------------------ modes

    def set_follow(self, follow: bool) -> None:
        self.follow = follow
        if follow:
            self.new_lines = 0
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
        self._changed()

    def set_wrap(self, wrap: bool) -> None:
        self.wrap = wrap
        self._rebuild_wrap()
        self._update_size()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
        self.refresh()
        self._changed()

    def set_timestamps(self, on: bool) -> None:
        self.timestamps = on
        self._rebuild_wrap()
        self._update_size()
        self.refresh()
        self._changed()

    def set_search(self, pattern: re.Pattern[str] | None, matches: list[int]) -> None:
        self.pattern, self.matches = pattern, matches
        self.match_index = None
        self.refresh()
        self._changed()

    def goto_match(self, forward: bool = True) -> int | None:
        """Move to the next/previous match after/before the top of the view.

        Returns the match's file line number; the caller tells the user when that line has
        left the buffer. Going to a match pauses follow mode (the user is reading).
        """
        if not self.matches:
            return None
        if self.match_index is None:
            here = self.first_lineno + self._buffer_index_at(int(self.scroll_y))
            index = next((i for i, n in enumerate(self.matches) if n >= here), 0) if forward else \
                next((i for i in range(len(self.matches) - 1, -1, -1) if self.matches[i] <= here), len(self.matches) - 1)
        else:
            index = (self.match_index + (1 if forward else -1)) % len(self.matches)
        self.match_index = index
        lineno = self.matches[index]
        if lineno >= self.first_lineno:
            self.follow = False
            row = self._display_row_of(lineno - self.first_lineno)
            self.scroll_to(y=max(0, row - self.scrollable_content_region.height // 2), animate=False, immediate=True)
        self.refresh()
        self._changed()
        return lineno

    # ------------------------------------------------------------------ user scrolling

    def _pause(self) -> None:
        if self.follow:
            self.follow = False
            self._changed()

    def action_scroll_by(self, delta: int) -> None:
        if delta < 0:
            self._pause()
        self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True)
        self._resume_at_end()

    def action_page(self, direction: int) -> None:
        if direction < 0:
            self._pause()
        self.scroll_to(y=self.scroll_y + direction * self.scrollable_content_region.height,
                       animate=False, immediate=True)
        self._resume_at_end()

    def action_top(self) -> None:
        self._pause()
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.set_follow(True)

    def _resume_at_end(self) -> None:
        # Scrolling back down to the end resumes following, as in toolong and `less +F`.
        if not self.follow and self.scroll_y >= self.max_scroll_y:
            self.set_follow(True)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._pause()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.call_after_refresh(self._resume_at_end)

    # ------------------------------------------------------------------ geometry

    def _gutter(self) -> int:
        return STAMP_WIDTH if self.timestamps else 0

    def _row_count(self) -> int:
        rows = len(self._wrap_rows) if self.wrap else len(self.lines)
        return rows + (1 if self.partial else 0)

    def _update_size(self) -> None:
        width = 0 if self.wrap else self._max_width + self._gutter()
        self.virtual_size = Size(max(width, len(self.partial) + self._gutter()), self._row_count())

    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width - self._gutter())

    def _rebuild_wrap(self) -> None:
        self._wrap_rows = []
        if self.wrap:
            self._wrap_width = self._text_width()
            self._extend_wrap(0)

    def _extend_wrap(self, start: int) -> None:
        width = self._wrap_width
        rows = self._wrap_rows
        for index in range(start, len(self.lines)):
            n = len(self.lines[index])
            if n <= width:
                rows.append((index, 0))
            else:
                rows.extend((index, col) for col in range(0, n, width))

    def _buffer_index_at(self, row: int) -> int:
        if self.wrap:
            return self._wrap_rows[row][0] if row < len(self._wrap_rows) else len(self.lines)
        return row

    def _display_row_of(self, index: int) -> int:
        if not self.wrap:
            return index
        import bisect

        return bisect.bisect_left(self._wrap_rows, (index, 0))

    def _on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._text_width() != self._wrap_width:
            self._rebuild_wrap()
            self._update_size()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base_style()
        row = int(self.scroll_y) + y
        if self.wrap:
            if row < len(self._wrap_rows):
                index, col = self._wrap_rows[row]
                text, stamp = self.lines[index][col : col + self._wrap_width], self.stamps[index]
                show_stamp = col == 0
            elif row == len(self._wrap_rows) and self.partial:
                index, text, stamp, show_stamp = -1, self.partial, self._partial_stamp(), True
            else:
                return Strip.blank(width, base)
        else:
            if row < len(self.lines):
                index, text, stamp, show_stamp = row, self.lines[row], self.stamps[row], True
            elif row == len(self.lines) and self.partial:
                index, text, stamp, show_stamp = -1, self.partial, self._partial_stamp(), True
            else:
                return Strip.blank(width, base)
        segments: list[Segment] = []
        if self.timestamps:
            label = time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp * 1000) % 1000:03d} "
            segments.append(Segment(label if show_stamp else " " * STAMP_WIDTH, base + self._style("stamp")))
        style = base + self._style("partial") if index < 0 else base
        segments.extend(self._highlight(text, style, index))
        strip = Strip(segments)
        if self.wrap:
            return strip.crop_extend(0, width, base)
        x = int(self.scroll_x)
        return strip.crop_extend(x, x + width, base)

    def _partial_stamp(self) -> float:
        return self.partial_stamp if self.partial_stamp else time.time()

    def _highlight(self, text: str, style: Style, index: int) -> list[Segment]:
        if self.pattern is None or not text:
            return [Segment(text, style)]
        current = (self.match_index is not None and index >= 0
                   and self.matches[self.match_index] == self.first_lineno + index)
        hit = style + self._style("current-match" if current else "match")
        segments, pos = [], 0
        for m in self.pattern.finditer(text):
            if m.start() == m.end():
                continue
            if m.start() > pos:
                segments.append(Segment(text[pos : m.start()], style))
            segments.append(Segment(m.group(), hit))
            pos = m.end()
        if pos < len(text):
            segments.append(Segment(text[pos:], style))
        return segments

    def _changed(self) -> None:
        self.post_message(self.StateChanged(self))
