"""The sweep view: one sweep job, its trials ranked by the objective, and a chart of them.

Everything comes through the Workspace contract: the sweep (`get_job`, its az ml shape and
its `properties`: best_child_run_id, score, trial_counts), its trials (`list_jobs(
parent_job_name=...)`, every page), each trial's parameters (the `hyperparameters` tag, as
Azure's run history keeps them) and its objective history (`job_metrics`). A worker reloads
them every refresh interval while the sweep or one of its trials is active; once all have
ended the timer stops, so a finished sweep costs nothing. A trial's metrics are read until
it has ended, then kept.

From a trial: `l` its logs, `enter`/`d` its details, `C` a command job prefilled with the
trial (its parameters put into the command), `y` its YAML.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static

from tui.columns import STATUS_STYLES, format_duration
from tui.kinds import _RICH_STATUS, KINDS
from tui.screens.base import ReportsWorkerErrors
from tui.widgets.footer import KeyFooter
from tui.workspace.base import AssetKind, Job, MetricPoint

if TYPE_CHECKING:
    from tui.app import AmlTuiApp
    from tui.widgets.charts import TrialChart

SEARCH_SPACE_REF = re.compile(r"\$\{\{\s*search_space\.(\w+)\s*\}\}")
BEST = "★"
MAX_TRIAL_PAGES = 1000  # a runaway page token must not keep the worker forever


# ---------------------------------------------------------------------------- trials as data


def trial_params(trial: Job) -> dict[str, Any]:
    """The trial's parameters: Azure's run history keeps them in the `hyperparameters` tag, as JSON."""
    raw = trial.get("tags.hyperparameters")
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        params = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def trial_number(trial: Job) -> int | None:
    """`<sweep>_3` -> 3 (local and Azure trials end so); None otherwise."""
    tail = trial.name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def param_text(value: Any) -> str:
    """A parameter as the command line got it (true, not True)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class TrialRow:
    """One trial as the view shows it: the job, its parameters and its objective's history."""

    job: Job
    params: Mapping[str, Any]
    history: Sequence[MetricPoint]

    @property
    def objective(self) -> float | None:
        """The last value of the primary metric (what the sweep judges a trial by)."""
        for point in reversed(self.history):
            if math.isfinite(point.value):
                return point.value
        return None

    @property
    def number(self) -> int | None:
        return trial_number(self.job)

    @property
    def stop_reason(self) -> str:
        return str(self.job.get("properties.stop_reason") or "")


def _by_number(row: TrialRow) -> tuple[int, str]:
    number = row.number
    return (number if number is not None else 1 << 30, row.job.name)


def order_trials(rows: Sequence[TrialRow], goal: str) -> list[TrialRow]:
    """Best objective first for the goal (maximize: highest), ties by trial number; trials
    with no objective yet come last, by number."""
    scored = [r for r in rows if r.objective is not None]
    sign = -1 if goal == "maximize" else 1
    scored.sort(key=lambda r: (sign * r.objective, _by_number(r)))  # type: ignore[operator]
    return scored + sorted((r for r in rows if r.objective is None), key=_by_number)


def best_trial(sweep: Job, rows: Sequence[TrialRow], goal: str) -> str | None:
    """The sweep's own word (`properties.best_child_run_id`), else the best objective among
    the trials that did not fail (what the sweep will say)."""
    named = sweep.get("properties.best_child_run_id")
    if named:
        return str(named)
    ranked = order_trials([r for r in rows if r.job.status != "Failed"], goal)
    return ranked[0].job.name if ranked and ranked[0].objective is not None else None


def trial_document(trial: Job) -> dict[str, Any]:
    """The trial as a command job to submit: its fields, its parameters put where the command
    named them (a command job has no search space), minus what belongs to the sweep."""
    from tui.screens.submit import clone_document

    doc = clone_document(trial)
    # Exactly as the trial's command got them (str(), as the runner writes them), not as shown.
    params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in trial_params(trial).items()}
    command = doc.get("command")
    if isinstance(command, str):
        doc["command"] = SEARCH_SPACE_REF.sub(lambda m: params.get(m.group(1), m.group(0)), command)
    tags = {k: v for k, v in (doc.get("tags") or {}).items() if k != "hyperparameters"}
    if tags:
        doc["tags"] = tags
    else:
        doc.pop("tags", None)
    doc["display_name"] = f"{trial.display_name or trial.name} (clone)"
    return doc


