"""The local table source (tui/workspace/local/window.py) against the reference: every count,
page and order of `SqlSource` equals `MemorySource`'s over the same catalog; its watermark
moves with every change and only then; an old catalog migrates keeping its rows."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from tui.columns import COLUMNS
from tui.query import parse_query
from tui.workspace.base import JOB_STATUSES, AssetKind
from tui.workspace.local import LocalWorkspace
from tui.workspace.local.catalog import MIGRATIONS, SCHEMA_VERSION, transaction
from tui.workspace.local.window import SqlSource
from tui.workspace.source import ListQuery, MemorySource

pytestmark = pytest.mark.local_only("the local catalog's SQL source (tests/azure/test_cache.py tests the Azure one)")

BASE = 1_700_000_000.0
KINDS = (AssetKind.JOBS, AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.COMPUTE, AssetKind.MODELS,
         AssetKind.ENDPOINTS)


def _created(rng: random.Random) -> float:
    # Ties on purpose (a few minutes), and a few missing creation times (0: no age).
    roll = rng.random()
    if roll < 0.03:
        return 0.0
    if roll < 0.4:
        return BASE + rng.randrange(8) * 60
    return round(BASE + rng.uniform(0, 10 ** 6), 3)


def fill_random(conn: sqlite3.Connection, seed: int, jobs: int = 300) -> list[str]:
    """Every kind's rows with NULLs, ties, names equal but for case, LIKE wildcards in values,
    children and several versions. Returns the names of the jobs that have children."""
    rng = random.Random(seed)
    computes = ["local", "gpu-Cluster", "cpu_2"]
    parents: list[str] = []
    with transaction(conn):
        for name in computes[1:]:
            conn.execute("INSERT INTO compute (name, type, max_concurrency, description, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (name, rng.choice(["amlcompute", "local"]),
                                                     rng.randrange(1, 4), None, _created(rng)))
        for i in range(jobs):
            created = _created(rng)
            start = None if rng.random() < 0.25 else created + rng.choice([0, 1, rng.uniform(0, 900)])
            end = None if start is None or rng.random() < 0.3 else start + rng.choice([0, rng.uniform(0, 5000)])
            parent = rng.choice(parents) if parents and rng.random() < 0.3 else None
            name = f"{rng.choice(['job', 'Job', 'JOB'])}_{i % 97}_{rng.choice('abAB')}{i}"
            if i % 50 == 0 and i <= 100:
                name = ("twin", "Twin", "TWIN")[i // 50]  # equal but for case: a tie in a NAME sort
            if parent is None and len(parents) < 4 and rng.random() < 0.05:
                parents.append(name)
            conn.execute(
                "INSERT INTO jobs (name, display_name, type, status, experiment_name, compute, parent_job_name,"
                " created_at, start_time, end_time, spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, rng.choice([None, "", "run a", "Run A", "run b", "100%_done", "Ärger", f"r{i % 13}"]),
                 rng.choice(["command", "sweep", "pipeline"]), rng.choice(JOB_STATUSES),
                 rng.choice(["mnist", "MNIST", "cifar", "exp_1", "exp%1"]), rng.choice(computes), parent,
                 created, start, end, json.dumps({"tags": {"i": i}})))
        for table in ("data", "environments", "models"):
            for n in range(25):
                name = f"{rng.choice(['set', 'Set', 'set-x'])}{n % 9}_{table[0]}{n}"
                for version in map(str, rng.sample([1, 2, 3, 10], rng.randrange(1, 4))):
                    created = _created(rng)
                    if table == "data":
                        conn.execute("INSERT INTO data (name, version, type, path, description, created_at)"
                                     " VALUES (?, ?, ?, ?, ?, ?)",
                                     (name, version, rng.choice(["uri_file", "uri_folder"]),
                                      f"datastore/{name}/{version} x", rng.choice([None, "", "Mnist digits"]),
                                      created))
                    elif table == "environments":
                        conda = rng.choice([None, "", "{}", '{"name": "B"}', '{"name": "a", "channels": []}'])
                        conn.execute("INSERT INTO environments (name, version, image, conda_file, created_at)"
                                     " VALUES (?, ?, ?, ?, ?)",
                                     (name, version, rng.choice([None, "python:3.11", "Ubuntu"]), conda, created))
                    else:
                        conn.execute("INSERT INTO models (name, version, type, path, job_name, created_at)"
                                     " VALUES (?, ?, ?, ?, ?, ?)",
                                     (name, version, rng.choice([None, "mlflow_model"]), rng.choice([None, "m/x"]),
                                      rng.choice([None, "job_1"]), created))
        for n in range(15):
            spec = rng.choice([{}, {"auth_mode": "key"}, {"auth_mode": "AAD"}, {"provisioning_state": None},
                               {"provisioning_state": "Failed", "scoring_uri": "http://b"}])
            conn.execute("INSERT INTO endpoints (name, state, scoring_uri, spec, created_at) VALUES (?, ?, ?, ?, ?)",
                         (f"ep{n % 4}-{n}", rng.choice([None, "Succeeded", "creating"]),
                          rng.choice([None, "http://a"]), json.dumps(spec), _created(rng)))
    return parents


@pytest.fixture
def filled(ws_root, mlflow_template):
    """A catalog of random rows, open read-only (so nothing starts), reconciled once (so
    dead "Running" rows are Failed before the two sources read them)."""
    from tests.conftest import install_mlflow_store

    install_mlflow_store(mlflow_template, ws_root)
    writer = LocalWorkspace(ws_root, read_only=True)
    parents = fill_random(writer._conn, seed=15)
    writer.counts()
    writer.close()
    ws = LocalWorkspace(ws_root, read_only=True)
    yield ws, parents
    ws.close()


def every_row(source, query: ListQuery, now: float, page: int) -> list[str]:
    keys, offset = [], 0
    while True:
        rows = source.fetch(query, offset, page, now=now)
        keys += [a.key for a in rows]
        if len(rows) < page:
            return keys
        offset += page


FILTERS = ("", "run a", "RUN", "a", "%", "_", "100%_", "n a", "ärg", "exp_1", "/^job_[0-9]+_a/", "/fail|cancel/",
           "status:fail", "compute:local", "-exp:mnist", 'display:"run a"', "-display:run", "status:e run",
           "age:1", "-age:1", "duration:1", "type:x", "-state:succ", "auth:key", "conda:yes", "-conda:yes",
           "path:x", "path:file://", "running:0", "capacity:2", "version:1", "job:job", "scoring:http",
           "sweep /^j/ -status:completed")


def test_every_sort_and_filter_equals_the_reference(filled):
    ws, parents = filled
    sql, memory = SqlSource(ws), MemorySource(ws)
    now = BASE + 2 * 10 ** 6
    compared = total = 0
    for kind in KINDS:
        titles = [c.title for c in COLUMNS[kind]]
        queries = [ListQuery(kind, sort=title, descending=d) for title in [None, *titles] for d in (False, True)]
        queries += [ListQuery(kind, parse_query(text, titles), sort=sort, descending=True)
                    for text in FILTERS for sort in (None, titles[1], titles[-1])]
        if kind is AssetKind.JOBS:
            queries += [ListQuery(kind, parse_query(text, titles), sort=sort, parent=p)
                        for p in parents for text in ("", "a") for sort in (None, "DURATION", "STATUS")]
        for query in queries:
            expected = every_row(memory, query, now, 500)
            assert every_row(sql, query, now, 37) == expected, query
            assert sql.count(query).total == len(expected) == memory.count(query).total, query
            compared += bool(expected)
            total += 1
        # The assets themselves, not only their order: the same row mappers.
        query = ListQuery(kind)
        assert [a.to_dict() for a in sql.fetch(query, 0, 500, now=now)] == \
               [a.to_dict() for a in memory.fetch(query, 0, 500, now=now)]
    # Many filters name another kind's column (nothing, on both sides); a third found rows.
    assert compared > total / 3


def test_pages_across_boundaries_and_past_the_end(filled):
    ws, _ = filled
    sql, memory = SqlSource(ws), MemorySource(ws)
    now = BASE + 2 * 10 ** 6
    query = ListQuery(AssetKind.JOBS, sort="EXPERIMENT", descending=True)
    whole = every_row(memory, query, now, 500)
    assert len(whole) > 150
    for offset, limit in ((0, 1), (36, 3), (99, 101), (len(whole) - 2, 10), (len(whole), 5), (10 ** 6, 5)):
        assert [a.key for a in sql.fetch(query, offset, limit, now=now)] == whole[offset:offset + limit]


def test_the_local_workspace_serves_one_sql_source(ws):
    assert isinstance(ws.source(), SqlSource) and ws.source() is ws.source()


def test_running_durations_sort_by_the_clock_given(ws):
    with transaction(ws._conn):
        for name, start, end in (("long_done", BASE, BASE + 100), ("running", BASE + 50, None)):
            ws._conn.execute("INSERT INTO jobs (name, type, status, experiment_name, compute, created_at, start_time,"
                             " end_time, spec) VALUES (?, 'command', 'Completed', 'e', 'local', ?, ?, ?, '{}')",
                             (name, BASE, start, end))
    query = ListQuery(AssetKind.JOBS, sort="DURATION")
    assert [a.name for a in ws.source().fetch(query, 0, 10, now=BASE + 60)] == ["running", "long_done"]
    assert [a.name for a in ws.source().fetch(query, 0, 10, now=BASE + 1000)] == ["long_done", "running"]


# ---------------------------------------------------------------------------- watermark


def _insert_job(conn, name: str, status: str, **columns) -> None:
    cols = {"name": name, "type": "command", "status": status, "experiment_name": "e", "compute": "local",
            "created_at": time.time(), "spec": "{}", **columns}
    with transaction(conn):
        conn.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     list(cols.values()))


def test_the_watermark_moves_with_submit_status_and_reconcile_and_only_then(ws, tmp_path):
    source = ws.source()
    start = source.watermark(AssetKind.JOBS)
    # Reading changes nothing: listings, counts, pages, changes (they reconcile).
    ws.counts()
    ws.list_jobs()
    source.count(ListQuery(AssetKind.JOBS))
    source.fetch(ListQuery(AssetKind.JOBS), 0, 10, now=time.time())
    assert source.changes(AssetKind.JOBS, start) == source.changes(AssetKind.JOBS, start)
    assert source.watermark(AssetKind.JOBS) == start

    job = ws.create_job({"command": "echo hi"}, base_dir=tmp_path, source="job.yml")
    submitted = source.watermark(AssetKind.JOBS)
    assert submitted > start
    change = source.changes(AssetKind.JOBS, start)
    assert job.name in {a.name for a in change.assets} and not change.reset
    assert source.watermark(AssetKind.DATA) == source.watermark(AssetKind.DATA)  # other kinds: still

    done = ws.wait_for_job(job.name, 60)
    assert done.status == "Completed"
    finished = source.watermark(AssetKind.JOBS)
    assert finished > submitted
    change = source.changes(AssetKind.JOBS, submitted)
    assert [(a.name, a.status) for a in change.assets] == [(job.name, "Completed")]
    assert change.watermark == finished
    assert source.changes(AssetKind.JOBS, finished).assets == []  # nothing changed, nothing active

    # A runner that died: the next reconcile fails its job, and that is a change too.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _insert_job(ws._conn, "orphan", "Running", runner_pid=dead.pid, runner_started=time.time())
    inserted = source.watermark(AssetKind.JOBS)
    change = source.changes(AssetKind.JOBS, inserted)
    assert [(a.name, a.status) for a in change.assets] == [("orphan", "Failed")]
    assert change.watermark > inserted
    # Compute shows its jobs' counts: a job's change is its change too.
    assert source.watermark(AssetKind.COMPUTE) == source.watermark(AssetKind.JOBS)


def test_changes_hold_every_active_job_and_reset_after_a_removal(ws_root, mlflow_template):
    from tests.conftest import install_mlflow_store

    install_mlflow_store(mlflow_template, ws_root)
    ws = LocalWorkspace(ws_root, read_only=True)  # read-only: the queued jobs stay queued
    source = ws.source()
    _insert_job(ws._conn, "waiting", "Queued")
    _insert_job(ws._conn, "done", "Completed")
    mark = source.watermark(AssetKind.JOBS)
    _insert_job(ws._conn, "new", "Completed")
    change = source.changes(AssetKind.JOBS, mark)
    assert sorted(a.name for a in change.assets) == ["new", "waiting"] and not change.reset
    assert [a.name for a in source.changes(AssetKind.JOBS, change.watermark).assets] == ["waiting"]
    # A removed row cannot be told as a change: the window reloads.
    with transaction(ws._conn):
        ws._conn.execute("DELETE FROM jobs WHERE name = 'done'")
    assert source.changes(AssetKind.JOBS, change.watermark).reset
    # A watermark from another catalog (ahead of this one's counter): reload too.
    assert source.changes(AssetKind.JOBS, 10 ** 9).reset
    # Other kinds reload whenever they moved (a new version is a row under a new key).
    data_mark = source.watermark(AssetKind.DATA)
    assert not source.changes(AssetKind.DATA, data_mark).reset
    with transaction(ws._conn):
        ws._conn.execute("INSERT INTO data (name, version, type, path, created_at) VALUES ('d', '1', 'uri_file', 'p', 1)")
    assert source.changes(AssetKind.DATA, data_mark).reset
    ws.close()


def test_a_flood_of_changes_asks_for_a_reload(ws):
    from tui.workspace.local.bench import fill_jobs
    from tui.workspace.local.window import MAX_CHANGED

    mark = ws.source().watermark(AssetKind.JOBS)
    fill_jobs(ws, MAX_CHANGED + 1)
    change = ws.source().changes(AssetKind.JOBS, mark)
    assert change.reset and change.watermark == ws.source().watermark(AssetKind.JOBS) > mark


# ---------------------------------------------------------------------------- migration


def test_a_v4_catalog_migrates_keeping_every_row(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "catalog.db")
    for step, script in enumerate(MIGRATIONS[:4]):
        conn.executescript(script + f"; PRAGMA user_version = {step + 1};")
    fill_random(conn, seed=4, jobs=120)
    conn.commit()
    # (The workspace adds its `local` compute when it is missing: not an old row.)
    tables = ("jobs", "data", "environments", "compute", "models", "endpoints")
    before = {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t} WHERE name != 'local'"))) for t in tables}
    conn.close()

    ws = LocalWorkspace(root, read_only=True)
    with sqlite3.connect(root / "catalog.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        for table, rows in before.items():
            # Every old row, column for column, with the new change counter (0: before it).
            after = sorted(tuple(r[:-1]) for r in conn.execute(f"SELECT * FROM {table} WHERE name != 'local'"))
            assert after == rows and len(rows) >= 2, table
            assert {r[0] for r in conn.execute(f"SELECT DISTINCT rev FROM {table} WHERE name != 'local'")} == {0}
    mark = ws.source().watermark(AssetKind.JOBS)
    _insert_job(ws._conn, "after_upgrade", "Completed")
    assert ws.source().watermark(AssetKind.JOBS) > mark
    assert ws.source().count(ListQuery(AssetKind.JOBS, parse_query("after_upgrade", ["NAME"]))).total == 1
    ws.close()


# ---------------------------------------------------------------------------- job list


TRICKY = ["", " x", "x ", "a: b", "a:b", "a #b", "#x", "- a", "-", "?", "yes", "No", "on", "null", "~", "1", "1.5",
          "0x1f", ".inf", "2024-01-01", "2023-11-14T22:13:20.000000+00:00", "true", "=", "<<", "${{inputs.data}}",
          "[a]", "{a}", "a, b", "'q'", '"q"', "multi\nline", "tab\tx", "Ärger", "\x85", "\u2028", "\x7f", "\ufeff",
          "azureml:local", "%x", "@x", "`x", "!x", "&x", "*x", "|", ">", "key:", "+1", "12:30", "0b101"]


def test_job_list_yaml_is_written_without_pyyaml_and_reads_back_equal(ws, cli, monkeypatch):
    """PyYAML's emitter took 4 ms a job (7 minutes at 100,000): listings are written by a
    small emitter of their own, whose text PyYAML reads back as the same values."""
    import random

    import yaml

    from tui import output

    rng = random.Random(3)

    def value(depth=0):
        roll = rng.random()
        if depth < 3 and roll < 0.2:
            return {rng.choice(TRICKY): value(depth + 1) for _ in range(rng.randrange(4))}
        if depth < 3 and roll < 0.35:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return rng.choice(TRICKY + [None, True, False, 0, -3, 1.5, 1e20, -0.0, 1e-7, float("inf"), 10 ** 30])

    documents = [{rng.choice(TRICKY): value() for _ in range(6)} for _ in range(2000)]
    monkeypatch.setattr(yaml, "safe_dump", lambda *a, **k: pytest.fail("PyYAML's emitter wrote a listing"))
    assert yaml.safe_load("".join(output._yaml_item(d) for d in documents)) == documents

    for name, display in (("tricky_1", "a: b #c"), ("tricky_2", "Ärger\u2028x"), ("tricky_3", "2024-01-01")):
        _insert_job(ws._conn, name, "Completed", display_name=display,
                    spec=json.dumps({"display_name": display, "tags": {"yes": "no", "n": 1}, "x": TRICKY}))
    expected = [j.to_dict() for j in ws.list_jobs().items]
    assert yaml.safe_load(cli("job", "list", "-o", "yaml").stdout) == expected


def test_job_list_help_says_every_job_unless_max_results(cli):
    shown = " ".join(cli("job", "list", "--help").stdout.split())
    assert "--max-results" in shown and "default: all of them" in shown


def test_every_kind_runs_in_sql_and_a_column_sql_does_not_know_runs_in_the_reference(filled, monkeypatch):
    """A new column (or kind: only its descriptor in assets.py) is served by MemorySource
    until window.py learns it, never with a wrong order or a KeyError."""
    from tui import columns
    from tui.columns import field_column

    ws, _ = filled
    assert all(SqlSource.in_sql(kind) for kind in KINDS)
    monkeypatch.setitem(columns.COLUMNS, AssetKind.DATA,
                        (*columns.COLUMNS[AssetKind.DATA], field_column("TAGS", "tags")))
    assert not SqlSource.in_sql(AssetKind.DATA)
    sql, memory = SqlSource(ws), MemorySource(ws)
    query = ListQuery(AssetKind.DATA, parse_query("set -tags:x", ["NAME", "TAGS"]), sort="TAGS", descending=True)
    expected = every_row(memory, query, BASE, 500)
    assert every_row(sql, query, BASE, 7) == expected and len(expected) > 10
    assert sql.watermark(AssetKind.DATA) == memory.watermark(AssetKind.DATA)


def test_the_reference_watermark_stands_still_while_active_jobs_do(filled):
    # It dropped its list on a move and then saw no active job: it moved on every tick.
    ws, _ = filled
    memory = MemorySource(ws)
    query = ListQuery(AssetKind.JOBS)
    jobs = memory.fetch(query, 0, 500, now=time.time())
    assert any(j.status not in ("Completed", "Failed", "Canceled") for j in jobs)
    marks = [memory.watermark(AssetKind.JOBS) for _ in range(3)]
    memory.fetch(query, 0, 500, now=time.time())
    marks.append(memory.watermark(AssetKind.JOBS))
    assert len(set(marks)) == 1, marks
