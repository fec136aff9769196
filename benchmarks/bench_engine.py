"""Local engine benchmarks (DESIGN.md targets), printed side by side:

- `aml-tui job list -o json` on 10,000 jobs (target <= 0.5 s)
- a no-op job: submit-to-Running latency and whole-run overhead over running its command
  directly (target overhead <= 1 s); the anchor, `mlflow run` of a no-op project, took 4.2 s here.
- the first job on a new workspace: `aml-tui job create --stream` of a no-op in a fresh folder,
  until Completed (the workspace's MLflow store is created on the way; no target).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui.workspace.local import LocalWorkspace, tracking
from tui.workspace.local.bench import fill_jobs

N_JOBS = 10_000
RUNS = 5


def timed(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - t, proc


def bench_job_list(root: Path) -> None:
    ws = LocalWorkspace(root)
    tracking.ensure_store(root)  # a new workspace prepares its MLflow store in the background: finish it
    fill_jobs(ws, N_JOBS)
    ws.close()
    cli = [sys.executable, "-m", "tui.cli", "--local", str(root), "job", "list", "-o", "json"]
    times = []
    for _ in range(RUNS):
        dt, proc = timed(cli)
        assert proc.returncode == 0, proc.stderr
        times.append(dt)
    size = len(proc.stdout)
    print(f"job list -o json, {N_JOBS} jobs ({size / 1e6:.1f} MB): first {times[0]:.3f} s, "
          f"median {statistics.median(times):.3f} s, min {min(times):.3f} s   (target <= 0.5 s)")


def bench_noop_job(root: Path) -> None:
    ws = LocalWorkspace(root)
    tracking.ensure_store(root)  # a one-time cost per workspace, paid by `aml-tui seed`
    command = "true"
    direct = [timed(["/bin/bash", "-c", command])[0] for _ in range(RUNS)]
    to_running, whole = [], []
    for _ in range(RUNS):
        t0 = time.time()
        job = ws.create_job({"command": command, "experiment_name": "bench"}, base_dir=root, source="bench")
        job = ws.wait_for_job(job.name, 60, poll=0.005)
        t1 = time.time()
        assert job.status == "Completed"
        to_running.append(job.start_time - t0)
        whole.append(t1 - t0)
    cli_times = []
    jobfile = root / "noop.yml"
    jobfile.write_text(f"command: '{command}'\nexperiment_name: bench\n")
    for _ in range(RUNS):
        dt, proc = timed([sys.executable, "-m", "tui.cli", "--local", str(root), "job", "create",
                          "--file", str(jobfile), "--stream"])
        assert proc.returncode == 0, proc.stderr
        cli_times.append(dt)
    d = statistics.median(direct)
    print(f"no-op command directly ............ median {d * 1000:7.1f} ms")
    print(f"no-op job: submit -> Running ...... median {statistics.median(to_running) * 1000:7.1f} ms")
    print(f"no-op job: submit -> Completed .... median {statistics.median(whole) * 1000:7.1f} ms  "
          f"overhead {(statistics.median(whole) - d) * 1000:.0f} ms   (target <= 1000 ms)")
    print(f"`aml-tui job create --stream` ..... median {statistics.median(cli_times) * 1000:7.1f} ms  "
          f"overhead {(statistics.median(cli_times) - d) * 1000:.0f} ms (whole CLI process included)")


def bench_first_job(root: Path) -> None:
    jobfile = root.parent / "first-noop.yml"
    jobfile.write_text("command: 'true'\nexperiment_name: bench\n")
    dt, proc = timed([sys.executable, "-m", "tui.cli", "--local", str(root), "job", "create",
                      "--file", str(jobfile), "--stream"])
    assert proc.returncode == 0, proc.stderr  # --stream exits 0 only when the job Completed
    print(f"first job on a new workspace ...... {dt * 1000:7.1f} ms  (`job create --stream` of a no-op, "
          "MLflow store created on the way)")


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        bench_job_list(Path(tmp) / "list-ws")
        bench_noop_job(Path(tmp) / "noop-ws")
        bench_first_job(Path(tmp) / "first-ws")


if __name__ == "__main__":
    main()