def trial_counts(sweep: Job, rows: Sequence[TrialRow]) -> dict[str, int]:
    """Trials by status: the sweep's `trial_counts` property where it is current, else counted."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.job.status] = counts.get(row.job.status, 0) + 1
    if counts:
        return counts
    raw = sweep.get("properties.trial_counts")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in parsed.items()} if isinstance(parsed, Mapping) else {}


def _status_text(status: str) -> Text:
    return Text(status, style=_RICH_STATUS.get(STATUS_STYLES.get(status, ""), ""))


def _describe(mapping: Any, skip: tuple[str, ...] = ("type",)) -> str:
    if not isinstance(mapping, Mapping):
        return str(mapping or "")
    head = str(mapping.get("type", ""))
    rest = ", ".join(f"{k} {v}" for k, v in mapping.items() if k not in skip and v not in (None, ""))
    return f"{head} ({rest})" if head and rest else head or rest


def sweep_header(sweep: Job, rows: Sequence[TrialRow]) -> Group:
    """Objective, sampling, limits, early termination; status, trial counts, best trial."""
    objective = sweep.get("objective") or {}
    goal = objective.get("goal", "")
    limits = sweep.get("limits") or {}
    counts = trial_counts(sweep, rows)
    total = sweep.get("properties.total_trials") or str(len(rows))
    best = best_trial(sweep, rows, goal)
    best_row = next((r for r in rows if r.job.name == best), None)
    score = sweep.get("properties.score")
    if score is None and best_row is not None and best_row.objective is not None:
        score = best_row.objective
    try:
        score_text = f"{float(score):.6g}" if score is not None else ""
    except ValueError:
        score_text = str(score)
    best_text = Text()
    if best:
        number = best_row.number if best_row else None
        best_text.append(f"{BEST} {best}", style="bold")
        if number is not None:
            best_text.append(f" (#{number})")
        if score_text:
            best_text.append(f"  {objective.get('primary_metric', '')} {score_text}")
    status = _status_text(sweep.status)
    counts_text = Text(f"{total}: " if counts else str(total))
    for i, (name, count) in enumerate(sorted(counts.items())):
        counts_text.append(", " if i else "")
        counts_text.append(f"{count} {name}", style=_RICH_STATUS.get(STATUS_STYLES.get(name, ""), ""))
    limit_names = (("max_total_trials", "max total"), ("max_concurrent_trials", "max concurrent"),
                   ("timeout", "timeout"), ("trial_timeout", "trial timeout"))
    limits_text = ", ".join(f"{label} {limits[key]}{'s' if 'timeout' in key else ''}"
                            for key, label in limit_names if limits.get(key) is not None)

    def line(*parts: tuple[str, Text | str]) -> Text:
        # One line each, cut at the screen's edge: the first line says what matters most.
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (label, value) in enumerate(parts):
            text.append("   " if i else "")
            text.append(f"{label} ", style="bold")
            text.append(value if isinstance(value, Text) else Text(value))
        return text

    return Group(
        line(("status", status), ("trials", counts_text), ("best", best_text or Text("none yet", style="dim"))),
        line(("objective", f"{goal} {objective.get('primary_metric', '')}"),
             ("sampling", _describe(sweep.get("sampling_algorithm")))),
        line(("limits", limits_text)),
        line(("early termination", _describe(sweep.get("early_termination")) or "none")),
    )


# ---------------------------------------------------------------------------- the screen


class SweepScreen(ReportsWorkerErrors, Screen):
    """See module docstring."""

    app: "AmlTuiApp"

    CSS = """
    SweepScreen #sweep-title { height: 1; background: $primary; color: $text; }
    SweepScreen #sweep-header { height: auto; padding: 0 1; border-bottom: hkey $panel-lighten-2; }
    SweepScreen #sweep-trials { height: 1fr; }
    SweepScreen #sweep-chart { height: 40%; min-height: 8; max-height: 16; border-top: hkey $panel-lighten-2; }
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="sweep.back"),
        Binding("l", "logs", "Trial logs", id="sweep.logs"),
        Binding("d", "details", "Trial details", id="sweep.details"),
        Binding("C", "clone", "Clone trial as a job", key_display="C", id="sweep.clone"),
        Binding("p", "cycle_chart", "Chart: next parameter", id="sweep.chart"),
        Binding("y", "yaml", "Trial YAML", show=False, id="sweep.yaml"),
        Binding("i", "sweep_details", "Sweep details", show=False, id="sweep.sweep_details"),
        Binding("r", "refresh", "Refresh", show=False, id="sweep.refresh"),
    ]

    @dataclass
    class Loaded(Message):
        sweep: Job
        rows: list[TrialRow]

    def __init__(self, sweep: Job | str) -> None:
        super().__init__()
        self.sweep_name = sweep.name if isinstance(sweep, Job) else sweep
        self.sweep: Job | None = sweep if isinstance(sweep, Job) else None
        self.rows: list[TrialRow] = []  # in the table's order
        self.best: str | None = None
        self.parameters: list[str] = []
        self.chart_mode = 0  # 0: objective per trial; i: against parameter i-1
        self.loads = 0  # loads done (tests watch the polling stop)
        self._loading = False
        self._timer: Timer | None = None
        self._shown: tuple = ()

    @property
    def active(self) -> bool:
        """Whether anything can still change: the sweep or one of its trials has not ended."""
        if self.sweep is None:
            return True
        return not self.sweep.is_terminal or any(not r.job.is_terminal for r in self.rows)

    def compose(self) -> ComposeResult:
        from tui.widgets.charts import TrialChart  # plotext: only once a sweep is opened

        yield Static(f" Sweep / [b]{self.sweep_name}[/b]", id="sweep-title")
        yield Static("Loading…", id="sweep-header")
        yield DataTable(id="sweep-trials", cursor_type="row", zebra_stripes=True)
        yield TrialChart(id="sweep-chart")
        yield KeyFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one("#sweep-trials", DataTable)

    @property
    def chart(self) -> "TrialChart":
        from tui.widgets.charts import TrialChart

        return self.query_one("#sweep-chart", TrialChart)

    def on_mount(self) -> None:
        self.table.focus()
        self.action_refresh()

    # ------------------------------------------------------------------ loading

    def action_refresh(self) -> None:
        if self._loading:
            return
        self._loading = True
        known = {r.job.name: r for r in self.rows if r.job.is_terminal}
        self.load(known)

    def _tick(self) -> None:
        if self.active:
            self.action_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def load(self, known: dict[str, TrialRow]) -> None:
        try:
            ws = self.app.workspace
            sweep = ws.get_job(self.sweep_name)
            metric = sweep.get("objective.primary_metric")
            trials: list[Job] = []
            token: str | None = None
            for _ in range(MAX_TRIAL_PAGES):
                page = ws.list_jobs(parent_job_name=self.sweep_name, page_token=token)
                trials.extend(j for j in page.items if isinstance(j, Job))
                token = page.next_token
                if not token:
                    break
            rows = []
            for trial in trials:
                kept = known.get(trial.name)
                if kept is not None and kept.job.status == trial.status:
                    rows.append(TrialRow(trial, kept.params, kept.history))  # ended: its metrics are final
                    continue
                history = ws.job_metrics(trial.name).get(metric, []) if metric and ws.capabilities.metrics else []
                rows.append(TrialRow(trial, trial_params(trial), history))
            self.post_message(self.Loaded(sweep, rows))
        finally:
            self._loading = False

    def on_sweep_screen_loaded(self, message: Loaded) -> None:
        self.loads += 1
        selected = self.selected
        sweep = self.sweep = message.sweep
        goal = str(sweep.get("objective.goal") or "maximize")
        self.rows = order_trials(message.rows, goal)
        self.best = best_trial(sweep, self.rows, goal)
        space = sweep.get("search_space")
        names = list(space) if isinstance(space, Mapping) else []
        for row in self.rows:  # a backend that gives no search space still has the tags
            names += [k for k in row.params if k not in names]
        if names != self.parameters or not self.table.columns:
            self.parameters = names
            self._columns(str(sweep.get("objective.primary_metric") or "objective"))
        self.query_one("#sweep-header", Static).update(sweep_header(sweep, self.rows))
        self._fill_table(selected.job.name if selected is not None else None)
        self._plot()
        # Poll while anything can change; an ended sweep costs nothing more.
        if self.active and self._timer is None:
            self._timer = self.set_interval(self.app.refresh_interval, self._tick)
        elif not self.active and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _columns(self, metric: str) -> None:
        table = self.table
        table.clear(columns=True)
        table.add_column(" ", key="best", width=1)
        table.add_column("#", key="number")
        table.add_column("trial", key="trial")
        table.add_column("status", key="status")
        table.add_column(metric, key="objective")
        for name in self.parameters:
            table.add_column(name, key=f"param:{name}")
        table.add_column("duration", key="duration")
        table.add_column("stop reason", key="stop_reason")
        self._shown = ()

    def _cells(self, row: TrialRow) -> tuple:
        best = row.job.name == self.best
        style = "bold" if best else ""
        objective = row.objective
        return (
            Text(BEST if best else "", style="bold yellow"),
            Text("" if row.number is None else str(row.number), style=style, justify="right"),
            Text(row.job.name, style=style),
            _status_text(row.job.status),
            Text("" if objective is None else f"{objective:.6g}", style=style, justify="right"),
            *(Text(param_text(row.params[n]) if n in row.params else "", justify="right") for n in self.parameters),
            Text(format_duration(row.job.duration(self.app.clock())), justify="right"),
            Text(row.stop_reason, style="dim"),
        )

    def _fill_table(self, current: str | None) -> None:
        """Show `self.rows`; the cursor stays on the trial `current` wherever it now ranks."""
        cells = [self._cells(r) for r in self.rows]
        shown = tuple((r.job.name, tuple(c.plain for c in cs)) for r, cs in zip(self.rows, cells))
        if shown == self._shown:
            return  # nothing changed: no repaint
        before, self._shown = self._shown, shown
        table = self.table
        if [name for name, _ in before] == [name for name, _ in shown]:
            # Same trials in the same order (a running trial's duration ticks): only the cells
            # that changed, so the table neither flickers nor loses its scroll.
            columns = list(table.columns)
            for (name, old), (_, new), row_cells in zip(before, shown, cells):
                for i, (was, now) in enumerate(zip(old, new)):
                    if was != now:
                        table.update_cell(name, columns[i], row_cells[i])
            return
        table.clear()
        for row, cs in zip(self.rows, cells):
            table.add_row(*cs, key=row.job.name)
        index = next((i for i, r in enumerate(self.rows) if r.job.name == current), None)
        if index is not None:
            table.move_cursor(row=index, animate=False)

    # ------------------------------------------------------------------ the chart

    @property
    def chart_parameter(self) -> str | None:
        return self.parameters[self.chart_mode - 1] if 0 < self.chart_mode <= len(self.parameters) else None

    def action_cycle_chart(self) -> None:
        self.chart_mode = (self.chart_mode + 1) % (len(self.parameters) + 1)
        self._plot()

    def _plot(self) -> None:
        metric = str((self.sweep.get("objective.primary_metric") if self.sweep else None) or "objective")
        scored = [r for r in self.rows if r.objective is not None]
        parameter = self.chart_parameter
        best = next((r for r in scored if r.job.name == self.best), None)
        if parameter is None:
            numbered = sorted((r for r in scored if r.number is not None), key=_by_number)
            points = [(float(r.number), r.objective) for r in numbered]  # type: ignore[arg-type]
            mark = (float(best.number), best.objective) if best is not None and best.number is not None else None
            self.chart.show(points, title=f"{metric} per trial   (p: against a parameter)", xlabel="trial",
                            best=mark, integer_x=True)
            return
        space = (self.sweep.get("search_space") if self.sweep else None) or {}
        choices = (space.get(parameter) or {}).get("values") if isinstance(space, Mapping) else None
        values = [r.params.get(parameter) for r in scored]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)
        labels: list[str] | None = None
        if choices or not numeric:
            # A choice's values are categories (optimizer: adamw, sgd; batch size 64, 128), at
            # 0, 1, ... in the search space's order.
            order = [param_text(v) for v in (choices or [])]
            order += sorted({param_text(v) for v in values if v is not None} - set(order))
            labels = order
        points, mark = [], None
        for row, value in zip(scored, values):
            if value is None:
                continue
            x = float(labels.index(param_text(value))) if labels is not None else float(value)
            points.append((x, row.objective))
            if row is best:
                mark = (x, row.objective)
        self.chart.show(points, title=f"{metric} against {parameter}   (p: next)", xlabel=parameter, best=mark,
                        labels=labels)

    # ------------------------------------------------------------------ trial actions

    @property
    def selected(self) -> TrialRow | None:
        table = self.table
        if not self.rows or table.row_count == 0:
            return None
        index = table.cursor_row
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def _trial(self) -> Job | None:
        row = self.selected
        if row is None:
            self.notify("No trial selected.", severity="warning")
            return None
        return row.job

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clone":
            return self.app.can_submit
        return True

    def action_logs(self) -> None:
        trial = self._trial()
        if trial is not None:
            self.app.open_logs(trial.name)

    def action_details(self) -> None:
        trial = self._trial()
        if trial is not None:
            from tui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(KINDS[AssetKind.JOBS], trial))

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        self.action_details()

    def action_sweep_details(self) -> None:
        if self.sweep is not None:
            from tui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(KINDS[AssetKind.JOBS], self.sweep))

    def action_yaml(self) -> None:
        trial = self._trial()
        if trial is not None:
            from tui.screens.modals import show_yaml

            show_yaml(self.app, trial)

    def action_clone(self) -> None:
        """The submit form, prefilled with the trial as a command job; esc comes back here,
        a submit goes to the jobs table with the new job selected."""
        trial = self._trial()
        if trial is None or not self.app.check_writable("clone"):
            return
        from tui.screens.submit import SubmitScreen

        self.app.push_screen(SubmitScreen(document=trial_document(trial)), self._cloned)

    def _cloned(self, name: str | None) -> None:
        if name:
            main = self.app.main_screen
            while len(self.app.screen_stack) > 1:
                self.app.pop_screen()
            main.job_submitted(name)
