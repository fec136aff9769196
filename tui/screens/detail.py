"""One asset, full screen: the kind's detail renderer, plus metric plots for jobs.

The same screen serves every kind (the renderer comes from `KindSpec.detail`). While a job
is active it reloads every second so status, duration and metric plots stay live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from rich.console import Group, RenderableType
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.kinds import DetailData, KindSpec, render_detail
from tui.screens.base import KindActions, ReportsWorkerErrors, kind_action_bindings
from tui.widgets.charts import block_chart
from tui.workspace.base import Asset, Job, MetricPoint

if TYPE_CHECKING:
    from tui.app import AmlTuiApp


def metric_plots(metrics: Mapping[str, Sequence[MetricPoint]], width: int) -> RenderableType:
    """One block chart per metric with at least two points."""
    charts: list[RenderableType] = []
    for key, points in sorted(metrics.items()):
        if len(points) >= 2:
            charts.append(block_chart(key, [p.step for p in points], [p.value for p in points], width=width))
    return Group(*charts)


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

    def compose(self) -> ComposeResult:
        yield Static(f" {self.spec.title} / [b]{self.asset.key}[/b]", id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(render_detail(self.spec, DetailData(self.asset)), id="detail-full")
            yield Static("", id="detail-plots")
        yield Footer()

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
            width = self.query_one("#detail-scroll").size.width - 4
            self.query_one("#detail-plots", Static).update(metric_plots(message.data.metrics, width))

    def current_spec(self) -> KindSpec:
        return self.spec

    def current_asset(self) -> Asset | None:
        return self.asset

    def action_yaml(self) -> None:
        from tui.screens.modals import show_yaml

        show_yaml(self.app, self.asset)
