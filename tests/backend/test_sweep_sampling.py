"""A sweep's decisions without processes: every distribution of Azure's search space, the
samplers, the policies' interval rule and the sweep plan on disk."""

from __future__ import annotations

import math
import statistics

import pytest

from tui.workspace.local import sweep
from tui.workspace.local.plan import PlanError, RunPlan, SweepPlan, TrialTemplate, plan_kind


@pytest.mark.parametrize("parameter, check", [
    ({"type": "choice", "values": ["a", "b", "c"]}, lambda v: v in ("a", "b", "c")),
    ({"type": "randint", "upper": 5}, lambda v: isinstance(v, int) and 0 <= v < 5),
    ({"type": "uniform", "min_value": 2, "max_value": 3}, lambda v: 2 <= v <= 3),
    ({"type": "loguniform", "min_value": -4, "max_value": -1}, lambda v: math.exp(-4) <= v <= math.exp(-1)),
    ({"type": "quniform", "min_value": 0, "max_value": 100, "q": 10}, lambda v: v % 10 == 0 and isinstance(v, int)),
    ({"type": "qloguniform", "min_value": 0, "max_value": 3, "q": 0.5},
     lambda v: abs(v / 0.5 - round(v / 0.5)) < 1e-9 and 0 <= v <= 20.5),
    ({"type": "normal", "mu": 10, "sigma": 2}, lambda v: isinstance(v, float)),
    ({"type": "lognormal", "mu": 0, "sigma": 1}, lambda v: v > 0),
    ({"type": "qnormal", "mu": 10, "sigma": 3, "q": 2}, lambda v: v % 2 == 0),
    ({"type": "qlognormal", "mu": 1, "sigma": 0.5, "q": 1}, lambda v: isinstance(v, int) and v >= 0),
])
def test_every_distribution_maps_the_unit_interval_into_its_range(parameter, check):
    values = [sweep.from_unit(parameter, u) for u in (0.0, 0.001, 0.25, 0.5, 0.75, 0.999, 0.9999999)]
    assert all(check(v) for v in values), values
    if parameter["type"] not in ("choice",):
        assert values == sorted(values)  # inverse CDFs: monotone in the quantile


def test_distributions_are_azures():
    assert sweep.from_unit({"type": "loguniform", "min_value": -6, "max_value": -1}, 0.0) == pytest.approx(math.exp(-6))
    assert sweep.from_unit({"type": "normal", "mu": 3, "sigma": 2}, 0.5) == pytest.approx(3)
    assert sweep.from_unit({"type": "lognormal", "mu": 1, "sigma": 2}, 0.5) == pytest.approx(math.e)
    assert sweep.from_unit({"type": "randint", "upper": 4}, 0.99) == 3
    assert sweep.from_unit({"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.25}, 0.4) == 0.5
    # A million random draws would be slow; many quantiles show the normal's spread.
    draws = [sweep.from_unit({"type": "normal", "mu": 0, "sigma": 1}, (i + 0.5) / 2000) for i in range(2000)]
    assert statistics.pstdev(draws) == pytest.approx(1, rel=0.02)


def test_grid_sobol_and_random_samplers():
    space = {"a": {"type": "choice", "values": [1, 2]}, "b": {"type": "choice", "values": ["x", "y", "z"]}}
    grid = sweep.make_sampler(space, {"type": "grid"}, "maximize", 100)
    combos = []
    while (p := grid.next()) is not None:
        combos.append((p["a"], p["b"]))
    assert combos == [(1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]
    points = sweep.unit_points(3, 5, seed=1, rule="sobol")
    assert len(points) == 5 and len({tuple(p) for p in points}) == 5
    assert all(0 <= x < 1 for p in points for x in p)
    assert sweep.unit_points(2, 4, seed=3) == sweep.unit_points(2, 4, seed=3) != sweep.unit_points(2, 4, seed=4)
    uniform = {"u": {"type": "uniform", "min_value": 0, "max_value": 1}}
    limited = sweep.make_sampler(uniform, {"type": "random", "seed": 0}, "maximize", 3)
    assert [limited.next() is not None for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize("interval, delay, looked_at", [
    (1, 0, [1, 2, 3, 4, 5, 6]), (2, 0, [2, 4, 6]), (1, 5, [5, 6]), (2, 3, [4, 6]), (0, 0, [1, 2, 3, 4, 5, 6]),
])
def test_a_policy_is_applied_at_evaluation_intervals_from_delay_evaluation_on(interval, delay, looked_at):
    policy = sweep.Policy({"type": "median_stopping", "evaluation_interval": interval,
                           "delay_evaluation": delay}, "maximize")
    assert [k for k in range(1, 7) if policy.applies_at(k)] == looked_at


def test_bandit_with_slack_amount_when_minimizing():
    policy = sweep.Policy({"type": "bandit", "slack_amount": 0.5}, "minimize")
    trials = {"a": sweep.TrialMetrics([1.0, 0.8]), "b": sweep.TrialMetrics([1.4, 1.4])}
    # At 1: best 1.0, limit 1.5: 1.4 is within; at 2: best 0.8, limit 1.3: 1.4 is out.
    assert [(n, r.split(":")[0]) for n, r in policy.decide(trials)] == [("b", "bandit policy at interval 2")]
    assert not trials["b"].running and trials["a"].running
    assert policy.decide(trials) == []  # every interval is looked at once


def test_bandit_judges_a_trials_best_value_so_far_not_a_dip():
    policy = sweep.Policy({"type": "bandit", "slack_factor": 0.2}, "maximize")
    trials = {"a": sweep.TrialMetrics([0.65, 0.6]), "b": sweep.TrialMetrics([0.7, 0.3])}
    assert policy.decide(trials) == []  # b dipped to 0.3 at 2, but its best (0.7) is the best


def test_best_trial_follows_the_goal():
    assert sweep.best_trial({"a": 0.5, "b": 0.9, "c": 0.9}, "maximize") == ("b", 0.9)
    assert sweep.best_trial({"a": 0.5, "b": 0.9}, "minimize") == ("a", 0.5)
    assert sweep.best_trial({"a": float("nan")}, "minimize") is None


def test_a_sweep_plan_round_trips_and_a_command_runner_refuses_it(tmp_path):
    plan = SweepPlan(trial=TrialTemplate(command="python t.py ${{search_space.x}}", values={"inputs": {}},
                                         paths={"inputs": [], "outputs": []}, outputs={}),
                     search_space={"x": {"type": "choice", "values": [1]}}, sampling_algorithm={"type": "grid"},
                     primary_metric="acc", goal="maximize", limits={"max_total_trials": 1},
                     experiment_name="e", display_name="s", compute="local")
    path = tmp_path / "run.json"
    plan.write(path)
    assert SweepPlan.read(path) == plan and plan_kind(path) == "sweep"
    with pytest.raises(PlanError, match="a 'sweep' plan, not a 'command' plan"):
        RunPlan.read(path)
    RunPlan(command="true", experiment_name="e", display_name="d", compute="local").write(path)
    assert plan_kind(path) == "command"
    with pytest.raises(PlanError, match="not a sweep plan"):
        SweepPlan.read(path)


def test_a_trials_runner_imports_neither_the_workspace_facade_nor_the_spec_package(tmp_path):
    # Each trial pays its runner's start: a job with no conda file needs neither.
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; import tui.workspace.local.runner; "
            "from tui.workspace.local.environments import materialise; "
            "materialise(Path(sys.argv[1]), {}, lambda text: None); "
            "print(sorted(m for m in sys.modules if m in ('tui.workspace.local.workspace', 'tui.workspace.spec')))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
