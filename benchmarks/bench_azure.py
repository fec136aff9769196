"""Azure backend benchmarks against the stateful fake (tests/azure/fake.py) with a simulated
50 ms round trip, through the real azure-ai-ml SDK:

- the first rows of a 5,000-job workspace: time and round trips (target: 1 round trip after
  sign-in), beside the SDK's own `jobs.list()` conversion of the same page
- bytes fetched to follow a log that grows to 10 MB: our Range reads against what
  `az ml job stream` does (download each whole file again on every poll)
- the app's list cache (tui/workspace/azure/cache.py): time to the first rows of 5,000 jobs
  cold and from the cache (target: cached <= 0.5 s), and the requests a minute of an idle app
  with auto-refresh on (target: <= 6), driven over fake minutes
"""

from __future__ import annotations

import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.azure.fake import FakeAzure  # noqa: E402
from tui.workspace.azure import AzureWorkspace, load_sdk  # noqa: E402
from tui.workspace.azure.cache import AzureCache  # noqa: E402
from tui.workspace.azure.logs import follow  # noqa: E402
from tui.workspace.base import AssetKind  # noqa: E402
from tui.workspace.source import ListQuery  # noqa: E402

ROUND_TRIP = 0.05
N_JOBS = 5_000
ARM_PAGE = 100  # jobs per ARM page
LOG_MB = 10
LOG_STEPS = 100  # polls while the log grows


def bench_first_page() -> None:
    fake = FakeAzure(page_size=ARM_PAGE)
    for i in range(N_JOBS):
        fake.add_job(f"job{i:05d}", "Completed" if i % 7 else "Running", experiment=f"exp{i % 5}")
    ws = AzureWorkspace(fake.client())
    fake.latency = ROUND_TRIP
    t = time.perf_counter()
    page = ws.list_jobs(max_results=50)
    first = time.perf_counter() - t
    trips = len(fake.requests)
    assert len(page.items) == 50 and page.items[0].name == f"job{N_JOBS - 1:05d}"
    t = time.perf_counter()
    ws.list_jobs(max_results=50, page_token=page.next_token)
    second = time.perf_counter() - t
    t = time.perf_counter()
    sdk_rows = list(islice(ws.ml.jobs.list(), ARM_PAGE))
    sdk = time.perf_counter() - t
    assert len(sdk_rows) == ARM_PAGE
    t = time.perf_counter()
    ours = ws.list_jobs(max_results=ARM_PAGE)
    mine = time.perf_counter() - t
    assert len(ours.items) == ARM_PAGE
    print(f"first 50 rows of {N_JOBS:,} jobs ({ROUND_TRIP * 1000:.0f} ms round trip): {first:.3f} s, "
          f"{trips} round trip(s)   (target: 1 round trip after sign-in)")
    print(f"  next 50 rows (resumed inside the held service page): {second:.3f} s")
    print(f"  one ARM page of {ARM_PAGE} jobs: rows from REST JSON {mine:.3f} s, "
          f"SDK jobs.list() entities {sdk:.3f} s")


