"""The Azure backend's list cache: the table's `AssetSource` (../source.py) over a local store.

Azure has no count API, lists jobs one page at a time, and a round trip costs from 50 ms to
seconds. So the app's lists are answered from a SQLite file per workspace (in the user cache
dir, owner-only), shown at once and marked with when they were fetched (`as_of`), and kept
fresh by one background thread, which makes every request this source sends:

- the first page of each list being shown, on a schedule that backs off while nothing
  changes (10 s, 20 s, 40 s, then 60 s) and stays at 10 s while jobs are active; active jobs
  that are not on the first page are polled one by one, each at most once a minute;
- further pages of jobs when the window reads past what is stored (`fetch` waits for them
  only when it has nothing at all to return; otherwise the watermark moves when they land),
  and in the background up to `cap` rows;
- every page of a sweep's children (the SDK stops after the first).

A list is "shown" while the window fetches it or asks its kind's watermark: an idle app asks
the watermark of one kind, so it costs one request a minute once the schedule has backed off.
However many lists are shown or jobs active, the requests no one waits for (refreshes, polls,
background pages) keep within `BUDGET` (6) in any 60 s; the pages the window reads do not wait.

The store (store.py) holds only the records the engine made: their fields are normalised and
already scrubbed of SAS signatures, keys and tokens (normalise.scrub); page tokens stay in
memory. Nothing here imports the SDK.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from tui.columns import COLUMNS

from ..base import Asset, AssetKind, Job, NotFoundError, WorkspaceError
from ..source import PAGE_ROWS, AssetSource, Changes, Count, ListQuery, apply_query
from . import normalise as norm
from .store import Store, cache_file, default_cache_dir

if TYPE_CHECKING:
    from .workspace import AzureWorkspace

MIN_INTERVAL = 10.0  # seconds between refreshes of a list that changes or has active jobs
MAX_INTERVAL = 60.0  # ... of a list that stopped changing (the interval doubles up to here)
SHOWN_FOR = 90.0  # a list nobody fetched, or asked the watermark of, for this long is not refreshed
FETCH_WAIT = 5.0  # the longest `fetch` waits for a page when it has no row to return
POLLS_PER_ROUND = 3  # active jobs off the first page polled per refresh (each at most once a MAX_INTERVAL)
CHILD_PAGES = 50  # run-history pages of one job's children read per refresh
# Requests in any 60 s made for no one waiting (refreshes, polls, background pages), however
# many lists are shown or jobs active. The pages the window reads are not counted.
BUDGET = 6
CHANGE_LOG = 5000  # changed rows remembered for `changes`; older watermarks get a reset
# Compute states that are on their way somewhere: refreshed as fast as active jobs.
_MOVING_COMPUTE = frozenset({"Starting", "Stopping", "Restarting", "Creating", "Deleting", "Updating",
                             "Resizing"})


def is_active(asset: Asset) -> bool:
    """Whether the asset is on its way to another state, so its list is refreshed fast."""
    if isinstance(asset, Job):
        return asset.status in norm.ACTIVE_JOB_STATUSES
    if asset.kind is AssetKind.COMPUTE:
        states = (asset.get("state"), asset.get("provisioning_state"), asset.get("allocation_state"))
        return any(s in _MOVING_COMPUTE for s in states)
    return False


@dataclass(eq=False)
class _List:
    """One list the window can show: a kind's assets, or one job's children."""

    kind: AssetKind
    parent: str | None
    rows: dict[str, Asset] = field(default_factory=dict)
    loaded: bool = False  # rows read from the store
    complete: bool = False  # every service page is in (else counts say "of N loaded")
    as_of: float | None = None  # wall time of the last successful first-page (or full) fetch
    version: int = 0  # bumped on every change: the key of `queries`
    queries: dict[tuple, list[Asset]] = field(default_factory=dict)
    # This session's walk through the service pages (top-level jobs).
    started: bool = False
    token: str | None = None
    seen: set[str] = field(default_factory=set)
    first_keys: frozenset[str] = frozenset()
    polled: dict[str, float] = field(default_factory=dict)
    # Scheduling.
    interval: float = MIN_INTERVAL
    due: float = 0.0
    hold_until: float = 0.0  # after a failed load: no page loads before this
    accessed: float | None = None
    wanted: bool = False  # the window read past the stored rows: load the next page
    urgent: bool = False  # the user asked for a refresh: it does not wait for the budget
    attempts: int = 0  # loads finished, failed or not (a waiting `fetch` watches it)
    failed: bool = False  # the last load failed

    @property
    def walks(self) -> bool:
        """Loaded page by page (top-level jobs); other lists are read whole on every refresh."""
        return self.kind is AssetKind.JOBS and self.parent is None


class AzureCache(AssetSource):
    """The table's source for an `AzureWorkspace`: answered from the store, refreshed by a
    thread started on first use and stopped by `close()`.

    With a `clock` given, no thread is started: the caller does the due work with
    `run_pending()` and `fetch` loads a missing page itself (tests and benchmarks drive the
    schedule with a fake clock that way).
    """

    def __init__(self, workspace: "AzureWorkspace", directory: Path | str | None = None, *,
                 cap: int | None = None, clock: Callable[[], float] | None = None,
                 min_interval: float = MIN_INTERVAL, max_interval: float = MAX_INTERVAL,
                 fetch_wait: float = FETCH_WAIT, shown_for: float = SHOWN_FOR, budget: int = BUDGET) -> None:
        self.ws = workspace
        self.path = cache_file(directory if directory is not None else default_cache_dir(),
                               workspace.subscription_id, workspace.resource_group, workspace.workspace_name)
        self._store = Store(self.path)
        self.cap = cap if cap is not None else workspace.count_cap
        self.min_interval, self.max_interval = min_interval, max_interval
        self.fetch_wait, self.shown_for, self.budget = fetch_wait, shown_for, budget
        self._spent: deque[float] = deque()  # when each refresh request of the last 60 s went out
        self._manual = clock is not None
        self._clock = clock or time.monotonic
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._lists: dict[tuple[AssetKind, str | None], _List] = {}
        self._focus: dict[AssetKind, str | None] = {}
        self._mark = 0
        self._marks: dict[AssetKind, int] = {}
        self._resets: dict[AssetKind, int] = {}
        self._log: deque[tuple[int, AssetKind, str | None, str]] = deque()
        self._log_floor = 0  # watermarks below this are older than the log: `changes` resets
        self._thread: threading.Thread | None = None
        self._closed = False
        # The last refresh's failure, for the app's banner; None once a refresh succeeds again.
        self.last_error: str | None = None

    # ------------------------------------------------------------------ the source contract

    def count(self, query: ListQuery) -> Count:
        lst = self._list(query.kind, query.parent)
        total = self._answer(lst, query, time.time(), 0, 0)[1]
        with self._lock:
            if lst.as_of is None and lst.attempts == 0 and not lst.wanted:
                lst.wanted = True  # never fetched: ask for the first page, without waiting for it
                self._wake()
            return Count(total, exact=lst.complete)

    def fetch(self, query: ListQuery, offset: int, limit: int, *, now: float) -> list[Asset]:
        limit = min(limit, PAGE_ROWS)
        lst = self._list(query.kind, query.parent)
        rows, total = self._answer(lst, query, now, offset, limit)
        with self._lock:
            self._focus[lst.kind] = lst.parent
            # After the stored rows are read: a refresh starting now would compete for the CPU.
            self._touch(lst)
        deadline = time.monotonic() + self.fetch_wait
        # Nothing to show: wait for pages (each load may add none that match a filter).
        while total <= offset and not lst.complete and not self._closed:
            with self._lock:
                before = lst.attempts
                if lst.failed and self._clock() < lst.hold_until:
                    break  # it just failed (offline): say so now rather than after fetch_wait
                if not self._manual:
                    lst.wanted = True
                    self._wake()
                    while lst.attempts == before and not self._closed:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                    if lst.attempts == before:
                        break  # still loading: the watermark moves when it lands
            if self._manual:
                if time.monotonic() > deadline:
                    break
                self._load_next(lst)
            rows, total = self._answer(lst, query, now, offset, limit)
            if lst.failed or (lst.started and lst.token is None and lst.walks):
                break
        if total < offset + limit and not lst.complete and not self._closed:
            with self._lock:
                lst.wanted = True  # the rest of this page arrives behind it
                self._wake()
        return rows

    def watermark(self, kind: AssetKind) -> int:
        kind = AssetKind(kind)
        with self._lock:
            self._touch(self._list(kind, self._focus.get(kind)))
            return self._marks.get(kind, 0)

    def changes(self, kind: AssetKind, since: int) -> Changes:
        kind = AssetKind(kind)
        with self._lock:
            self._touch(self._list(kind, self._focus.get(kind)))
            mark = self._marks.get(kind, 0)
            lists = [lst for (k, _), lst in self._lists.items() if k is kind]
            if since > mark or since < self._log_floor or self._resets.get(kind, 0) > since:
                return Changes(mark, reset=True)
            found: dict[tuple[str | None, str], Asset] = {}
            for m, k, parent, key in reversed(self._log):
                if m <= since:
                    break
                asset = self._lists[(k, parent)].rows.get(key) if k is kind else None
                if asset is not None:
                    found[(parent, key)] = asset
            if kind is AssetKind.JOBS:
                for lst in lists:
                    for asset in lst.rows.values():
                        if is_active(asset):
                            found.setdefault((lst.parent, asset.key), asset)
            return Changes(mark, tuple(found.values()))

    # ------------------------------------------------------------------ for the app

    def as_of(self, kind: AssetKind, parent: str | None = None) -> float | None:
        """When the list was last fetched from Azure (POSIX seconds): "as of HH:MM"."""
        return self._list(AssetKind(kind), parent).as_of

    def refresh(self, kind: AssetKind, parent: str | None = None) -> None:
        """Refresh a list now (the user asked), instead of when its schedule says."""
        lst = self._list(AssetKind(kind), parent)
        with self._lock:
            lst.due = lst.hold_until = 0.0
            lst.interval = self.min_interval
            lst.urgent = True
            self._touch(lst)
            self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)  # a request in flight ends within the SDK's retry total
        self._store.close()

    def run_pending(self, now: float | None = None) -> int:
        """Do every piece of work due at `now` (the clock's time): the work the thread does.
        Returns how many loads ran."""
        ran = 0
        while True:
            with self._lock:
                work, _ = self._next_work(self._clock() if now is None else now)
            if work is None:
                return ran
            work()
            ran += 1

    # ------------------------------------------------------------------ lists and queries

    def _list(self, kind: AssetKind, parent: str | None) -> _List:
        parent = parent if kind is AssetKind.JOBS else None
        with self._lock:
            lst = self._lists.get((kind, parent))
            if lst is None:
                lst = self._lists[(kind, parent)] = _List(kind, parent, interval=self.min_interval)
                meta = self._store.meta(kind, parent)
                if meta:
                    lst.as_of, lst.complete = meta
            return lst

    def _rows(self, lst: _List) -> dict[str, Asset]:
        """The list's rows, read from the store on first use. Parsed outside the lock, so a
        window asking the watermark meanwhile does not wait for thousands of rows."""
        if not lst.loaded:
            parsed = {asset.key: asset for asset in self._store.assets(lst.kind, lst.parent)}
            with self._lock:
                if not lst.loaded:  # nothing changes a list's rows before they are loaded
                    lst.rows, lst.loaded = parsed, True
        return lst.rows

    def _answer(self, lst: _List, query: ListQuery, now: float, offset: int, limit: int
                ) -> tuple[list[Asset], int]:
        """Rows `offset`.. of `query`, and how many match."""
        if not lst.loaded and query.filter.empty and (query.sort is None or not limit):
            # The first rows from the store straight away, in the default order (an index
            # holds it); every row is read when a refresh, a sort or a filter needs them. No
            # change is written before that, so the store and the list agree meanwhile.
            total = self._store.count(lst.kind, lst.parent)
            page = self._store.page(lst.kind, lst.parent, offset, limit) if limit else []
            if total is not None and page is not None and not lst.loaded:
                return page, total
        rows = self._query(lst, query, now)
        return rows[offset:offset + limit], len(rows)

    def _query(self, lst: _List, query: ListQuery, now: float) -> list[Asset]:
        rows = self._rows(lst)
        titles = {c.title: c for c in COLUMNS[lst.kind]}
        live = query.sort in titles and titles[query.sort].live is not None
        # Rows ordered by a running duration move with the clock; every other order holds.
        key = (query, now if live else None)
        with self._lock:
            found = lst.queries.get(key)
            version, assets = lst.version, list(rows.values())
        if found is None:
            found = apply_query(assets, query, now)  # outside the lock: a filter takes a while
            with self._lock:
                if lst.version == version:
                    if len(lst.queries) >= 8:
                        lst.queries.pop(next(iter(lst.queries)))
                    lst.queries[key] = found
        return found

    def _touch(self, lst: _List) -> None:
        now = self._clock()
        shown = lst.accessed is not None and now - lst.accessed <= self.shown_for
        lst.accessed = now
        if not shown:
            self._wake()

    # ------------------------------------------------------------------ the refresher

    def _wake(self) -> None:
        self._cond.notify_all()
        if self._manual or self._closed or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="azure-cache", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                work, wait = self._next_work(self._clock())
                if work is None:
                    self._cond.wait(wait)
                    continue
            try:
                work()
            except Exception as exc:  # a bug must not end the refresher: the app shows it
                with self._lock:
                    self.last_error = f"refreshing failed: {type(exc).__name__}"

    def _next_work(self, now: float) -> tuple[Callable[[], None] | None, float]:
        """The most urgent load due at `now`, or how long to sleep. Pages the window waits for
        come first, then refreshes that are due, then background pages up to the cap."""
        if self._closed:
            return None, self.max_interval
        shown = [lst for lst in self._lists.values()
                 if lst.accessed is not None and now - lst.accessed <= self.shown_for]
        for lst in self._lists.values():
            if lst.wanted and now >= lst.hold_until:
                return (lambda lst=lst: self._load_next(lst)), 0.0
        spare = self._spare(now)
        for lst in sorted(shown, key=lambda lst: lst.due):
            if now >= lst.due and (spare or lst.urgent):
                return (lambda lst=lst: self._refresh(lst)), 0.0
        background = [lst for lst in shown if lst.walks and lst.started and lst.token and not lst.complete
                      and len(lst.rows) < self.cap]
        for lst in background:
            if spare and now >= lst.hold_until:
                return (lambda lst=lst: self._load_next(lst)), 0.0
        # Work over the budget waits for the oldest request to leave the last 60 s.
        until_spare = 0.0 if spare else self._spent[0] + 60.0 - now
        waits = [max(lst.due - now, until_spare) for lst in shown]
        waits += [max(lst.hold_until - now, until_spare) for lst in background]
        waits += [lst.hold_until - now for lst in self._lists.values() if lst.wanted]
        # Also wake when the first shown list stops being shown.
        waits += [lst.accessed + self.shown_for - now for lst in shown if lst.accessed is not None]
        return None, max(0.01, min(waits, default=self.max_interval))

    def _load_next(self, lst: _List) -> None:
        """The next page of a walked list (the first, if this session has read none), or the
        whole of any other list."""
        if not lst.walks or not lst.started:
            self._refresh(lst)
            return
        token = lst.token
        if token is None:  # every page was read
            with self._lock:
                lst.wanted = False
                lst.attempts += 1
                self._cond.notify_all()
            return
        try:
            self._rows(lst)
            if not lst.wanted:
                self._spend()  # a page nobody waits for is background work, in the budget
            items, token = self.ws._arm_jobs_page(token)
            with self._lock:
                changed = self._upsert(lst, items)
                lst.seen.update(j.key for j in items)
                lst.token = token
                removed = self._complete_walk(lst) if token is None else []
                self._changed(lst, changed, removed)
            self._done(lst, ok=True)
        except Exception as exc:  # any failure: keep serving what is stored, say why
            self._done(lst, ok=False, error=exc)

    def _refresh(self, lst: _List) -> None:
        changed = False
        try:
            self._rows(lst)  # here, outside the lock, rather than under it in a merge
            if lst.walks:
                self._spend()
                items, token = self.ws._arm_jobs_page(None)
                with self._lock:
                    changed = self._first_page(lst, items, token)
                changed |= self._poll_active(lst)
            else:
                items = self._whole(lst)
                with self._lock:
                    rows = self._rows(lst)
                    keys = {a.key for a in items}
                    removed = [rows[k] for k in rows if k not in keys]
                    updated = self._upsert(lst, items)
                    self._remove(lst, removed)
                    lst.complete = True
                    self._changed(lst, updated, removed)
                    changed = bool(updated or removed)
            self._done(lst, ok=True, refreshed=True, changed=changed)
        except Exception as exc:
            self._done(lst, ok=False, refreshed=True, error=exc)

    def _whole(self, lst: _List) -> list[Asset]:
        if lst.kind is not AssetKind.JOBS:
            self._spend()  # one request for most workspaces (the SDK pages past 100 or so)
            return self.ws._all_assets(lst.kind)
        out: list[Asset] = []
        token = None
        for _ in range(CHILD_PAGES):
            self._spend()
            items, token = self.ws._children_page(lst.parent, token)
            out.extend(items)
            if not token:
                break
        return out

    def _first_page(self, lst: _List, items: list[Job], token: str | None) -> bool:
        rows = self._rows(lst)
        keys = frozenset(j.key for j in items)
        if rows and token and not keys & rows.keys():
            # More new jobs than a page since the store was written: walk again to fill the gap.
            lst.complete = False
            lst.started, lst.token, lst.seen = True, token, set()
        changed = self._upsert(lst, items)
        lst.first_keys = keys
        lst.seen |= keys
        removed: list[Asset] = []
        if token is None:  # the first page is the whole list: what is not on it is gone
            lst.started, lst.token, lst.seen = True, None, set(keys)
            removed = self._complete_walk(lst)
        elif not lst.started:
            lst.started, lst.token = True, token
        self._changed(lst, changed, removed)
        return bool(changed or removed)

    def _complete_walk(self, lst: _List) -> list[Asset]:
        """Every page was read this session: what was not seen is gone from the workspace."""
        lst.complete = True
        removed = [a for k, a in lst.rows.items() if k not in lst.seen]
        self._remove(lst, removed)
        return removed

    def _poll_active(self, lst: _List) -> bool:
        """Run history's status of active jobs off the first page: the page shows the others."""
        now = self._clock()
        with self._lock:
            stale = [j for j in lst.rows.values() if is_active(j) and j.key not in lst.first_keys
                     and now - lst.polled.get(j.key, -self.max_interval) >= self.max_interval]
            stale.sort(key=lambda j: lst.polled.get(j.key, -self.max_interval))
        changed = False
        for job in stale[:POLLS_PER_ROUND]:
            with self._lock:
                if not self._spare(self._clock()):
                    break  # the first page came first; the rest wait for a later round
            self._spend()
            try:
                run = self.ws._history_get(f"/runs/{job.name}", what=f"job {job.name!r}")
            except NotFoundError:
                run = None
            with self._lock:
                lst.polled[job.key] = now
                current = lst.rows.get(job.key)
                if run is None or not isinstance(current, Job):
                    continue
                status = norm.status(run.get("status"))
                fields = dict(current.fields)
                fields["status"] = status
                new = dataclasses.replace(
                    current, fields=fields, status=status,
                    start_time=norm.parse_time(run.get("startTimeUtc")) or current.start_time,
                    end_time=norm.parse_time(run.get("endTimeUtc")) or current.end_time)
                updated = self._upsert(lst, [new])
                self._changed(lst, updated, [])
                changed |= bool(updated)
        return changed

    def _spare(self, now: float) -> int:
        """Refresh requests left in the budget of the last 60 s."""
        while self._spent and self._spent[0] <= now - 60.0:
            self._spent.popleft()
        return max(0, self.budget - len(self._spent))

    def _spend(self) -> None:
        with self._lock:
            self._spent.append(self._clock())

    def _done(self, lst: _List, *, ok: bool, refreshed: bool = False, changed: bool = False,
              error: BaseException | None = None) -> None:
        with self._lock:
            now = self._clock()
            lst.attempts += 1
            lst.wanted = False
            lst.failed = not ok
            if refreshed:
                lst.urgent = False
            if ok:
                self.last_error = None
                lst.hold_until = 0.0
                if refreshed:
                    lst.as_of = time.time()
                    fast = changed or any(is_active(a) for a in lst.rows.values()
                                          if not lst.walks or a.key in lst.first_keys)
                    lst.interval = self.min_interval if fast else min(lst.interval * 2, self.max_interval)
                    lst.due = now + lst.interval
                self._store.put_meta(lst.kind, lst.parent, lst.as_of, lst.complete)
            else:
                # WorkspaceErrors are already phrased for the user and redacted; anything else
                # is named by its type only, as its text may carry a URL with a signature.
                self.last_error = str(error) if isinstance(error, WorkspaceError) else (
                    f"refreshing {lst.kind.value} failed: {type(error).__name__}")
                lst.interval = min(lst.interval * 2, self.max_interval)
                lst.due = lst.hold_until = now + lst.interval
            self._cond.notify_all()

    # ------------------------------------------------------------------ changes

    def _upsert(self, lst: _List, items: Iterable[Asset]) -> list[Asset]:
        """Store what differs from the stored rows; returns it."""
        rows = self._rows(lst)
        changed = []
        for asset in items:
            old = rows.get(asset.key)
            if isinstance(asset, Job) and isinstance(old, Job):
                # A page of ARM jobs has no start and end times; run history gave them before.
                if asset.start_time is None and old.start_time is not None:
                    asset = dataclasses.replace(asset, start_time=old.start_time)
                if asset.end_time is None and old.end_time is not None and asset.is_terminal:
                    asset = dataclasses.replace(asset, end_time=old.end_time)
            if old == asset:
                continue
            rows[asset.key] = asset
            changed.append(asset)
        self._store.put(lst.kind, lst.parent, changed)
        return changed

    def _remove(self, lst: _List, removed: list[Asset]) -> None:
        for asset in removed:
            lst.rows.pop(asset.key, None)
        self._store.delete(lst.kind, lst.parent, [a.key for a in removed])

    def _changed(self, lst: _List, changed: list[Asset], removed: list[Asset]) -> None:
        """Bump the watermark, only when something changed."""
        if not changed and not removed:
            return
        self._mark += 1
        self._marks[lst.kind] = self._mark
        if removed:
            self._resets[lst.kind] = self._mark
        for asset in changed:
            self._log.append((self._mark, lst.kind, lst.parent, asset.key))
        while len(self._log) > CHANGE_LOG:
            self._log_floor = self._log.popleft()[0]
        lst.version += 1
        lst.queries.clear()
        self._cond.notify_all()
