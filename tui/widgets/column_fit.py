"""Column widths of the asset table: measured from the rows seen (widening only, so columns
stay put while pages arrive), then fitted to the table's width."""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.cells import cell_len, set_cell_size

from tui.columns import Column, Row

GAP = 2  # spaces between columns
SPAN_WIDTH = 6  # the widest `format_span` under 100 days: "23h59m"
PREFIX = 3  # the first column's tree prefix for child rows / expand marker


def fit(text: str, width: int) -> str:
    """Pad or truncate `text` to exactly `width` cells (with an ellipsis when cut)."""
    if text.isascii():
        if len(text) <= width:
            return text.ljust(width)
        return text[: width - 1] + "…" if width > 1 else text[:width]
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


def total_width(widths: Sequence[int]) -> int:
    """Cells a row takes: a leading space, then each shown column and its gap."""
    return 1 + sum(w + GAP for w in widths if w)


def title_widths(columns: Sequence[Column]) -> list[int]:
    """Widths before any row is seen: titles with room for the sort arrow; columns whose
    text changes with the clock as wide as any span."""
    widths = [cell_len(c.title) + 2 for c in columns]
    for i, column in enumerate(columns):
        if column.live or column.clock:
            widths[i] = max(widths[i], SPAN_WIDTH)
    if widths:
        widths[0] += PREFIX
    return widths


def grow(widths: list[int], columns: Sequence[Column], rows: Iterable[Row]) -> bool:
    """Widen `widths` (in place) to the cells of `rows`, each up to its column's cap;
    True when one changed."""
    caps = [max(c.max_width, cell_len(c.title) + 2) for c in columns]
    if caps:
        caps[0] += PREFIX
    wanted = [0] * len(columns)
    for row in rows:
        for i, cell in enumerate(row.cells):
            n = len(cell)
            if n > wanted[i]:
                wanted[i] = n
    if wanted:
        wanted[0] += PREFIX
    changed = False
    for i, n in enumerate(wanted):
        n = min(n, caps[i])
        if n > widths[i]:
            widths[i], changed = n, True
    return changed


def fit_widths(natural: Sequence[int], columns: Sequence[Column], available: int) -> list[int]:
    """Column widths for a table `available` cells wide (0 = hidden).

    Columns that may shrink (`Column.min_width`) give up cells widest first; when that is not
    enough, columns that may go (`Column.drop_rank`) are hidden, lowest rank first. The others
    (STATUS, durations, ages) keep their full width, so a status is never cut. What still does
    not fit scrolls sideways.
    """
    widths = list(natural)
    if available <= 0 or total_width(widths) <= available:
        return widths
    droppable = sorted((c.drop_rank, i) for i, c in enumerate(columns) if c.drop_rank is not None)
    while True:
        shrunk = list(widths)
        excess = total_width(shrunk) - available
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
