"""The sweep view against real local sweeps: trials ranked by the objective with the best
marked, the policy's stop reasons, the chart, live updates while trials report (and no
polling once the sweep ended), and a trial's logs, details and clone as a command job."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import install_mlflow_store, write
from tests.tui.conftest import JOB_TEMPLATE, text_of, wait_for, wait_for_workers
from tui.app import make_app
from tui.screens.detail import DetailScreen
from tui.screens.logs import LogScreen
from tui.screens.main import MainScreen
from tui.screens.submit import SubmitScreen
from tui.screens.sweep import SweepScreen, TrialRow, order_trials, trial_document
from tui.workspace.base import AssetKind, Job, MetricPoint

# Logs a known curve of `acc` into the trial's MLflow run (the rows mlflow.log_metric writes,
# without its 2 s import per trial). A trial in HOLD then waits, so the policy can stop it;
# with GO set, every trial first waits for that file, so a test sees trials still running.
TRIAL = """
import os, sqlite3, sys, time
CURVES = {curves!r}
HOLD = {hold!r}
GO = {go!r}
c = int(sys.argv[1])
while GO and not os.path.exists(GO):
    time.sleep(0.05)
db = os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")
conn = sqlite3.connect(db, timeout=30)
with conn:
    for step, value in enumerate(CURVES[c]):
        conn.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES "
                     "('acc', ?, ?, ?, ?, 0)", (value, int(time.time() * 1000), os.environ["MLFLOW_RUN_ID"], step))
conn.close()
print("trial", c, "logged", CURVES[c][-1])
if c in HOLD:
    time.sleep(60)
