"""The local table source (tui/workspace/local/window.py) and `job list`, at 1k, 10k, 100k jobs.

Prints one table, in ms (best of 3), per workspace size:
- count, first page (500 rows, newest first), the first page sorted by each job column
  (ascending, then descending), a text filter (count and first page; a word, then words with
  a space), a regex filter (count), the watermark, changes with nothing changed;
- `aml-tui job list -o json` and `-o yaml`: wall time (s) and peak RSS (MB) of the process.
Targets (issue 15): text filter <= 50 ms at 100,000; job list <= 3 s and <= 100 MB.

    python benchmarks/bench_window.py [SIZES...]      (default: 1000 10000 100000)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui.columns import JOB_COLUMNS
from tui.query import parse_query
from tui.workspace.base import AssetKind
from tui.workspace.local import LocalWorkspace, tracking
from tui.workspace.local.bench import fill_jobs
from tui.workspace.source import ListQuery

TITLES = [c.title for c in JOB_COLUMNS]


def best_ms(call, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def job_list(root: Path, fmt: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `aml-tui job list -o fmt`, its output thrown away."""
    cmd = [sys.executable, "-m", "tui.cli", "--local", str(root), "job", "list", "-o", fmt]
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return took, usage.ru_maxrss / 1024


def measure(root: Path, n: int) -> dict[str, str]:
    ws = LocalWorkspace(root)
    tracking.ensure_store(root)
    fill_jobs(ws, n)
    source = ws.source()
    now = time.time()
    jobs = ListQuery(AssetKind.JOBS)
    row: dict[str, str] = {}

    def ms(label: str, call) -> None:
        row[label] = f"{best_ms(call):.1f}"

    ms("count", lambda: source.count(jobs))
    ms("first page (500)", lambda: source.fetch(jobs, 0, 500, now=now))
    ms("last page", lambda: source.fetch(jobs, max(0, n - 500), 500, now=now))
    for title in TITLES:
        for descending in (False, True):
            query = ListQuery(AssetKind.JOBS, sort=title, descending=descending)
            ms(f"sort {title} {'desc' if descending else 'asc'}", lambda q=query: source.fetch(q, 0, 500, now=now))
    for label, text in (("text 'job_00999'", "job_00999"), ("text 'run 99'", "run 99"),
                        ("term status:fail", "status:fail"), ("regex /run 9+$/", "/run 9+$/")):
        query = ListQuery(AssetKind.JOBS, parse_query(text, TITLES))
        ms(f"{label} count", lambda q=query: source.count(q))
        ms(f"{label} page", lambda q=query: source.fetch(q, 0, 500, now=now))
    mark = source.watermark(AssetKind.JOBS)
    ms("watermark", lambda: source.watermark(AssetKind.JOBS))
    ms("changes (none)", lambda: source.changes(AssetKind.JOBS, mark))
    ws.close()
    for fmt in ("json", "yaml"):
        took, rss = job_list(root, fmt)
        row[f"job list -o {fmt} (s)"] = f"{took:.2f}"
        row[f"job list -o {fmt} peak RSS (MB)"] = f"{rss:.0f}"
    return row


def main(sizes: list[int]) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            results[n] = measure(Path(tmp, f"ws{n}"), n)
            print(f"{n} jobs measured", file=sys.stderr)
    labels = list(next(iter(results.values())))
    print(f"| ms unless said | {' | '.join(f'{n:,} jobs' for n in sizes)} |")
    print(f"|---|{'---|' * len(sizes)}")
    for label in labels:
        print(f"| {label} | {' | '.join(results[n][label] for n in sizes)} |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000])
