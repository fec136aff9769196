"""The detached process that runs one sweep: `python -m tui.workspace.local.sweep_runner ROOT
NAME`, which `jobstore.spawn_runner` starts for a job whose plan is a `SweepPlan`.

It is a job runner (claimed, found dead, cancelled by SIGTERM as any runner is: runner.py,
jobstore.py) whose work is other jobs: it samples parameters (sweep.py), submits each sample
as a child command job (`<sweep>_<n>`, run by its own runner when the compute has a slot),
reads each trial's primary metric from the MLflow store as it is logged, stops the trials
the early-termination policy says to stop, and keeps the best trial in the sweep's
properties (`best_child_run_id`, `score`: Azure's names). Its own log,
`user_logs/std_log.txt`, says what it decided and why.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jobfiles, jobstore, logtimes, tracking
from .catalog import transaction
from .plan import SweepPlan
from .resolve import Draft
from .runner import Runner
from .sweep import Policy, TrialMetrics, best_trial, make_sampler, text

POLL_S = float(os.environ.get("AML_TUI_SWEEP_POLL", "0.05"))
TERMINAL = ("Completed", "Failed", "Canceled")
SWEEP_LOG = "user_logs/std_log.txt"
SWEEP_PROPERTIES = ("best_child_run_id", "score", "trial_counts", "total_trials")
CHECK_S = 1.0  # how often the sweep looks for dead trial runners


@dataclass
class Trial:
    index: int
    params: dict[str, Any]
    status: str = "NotStarted"
    run_id: str | None = None
    metrics: TrialMetrics = field(default_factory=TrialMetrics)
    told: bool = False  # the sampler knows how it ended

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def objective(self) -> float | None:
        """The last value of the primary metric the trial logged."""
        return self.metrics.history[-1] if self.metrics.history else None


class SweepRunner(Runner):
    def run(self) -> int:
        if not self.claim():
            return 0
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            plan = SweepPlan.read(self.layout.run_json)
            if self.current_status() == "CancelRequested":
                return self.finish("Canceled", None, None)
            self.status("Running", expect=("Preparing",), start_time=time.time())
            return self.sweep(plan)
        except Exception as exc:  # never leave the sweep Running, nor its trials without an owner
            import traceback

            self.system_log(traceback.format_exc())
            jobstore.cancel_trials(self.conn, self.root, self.name, "the sweep failed")
            return self.finish("Failed", None, None, error=("SystemError", f"{type(exc).__name__}: {exc}"))

    # -- the loop

    def sweep(self, plan: SweepPlan) -> int:
        limits = plan.limits
        max_total = limits["max_total_trials"]
        max_concurrent = limits.get("max_concurrent_trials", max_total)
        deadline = time.time() + limits["timeout"] if limits.get("timeout") else None
        sampler = make_sampler(plan.search_space, plan.sampling_algorithm, plan.goal, max_total)
        policy = Policy(plan.early_termination, plan.goal) if plan.early_termination else None
        shown = json.loads(self.conn.execute("SELECT spec FROM jobs WHERE name = ?", (self.name,)).fetchone()[0])
        self.say(f"sweep of {max_total} trial(s), {max_concurrent} at a time, {plan.sampling_algorithm['type']} "
                 f"sampling, {plan.goal} {plan.primary_metric}"
                 + (f", {plan.early_termination['type']} early termination" if policy else ""))
        trials: dict[str, Trial] = {}
        exhausted = False
        stopping: str | None = None  # why every trial is being ended (a cancel, the timeout)
        published = None
        next_check = time.time() + CHECK_S
        with self._metrics_store() as store:
            while True:
                self.refresh(trials, store, plan.primary_metric)
                for name, trial in trials.items():
                    if trial.ended and not trial.told:
                        trial.told = True
                        sampler.tell(trial.index, trial.objective if trial.status != "Failed" else None)
                        value = "" if trial.objective is None else f", {plan.primary_metric} {trial.objective:g}"
                        self.say(f"trial {name} {trial.status}{value}")
                if stopping is None:
                    if self.cancel_requested or self.current_status() == "CancelRequested":
                        stopping = "the sweep was canceled"
                    elif deadline and time.time() > deadline:
                        stopping = f"the sweep reached limits.timeout ({limits['timeout']} s)"
                    if stopping:
                        self.say(f"{stopping}: canceling its trials")
                        jobstore.cancel_trials(self.conn, self.root, self.name, stopping)
                if stopping is None and policy:
                    for name, reason in policy.decide({n: t.metrics for n, t in trials.items()}):
                        self.say(f"stopping trial {name}: {reason}")
                        jobstore.cancel(self.conn, self.root, name, reason=reason)
                if stopping is None:
                    active = sum(not t.ended for t in trials.values())
                    submitted = False
                    while not exhausted and active < max_concurrent and len(trials) < max_total:
                        params = sampler.next()
                        if params is None:
                            exhausted = True
                            break
                        index = len(trials)
                        trials[self.submit(plan, shown, index, params)] = Trial(index, params)
                        active += 1
                        submitted = True
                    if submitted:
                        jobstore.schedule(self.conn, self.root)
                if time.time() > next_check:
                    # A trial's runner that died would keep the sweep waiting: find it, as readers do.
                    jobstore.reconcile(self.conn, self.root)
                    _reap()
                    next_check = time.time() + CHECK_S
                published = self.publish(plan, trials, published)
                done = stopping or exhausted or len(trials) >= max_total
                if done and all(t.ended for t in trials.values()):
                    break
                time.sleep(POLL_S)
        return self.conclude_sweep(plan, trials, stopping)

    def conclude_sweep(self, plan: SweepPlan, trials: dict[str, Trial], stopping: str | None) -> int:
        best = self._best(plan, trials)
        if best:
            self.say(f"best trial: {best[0]}, {plan.primary_metric} {best[1]:g}")
        self._keep_properties()
        if self.cancel_requested or self.current_status() == "CancelRequested":
            return self.finish("Canceled", None, None)
        if stopping:
            return self.finish("Canceled", None, None, error=("JobTimeout", stopping))
        if not any(t.status == "Completed" for t in trials.values()):
            return self.finish("Failed", None, None, error=(
                "UserError", f"none of the sweep's {len(trials)} trial(s) completed; see their logs "
                f"(aml-tui job list --parent-job-name {self.name})"))
        return self.finish("Completed", None, None)

    # -- trials

    def submit(self, plan: SweepPlan, shown: dict[str, Any], index: int, params: dict[str, Any]) -> str:
        """Create trial `index` as a child command job (NotStarted; `schedule` starts it)."""
        t = plan.trial
        name = f"{self.name}_{index}"
        values = {k: text(v) for k, v in params.items()}
        env = {**t.environment_variables, **{f"AZUREML_SWEEP_{k}": v for k, v in values.items()}}
        draft = Draft(command=t.command, values={"inputs": dict(t.values["inputs"]), "outputs": dict(t.outputs),
                                                 "search_space": values},
                      paths=dict(t.paths), environment=dict(t.environment), environment_variables=env,
                      process_count=t.process_count, timeout=plan.limits.get("trial_timeout"),
                      experiment_name=plan.experiment_name, code_dir=str(self.layout.snapshot), compute=plan.compute)
        trial = shown.get("trial") or {}
        record = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
            "type": "command", "name": name, "display_name": name, "experiment_name": plan.experiment_name,
            **{k: v for k, v in trial.items() if k in ("code", "command", "environment", "distribution",
                                                      "resources")},
            "environment_variables": {**trial.get("environment_variables", {}),
                                      **{f"AZUREML_SWEEP_{k}": v for k, v in values.items()}},
            "inputs": shown.get("inputs", {}),
            "outputs": {"default": {"type": "uri_folder", "mode": "rw_mount"}, **(shown.get("outputs") or {})},
            "compute": shown.get("compute"), "parent_job_name": self.name,
            # Azure's run history keeps a trial's parameters in this tag, as JSON.
            "tags": {"hyperparameters": json.dumps(params)}, "properties": {},
        }
        if plan.limits.get("trial_timeout"):
            record["limits"] = {"timeout": plan.limits["trial_timeout"]}
        jobfiles.create_job_folder(self.root, self.conn, name, record, draft, str(self.layout.job_yml),
                                   parent_job_name=self.name)
        jobstore.log_lifecycle(self.root, name, "status NotStarted")
        self.say(f"trial {name}: {json.dumps(params)}")
        return name

    def refresh(self, trials: dict[str, Trial], store: "MetricsStore", metric: str) -> None:
        for name, status, run_id in self.conn.execute(
                "SELECT name, status, mlflow_run_id FROM jobs WHERE parent_job_name = ?", (self.name,)):
            trial = trials.get(name)
            if trial is None or (trial.ended and trial.told):
                continue
            trial.status, trial.run_id = status, run_id
            trial.metrics.running = not trial.ended and trial.metrics.running
        # Read after the statuses: a trial seen ended has logged all it will.
        want = {t.run_id: t for t in trials.values() if t.run_id and not t.told}
        for run_id, values in store.histories(metric, list(want)).items():
            want[run_id].metrics.history = values

    def _best(self, plan: SweepPlan, trials: dict[str, Trial]) -> tuple[str, float] | None:
        return best_trial({n: t.objective for n, t in trials.items()
                           if t.objective is not None and t.status != "Failed"}, plan.goal)

    def publish(self, plan: SweepPlan, trials: dict[str, Trial], last: Any) -> Any:
        """The best trial and the trial counts, in the sweep's properties, when they change."""
        best = self._best(plan, trials)
        counts: dict[str, int] = {}
        for t in trials.values():
            counts[t.status] = counts.get(t.status, 0) + 1
        now = (best, counts)
        if now == last:
            return last
        props = {"trial_counts": json.dumps(counts, sort_keys=True), "total_trials": str(len(trials))}
        if best:
            props.update({"best_child_run_id": best[0], "score": repr(best[1])})
        sets = ", ".join("'$.properties.' || ?, ?" for _ in props)
        args = [x for kv in props.items() for x in kv]
        with transaction(self.conn):
            self.conn.execute(f"UPDATE jobs SET spec = json_set(spec, {sets}) WHERE name = ?", (*args, self.name))
        return now

    def _keep_properties(self) -> None:
        """The final properties go into job.yml too, which `workspace repair` rebuilds from."""
        import yaml

        props = json.loads(self.conn.execute("SELECT json_extract(spec, '$.properties') FROM jobs WHERE name = ?",
                                             (self.name,)).fetchone()[0] or "{}")
        path = self.layout.job_yml
        doc = yaml.safe_load(path.read_text())
        doc["properties"] = {**(doc.get("properties") or {}),
                             **{k: props[k] for k in SWEEP_PROPERTIES if k in props}}
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        os.replace(tmp, path)

    def say(self, message: str) -> None:
        path = self.layout.log(SWEEP_LOG)
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")
            f.flush()
            logtimes.mark_written(self.layout, SWEEP_LOG, f.fileno())

    def _metrics_store(self) -> "MetricsStore":
        return MetricsStore(self.root)


class MetricsStore:
    """The trials' primary metric, read straight from the MLflow store (tracking.py's way:
    no MLflow import), one query for every trial still running."""

    def __init__(self, root: Path):
        self.db = root / "mlflow.db"
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> "MetricsStore":
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            self.conn.close()

    def histories(self, key: str, run_ids: list[str]) -> dict[str, list[float]]:
        if not run_ids:
            return {}
        if self.conn is None:
            tracking.ensure_store(self.db.parent)  # the trials' runners made it: this is a check
            self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        marks = ",".join("?" * len(run_ids))
        out: dict[str, list[float]] = {}
        try:
            rows = self.conn.execute(
                f"SELECT run_uuid, value FROM metrics WHERE key = ? AND run_uuid IN ({marks}) "
                "ORDER BY run_uuid, step, timestamp", (key, *run_ids)).fetchall()
        except sqlite3.OperationalError:  # locked by a writer for longer than the timeout: next poll
            return {}
        for run_id, value in rows:
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                out.setdefault(run_id, []).append(float(value))
        return out


def _reap() -> None:
    """Collect the trial runners this process started (`schedule` spawns them) that ended."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    return SweepRunner(Path(argv[0]), argv[1]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