def bench_log_follow() -> None:
    fake = FakeAzure()
    step = LOG_MB * 1_000_000 // LOG_STEPS
    line = b"epoch 1 step 100 loss 0.123456 accuracy 0.987654 lr 0.001\n"
    piece = (line * (step // len(line) + 1))[:step]
    fake.add_job("j", "Running", logs={"user_logs/std_log.txt": b""},
                 script=[("Running", {"user_logs/std_log.txt": piece})] * (LOG_STEPS - 1)
                 + [("Completed", {"user_logs/std_log.txt": piece})])
    ws = AzureWorkspace(fake.client())
    ws.log_files("j")
    fake.latency = ROUND_TRIP
    received = 0
    polls = iter(range(LOG_STEPS + 1))

    def poll(seconds: float) -> None:  # each follower sleep is one poll interval: the log grows
        next(polls)
        fake.tick()

    t = time.perf_counter()
    fake.tick()
    for chunk in follow(lambda offset: ws.read_log("j", "user_logs/std_log.txt", offset),
                        lambda: not fake.jobs["j"].script, sleep=poll):
        received += len(chunk.text.encode())
    ours = time.perf_counter() - t
    total = len(fake.jobs["j"].logs["user_logs/std_log.txt"])
    assert received == total
    ranged = ws.log_bytes_fetched

    # `az ml job stream`: every poll downloads each whole file again (no Range).
    fake.add_job("k", "Running", logs={"user_logs/std_log.txt": b""},
                 script=[("Running", {"user_logs/std_log.txt": piece})] * LOG_STEPS)
    url = fake._log_url(fake.jobs["k"], "user_logs/std_log.txt")
    whole = 0
    t = time.perf_counter()
    for _ in range(LOG_STEPS):
        fake.tick()
        whole += len(ws.ml._requests_pipeline.get(url).read())
    theirs = time.perf_counter() - t
    print(f"follow a log growing to {total / 1e6:.0f} MB in {LOG_STEPS} polls: Range reads fetched "
          f"{ranged / 1e6:.1f} MB ({ws._logs.requests} requests, {ours:.1f} s); whole-file re-downloads "
          f"(az ml job stream) fetched {whole / 1e6:.0f} MB ({whole / ranged:.0f}x, {theirs:.1f} s)")


def bench_cache() -> None:
    fake = FakeAzure(page_size=ARM_PAGE)
    for i in range(N_JOBS):
        fake.add_job(f"job{i:05d}", "Completed", experiment=f"exp{i % 5}")
    jobs = ListQuery(AssetKind.JOBS)
    with tempfile.TemporaryDirectory() as cache_dir:
        ws = AzureWorkspace(fake.client(), cache_dir=cache_dir)
        ws.ml._credential.get_token("https://management.azure.com/.default")  # signed in
        fake.latency = ROUND_TRIP
        t = time.perf_counter()
        cache = ws.source()
        rows = cache.fetch(jobs, 0, 50, now=time.time())
        cold = time.perf_counter() - t
        trips = sum(r.status != 0 for r in fake.requests)  # answered before the rows showed
        assert len(rows) == 50 and rows[0].name == f"job{N_JOBS - 1:05d}"
        # A user who scrolled to the end: every page is in the store.
        t = time.perf_counter()
        while not cache.count(jobs).exact:
            cache.fetch(jobs, cache.count(jobs).total, 50, now=time.time())
        walk = time.perf_counter() - t
        ws.close()

        ws = AzureWorkspace(fake.client(), cache_dir=cache_dir)
        sent = len(fake.requests)
        t = time.perf_counter()
        cache = ws.source()
        rows = cache.fetch(jobs, 0, 50, now=time.time())
        count = cache.count(jobs)
        warm = time.perf_counter() - t
        answered = sum(r.status != 0 for r in fake.requests[sent:])
        assert len(rows) == 50 and count.total == N_JOBS and count.exact
        ws.close()
        print(f"first rows of {N_JOBS:,} jobs through the list cache ({ROUND_TRIP * 1000:.0f} ms round trip): "
              f"cold {cold:.3f} s ({trips} round trip(s) after sign-in; target 1), from the cache "
              f"{warm:.3f} s ({answered} answered before; target <= 0.5 s); all {N_JOBS // ARM_PAGE} pages on "
              f"demand {walk:.1f} s")

        # The app's tick: the window asks the watermark every second; the refresher does
        # what is due. Cold: a new cache dir (the first minute has the first pages, to the cap).
        with tempfile.TemporaryDirectory() as cold_dir:
            for what, where in (("cold cache, no active job", cold_dir), ("warm cache, no active job", cache_dir),
                                ("warm cache, one job running", cache_dir)):
                if "running" in what:
                    fake.add_job("train", "Running")
                now = [0.0]
                ws = AzureWorkspace(fake.client(), cache_dir=where)
                cache = AzureCache(ws, where, clock=lambda: now[0])
                sent = len(fake.requests)
                cache.fetch(jobs, 0, 50, now=time.time())
                minutes = [len(fake.requests) - sent, 0, 0, 0, 0]
                for second in range(300):
                    now[0] = float(second)
                    cache.watermark(AssetKind.JOBS)
                    before = len(fake.requests)
                    cache.run_pending()
                    minutes[second // 60] += len(fake.requests) - before
                cache.close()
                ws.close()
                print(f"  idle app with auto-refresh, {what}: requests in each of 5 fake minutes {minutes} "
                      f"(target <= 6)")


if __name__ == "__main__":
    t = time.perf_counter()
    load_sdk()
    print(f"import azure.ai.ml (once, on a worker): {time.perf_counter() - t:.2f} s")
    bench_first_page()
    bench_cache()
    bench_log_follow()
