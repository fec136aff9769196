"""Metric charts use the width they are given, with a title and axis values."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.conftest import run_job, wait_for
from tui.kinds import KINDS
from tui.screens.detail import DetailScreen
from tui.workspace.base import MetricPoint

LOSS = [MetricPoint(step, 2.0 / step, 0.0) for step in range(1, 41)]


pytestmark = pytest.mark.local_only("metrics a job logs to the local MLflow store")


def chart_lines(chart) -> list[str]:
    return chart.render().plain.rstrip("\n").split("\n")


@pytest.mark.parametrize("width", [80, 160])
async def test_a_chart_fills_its_width_with_a_title_and_axes(width):
    from tui.widgets.charts import MetricChart

    class Charts(App):
        def compose(self) -> ComposeResult:
            yield MetricChart("loss", LOSS)

    app = Charts()
    async with app.run_test(size=(width, 20)) as pilot:
        chart = app.query_one(MetricChart)
        await pilot.pause()
        lines = chart_lines(chart)
        assert chart.size.width == width and {len(line) for line in lines} == {width}
        assert len(lines) == chart.size.height
        text = "\n".join(lines)
        assert "loss" in lines[0] and "last 0.05" in lines[0] and "max 2" in lines[0]  # the title
        assert "2.00" in text and "step" in lines[-1]  # values on the y axis, the x axis named
        assert lines[-2].split() == ["1", "11", "20", "30", "40"]  # whole steps along the x axis
        await pilot.resize_terminal(width // 2, 20)
        await pilot.pause()
        assert {len(line) for line in chart_lines(chart)} == {width // 2}  # it follows the width it is given


async def test_a_jobs_detail_screen_charts_its_metrics(ws, app_factory):
    name = run_job(ws, "python -c \"import mlflow; mlflow.start_run(); "
                       "[mlflow.log_metric('loss', 1.0 / s, step=s) for s in range(1, 6)]; "
                       "mlflow.log_metric('single', 1.0)\"")
    job = ws.wait_for_job(name, timeout=120)
    assert job.status == "Completed"
    app = app_factory()
    async with app.run_test(size=(80, 40)) as pilot:
        screen = DetailScreen(KINDS[job.kind], job)
        app.push_screen(screen)
        await wait_for(pilot, lambda: bool(screen.charts), what="charts")
        assert list(screen.charts) == ["loss"]  # one point is no history: no chart
        chart = screen.charts["loss"]
        await pilot.pause()
        assert [p.step for p in chart.points] == [1, 2, 3, 4, 5]
        assert chart.size.width >= 70 and "loss" in chart_lines(chart)[0]
