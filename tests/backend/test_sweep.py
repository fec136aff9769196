"""Local sweeps, for real: the sweep's detached runner, its trials as child jobs with their own
runners, their metrics in the MLflow store, early termination, limits, cancel and a crash."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, write
from tui.workspace import spec

pytestmark = pytest.mark.local_only("the local sweep runner (tests/backend/test_sweep_azure.py runs sweeps on the Azure fake)")

# A trial that logs a known curve of `acc` (one value per step) into its MLflow run, then
# holds on, so that a policy has time to stop it. It writes the rows MLflow's log_metric
# writes, through the store and run the runner hands every job (MLFLOW_TRACKING_URI,
# MLFLOW_RUN_ID), without paying MLflow's 2 s import per trial.
CURVE_TRIAL = """
import os, sqlite3, sys, time

CURVES = {curves!r}
curve = CURVES[int(sys.argv[1])]
db = os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")
run = os.environ["MLFLOW_RUN_ID"]
conn = sqlite3.connect(db, timeout=30)
with conn:
    for step, value in enumerate(curve):
        conn.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                     "VALUES ('acc', ?, ?, ?, ?, 0)", (value, int(time.time() * 1000), run, step))
conn.close()
time.sleep({hold})
"""
HOLD_S = 3


def sweep_doc(**changes) -> dict:
    doc = {
        "type": "sweep",
        "trial": {"command": "true"},
        "search_space": {"x": {"type": "choice", "values": [1, 2]}},
        "sampling_algorithm": "grid",
        "objective": {"primary_metric": "acc", "goal": "maximize"},
        "limits": {"max_total_trials": 10, "max_concurrent_trials": 2},
        "compute": "azureml:sweeps",
    }
    doc.update(changes)
    return doc


@pytest.fixture
def sws(ws):
    ws.create_compute({"name": "sweeps", "type": "local", "max_concurrency": 4}, source="test")
    return ws


def submit(ws, doc: dict, base: Path | None = None):
    return ws.create_job(doc, base_dir=base or Path.cwd(), source="sweep.yml")


def trials_of(ws, name: str) -> list:
    return sorted(ws.list_jobs(parent_job_name=name).items, key=lambda j: int(j.name.rsplit("_", 1)[1]))


def params(job) -> dict:
    return json.loads(job.fields["tags"]["hyperparameters"])


def wait_until(check, timeout: float = 60, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def max_overlap(jobs) -> int:
    """The most trials that were Running at one moment."""
    events = sorted([(j.start_time, 1) for j in jobs if j.start_time] + [(j.end_time, -1) for j in jobs if j.end_time],
                    key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def sweep_log(ws, name: str) -> str:
    return ws.read_log(name, "user_logs/std_log.txt").text


# ---------------------------------------------------------------------------- sampling


def test_grid_runs_every_combination_once_and_the_trials_are_child_jobs(sws, tmp_path):
    write(tmp_path / "src" / "show.sh", 'echo "a=$1 b=$2 env=$AZUREML_SWEEP_a/$AZUREML_SWEEP_b"\n')
    space = {"a": {"type": "choice", "values": [1, 2, 3]}, "b": {"type": "choice", "values": ["x", "y"]}}
    sweep = submit(sws, sweep_doc(trial={"code": "src", "command": "bash show.sh ${{search_space.a}} "
                                         "${{search_space.b}}"}, search_space=space), tmp_path)
    assert sweep.type == "sweep" and sweep.parent_job_name is None
    sweep = sws.wait_for_job(sweep.name, 120)
    trials = trials_of(sws, sweep.name)
    assert sweep.status == "Completed", sweep_log(sws, sweep.name)
    combos = [(params(t)["a"], params(t)["b"]) for t in trials]
    assert sorted(combos) == sorted(itertools.product([1, 2, 3], ["x", "y"]))  # each exactly once
    assert len(trials) == 6  # max_total_trials 10: the grid ends first
    for t in trials:
        assert t.status == "Completed" and t.parent_job_name == sweep.name and t.type == "command"
        p = params(t)
        log = sws.read_log(t.name, "user_logs/std_log.txt").text
        assert f"a={p['a']} b={p['b']} env={p['a']}/{p['b']}" in log  # the command and AZUREML_SWEEP_*
    assert max_overlap(trials) <= 2  # max_concurrent_trials
    assert [j.name for j in sws.list_jobs().items] == [sweep.name]  # trials are not top-level jobs
    props = sweep.fields["properties"]
    assert json.loads(props["trial_counts"]) == {"Completed": 6} and props["total_trials"] == "6"
    assert "each of its trials prepares its own" in sws.read_log(sweep.name, "system_logs/environment_build.txt").text


def test_random_with_a_seed_is_reproducible_and_another_seed_differs(sws):
    space = {"lr": {"type": "loguniform", "min_value": -6, "max_value": -1},
             "n": {"type": "randint", "upper": 1000},
             "q": {"type": "qnormal", "mu": 10, "sigma": 3, "q": 2}}

    def sampled(seed, rule="random"):
        doc = sweep_doc(search_space=space, sampling_algorithm={"type": "random", "seed": seed, "rule": rule},
                        limits={"max_total_trials": 3, "max_concurrent_trials": 3})
        name = submit(sws, doc).name
        return name, [params(t) for t in wait_until(lambda: len(trials_of(sws, name)) == 3 and trials_of(sws, name),
                                                     60, "3 trials")]

    (n1, first), (n2, again), (n3, other) = sampled(5), sampled(5), sampled(6)
    (n4, sobol), (n5, sobol_again) = sampled(5, "sobol"), sampled(5, "sobol")
    assert first == again and sobol == sobol_again
    assert first != other and sobol != first
    for p in first + other + sobol:
        assert 0.0024 < p["lr"] < 0.368 and 0 <= p["n"] < 1000 and p["q"] % 2 == 0 and isinstance(p["q"], int)
    for name in (n1, n2, n3, n4, n5):
        assert sws.wait_for_job(name, 120).status == "Completed"


def test_bayesian_sampling_asks_optuna_and_tells_it_each_objective(sws, tmp_path):
    curves = {i: [0.1 * i] for i in range(4)}
    write(tmp_path / "src" / "curve.py", CURVE_TRIAL.format(curves=curves, hold=0))
    space = {"c": {"type": "quniform", "min_value": 0, "max_value": 3, "q": 1},
             "lr": {"type": "uniform", "min_value": 0.1, "max_value": 0.2}}
    doc = sweep_doc(trial={"code": "src", "command": "python curve.py ${{search_space.c}}"}, search_space=space,
                    sampling_algorithm="bayesian", limits={"max_total_trials": 3, "max_concurrent_trials": 1})
    sweep = sws.wait_for_job(submit(sws, doc, tmp_path).name, 180)
    trials = trials_of(sws, sweep.name)
    assert sweep.status == "Completed", sweep_log(sws, sweep.name)
    assert len(trials) == 3 and all(p["c"] in (0, 1, 2, 3) and 0.1 <= p["lr"] <= 0.2 for p in map(params, trials))
    best = max(trials, key=lambda t: params(t)["c"])
    assert sweep.fields["properties"]["best_child_run_id"] == best.name
    assert float(sweep.fields["properties"]["score"]) == pytest.approx(0.1 * params(best)["c"])


# ---------------------------------------------------------------------------- early termination

# Four trials run one after the other (grid over `curve`, one at a time), each logging `acc`
# at intervals 1, 2, 3, ... The stops below are worked out by hand in the comments.
POLICIES = {
    # slack_factor 0.2: stop when a trial's best acc so far < the best trial's (so far) / 1.2;
    # from interval 2 on.
    "bandit": ({"type": "bandit", "slack_factor": 0.2, "evaluation_interval": 1, "delay_evaluation": 2}, [
        [0.5, 0.6, 0.7, 0.8],    # 0: the only trial at first, then the best: runs to the end
        [0.3, 0.45, 0.5, 0.55],  # 1: interval 1 is not looked at (delay 2); at 2: best 0.6, limit 0.5 > 0.45: stop
        [0.2, 0.55, 0.65, 0.75],  # 2: limits 0.5, 0.583, 0.667: always within
        [0.3, 0.52, 0.55, 0.56],  # 3: at 2: limit 0.5 <= 0.52; at 3: best 0.7, limit 0.583 > 0.55: stop
        #                            (at 1, not looked at: 0.3 < 0.5 / 1.2 would have stopped it)
    ], {1: 2, 3: 3}, 0),
    # At intervals 2 and 4: stop when the trial's best so far is below the median of the other
    # trials' running averages.
    "median_stopping": ({"type": "median_stopping", "evaluation_interval": 2}, [
        [0.5, 0.6, 0.7, 0.8],    # 0: no other trial to compare with
        [0.1, 0.2, 0.9, 0.3],    # 1: at 2: median of (0.55) = 0.55 > best 0.2: stop
        [0.1, 0.6, 0.1, 0.9],    # 2: at 2: median(0.55, 0.15) = 0.35 <= 0.6; at 4: median(0.65, 0.375) = 0.5125 <= 0.9
        #                             (at interval 1, not looked at, 0.1 < median(0.5, 0.1) = 0.3 would stop it)
        [0.4, 0.41, 0.3, 0.35],  # 3: at 2: median(0.55, 0.15, 0.35) = 0.35 <= 0.41;
        #                             at 4: median(0.65, 0.375, 0.425) = 0.425 > 0.41: stop
    ], {1: 2, 3: 4}, 2),
    # At every interval: cancel the lowest 50% (rounded down) of the trials that reached it.
    "truncation_selection": ({"type": "truncation_selection", "truncation_percentage": 50,
                              "evaluation_interval": 1}, [
        [0.5, 0.6, 0.7],    # 0: alone at each interval: 50% of 1 is no trial
        [0.4, 0.7, 0.8],    # 1: at 1: (0.5, 0.4): the lowest one is this: stop
        [0.6, 0.5, 0.55],   # 2: at 1: lowest of 3 is trial 1 (0.4); at 2: (0.6, 0.7, 0.5): lowest is this: stop
        [0.55, 0.8, 0.85],  # 3: at 1: lowest 2 of 4: 0.4, 0.5; at 2: 0.5, 0.6; at 3: 0.55, 0.7: never this
    ], {1: 1, 2: 2}, 3),
}


@pytest.fixture
def policy_sweeps(sws, tmp_path):
    """The three policies' sweeps, side by side (each runs its trials one at a time)."""
    names = {}
    for kind, (policy, curves, _, _) in POLICIES.items():
        code = tmp_path / kind
        write(code / "curve.py", CURVE_TRIAL.format(curves=dict(enumerate(curves)), hold=HOLD_S))
        doc = sweep_doc(trial={"code": kind, "command": "python curve.py ${{search_space.curve}}"},
                        search_space={"curve": {"type": "choice", "values": list(range(len(curves)))}},
                        early_termination=policy, limits={"max_total_trials": 4, "max_concurrent_trials": 1})
        names[kind] = submit(sws, doc, tmp_path).name
    return {kind: sws.wait_for_job(name, 240) for kind, name in names.items()}


