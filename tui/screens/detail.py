"""One asset, full screen: the kind's detail renderer, plus metric charts for jobs.

The same screen serves every kind (the renderer comes from `KindSpec.detail`). While a job
is active it reloads every second so status, duration and metric plots stay live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tui.kinds import DetailData, KindSpec, render_detail
from tui.screens.base import KindActions, ReportsWorkerErrors, kind_action_bindings
from tui.widgets.footer import KeyFooter
from tui.workspace.base import Asset, Job, MetricPoint

if TYPE_CHECKING:
    from tui.app import AmlTuiApp
    from tui.widgets.charts import MetricChart


class DetailScreen(ReportsWorkerErrors, KindActions, Screen):
    app: "AmlTuiApp"

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="detail.back"),
        Binding("y", "yaml", "YAML", id="detail.yaml"),
        Binding("r", "refresh", "Refresh", id="detail.refresh"),
        *(b for b in kind_action_bindings() if b.id != "jobs.expand"),
    ]

    @dataclass
    class Loaded(Message):
        data: DetailData

    def __init__(self, spec: KindSpec, asset: Asset) -> None:
        super().__init__()
        self.spec, self.asset = spec, asset
        self.data: DetailData | None = None
        self.charts: dict[str, "MetricChart"] = {}

    def compose(self) -> ComposeResult:
        yield Static(f" {self.spec.title} / [b]{self.asset.key}[/b]", id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(render_detail(self.spec, DetailData(self.asset)), id="detail-full")
            yield Vertical(id="detail-plots")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#detail-scroll").focus()
        self.action_refresh()
        self.set_interval(1.0, self._tick)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def action_refresh(self) -> None:
        self.post_message(self.Loaded(self.spec.load_detail(self.app.workspace, self.asset)))

    def _tick(self) -> None:
        if isinstance(self.asset, Job) and not self.asset.is_terminal:
            self.action_refresh()

    def on_detail_screen_loaded(self, message: Loaded) -> None:
        self.data, self.asset = message.data, message.data.asset
        self.query_one("#detail-full", Static).update(render_detail(self.spec, message.data))
        if message.data.metrics:
            self.show_charts(message.data.metrics)

    def show_charts(self, metrics: Mapping[str, Sequence[MetricPoint]]) -> None:
        """One chart per metric with two points or more; a live job's charts update in place."""
        from tui.widgets.charts import MetricChart  # plotext: only once there is something to plot

        new = []
        for key, points in sorted(metrics.items()):
            if len(points) < 2:
                continue
            if key in self.charts:
                self.charts[key].set_points(points)
            else:
                self.charts[key] = chart = MetricChart(key, points)
                new.append(chart)
        if new:
            self.query_one("#detail-plots").mount(*new)

    def current_spec(self) -> KindSpec:
        return self.spec

    def current_asset(self) -> Asset | None:
        return self.asset

    def action_yaml(self) -> None:
        from tui.screens.modals import show_yaml

        show_yaml(self.app, self.asset)
