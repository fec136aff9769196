"""A sweep's decisions, apart from the process that carries them out (sweep_runner.py):
which parameters each trial gets (sampling), and which trials to stop (early termination).

Distributions are Azure's (azure-ai-ml `sweep`): `loguniform(min, max)` is exp(uniform(min,
max)), `randint(upper)` is an integer in [0, upper), `q*` rounds to a multiple of q. Random
and Sobol sampling draw points of the unit cube and map each coordinate through the
distribution's inverse CDF; bayesian sampling is optuna's GPSampler (imported only here,
only by the sweep runner of a bayesian sweep).

Early termination counts intervals as Azure does: each value of the primary metric a trial
logs is one interval (its metric history ordered by step, then time). A policy is applied to
a trial when it reports interval k with k >= delay_evaluation and k a multiple of
evaluation_interval (0 counts as 1), comparing it with the other trials at the same interval,
as far as they have got: bandit, the trial's best value so far against the best trial's;
median stopping, the trial's best so far against the median of the other trials' running
averages; truncation selection, the values at that interval.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

# Keeps the normal's inverse CDF finite at the edges of the unit interval.
_EDGE = 1e-12


# ---------------------------------------------------------------------------- values


def _q(value: float, q: float) -> float | int:
    rounded = round(value / q) * q
    if isinstance(q, int) or float(q).is_integer():
        return int(round(rounded))  # a batch size of 32, not 32.0, reaches the command
    return round(rounded, 12)


def from_unit(parameter: Mapping[str, Any], u: float) -> Any:
    """The value of `parameter` at quantile `u` in [0, 1)."""
    kind = parameter["type"]
    if kind == "choice":
        values = parameter["values"]
        return values[min(int(u * len(values)), len(values) - 1)]
    if kind == "randint":
        return min(int(u * parameter["upper"]), parameter["upper"] - 1)
    if kind in ("uniform", "loguniform", "quniform", "qloguniform"):
        x = parameter["min_value"] + u * (parameter["max_value"] - parameter["min_value"])
    else:  # normal, lognormal, qnormal, qlognormal
        x = statistics.NormalDist(parameter["mu"], parameter["sigma"]).inv_cdf(min(max(u, _EDGE), 1 - _EDGE))
    if "log" in kind:
        x = math.exp(x)
    return _q(x, parameter["q"]) if kind.startswith("q") else x


def text(value: Any) -> str:
    """A parameter as it reaches the command line and AZUREML_SWEEP_<name>."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# ---------------------------------------------------------------------------- samplers


