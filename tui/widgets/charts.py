"""Metric charts: a textual-plotext line plot per metric, with a title, axis values and the
width it is given (the widget re-plots at its own size on every render).

textual-plotext 1.0.1 drives plotext 5.3.2 (plotext 6 has another API). Importing it costs
~0.15 s, so only the detail screen (once a job has metrics) and the sweep view import this module.
"""

from __future__ import annotations

import math
from typing import Sequence

from textual_plotext import PlotextPlot

from tui.workspace.base import MetricPoint

MAX_POINTS = 2000  # plotext draws every point it is given; a long history is thinned first


def thin(points: Sequence[MetricPoint], limit: int = MAX_POINTS) -> list[MetricPoint]:
    """At most `limit` points, evenly spaced, the first and last always kept."""
    n = len(points)
    if n <= limit:
        return list(points)
    return [points[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


def chart_title(key: str, points: Sequence[MetricPoint]) -> str:
    values = [p.value for p in points]
    return f"{key}   last {values[-1]:.4g}   min {min(values):.4g}   max {max(values):.4g}"


class MetricChart(PlotextPlot):
    """One metric's history against its step."""

    DEFAULT_CSS = """
    MetricChart { height: 14; width: 1fr; margin-bottom: 1; }
    """

    def __init__(self, key: str, points: Sequence[MetricPoint], **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.points: list[MetricPoint] = []
        self.set_points(points)

    def set_points(self, points: Sequence[MetricPoint]) -> None:
        points = thin(points)
        if points == self.points:
            return
        self.points = points
        plt = self.plt
        plt.clear_data()
        steps = [p.step for p in points]
        plt.plot(steps, [p.value for p in points], marker="braille")
        # Steps are whole numbers: label them so, not "10.8".
        ticks = sorted({round(steps[0] + i * (steps[-1] - steps[0]) / 4) for i in range(5)})
        plt.xticks(ticks, [str(t) for t in ticks])
        plt.title(chart_title(self.key, points))
        plt.xlabel("step")
        self.refresh()


class TrialChart(PlotextPlot):
    """A sweep's trials as points: the objective per trial, or against one parameter (with
    `labels`, x is the index of a category: optimizer adamw, sgd). The best trial is drawn
    apart, in its own colour."""

    DEFAULT_CSS = """
    TrialChart { height: 14; width: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.points: list[tuple[float, float]] = []
        self.best: tuple[float, float] | None = None
        self.title = ""

    def show(self, points: Sequence[tuple[float, float]], *, title: str, xlabel: str,
             best: tuple[float, float] | None = None, labels: Sequence[str] | None = None,
             integer_x: bool = False) -> None:
        state = (list(points), best, title, xlabel, list(labels or ()))
        if state == getattr(self, "_state", None):
            return  # re-plotting an unchanged chart on every poll would repaint it for nothing
        self._state = state
        self.points, self.best, self.title = list(points), best, title
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        # The best is named in the title: a legend box would sit on the top-left points.
        plt.title(f"{title}   ★ best" if best is not None else title)
        plt.xlabel(xlabel)
        others = [p for p in points if p != best]
        if others:
            plt.scatter([x for x, _ in others], [y for _, y in others], marker="●")
        if best is not None:
            plt.scatter([best[0]], [best[1]], marker="★", color="yellow")
        if labels:
            plt.xticks(list(range(len(labels))), list(labels))
            plt.xlim(-0.5, len(labels) - 0.5)
        elif integer_x and points:
            xs = sorted({int(x) for x, _ in points})
            step = max(1, math.ceil(len(xs) / 10))
            plt.xticks(xs[::step], [str(x) for x in xs[::step]])
            plt.xlim(xs[0] - 0.5, xs[-1] + 0.5)
        elif points:
            # A margin, so that the points at the ends are not drawn on the frame.
            lo, hi = min(x for x, _ in points), max(x for x, _ in points)
            pad = (hi - lo) * 0.05 or abs(lo) * 0.05 or 1.0
            plt.xlim(lo - pad, hi + pad)
        if not points:
            plt.title(f"{title}   (no trial has reported yet)")
        self.refresh()
