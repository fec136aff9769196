"""The Azure list cache (tui/workspace/azure/cache.py) over the fake services: the table's
source answered from a local store, refreshed in the background.

Most tests drive the refresher with a fake clock (`AzureCache(..., clock=...)` starts no thread:
`run_pending()` does the work that is due); a few run the real thread with short intervals.
"""

from __future__ import annotations

import os
import stat
import time

import pytest

from tests.azure.fake import CANARIES, FakeAzure
from tui.columns import COLUMNS
from tui.query import parse_query
from tui.workspace.azure import AzureWorkspace
from tui.workspace.azure.cache import AzureCache
from tui.workspace.azure.store import cache_file
from tui.workspace.base import AssetKind
from tui.workspace.source import Count, ListQuery, MemorySource

JOBS = ListQuery(AssetKind.JOBS)
TITLES = [c.title for c in COLUMNS[AssetKind.JOBS]]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def opened(tmp_path):
    """Open workspaces (and their caches) over the fake; closed after the test."""
    made: list = []

    def open_(fake: FakeAzure, clock: Clock | None = None, **kw):
        ws = AzureWorkspace(fake.client(), cache_dir=tmp_path / "cache")
        cache = AzureCache(ws, tmp_path / "cache", clock=clock, **kw) if clock is not None else ws.source()
        made.append((ws, cache))
        return ws, cache

    yield open_
    for ws, cache in made:
        cache.close()
        ws.close()


def names(rows) -> list[str]:
    return [r.name for r in rows]


def arm_lists(fake: FakeAzure) -> list:
    return [r for r in fake.requests if r.path.endswith("/jobs")]


def drive(cache: AzureCache, clock: Clock, fake: FakeAzure, seconds: int, kind=AssetKind.JOBS) -> list[float]:
    """An idle app for `seconds` of fake time: every second the window asks the watermark and
    the refresher does what is due. Returns the fake time of every request sent."""
    sent = []
    for _ in range(seconds):
        clock.t += 1
        cache.watermark(kind)
        before = len(fake.requests)
        cache.run_pending()
        sent += [clock.t] * (len(fake.requests) - before)
    return sent


def test_cold_cache_shows_the_first_page_then_reads_every_page_by_nextlink(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(10):
        fake.add_job(f"job{i:02d}")
    ws, cache = opened(fake, clock)
    assert not cache.path.exists()  # opened lazily
    assert cache.as_of(AssetKind.JOBS) is None
    first = cache.fetch(JOBS, 0, 50, now=time.time())
    assert names(first) == ["job09", "job08", "job07"] and len(fake.requests) == 1  # one round trip
    assert cache.count(JOBS).exact is False  # "of 3 loaded"
    mark = cache.watermark(AssetKind.JOBS)
    assert cache.as_of(AssetKind.JOBS) == pytest.approx(time.time(), abs=60)
    cache.run_pending()  # the rest arrives behind it
    lists = arm_lists(fake)
    assert len(lists) == 4 and sum("$skip=" in r.url for r in lists) == 3
    assert cache.count(JOBS).total == 10 and cache.count(JOBS).exact
    assert cache.watermark(AssetKind.JOBS) > mark
    assert names(cache.fetch(JOBS, 0, 50, now=time.time())) == [f"job{i:02d}" for i in range(9, -1, -1)]
    assert names(cache.fetch(JOBS, 8, 50, now=time.time())) == ["job01", "job00"]
    assert cache.run_pending() == 0 and len(fake.requests) == 4  # nothing is fetched twice


def test_answers_equal_the_reference_source(opened, clock):
    fake = FakeAzure(page_size=4)
    for i in range(14):
        fake.add_job(f"job{i:02d}", ["Completed", "Running", "Failed"][i % 3], experiment=f"exp{i % 4}",
                     display_name=f"Run {i % 5}")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 10, now=time.time())
    cache.run_pending()
    reference = MemorySource(ws)
    now = time.time()
    for query in (JOBS, ListQuery(AssetKind.JOBS, sort="STATUS"),
                  ListQuery(AssetKind.JOBS, sort="DISPLAY NAME", descending=True),
                  ListQuery(AssetKind.JOBS, filter=parse_query("exp:exp1 -status:failed", TITLES)),
                  ListQuery(AssetKind.JOBS, filter=parse_query("/run [24]/", TITLES), sort="NAME")):
        assert names(cache.fetch(query, 0, 500, now=now)) == names(reference.fetch(query, 0, 500, now=now))
        assert names(cache.fetch(query, 2, 3, now=now)) == names(reference.fetch(query, 2, 3, now=now))
        assert cache.count(query).total == reference.count(query).total


