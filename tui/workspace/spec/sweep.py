"""Sweep jobs (`type: sweep`): their shape and Azure's simple rules. Which trials to run, and
when to stop them, is the business of whoever runs the sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .jobs import CommandJobSpec, InputSpec, OutputSpec, job_header, parse_command_job, parse_io
from .names import IDENT_RE, _check_fields, _fail, _int, _mapping, _nested, _short, _type_name

SWEEP_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "compute", "inputs", "outputs", "search_space", "objective",
    "sampling_algorithm", "early_termination", "limits", "trial", "identity", "queue_settings",
    "resources", "services", "status", "creation_context", "id",
)
# What a trial holds: the sweep's own inputs and outputs are shared by every trial.
TRIAL_FIELDS = ("command", "code", "environment", "environment_variables", "distribution", "resources",
                "queue_settings")
# Each distribution and its parameters, all required.
SEARCH_SPACE = {
    "choice": ("values",), "randint": ("upper",),
    "uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"), "qlognormal": ("mu", "sigma", "q"),
}
SAMPLING = {"random": ("seed", "rule", "logbase"), "grid": (), "bayesian": ()}
# Bayesian sampling models these distributions only (Azure's rule).
BAYESIAN_DISTRIBUTIONS = ("choice", "uniform", "quniform")
EARLY_TERMINATION = {"bandit": ("slack_factor", "slack_amount"), "median_stopping": (),
                     "truncation_selection": ("truncation_percentage", "exclude_finished_jobs")}
GOALS = ("maximize", "minimize")


@dataclass
class SweepJobSpec:
    """A sweep: a command trial run over samples of `search_space`, judged by `objective`."""

    type: ClassVar[str] = "sweep"
    source: str
    trial: CommandJobSpec  # its inputs and outputs are the sweep's
    search_space: dict[str, dict[str, Any]]  # name -> {type: uniform, min_value: 0.1, max_value: 1}
    primary_metric: str
    goal: str  # maximize | minimize
    sampling_algorithm: dict[str, Any]  # {type: random|grid|bayesian, ...}
    limits: dict[str, int]  # max_total_trials, max_concurrent_trials, timeout, trial_timeout
    early_termination: dict[str, Any] | None = None
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    experiment_name: str | None = None
    compute: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)


def _number(value: Any, *, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, field, f"expected a number, got {_type_name(value)} {_short(value)}")
    return value


def _parameter(name: Any, raw: Any, source: str) -> dict[str, Any]:
    if not isinstance(name, str) or not IDENT_RE.fullmatch(name):
        raise _fail(source, "search_space", "parameter names are identifiers (letters, digits, '_'), "
                    f"got {_short(name)}")
    where = f"search_space.{name}"
    _mapping(raw, source=source, field=where, like="{type: uniform, min_value: 0.01, max_value: 0.1}")
    kind = raw.get("type")
    if kind not in SEARCH_SPACE:
        raise _fail(source, f"{where}.type", f"unknown distribution {_short(kind)}; allowed: {', '.join(SEARCH_SPACE)}")
    _check_fields(raw, ("type",) + SEARCH_SPACE[kind], source=source, prefix=f"{where}.")
    for key in SEARCH_SPACE[kind]:
        if raw.get(key) is None:
            raise _fail(source, f"{where}.{key}", f"required for a {kind} distribution")
    if kind == "choice":
        values = raw["values"]
        if not isinstance(values, list) or not values:
            raise _fail(source, f"{where}.values", f"expected a non-empty list of values, got {_type_name(values)}")
    elif kind == "randint":
        _int(raw["upper"], source=source, field=f"{where}.upper", minimum=1)
    else:
        numbers = {key: _number(raw[key], source=source, field=f"{where}.{key}") for key in SEARCH_SPACE[kind]}
        if "min_value" in numbers and numbers["min_value"] >= numbers["max_value"]:
            raise _fail(source, f"{where}.max_value", f"expected more than min_value ({numbers['min_value']}), "
                        f"got {numbers['max_value']}")
        for key in ("sigma", "q"):
            if key in numbers and numbers[key] <= 0:
                raise _fail(source, f"{where}.{key}", f"expected a number > 0, got {numbers[key]}")
    return dict(raw)


def _sampling(raw: Any, source: str) -> dict[str, Any]:
    allowed = ", ".join(SAMPLING)
    if raw is None:
        raise _fail(source, "sampling_algorithm", f"required: {allowed}")
    algorithm = {"type": raw} if isinstance(raw, str) else dict(_mapping(
        raw, source=source, field="sampling_algorithm", like="{type: random, seed: 42}"))
    kind = algorithm.get("type")
    if kind not in SAMPLING:
        field = "sampling_algorithm" if isinstance(raw, str) else "sampling_algorithm.type"
        raise _fail(source, field, f"unknown sampling algorithm {_short(kind)}; allowed: {allowed}")
    _check_fields(algorithm, ("type",) + SAMPLING[kind], source=source, prefix="sampling_algorithm.")
    if algorithm.get("seed") is not None:
        algorithm["seed"] = _int(algorithm["seed"], source=source, field="sampling_algorithm.seed", minimum=0)
    if algorithm.get("rule") not in (None, "random", "sobol"):
        raise _fail(source, "sampling_algorithm.rule", f"expected random or sobol, got {_short(algorithm['rule'])}")
    return algorithm


def _early_termination(raw: Any, source: str) -> dict[str, Any]:
    policy = dict(_mapping(raw, source=source, field="early_termination", like="{type: bandit, slack_factor: 0.1}"))
    kind = policy.get("type")
    if kind not in EARLY_TERMINATION:
        raise _fail(source, "early_termination.type", f"unknown policy {_short(kind)}; allowed: "
                    + ", ".join(EARLY_TERMINATION))
    _check_fields(policy, ("type", "evaluation_interval", "delay_evaluation") + EARLY_TERMINATION[kind],
                  source=source, prefix="early_termination.")
    for key in ("evaluation_interval", "delay_evaluation"):
        if policy.get(key) is not None:
            policy[key] = _int(policy[key], source=source, field=f"early_termination.{key}", minimum=0)
    if kind == "bandit":
        for key in ("slack_factor", "slack_amount"):
            where = f"early_termination.{key}"
            if policy.get(key) is not None and _number(policy[key], source=source, field=where) < 0:
                raise _fail(source, where, f"expected a number > 0, got {policy[key]}")
        # azure-ai-ml writes the one not chosen as 0 (its default), so 0 is "not given".
        given = [k for k in ("slack_factor", "slack_amount") if policy.get(k)]
        if len(given) == 2:
            raise _fail(source, "early_termination.slack_amount", "a bandit policy takes slack_factor or "
                        "slack_amount, not both")
        if not given:
            raise _fail(source, "early_termination.slack_factor", "a bandit policy needs slack_factor (a ratio, "
                        "e.g. 0.1) or slack_amount (an absolute difference), > 0")
        for key in ("slack_factor", "slack_amount"):
            if key not in given:
                policy.pop(key, None)
    if kind == "truncation_selection":
        if policy.get("truncation_percentage") is None:
            raise _fail(source, "early_termination.truncation_percentage", "required: the percentage of "
                        "lowest-performing trials to cancel at each evaluation, 1 to 99")
        policy["truncation_percentage"] = _int(policy["truncation_percentage"], source=source,
                                               field="early_termination.truncation_percentage", minimum=1, maximum=99)
    return policy


def _limits(raw: Any, source: str) -> dict[str, int]:
    if raw is None:
        raise _fail(source, "limits", "required: {max_total_trials: N}, with max_concurrent_trials, "
                    "timeout and trial_timeout (seconds) as you wish")
    limits = _mapping(raw, source=source, field="limits", like="{max_total_trials: 20}")
    _check_fields(limits, ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"),
                  source=source, prefix="limits.")
    if limits.get("max_total_trials") is None:
        raise _fail(source, "limits.max_total_trials", "required: how many trials the sweep runs at most")
    checked = {key: _int(value, source=source, field=f"limits.{key}", minimum=1)
               for key, value in limits.items() if value is not None}
    if checked.get("max_concurrent_trials", 0) > checked["max_total_trials"]:
        raise _fail(source, "limits.max_concurrent_trials", f"expected at most max_total_trials "
                    f"({checked['max_total_trials']}), got {checked['max_concurrent_trials']}")
    return checked


def parse_sweep_job(document: Mapping[str, Any], source: str) -> SweepJobSpec:
    _check_fields(document, SWEEP_JOB_FIELDS, source=source)
    header = job_header(document, source)
    inputs, outputs, _ = parse_io(document, source)

    space = document.get("search_space")
    if space is None:
        raise _fail(source, "search_space", "required: the parameters to sweep, e.g. "
                    "{lr: {type: uniform, min_value: 0.01, max_value: 0.1}}")
    _mapping(space, source=source, field="search_space", like="{lr: {type: choice, values: [0.1, 0.01]}}")
    if not space:
        raise _fail(source, "search_space", "expected at least one parameter")
    search_space = {name: _parameter(name, raw, source) for name, raw in space.items()}

    objective = document.get("objective")
    if objective is None:
        raise _fail(source, "objective", "required: {primary_metric: NAME, goal: maximize or minimize}")
    _mapping(objective, source=source, field="objective", like="{primary_metric: accuracy, goal: maximize}")
    _check_fields(objective, ("primary_metric", "goal"), source=source, prefix="objective.")
    metric = objective.get("primary_metric")
    if not isinstance(metric, str) or not metric.strip():
        raise _fail(source, "objective.primary_metric", "required: the metric each trial logs (mlflow.log_metric)")
    goal = objective.get("goal")
    if goal not in GOALS:
        raise _fail(source, "objective.goal", f"expected maximize or minimize, got {_short(goal)}")

    sampling = _sampling(document.get("sampling_algorithm"), source)
    if sampling["type"] == "grid":
        for name, parameter in search_space.items():
            if parameter["type"] != "choice":
                raise _fail(source, f"search_space.{name}.type", f"grid sampling takes choice parameters only, "
                            f"got {parameter['type']}")
    early = None if document.get("early_termination") is None else _early_termination(
        document["early_termination"], source)
    if sampling["type"] == "bayesian":
        for name, parameter in search_space.items():
            if parameter["type"] not in BAYESIAN_DISTRIBUTIONS:
                raise _fail(source, f"search_space.{name}.type", f"bayesian sampling takes "
                            f"{', '.join(BAYESIAN_DISTRIBUTIONS)} parameters only, got {parameter['type']}")
        if early is not None:
            raise _fail(source, "early_termination", "bayesian sampling has no early termination; "
                        "use random or grid sampling, or leave early_termination out")
    limits = _limits(document.get("limits"), source)

    raw_trial = document.get("trial")
    if raw_trial is None:
        raise _fail(source, "trial", "required: the command job each trial runs, e.g. "
                    "{command: python train.py --lr ${{search_space.lr}}, environment: ...}")
    _mapping(raw_trial, source=source, field="trial", like="{command: ..., code: ..., environment: ...}")
    _check_fields(raw_trial, TRIAL_FIELDS, source=source, prefix="trial.")
    # The trial's command may use the sweep's inputs and outputs, and the search space.
    with _nested("trial"):
        trial = parse_command_job({**raw_trial, "inputs": document.get("inputs"), "outputs": document.get("outputs")},
                                  source, search_space=set(search_space))
    return SweepJobSpec(source=source, trial=trial, search_space=search_space, primary_metric=metric.strip(),
                        goal=goal, sampling_algorithm=sampling, limits=limits, early_termination=early,
                        inputs=inputs, outputs=outputs, **header)