@pytest.mark.parametrize("kind", POLICIES)
def test_early_termination_stops_exactly_the_trials_it_should(sws, policy_sweeps, kind):
    _, curves, stops, best = POLICIES[kind]
    sweep = policy_sweeps[kind]
    trials = trials_of(sws, sweep.name)
    log = sweep_log(sws, sweep.name)
    assert sweep.status == "Completed", log
    assert [params(t)["curve"] for t in trials] == list(range(len(curves)))
    for i, t in enumerate(trials):
        if i in stops:
            assert t.status == "Canceled", (i, log)
            reason = t.fields["properties"]["stop_reason"]
            assert reason.startswith(f"{kind} policy at interval {stops[i]}: "), reason
        else:
            assert t.status == "Completed" and "stop_reason" not in t.fields["properties"], (i, log)
    props = sweep.fields["properties"]
    assert props["best_child_run_id"] == trials[best].name
    assert float(props["score"]) == curves[best][-1]
    assert json.loads(props["trial_counts"]) == {"Completed": len(curves) - len(stops), "Canceled": len(stops)}
    # The stopped trial's metrics stay readable (the sweep view charts them).
    stopped = trials[min(stops)]
    assert [p.value for p in sws.job_metrics(stopped.name)["acc"]] == curves[min(stops)]