"""
# Run one at a time (grid over c, max_concurrent_trials 1), bandit with slack_factor 0.2 from
# interval 1: at interval k a trial stops when its acc < (best acc at k) / 1.2.
CURVES = {
    0: [0.5, 0.6],   # alone at 1; at 2 the best: completes, 0.6
    1: [0.3, 0.4],   # at 1: best 0.5, limit 0.417 > 0.3: stopped (it holds on until then)
    2: [0.6, 0.8],   # the best at 1 and 2: completes, 0.8, the sweep's best
    3: [0.55, 0.7],  # at 1: limit 0.5 < 0.55; at 2: limit 0.667 < 0.7: completes, 0.7
}
RANKED = [2, 3, 0, 1]  # by the last acc, highest first (1's last value is 0.4)


def sweep_doc(code: str, values: list[int], **changes) -> dict:
    doc = {
        "type": "sweep", "display_name": "view-sweep", "experiment_name": "sweep-view",
        "trial": {"code": code, "command": "python trial.py ${{search_space.c}}"},
        "search_space": {"c": {"type": "choice", "values": values}},
        "sampling_algorithm": "grid",
        "objective": {"primary_metric": "acc", "goal": "maximize"},
        "limits": {"max_total_trials": len(values), "max_concurrent_trials": 1},
    }
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def sweep_ws(tmp_path_factory, mlflow_template):
    """One workspace for the module: its sweeps take seconds to run, so they are shared."""
    from tui.workspace.local import LocalWorkspace

    root = tmp_path_factory.mktemp("sweep-view") / "ws"
    install_mlflow_store(mlflow_template, root)
    workspace = LocalWorkspace(root)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def finished(sweep_ws, tmp_path_factory) -> Job:
    """A finished bandit sweep of four trials, one stopped by the policy."""
    base = tmp_path_factory.mktemp("bandit")
    write(base / "code" / "trial.py", TRIAL.format(curves=CURVES, hold=[1], go=""))
    policy = {"type": "bandit", "slack_factor": 0.2, "evaluation_interval": 1}
    doc = sweep_doc("code", list(CURVES), early_termination=policy)
    name = sweep_ws.create_job(doc, base_dir=base, source="sweep.yml").name
    sweep = sweep_ws.wait_for_job(name, 240)
    assert sweep.status == "Completed", sweep_ws.read_log(name, "user_logs/std_log.txt").text
    return sweep


def app_for(ws):
    return make_app(ws, job_template=JOB_TEMPLATE)


async def open_view(pilot, app, name: str, key: str = "enter") -> SweepScreen:
    main = app.screen_stack[0]
    assert isinstance(main, MainScreen)
    await wait_for(pilot, lambda: main.table.move_to_key(name), what="the sweep's row")
    await wait_for_workers(pilot)
    await pilot.press(key)
    screen = app.screen
    assert isinstance(screen, SweepScreen)
    await wait_for(pilot, lambda: screen.loads > 0, what="the sweep's trials")
    return screen


def numbers(screen: SweepScreen) -> list[int | None]:
    return [r.number for r in screen.rows]


def cells(screen: SweepScreen, index: int) -> list[str]:
    return [c.plain for c in screen.table.get_row_at(index)]


async def test_trials_are_ranked_by_the_objective_the_best_marked_with_stop_reasons_and_a_chart(sweep_ws,
                                                                                               finished):
    app = app_for(sweep_ws)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_view(pilot, app, finished.name)  # enter on a sweep opens its view
        assert numbers(screen) == RANKED
        best = f"{finished.name}_2"
        assert screen.best == best == finished.fields["properties"]["best_child_run_id"]
        table = screen.table
        assert [str(c.label) for c in table.columns.values()] == [" ", "#", "trial", "status", "acc", "c",
                                                                 "duration", "stop reason"]
        rows = [cells(screen, i) for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["★", "", "", ""]  # the best, and only it, marked
        assert [(r[1], r[3], r[4], r[5]) for r in rows] == [
            ("2", "Completed", "0.8", "2"), ("3", "Completed", "0.7", "3"), ("0", "Completed", "0.6", "0"),
            ("1", "Canceled", "0.4", "1")]
        reason = rows[3][7]
        assert reason.startswith("bandit policy at interval 1: ") and "0.3 is outside the slack_factor 0.2" in reason
        assert all(r[7] == "" for r in rows[:3])

        header = text_of(screen.query_one("#sweep-header"))
        for part in ("maximize acc", "grid", "max total 4, max concurrent 1", "Completed",
                     "trials 4: 1 Canceled, 3 Completed", f"★ {best} (#2)  acc 0.8",
                     "bandit (slack_factor 0.2, evaluation_interval 1)"):
            assert part in header, (part, header)

        # The chart: the objective per trial, the best apart; `p` plots it against c.
        chart = screen.chart
        assert chart.points == [(0.0, 0.6), (1.0, 0.4), (2.0, 0.8), (3.0, 0.7)] and chart.best == (2.0, 0.8)
        assert "acc per trial" in chart.title
        await pilot.pause()
        assert "acc per trial" in chart.render().plain and "★" in chart.render().plain
        await pilot.press("p")
        assert "acc against c" in chart.title and chart.best == (2.0, 0.8)
        assert sorted(chart.points) == [(0.0, 0.6), (1.0, 0.4), (2.0, 0.8), (3.0, 0.7)]  # c's values, as categories
        await pilot.press("p")
        assert "acc per trial" in chart.title

        # Ended: nothing polls any more.
        assert not screen.active and screen._timer is None
        loads = screen.loads
        await pilot.pause(2.5 * app.refresh_interval)
        assert screen.loads == loads


async def test_from_a_trial_its_logs_details_and_a_clone_as_a_command_job(sweep_ws, finished):
    app = app_for(sweep_ws)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_view(pilot, app, finished.name)
        await pilot.press("down", "down", "down")  # the stopped trial, ranked last
        assert screen.selected.job.name == f"{finished.name}_1"
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen) and app.screen.job == f"{finished.name}_1"
        await wait_for(pilot, lambda: "trial 1 logged 0.4" in "\n".join(app.screen.view.lines), what="its log")
        await pilot.press("escape")
        for key in ("d", "enter"):
            await pilot.press(key)
            assert isinstance(app.screen, DetailScreen) and app.screen.asset.name == f"{finished.name}_1"
            await wait_for(pilot, lambda: re.search(r"stop reason +bandit policy at interval 1: .*0\.3 is outside",
                                                    text_of(app.screen.query_one("#detail-full"))),
                           what="its details, with why it stopped")
            await pilot.press("escape")
        assert app.screen is screen

        await pilot.press("up", "up", "up")  # the best trial: clone it as a command job
        assert screen.selected.job.name == f"{finished.name}_2"
        await pilot.press("C")
        form = app.screen
        assert isinstance(form, SubmitScreen)
        await wait_for(pilot, lambda: "valid" in text_of(form.query_one("#error-general")), what="a valid clone")
        assert form.query_one("#field-command").text == "python trial.py 2"  # its parameter, put in
        await pilot.press("escape")  # esc goes back to the sweep
        assert app.screen is screen
        await pilot.press("C")
        form = app.screen
        await wait_for(pilot, lambda: "valid" in text_of(form.query_one("#error-general")), what="a valid clone")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the jobs table")
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key not in (None, finished.name), what="the clone selected")
        clone = sweep_ws.get_job(main.table.cursor_key)
        assert clone.type == "command" and clone.parent_job_name is None
        assert clone.get("command") == "python trial.py 2"
        assert "hyperparameters" not in (clone.get("tags") or {})
        assert sweep_ws.wait_for_job(clone.name, 60).status == "Completed"


async def test_the_view_follows_trials_as_they_report_then_stops_polling(sweep_ws, tmp_path):
    go = tmp_path / "go"
    write(tmp_path / "code" / "trial.py", TRIAL.format(curves={0: [0.2, 0.3], 1: [0.9, 0.1]}, hold=[], go=str(go)))
    doc = sweep_doc("code", [0, 1], limits={"max_total_trials": 2, "max_concurrent_trials": 2},
                    objective={"primary_metric": "acc", "goal": "minimize"})
    name = sweep_ws.create_job(doc, base_dir=tmp_path, source="sweep.yml").name
    app = app_for(sweep_ws)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_view(pilot, app, name, key="v")  # the jobs kind's `v`: the sweep view
        await wait_for(pilot, lambda: [r.job.status for r in screen.rows] == ["Running", "Running"], timeout=60,
                       what="both trials running")
        assert screen.active and screen._timer is not None
        assert numbers(screen) == [0, 1] and all(r.objective is None for r in screen.rows)
        assert screen.chart.points == [] and cells(screen, 0)[4] == ""
        assert screen.selected.job.name == f"{name}_0"
        durations = cells(screen, 0)[-2]
        await wait_for(pilot, lambda: cells(screen, 0)[-2] != durations, what="a running trial's duration to tick")
        go.write_text("")  # the trials report, with no key pressed
        await wait_for(pilot, lambda: screen.sweep.status == "Completed" and not screen.active, timeout=60,
                       what="the sweep to end on screen")
        # minimize: the lowest last value first (1 ended at 0.1), and it is the best.
        assert numbers(screen) == [1, 0] and [r.objective for r in screen.rows] == [0.1, 0.3]
        assert screen.selected.job.name == f"{name}_0"  # the cursor stayed on its trial as the ranks changed
        assert cells(screen, 0)[0] == "★" and cells(screen, 0)[4] == "0.1"
        assert screen.chart.points == [(0.0, 0.3), (1.0, 0.1)] and screen.chart.best == (1.0, 0.1)
        assert "minimize acc" in text_of(screen.query_one("#sweep-header"))
        assert screen._timer is None


def trial(number: int, values: list[float], status: str = "Completed") -> TrialRow:
    job = Job(AssetKind.JOBS, f"s_{number}", None, {}, status=status)
    return TrialRow(job, {}, [MetricPoint(i, v, 0.0) for i, v in enumerate(values)])


def test_order_follows_the_goal_and_trials_without_a_value_come_last():
    rows = [trial(0, [0.5]), trial(1, []), trial(2, [0.9, 0.2]), trial(3, [0.5]), trial(4, [float("nan")])]
    assert [r.number for r in order_trials(rows, "maximize")] == [0, 3, 2, 1, 4]
    assert [r.number for r in order_trials(rows, "minimize")] == [2, 0, 3, 1, 4]


def test_a_trial_as_a_command_job_has_its_parameters_in_the_command():
    fields = {"type": "command", "name": "s_3", "display_name": "s_3", "parent_job_name": "s",
              "command": "python t.py --lr ${{search_space.lr}} --opt ${{ search_space.opt }} --e ${{inputs.e}}",
              "tags": {"hyperparameters": json.dumps({"lr": 0.001, "opt": "sgd", "flag": True}), "team": "a"},
              "properties": {"stop_reason": "x"}, "status": "Canceled", "inputs": {"e": 2}}
    doc = trial_document(Job(AssetKind.JOBS, "s_3", None, fields, display_name="s_3"))
    assert doc["command"] == "python t.py --lr 0.001 --opt sgd --e ${{inputs.e}}"
    assert doc["tags"] == {"team": "a"} and doc["display_name"] == "s_3 (clone)"
    assert not {"parent_job_name", "properties", "status", "name"} & set(doc)


async def test_read_only_the_view_offers_no_clone(sweep_ws, finished):
    app = make_app(sweep_ws, job_template=JOB_TEMPLATE, read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_view(pilot, app, finished.name, key="v")
        shown = {b.binding.key for b in screen.active_bindings.values() if b.enabled}
        assert {"l", "d", "p"} <= shown and "C" not in shown
        await pilot.press("C")
        assert app.screen is screen  # no form
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)  # reading still works
