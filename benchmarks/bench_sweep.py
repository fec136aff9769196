"""Local sweep benchmarks, printed:

- 16 trials of `python -c "import time; time.sleep(1)"` (no metric), max_concurrent_trials 4
  on a compute of capacity 4: the sweep's wall time (submit to Completed) against the ideal
  of 4 rounds of 1 s (target <= 1.25x), and the per-trial scheduling overhead: the slot time
  each trial took beyond running its command (job create, runner start, environment, MLflow
  run, the sweep runner noticing a free slot).
- 8 real trainer trials (trainer/sweep.yml, 1 epoch, synthetic digits), 2 at a time on a
  compute of capacity 2, beside one trainer run as a plain process.

    python benchmarks/bench_sweep.py [--trainer-train N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tui.workspace import spec  # noqa: E402
from tui.workspace.local import LocalWorkspace, tracking  # noqa: E402

SLEEP_TRIAL = 'python -c "import time; time.sleep(1)"'


def trials_of(ws: LocalWorkspace, name: str) -> list:
    return list(ws.list_jobs(parent_job_name=name).items)


def bench_sleep_sweep(root: Path) -> None:
    ws = LocalWorkspace(root)
    tracking.ensure_store(root)  # a one-time cost per workspace, paid by `aml-tui seed`
    ws.create_compute({"name": "four", "type": "local", "max_concurrency": 4}, source="bench")
    direct = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(["/bin/bash", "-c", SLEEP_TRIAL], check=True)
        direct.append(time.perf_counter() - t)
    doc = {"type": "sweep", "trial": {"command": SLEEP_TRIAL}, "compute": "azureml:four",
           "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
           "sampling_algorithm": {"type": "random", "seed": 1},
           "objective": {"primary_metric": "none", "goal": "maximize"},
           "limits": {"max_total_trials": 16, "max_concurrent_trials": 4}, "experiment_name": "bench-sweep"}
    t0 = time.time()
    sweep = ws.create_job(doc, base_dir=root, source="bench")
    sweep = ws.wait_for_job(sweep.name, 300, poll=0.01)
    wall = time.time() - t0
    assert sweep.status == "Completed", sweep.status
    trials = trials_of(ws, sweep.name)
    assert len(trials) == 16 and all(t.status == "Completed" for t in trials)
    running = [t.end_time - t.start_time for t in trials]
    first = min(t.start_time for t in trials) - t0
    ideal = 4 * 1.0
    # Four slots for `wall` seconds; what the commands did not use of them, per trial.
    overhead = (4 * wall - sum(running)) / len(trials)
    loaded = 4 * statistics.median(direct)  # the ideal on this machine now: 4 rounds of the command run directly
    print(f"16 x sleep(1), 4 at a time: wall {wall:.2f} s, ideal {ideal:.1f} s: {wall / ideal:.2f}x  (target <= 1.25x); "
          f"against 4 rounds of the command run directly now ({loaded:.2f} s): {wall / loaded:.2f}x")
    print(f"  the command alone (python + sleep 1), run directly: median {statistics.median(direct):.3f} s; "
          f"in a trial (Running to its end): median {statistics.median(running):.3f} s")
    print(f"  per-trial scheduling overhead (slot time beyond the trial's Running time): {overhead * 1000:.0f} ms; "
          f"submit -> first trial Running: {first * 1000:.0f} ms")
    ws.close()


def bench_trainer_sweep(root: Path, n_train: int) -> None:
    from trainer.synthetic import write_synthetic

    ws = LocalWorkspace(root)
    tracking.ensure_store(root)
    data = write_synthetic(root.parent / "digits", n_train=n_train, n_test=max(10, n_train // 5))
    ws.create_data({"name": "mnist-sample", "type": "uri_folder", "path": str(data)}, base_dir=root, source="bench")
    env_file = REPO / "environments" / "cpu.yml"
    ws.create_environment(spec.load_yaml_file(env_file), base_dir=env_file.parent, source=str(env_file))
    ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="bench")

    t = time.perf_counter()
    out = root.parent / "direct-model"
    subprocess.run([sys.executable, "train.py", "--data", str(data), "--epochs", "1", "--model-output", str(out),
                    "--experiment-name", "bench-direct"], cwd=REPO / "trainer", check=True, capture_output=True,
                   env={**os.environ, "MLFLOW_TRACKING_URI": tracking.tracking_uri(root)})
    direct = time.perf_counter() - t

    path = REPO / "trainer" / "sweep.yml"
    document = spec.apply_overrides(spec.load_yaml_file(path), ["inputs.epochs=1", "limits.max_total_trials=8",
                                                                "limits.max_concurrent_trials=2"], str(path))
    t0 = time.time()
    sweep = ws.wait_for_job(ws.create_job(document, base_dir=path.parent, source=str(path)).name, 1800, poll=0.05)
    wall = time.time() - t0
    trials = trials_of(ws, sweep.name)
    running = [t.end_time - t.start_time for t in trials if t.start_time and t.end_time]
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    props = sweep.fields["properties"]
    print(f"8 trainer trials (1 epoch, {n_train} synthetic digits), 2 at a time: {sweep.status}, wall {wall:.1f} s; "
          f"trials {counts}")
    print(f"  a trial Running: median {statistics.median(running):.1f} s; one trainer run as a plain process: "
          f"{direct:.1f} s; best {props.get('best_child_run_id')} val_accuracy {props.get('score')}")
    ws.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trainer-train", type=int, default=2000, help="synthetic train digits (default 2000)")
    parser.add_argument("--skip-trainer", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_sleep_sweep(Path(tmp) / "sleep-ws")
        if not args.skip_trainer:
            bench_trainer_sweep(Path(tmp) / "trainer-ws", args.trainer_train)


if __name__ == "__main__":
    main()