def test_trials_started_by_the_sweeps_runner_see_the_users_pythonpath(sws):
    sweep = submit(sws, sweep_doc(trial={"command": 'echo "PYTHONPATH=[$PYTHONPATH]"'},
                                  limits={"max_total_trials": 2, "max_concurrent_trials": 1}))

    def status() -> str:
        # Not through the workspace: its reads start waiting jobs from this process, and the
        # trials must be started by the sweep's runner (a runner spawning a runner).
        with sqlite3.connect(sws.root / "catalog.db") as conn:
            return conn.execute("SELECT status FROM jobs WHERE name = ?", (sweep.name,)).fetchone()[0]

    wait_until(lambda: status() in ("Completed", "Failed", "Canceled"), 120, "the sweep to end")
    for trial in trials_of(sws, sweep.name):
        log = sws.read_log(trial.name, "user_logs/std_log.txt").text
        assert f"PYTHONPATH=[{os.environ.get('PYTHONPATH', '')}]" in log, log  # not aml-tui's in front


# ---------------------------------------------------------------------------- limits, capacity


def test_limits_concurrency_timeouts_and_the_computes_capacity(sws):
    sws.create_compute({"name": "one-slot", "type": "local", "max_concurrency": 1}, source="test")
    space = {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}
    # max_total_trials stops a random sweep; the compute (1 slot) is narrower than max_concurrent.
    narrow = submit(sws, sweep_doc(trial={"command": "sleep 0.3"}, search_space=space, sampling_algorithm="random",
                                   compute="azureml:one-slot",
                                   limits={"max_total_trials": 3, "max_concurrent_trials": 3}))
    # trial_timeout ends each trial (Failed, as a command job's limits.timeout does).
    slow = submit(sws, sweep_doc(trial={"command": "sleep 60"}, search_space=space, sampling_algorithm="random",
                                 limits={"max_total_trials": 2, "max_concurrent_trials": 2, "trial_timeout": 1}))
    # timeout ends the sweep and cancels what runs.
    timed = submit(sws, sweep_doc(trial={"command": "sleep 60"}, search_space=space, sampling_algorithm="random",
                                  limits={"max_total_trials": 5, "max_concurrent_trials": 2, "timeout": 2}))
    narrow = sws.wait_for_job(narrow.name, 120)
    trials = trials_of(sws, narrow.name)
    assert narrow.status == "Completed" and len(trials) == 3
    assert max_overlap(trials) == 1

    slow = sws.wait_for_job(slow.name, 120)
    assert slow.status == "Failed" and "none of the sweep's 2 trial(s) completed" in slow.fields["error"]["message"]
    for t in trials_of(sws, slow.name):
        assert t.status == "Failed" and t.fields["error"]["code"] == "JobTimeout"

    timed = sws.wait_for_job(timed.name, 120)
    assert timed.status == "Canceled" and "limits.timeout (2 s)" in timed.fields["error"]["message"]
    trials = trials_of(sws, timed.name)
    assert len(trials) == 2  # nothing new was started after the timeout
    for t in trials:
        assert t.status == "Canceled" and "limits.timeout" in t.fields["properties"]["stop_reason"]


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("changes, field, words", [
    ({"sampling_algorithm": "grid", "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}},
     "search_space.x.type", "grid sampling takes choice parameters only"),
    ({"sampling_algorithm": "bayesian", "search_space": {"x": {"type": "loguniform", "min_value": -3,
                                                               "max_value": 0}}},
     "search_space.x.type", "bayesian sampling takes choice, uniform, quniform parameters only"),
    ({"sampling_algorithm": "bayesian", "early_termination": {"type": "median_stopping"}},
     "early_termination", "bayesian sampling has no early termination"),
    ({"limits": {"max_total_trials": 2, "max_concurrent_trials": 3}}, "limits.max_concurrent_trials",
     "at most max_total_trials (2)"),
    ({"early_termination": {"type": "bandit", "slack_factor": 0.1, "slack_amount": 0.2}},
     "early_termination.slack_amount", "not both"),
    ({"objective": {"goal": "maximize"}}, "objective.primary_metric", "required"),
    ({"trial": {"command": "echo ${{search_space.nope}}"}}, "trial.command",
     "undeclared search space parameter 'nope'; declared search_space: x"),
    ({"search_space": {"x": {"type": "randint", "upper": 0}}}, "search_space.x.upper", ">= 1"),
    ({"trial": {"command": "true", "code": "missing"}}, "trial.code", "does not exist"),
])
def test_invalid_sweeps_are_refused_naming_the_field(cli, ws_root, tmp_path, changes, field, words):
    jobfile = write(tmp_path / "sweep.yml", json.dumps(sweep_doc(compute=None, **changes)))
    r = cli("job", "create", "--file", str(jobfile))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"{jobfile}: {field}: " in r.stderr and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    with sqlite3.connect(ws_root / "catalog.db") as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0  # nothing half-written


# ---------------------------------------------------------------------------- cancel, crash


def running_trials(ws, name: str, count: int):
    return wait_until(lambda: [t for t in trials_of(ws, name) if t.status == "Running"][:count] if len(
        [t for t in trials_of(ws, name) if t.status == "Running"]) >= count else None, 90, f"{count} running trials")


def test_a_sweep_through_the_cli_create_with_set_cancel_list_show(sws, cli, tmp_path):
    space = {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}
    jobfile = write(tmp_path / "sweep.yml", json.dumps(sweep_doc(
        trial={"command": "sleep 120"}, search_space=space, sampling_algorithm="random",
        limits={"max_total_trials": 6, "max_concurrent_trials": 1})))
    r = cli("job", "create", "--file", str(jobfile), "--set", "limits.max_concurrent_trials=2", "-o", "json")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)  # the CLI process has exited: the sweep runs on, detached
    assert created["type"] == "sweep" and created["limits"]["max_concurrent_trials"] == 2
    sweep = sws.get_job(created["name"])
    running_trials(sws, sweep.name, 2)
    from tui.workspace.base import AssetKind

    compute = sws.get_asset(AssetKind.COMPUTE, "sweeps")
    assert (compute.fields["running_jobs"], compute.fields["queued_jobs"]) == (2, 0)  # the trials, not the sweep
    r = cli("job", "cancel", "--name", sweep.name, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] in ("CancelRequested", "Canceled")
    sweep = sws.wait_for_job(sweep.name, 60)
    assert sweep.status == "Canceled"
    trials = trials_of(sws, sweep.name)
    assert len(trials) == 2 and {t.status for t in trials} == {"Canceled"}
    assert all(t.fields["properties"]["stop_reason"] == "the sweep was canceled" for t in trials)

    listed = cli("job", "list", "--parent-job-name", sweep.name, "-o", "json")
    assert sorted(j["name"] for j in json.loads(listed.stdout)) == sorted(t.name for t in trials)
    shown = json.loads(cli("job", "show", "--name", sweep.name, "-o", "json").stdout)
    assert shown["type"] == "sweep" and json.loads(shown["properties"]["trial_counts"]) == {"Canceled": 2}


