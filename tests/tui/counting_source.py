"""A test source: a list of job records behind the `AssetSource` contract, counting every row
`fetch` returns, with changes the test makes (`change`) behind a watermark."""

from __future__ import annotations

import dataclasses
import threading
import time

from tui.workspace.base import AssetKind, Job
from tui.workspace.source import PAGE_ROWS, AssetSource, Changes, Count, ListQuery, apply_query

BASE = 1_700_000_000.0


def fake_jobs(n: int, *, running: int = 0) -> list[Job]:
    """`n` finished top-level jobs, one a minute, `job_00000` the oldest; the newest
    `running` are Running."""
    jobs = []
    for i in range(n):
        status = "Running" if i >= n - running else ("Completed", "Failed", "Canceled")[i % 3]
        created = BASE + i * 60
        jobs.append(Job(AssetKind.JOBS, f"job_{i:05d}", None, {"name": f"job_{i:05d}"}, status=status,
                        type="command", display_name=f"run {i}", experiment_name=f"exp-{i % 4}",
                        compute="local", created_at=created, start_time=created + 1,
                        end_time=None if status == "Running" else created + 1 + i % 600))
    return jobs


class CountingSource(AssetSource):
    def __init__(self, assets: list[Job]) -> None:
        self.assets = list(assets)
        self.fetched = 0  # rows returned by `fetch`, all calls together
        self.fetches: list[tuple[ListQuery, int, int]] = []  # (query, offset, rows)
        self.counts: list[ListQuery] = []
        self.watermarks = 0  # calls of `watermark`
        self.mark = 1
        self._log: list[tuple[int, Job]] = []
        self._lock = threading.Lock()
        self._sorted: dict[ListQuery, list[Job]] = {}
        self.gate = threading.Event()  # cleared: every call but the first page waits for it
        self.gate.set()

    def _rows(self, query: ListQuery) -> list[Job]:
        with self._lock:
            rows = self._sorted.get(query)
            if rows is None:
                level = [a for a in self.assets if a.parent_job_name == query.parent]
                rows = self._sorted[query] = apply_query(level, query, time.time())
            return rows

    def count(self, query: ListQuery) -> Count:
        if self.counts:
            self.gate.wait(30)
        self.counts.append(query)
        return Count(len(self._rows(query)))

    def fetch(self, query: ListQuery, offset: int, limit: int, *, now: float) -> list[Job]:
        if self.fetches:
            self.gate.wait(30)
        rows = self._rows(query)[offset:offset + min(limit, PAGE_ROWS)]
        with self._lock:
            self.fetched += len(rows)
            self.fetches.append((query, offset, len(rows)))
        return rows

    def watermark(self, kind: AssetKind) -> int:
        self.watermarks += 1
        return self.mark

    def changes(self, kind: AssetKind, since: int) -> Changes:
        with self._lock:
            return Changes(self.mark, [a for m, a in self._log if m > since])

    def get(self, name: str) -> Job:
        return next(a for a in self.assets if a.name == name)

    def change(self, name: str, **fields) -> Job:
        """Change one job's record (as a runner would): the watermark moves."""
        with self._lock:
            i = next(i for i, a in enumerate(self.assets) if a.name == name)
            job = self.assets[i] = dataclasses.replace(self.assets[i], **fields)
            self._moved(job)
            return job

    def add(self, job: Job) -> None:
        with self._lock:
            self.assets.append(job)
            self._moved(job)

    def _moved(self, job: Job) -> None:
        self._sorted.clear()
        self.mark += 1
        self._log.append((self.mark, job))
