"""A queued job says why it waits, and each compute counts its running and queued jobs:
computed when read, from the jobs table, in a fixed number of queries."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tui.workspace.base import AssetKind


pytestmark = pytest.mark.local_only("the local compute queue")


def _queue(ws, tmp_path, n: int = 5) -> list[str]:
    ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="t")
    return [ws.create_job({"command": "sleep 60", "compute": "cpu-cluster"}, base_dir=tmp_path, source="t").name
            for _ in range(n)]


def _reason(job) -> str | None:
    return job.fields["properties"].get("queue_reason")


def test_a_queued_job_says_why_it_waits_and_its_place_moves_up(ws, tmp_path):
    names = _queue(ws, tmp_path)
    try:
        jobs = [ws.get_job(n) for n in names]
        assert [j.status for j in jobs[2:]] == ["Queued"] * 3
        assert [_reason(j) for j in jobs] == [None, None, "cpu-cluster 2/2 busy, 1st in line",
                                              "cpu-cluster 2/2 busy, 2nd in line", "cpu-cluster 2/2 busy, 3rd in line"]
        listed = {j.name: _reason(j) for j in ws.list_jobs().items}
        assert listed == {j.name: _reason(j) for j in jobs}
        # Paged: a page of the newest jobs still counts the older ones ahead in line.
        assert _reason(ws.list_jobs(max_results=1).items[0]) == "cpu-cluster 2/2 busy, 3rd in line"
        shown = run_cli("job", "show", "--name", names[4], root=ws.root)
        assert json.loads(shown.stdout)["properties"]["queue_reason"] == "cpu-cluster 2/2 busy, 3rd in line"

        ws.cancel_job(names[3])
        ws.cancel_job(names[0])  # once it has ended, its slot goes to the first in line
        ws.wait_for_job(names[0], timeout=30)
        assert ws.get_job(names[2]).status not in ("NotStarted", "Queued") and _reason(ws.get_job(names[2])) is None
        assert _reason(ws.get_job(names[4])) == "cpu-cluster 2/2 busy, 1st in line"
    finally:
        for name in names:
            ws.cancel_job(name)


def test_the_compute_view_counts_running_and_queued_jobs_in_one_query(ws, tmp_path):
    names = _queue(ws, tmp_path)
    try:
        for i in range(3):
            ws.create_compute({"name": f"idle-{i}", "type": "local", "max_concurrency": 1}, source="t")
        statements: list[str] = []
        ws._conn.set_trace_callback(statements.append)
        computes = {a.name: a for a in ws.list_assets(AssetKind.COMPUTE).items}
        ws._conn.set_trace_callback(None)
        assert len(statements) == 1  # one grouped count joined to the computes, not one per row
        assert (computes["cpu-cluster"].get("running_jobs"), computes["cpu-cluster"].get("queued_jobs")) == (2, 3)
        assert (computes["idle-0"].get("running_jobs"), computes["idle-0"].get("queued_jobs")) == (0, 0)
        one = ws.get_asset(AssetKind.COMPUTE, "cpu-cluster")
        assert (one.get("running_jobs"), one.get("queued_jobs")) == (2, 3)
        listed = run_cli("compute", "list", "-o", "table", root=ws.root)
        assert listed.returncode == 0 and "RUNNING" in listed.stdout and "QUEUED" in listed.stdout
        row = next(line for line in listed.stdout.splitlines() if line.startswith("cpu-cluster"))
        assert row.split()[4:6] == ["2", "3"], listed.stdout
    finally:
        for name in names:
            ws.cancel_job(name)


def test_reasons_for_a_page_of_waiting_jobs_take_a_fixed_number_of_queries(ws, tmp_path):
    from tui.workspace.local import assets

    names = _queue(ws, tmp_path, n=8)
    try:
        rows = ws._conn.execute("SELECT * FROM jobs ORDER BY seq DESC").fetchall()
        statements: list[str] = []
        ws._conn.set_trace_callback(statements.append)
        jobs = assets.rows_to_jobs(ws._conn, rows)
        ws._conn.set_trace_callback(None)
        assert sum(1 for j in jobs if _reason(j)) == 6
        assert len(statements) == 3, statements  # slots held, capacities, places in line
    finally:
        for name in names:
            ws.cancel_job(name)
