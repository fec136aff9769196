"""A small line-free chart for metric histories: columns of eighth blocks, min/max labelled.

plotext 6 changed its whole API and textual-plotext is not a dependency; a metric history
needs no more than this, and it renders in microseconds.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"


def _resample(values: Sequence[float], width: int) -> list[float]:
    """At most `width` values: the mean of each equal slice (all values when they fit)."""
    n = len(values)
    if n <= width:
        return list(values)
    out = []
    for i in range(width):
        lo, hi = i * n // width, max(i * n // width + 1, (i + 1) * n // width)
        chunk = values[lo:hi]
        out.append(sum(chunk) / len(chunk))
    return out


def block_chart(title: str, steps: Sequence[int], values: Sequence[float], *, width: int = 60,
                height: int = 6, style: str = "cyan") -> Text:
    """`title`, then `height` rows of bars (one column per step or slice), then the step range."""
    label_width = 10
    width = max(8, width - label_width - 1)
    data = _resample(list(values), width)
    lo, hi = min(data), max(data)
    span = (hi - lo) or 1.0
    # Each column's height in eighths of a row; the smallest value still shows a sliver.
    levels = [1 + round((v - lo) / span * (height * 8 - 1)) for v in data]
    text = Text(f"{title}  last {values[-1]:.4g}  min {min(values):.4g}  max {max(values):.4g}\n", style="bold")
    for row in range(height, 0, -1):
        label = f"{hi:.4g}" if row == height else f"{lo:.4g}" if row == 1 else ""
        text.append(label.rjust(label_width) + " ", style="dim")
        floor = (row - 1) * 8
        text.append("".join(BLOCKS[max(0, min(8, level - floor))] for level in levels), style=style)
        text.append("\n")
    text.append(" " * (label_width + 1) + f"step {steps[0]} … {steps[-1]}\n", style="dim")
    return text