class Sampler:
    """Parameters for the next trial, or None when the sampler has no more."""

    def next(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def tell(self, index: int, value: float | None) -> None:
        """Trial `index` ended with its objective `value` (None: it failed or had none)."""


class ListSampler(Sampler):
    def __init__(self, samples: Iterator[dict[str, Any]]):
        self._samples = samples

    def next(self) -> dict[str, Any] | None:
        return next(self._samples, None)


def grid(space: Mapping[str, Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of the choices, once, the first parameter varying slowest."""
    names = list(space)
    for combo in itertools.product(*(space[n]["values"] for n in names)):
        yield dict(zip(names, combo))


def unit_points(dimensions: int, count: int, *, seed: int | None, rule: str = "random") -> list[list[float]]:
    """`count` points of [0, 1)^dimensions: pseudo-random, or a scrambled Sobol sequence."""
    if rule == "sobol":
        from scipy.stats import qmc

        sobol = qmc.Sobol(d=dimensions, scramble=True, seed=seed)
        points = sobol.random_base2(max(0, math.ceil(math.log2(max(count, 1)))))
        return [list(map(float, p)) for p in points[:count]]
    rng = random.Random(seed)
    return [[rng.random() for _ in range(dimensions)] for _ in range(count)]


class OptunaSampler(Sampler):
    """Bayesian sampling: optuna's Gaussian-process sampler, told each trial's objective."""

    def __init__(self, space: Mapping[str, Mapping[str, Any]], goal: str, seed: int | None = None):
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.study = optuna.create_study(direction="maximize" if goal == "maximize" else "minimize",
                                         sampler=optuna.samplers.GPSampler(seed=seed))
        # quniform is modelled as uniform and rounded after: optuna's stepped floats need
        # (max - min) to be a multiple of q, which Azure does not ask of a search space.
        self.distributions = {
            name: CategoricalDistribution(list(p["values"])) if p["type"] == "choice"
            else FloatDistribution(p["min_value"], p["max_value"]) for name, p in space.items()}
        self.trials: dict[int, Any] = {}
        self._asked = 0

    def next(self) -> dict[str, Any] | None:
        trial = self.study.ask(self.distributions)
        self.trials[self._asked] = trial
        self._asked += 1
        return {name: _q(value, self.space[name]["q"]) if self.space[name]["type"] == "quniform" else value
                for name, value in trial.params.items()}

    def tell(self, index: int, value: float | None) -> None:
        from optuna.trial import TrialState

        trial = self.trials.pop(index, None)
        if trial is None:
            return
        if value is None or not math.isfinite(value):
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, value)


def make_sampler(space: Mapping[str, Mapping[str, Any]], sampling: Mapping[str, Any], goal: str,
                 max_total: int) -> Sampler:
    kind = sampling["type"]
    if kind == "grid":
        return ListSampler(grid(space))
    if kind == "bayesian":
        return OptunaSampler(space, goal, sampling.get("seed"))
    names = list(space)
    points = unit_points(len(names), max_total, seed=sampling.get("seed"), rule=sampling.get("rule") or "random")
    return ListSampler(iter([{n: from_unit(space[n], u) for n, u in zip(names, p)} for p in points]))


# ---------------------------------------------------------------------------- early termination


@dataclass
class TrialMetrics:
    """What a policy knows of a trial: its primary metric's values, interval by interval."""

    history: list[float] = field(default_factory=list)
    running: bool = True  # may still be stopped
    evaluated: int = 0  # intervals already looked at


def _better(goal: str, a: float, b: float) -> bool:
    return a > b if goal == "maximize" else a < b


class Policy:
    def __init__(self, policy: Mapping[str, Any], goal: str):
        self.kind = policy["type"]
        self.policy = dict(policy)
        self.goal = goal
        self.interval = policy.get("evaluation_interval") or 1
        self.delay = policy.get("delay_evaluation") or 0

    def applies_at(self, k: int) -> bool:
        return k >= max(self.delay, 1) and k % self.interval == 0

    def decide(self, trials: Mapping[str, TrialMetrics]) -> list[tuple[str, str]]:
        """The running trials to stop now, each with why. Each interval of each trial is looked
        at once, when the trial has reported it."""
        stops = []
        for name, trial in trials.items():
            if not trial.running:
                continue
            while trial.evaluated < len(trial.history):
                trial.evaluated += 1
                k = trial.evaluated
                if not self.applies_at(k):
                    continue
                reason = getattr(self, f"_{self.kind}")(name, trial, trials, k)
                if reason:
                    stops.append((name, f"{self.kind} policy at interval {k}: {reason}"))
                    trial.running = False
                    break
        return stops

    def _best_so_far(self, history: list[float], k: int) -> float:
        return max(history[:k]) if self.goal == "maximize" else min(history[:k])

    def _bandit(self, name: str, trial: TrialMetrics, trials: Mapping[str, TrialMetrics], k: int) -> str | None:
        # Azure's wording: a trial "whose best metric at interval k" is outside the slack of
        # the best trial's at interval k is ended.
        at_k = [self._best_so_far(t.history, k) for t in trials.values() if len(t.history) >= k]
        best = max(at_k) if self.goal == "maximize" else min(at_k)
        value = self._best_so_far(trial.history, k)
        sign = 1 if self.goal == "maximize" else -1
        if self.policy.get("slack_factor"):
            factor = self.policy["slack_factor"]
            limit = best / (1 + factor) if sign > 0 else best * (1 + factor)
            slack = f"slack_factor {factor:g}"
        else:
            limit = best - sign * self.policy["slack_amount"]
            slack = f"slack_amount {self.policy['slack_amount']:g}"
        if _better(self.goal, limit, value):
            return f"its best {value:g} is outside the {slack} of the best trial's {best:g} (limit {limit:g})"
        return None

    def _median_stopping(self, name: str, trial: TrialMetrics, trials: Mapping[str, TrialMetrics],
                         k: int) -> str | None:
        averages = [statistics.fmean(t.history[:k]) for n, t in trials.items() if n != name and len(t.history) >= k]
        if not averages:
            return None
        median = statistics.median(averages)
        best = self._best_so_far(trial.history, k)
        if _better(self.goal, median, best):
            return (f"its best value {best:g} is worse than the median {median:g} of the other trials' "
                    f"running averages")
        return None

    def _truncation_selection(self, name: str, trial: TrialMetrics, trials: Mapping[str, TrialMetrics],
                              k: int) -> str | None:
        exclude = self.policy.get("exclude_finished_jobs")
        pool = [(n, t.history[k - 1]) for n, t in trials.items()
                if len(t.history) >= k and (n == name or not exclude or t.running)]
        cut = len(pool) * self.policy["truncation_percentage"] // 100
        if not cut:
            return None
        # Worst first; among equal values, the later trial goes first (it had less to go on).
        order = list(trials)
        pool.sort(key=lambda p: (p[1] if self.goal == "maximize" else -p[1], -order.index(p[0])))
        worst = [n for n, _ in pool[:cut]]
        if name in worst:
            return (f"{trial.history[k - 1]:g} is in the lowest {self.policy['truncation_percentage']}% "
                    f"of the {len(pool)} trials at this interval")
        return None


def best_trial(objectives: Mapping[str, float], goal: str) -> tuple[str, float] | None:
    """(name, value) of the best objective; the first one on ties."""
    best = None
    for name, value in objectives.items():
        if math.isfinite(value) and (best is None or _better(goal, value, best[1])):
            best = (name, value)
    return best