def test_warm_cache_answers_before_any_request(opened, clock, tmp_path):
    fake = FakeAzure(page_size=3)
    for i in range(7):
        fake.add_job(f"job{i}", "Completed" if i else "Running")
    fake.add_compute("gpu-cluster")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    cache.fetch(ListQuery(AssetKind.COMPUTE), 0, 50, now=time.time())
    cache.run_pending()
    as_of = cache.as_of(AssetKind.JOBS)
    cache.close()

    fake.network_down = True  # anything the new one asks the service would fail
    sent = len(fake.requests)
    ws2, warm = opened(fake, Clock())
    rows = warm.fetch(JOBS, 0, 50, now=time.time())
    assert names(rows) == [f"job{i}" for i in range(6, -1, -1)]
    assert warm.count(JOBS).total == 7 and warm.count(JOBS).exact
    assert names(warm.fetch(ListQuery(AssetKind.COMPUTE), 0, 50, now=time.time())) == ["gpu-cluster"]
    assert warm.as_of(AssetKind.JOBS) == as_of  # "as of HH:MM" of the last fetch
    assert rows[-1].status == "Running" and rows[0].created_at > 0
    assert len(fake.requests) == sent
    # The app's own source is the same cache: one file per workspace, in the cache dir given.
    assert ws2.source().path == warm.path == cache_file(tmp_path / "cache", ws2.subscription_id,
                                                        ws2.resource_group, ws2.workspace_name)


