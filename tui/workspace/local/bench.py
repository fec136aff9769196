"""Bulk-fill a local workspace with finished job records, for benchmarks and UI tests.

Rows are copies of one real job's record (same shape as `job create` writes), inserted in
one transaction; no job directories are made, so logs of these jobs are absent.
"""

from __future__ import annotations

import json
import random
import time

from .catalog import transaction
from .jobstore import iso as _iso

STATUSES = ("Completed",) * 7 + ("Failed", "Canceled")


def fill_jobs(ws, n: int, *, experiments: int = 5, seed: int = 0) -> None:
    rng = random.Random(seed)
    now = time.time()
    rows = []
    for i in range(n):
        name = f"bench_job_{i:06d}"
        created = now - (n - i) * 60
        status = rng.choice(STATUSES)
        exp = f"experiment-{i % experiments}"
        duration = rng.uniform(5, 600)
        spec = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
            "type": "command", "name": name, "display_name": f"run {i}", "experiment_name": exp,
            "command": "python train.py --data ${{inputs.data}} --epochs ${{inputs.epochs}}",
            "inputs": {"data": {"type": "uri_folder", "path": "azureml:mnist-sample@latest"}, "epochs": i % 10},
            "outputs": {"default": {"type": "uri_folder", "mode": "rw_mount"}, "model": {"type": "uri_folder"}},
            "environment": "azureml:mnist-cpu:1", "environment_variables": {}, "compute": "azureml:local",
            "resources": {"instance_count": 1}, "tags": {"bench": "true"},
            "properties": {"StartTimeUtc": _iso(created + 1), "EndTimeUtc": _iso(created + 1 + duration)},
            "creation_context": {"created_at": _iso(created), "created_by": "local", "created_by_type": "User"},
        }
        rows.append((name, f"run {i}", status, exp, "local", created, created + 1, created + 1 + duration,
                     0 if status == "Completed" else 1, json.dumps(spec)))
    with transaction(ws._conn):
        ws._conn.executemany(
            "INSERT INTO jobs (name, display_name, type, status, experiment_name, compute, created_at,"
            " start_time, end_time, exit_code, spec) VALUES (?, ?, 'command', ?, ?, ?, ?, ?, ?, ?, ?)", rows)