def test_a_killed_sweep_runner_fails_the_sweep_and_leaves_no_trial_running(sws):
    space = {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}
    sweep = submit(sws, sweep_doc(trial={"command": "sleep 120"}, search_space=space, sampling_algorithm="random",
                                  limits={"max_total_trials": 6, "max_concurrent_trials": 2}))
    trials = running_trials(sws, sweep.name, 2)
    with sqlite3.connect(sws.root / "catalog.db") as conn:
        pid = conn.execute("SELECT runner_pid FROM jobs WHERE name = ?", (sweep.name,)).fetchone()[0]
    os.kill(pid, signal.SIGKILL)
    sweep = wait_until(lambda: (j := sws.get_job(sweep.name)).is_terminal and j, 30, "the sweep to be seen dead")
    assert sweep.status == "Failed" and "runner process" in sweep.fields["error"]["message"]
    for t in trials:
        t = sws.wait_for_job(t.name, 60)
        assert t.status == "Canceled" and t.fields["properties"]["stop_reason"] == "the sweep's runner died"
    assert len(trials_of(sws, sweep.name)) == 2  # nobody started more


# ---------------------------------------------------------------------------- the trainer


def test_a_sweep_of_the_real_trainer_on_synthetic_data(ws, tmp_path):
    from trainer.synthetic import write_synthetic

    data = write_synthetic(tmp_path / "mnist", n_train=300, n_test=100)
    ws.create_data({"name": "mnist-sample", "type": "uri_folder", "path": str(data)}, base_dir=tmp_path, source="t")
    env_file = REPO / "environments" / "cpu.yml"
    ws.create_environment(spec.load_yaml_file(env_file), base_dir=env_file.parent, source=str(env_file))
    ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="test")
    path = REPO / "trainer" / "sweep.yml"
    document = spec.apply_overrides(spec.load_yaml_file(path), ["inputs.epochs=1", "limits.max_total_trials=2",
                                                                "limits.max_concurrent_trials=2",
                                                                "early_termination.delay_evaluation=5"], str(path))
    sweep = ws.wait_for_job(ws.create_job(document, base_dir=path.parent, source=str(path)).name, 400)
    trials = trials_of(ws, sweep.name)
    logs = "\n".join(ws.read_log(t.name, "user_logs/std_log.txt").text[-2000:] for t in trials)
    assert sweep.status == "Completed", sweep_log(ws, sweep.name) + logs
    assert len(trials) == 2 and all(t.status == "Completed" for t in trials), logs
    metric = sweep.fields["objective"]["primary_metric"]
    finals = {t.name: ws.job_metrics(t.name)[metric][-1].value for t in trials}
    best = (max if sweep.fields["objective"]["goal"] == "maximize" else min)(finals, key=finals.get)
    assert sweep.fields["properties"]["best_child_run_id"] == best
    assert float(sweep.fields["properties"]["score"]) == pytest.approx(finals[best])
    # A sweep's outputs are its best trial's (as on Azure).
    dest = ws.download_job(sweep.name, tmp_path / "best", output_name="model")
    assert (dest / "named-outputs" / "model" / "MLmodel").is_file()


def test_repair_keeps_a_sweeps_trials_under_their_sweep(sws, cli):
    sweep = sws.wait_for_job(submit(sws, sweep_doc()).name, 60)
    assert sweep.status == "Completed"
    sws.close()
    (sws.root / "catalog.db").unlink()
    for extra in sws.root.glob("catalog.db-*"):
        extra.unlink()
    r = cli("workspace", "repair")
    assert r.returncode == 0, r.stderr
    assert [j["name"] for j in json.loads(cli("job", "list", "-o", "json").stdout)] == [sweep.name]
    trials = json.loads(cli("job", "list", "--parent-job-name", sweep.name, "-o", "json").stdout)
    assert sorted(t["name"] for t in trials) == [f"{sweep.name}_0", f"{sweep.name}_1"]
    shown = json.loads(cli("job", "show", "--name", sweep.name, "-o", "json").stdout)
    assert shown["type"] == "sweep" and shown["properties"]["total_trials"] == "2"