def test_refresh_moves_status_queued_running_completed(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(5):
        fake.add_job(f"old{i}")
    fake.add_job("train", "Queued", script=[("Running", {}), ("Completed", {})])
    ws, cache = opened(fake, clock)
    assert cache.fetch(JOBS, 0, 1, now=time.time())[0].status == "Queued"
    cache.run_pending()
    mark = cache.watermark(AssetKind.JOBS)
    seen = []
    for _ in range(2):
        fake.tick()
        drive(cache, clock, fake, 10)  # an active job keeps the interval at 10 s
        changes = cache.changes(AssetKind.JOBS, mark)
        assert cache.watermark(AssetKind.JOBS) > mark and not changes.reset
        assert "train" in names(changes.assets)
        mark = changes.watermark
        seen.append(cache.fetch(JOBS, 0, 1, now=time.time())[0].status)
    assert seen == ["Running", "Completed"]
    assert cache.count(JOBS).total == 6
    # Nothing changes any more: the watermark stands still, and the changes hold nothing.
    drive(cache, clock, fake, 120)
    assert cache.watermark(AssetKind.JOBS) == mark
    assert cache.changes(AssetKind.JOBS, mark).assets == ()


def test_an_idle_app_makes_at_most_6_requests_a_minute(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(10):
        fake.add_job(f"job{i:02d}")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    cache.run_pending()  # the first load reads every page (4)
    assert len(fake.requests) == 4
    sent = [clock.t] * 4 + drive(cache, clock, fake, 300)
    per_minute = [sum(m * 60 <= t - 1000 < (m + 1) * 60 for t in sent) for m in range(5)]
    assert max(per_minute) <= 6, per_minute
    # It backs off while nothing changes: 10 s, 20 s, 40 s, then every 60 s.
    assert [t - 1000 for t in sent[4:8]] == [10, 30, 70, 130] and per_minute[-1] == 1
    assert all(r.path.endswith("/jobs") and "$skip" not in r.url for r in fake.requests[4:])


def test_a_cold_start_loads_background_pages_within_the_budget(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(40):  # 14 pages: more than a minute's budget
        fake.add_job(f"job{i:02d}")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 3, now=time.time())  # the window shows 3 rows and reads no further
    sent = [clock.t] * len(fake.requests) + drive(cache, clock, fake, 59)
    assert len(sent) <= 6
    loaded = cache.count(JOBS)
    assert 3 < loaded.total < 40 and not loaded.exact  # still loading: "of N loaded"
    # The window reading on does not wait for the budget.
    cache.fetch(JOBS, loaded.total, 3, now=time.time())
    assert cache.count(JOBS).total == loaded.total + 3
    sent += drive(cache, clock, fake, 240)
    per_minute = [sum(m * 60 <= t - 1000 < (m + 1) * 60 for t in sent) for m in range(1, 5)]
    assert max(per_minute) <= 6, per_minute
    assert cache.count(JOBS) == Count(40, exact=True)


def test_active_jobs_and_more_lists_stay_within_the_budget(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(9):
        # A job still running three pages down is polled by itself (run history).
        fake.add_job(f"job{i}", "Running" if i in (0, 8) else "Completed")
    fake.add_compute("cpu")
    fake.add_asset("data", "mnist", "1")
    ws, cache = opened(fake, clock)
    for kind in (AssetKind.JOBS, AssetKind.COMPUTE, AssetKind.DATA):
        cache.fetch(ListQuery(kind), 0, 50, now=time.time())
    cache.run_pending()
    start = len(fake.requests)
    sent = []
    for _ in range(180):  # the window asks about all three
        clock.t += 1
        for kind in (AssetKind.JOBS, AssetKind.COMPUTE, AssetKind.DATA):
            cache.watermark(kind)
        before = len(fake.requests)
        cache.run_pending()
        sent += [clock.t] * (len(fake.requests) - before)
    per_minute = [sum(m * 60 <= t - 1000 < (m + 1) * 60 for t in sent) for m in range(3)]
    assert max(per_minute) <= 6, per_minute
    polls = [r for r in fake.requests[start:] if r.path.endswith("/runs/job0")]
    assert 1 <= len(polls) <= 3  # at most once a minute
    # The first page (with the running job8) is refreshed more often than the idle data list.
    firsts = [r for r in fake.requests[start:] if r.path.endswith("/jobs")]
    data = [r for r in fake.requests[start:] if "/data" in r.path]
    assert len(firsts) > len(data) >= 1


def test_offline_serves_the_cache_and_reports_the_error(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(4):
        fake.add_job(f"job{i}")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    cache.run_pending()
    as_of = cache.as_of(AssetKind.JOBS)
    fake.network_down = True
    fake.add_job("new")  # not seen while offline
    drive(cache, clock, fake, 11)
    assert "cannot reach Azure" in cache.last_error
    assert names(cache.fetch(JOBS, 0, 50, now=time.time())) == ["job3", "job2", "job1", "job0"]
    assert cache.as_of(AssetKind.JOBS) == as_of
    failed = len(fake.requests)
    drive(cache, clock, fake, 60)  # it keeps backing off while offline
    assert len(fake.requests) - failed <= 2 * 3  # two tries, each with the SDK's retries
    fake.network_down = False
    drive(cache, clock, fake, 60)
    assert cache.last_error is None and cache.as_of(AssetKind.JOBS) > as_of
    assert names(cache.fetch(JOBS, 0, 1, now=time.time())) == ["new"]


def test_cold_and_offline_fetch_returns_at_once_with_the_error(opened, clock):
    fake = FakeAzure()
    fake.add_job("job0")
    fake.network_down = True
    ws, cache = opened(fake, clock)
    assert cache.fetch(JOBS, 0, 50, now=time.time()) == []
    assert "cannot reach Azure" in cache.last_error and cache.count(JOBS) == Count(0, exact=False)


def test_the_cache_file_is_owner_only_and_in_the_user_cache_dir(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("AML_TUI_CACHE", str(tmp_path / "user-cache"))
    fake.add_job("job0")
    ws = AzureWorkspace(fake.client())
    try:
        source = ws.source()
        assert source is ws.source() and not source.path.exists()
        assert source.fetch(JOBS, 0, 50, now=time.time())[0].name == "job0"
        assert source.path.parent == tmp_path / "user-cache"
        assert stat.S_IMODE(os.stat(source.path).st_mode) == 0o600
        assert fake.jobs and source._thread is not None and source._thread.is_alive()
    finally:
        ws.close()
    assert not source._thread.is_alive()  # close() stops the refresher


def test_a_cache_file_made_readable_by_others_is_made_owner_only_again(opened, clock, tmp_path):
    fake = FakeAzure()
    fake.add_job("job0")
    ws, cache = opened(fake, clock)
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(b"")
    os.chmod(cache.path, 0o644)
    cache.fetch(JOBS, 0, 50, now=time.time())
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600


def test_a_damaged_cache_file_is_started_again(opened, clock):
    fake = FakeAzure()
    fake.add_job("job0")
    ws, cache = opened(fake, clock)
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(b"this is not a database" * 100)
    assert names(cache.fetch(JOBS, 0, 50, now=time.time())) == ["job0"]
    cache.close()
    ws2, warm = opened(fake, Clock())
    fake.network_down = True
    assert names(warm.fetch(JOBS, 0, 50, now=time.time())) == ["job0"]


def test_no_secret_reaches_the_cache_file(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(5):
        fake.add_job(f"job{i}", "Running")
    fake.add_sweep("sweep1", trials=4)
    fake.add_compute("cpu", current=1, target=1)
    fake.add_compute("ci", "ComputeInstance")
    fake.add_endpoint("digits", {"blue": 100}, {"blue": {}})
    fake.add_asset("data", "mnist", "1")
    fake.add_asset("environments", "mnist-cpu", "1")
    fake.add_asset("models", "digits", "1")
    ws, cache = opened(fake, clock)
    for kind in AssetKind:
        cache.fetch(ListQuery(kind), 0, 50, now=time.time())
    cache.fetch(ListQuery(AssetKind.JOBS, parent="sweep1"), 0, 50, now=time.time())
    cache.run_pending()
    drive(cache, clock, fake, 15)
    cache.close()
    stored = b"".join(p.read_bytes() for p in cache.path.parent.iterdir())
    for name in (b"job4", b"sweep1_3", b"cpu", b"digits", b"mnist-cpu", b"vision"):
        assert name in stored  # the records are there...
    for canary in CANARIES:
        assert canary.encode() not in stored, canary  # ...their secrets are not


def test_children_across_every_page(opened, clock):
    fake = FakeAzure(children_page_size=3)
    fake.add_sweep("sweep1", trials=8)
    ws, cache = opened(fake, clock)
    children = ListQuery(AssetKind.JOBS, parent="sweep1")
    rows = cache.fetch(children, 0, 50, now=time.time())
    assert sorted(names(rows)) == sorted(f"sweep1_{i}" for i in range(8))
    assert cache.count(children).exact and all(r.parent_job_name == "sweep1" for r in rows)
    assert sum(r.path.endswith("/runs/sweep1/children") for r in fake.requests) == 3
    assert names(cache.fetch(JOBS, 0, 50, now=time.time())) == ["sweep1"]  # trials are not top-level
    assert cache.as_of(AssetKind.JOBS, "sweep1") is not None


def test_background_pages_stop_at_the_cap_and_reading_on_loads_more(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(20):
        fake.add_job(f"job{i:02d}")
    ws, cache = opened(fake, clock, cap=6)
    cache.fetch(JOBS, 0, 3, now=time.time())
    cache.run_pending()
    assert cache.count(JOBS) == Count(6, exact=False)  # "of 6 loaded"
    assert len(arm_lists(fake)) == 2
    # The window reads past what is stored: the next page is loaded for it.
    assert names(cache.fetch(JOBS, 6, 3, now=time.time())) == ["job13", "job12", "job11"]
    assert len(arm_lists(fake)) == 3
    assert names(cache.fetch(JOBS, 8, 3, now=time.time())) == ["job11"]  # what it has...
    cache.run_pending()  # ...and the rest follows (the watermark moves)
    assert names(cache.fetch(JOBS, 8, 3, now=time.time())) == ["job11", "job10", "job09"]


def test_removed_assets_reset_the_window(opened, clock):
    fake = FakeAzure()
    fake.add_compute("a")
    fake.add_compute("b")
    ws, cache = opened(fake, clock)
    compute = ListQuery(AssetKind.COMPUTE)
    assert sorted(names(cache.fetch(compute, 0, 50, now=time.time()))) == ["a", "b"]
    mark = cache.watermark(AssetKind.COMPUTE)
    del fake.computes["a"]
    cache.refresh(AssetKind.COMPUTE)
    cache.run_pending()
    assert cache.changes(AssetKind.COMPUTE, mark).reset
    assert names(cache.fetch(compute, 0, 50, now=time.time())) == ["b"]


def test_the_refresher_thread_loads_and_follows_a_job(fake, opened):
    fake.add_job("train", "Queued", script=[("Running", {}), ("Completed", {})])
    ws, _ = opened(fake)
    cache = AzureCache(ws, ws.cache_dir, min_interval=0.05, max_interval=0.2)
    try:
        assert cache.fetch(JOBS, 0, 50, now=time.time())[0].status == "Queued"  # waited for the page
        for expected in ("Running", "Completed"):
            mark = cache.watermark(AssetKind.JOBS)
            fake.tick()
            deadline = time.monotonic() + 20
            while cache.watermark(AssetKind.JOBS) == mark and time.monotonic() < deadline:
                time.sleep(0.02)
            assert cache.fetch(JOBS, 0, 50, now=time.time())[0].status == expected
    finally:
        cache.close()
    assert not cache._thread.is_alive()
    sent = len(fake.requests)
    time.sleep(0.3)
    assert len(fake.requests) == sent  # nothing after close()


def test_first_rows_from_the_store_keep_the_default_order(opened, clock):
    fake = FakeAzure(page_size=4)
    for i in range(9):  # created in threes at the same second: ties go by name
        fake.add_job(f"job{(i * 7) % 9}", created=fake.clock + 100 * (i // 3))
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    cache.run_pending()
    expected = names(MemorySource(ws).fetch(JOBS, 0, 50, now=time.time()))
    cache.close()
    ws2, warm = opened(fake, Clock())
    assert names(warm.fetch(JOBS, 0, 50, now=time.time())) == expected  # from the store's index
    assert names(warm.fetch(JOBS, 2, 4, now=time.time())) == expected[2:6]
    assert not warm._lists[(AssetKind.JOBS, None)].loaded  # without reading every row
    by_name = ListQuery(AssetKind.JOBS, sort="NAME")
    assert names(warm.fetch(by_name, 0, 50, now=time.time())) == sorted(expected)


def test_more_new_jobs_than_a_page_since_the_last_visit_are_walked_in(opened, clock):
    fake = FakeAzure(page_size=3)
    for i in range(4):
        fake.add_job(f"old{i}")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    cache.run_pending()
    assert cache.count(JOBS) == Count(4, exact=True)
    cache.close()
    for i in range(5):
        fake.add_job(f"new{i}")
    ws2, warm = opened(fake, Clock())
    assert warm.count(JOBS) == Count(4, exact=True)  # as of the last visit
    warm.fetch(JOBS, 0, 50, now=time.time())
    warm.run_pending()
    assert warm.count(JOBS) == Count(9, exact=True)
    assert names(warm.fetch(JOBS, 0, 50, now=time.time()))[:6] == ["new4", "new3", "new2", "new1", "new0", "old3"]


def test_offline_app_shows_the_cache_at_once_and_says_why_it_is_old(opened, clock):
    fake = FakeAzure()
    fake.add_job("job0")
    ws, cache = opened(fake, clock)
    cache.fetch(JOBS, 0, 50, now=time.time())
    as_of = cache.as_of(AssetKind.JOBS)
    cache.close()
    fake.network_down = True
    ws2, app = opened(fake)  # the app's own source, with its refresher thread
    assert names(app.fetch(JOBS, 0, 50, now=time.time())) == ["job0"]
    deadline = time.monotonic() + 20
    while app.last_error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "cannot reach Azure" in app.last_error and app.as_of(AssetKind.JOBS) == as_of
    assert names(app.fetch(JOBS, 0, 50, now=time.time())) == ["job0"]
