"""`aml-tui workspace check` and `aml-tui workspace repair`.

The catalog indexes what lives on disk: jobs/<name>/ (job.yml, run.json, status.json) holds
every job and datastore/<name>/<version>/ every data version, so a lost or damaged catalog can
be rebuilt from those folders. What only the catalog held (descriptions and tags of data,
environments no job used, compute capacities, models, endpoints) is taken from the old file
where it can still be read, and reported where it cannot. The old file is moved aside, never
deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..base import JOB_STATUSES, TERMINAL_STATUSES
from . import jobstore
from .catalog import SCHEMA_VERSION, CatalogError, connect, transaction
from .layout import LIFECYCLE_LOG, JobLayout

TABLES = ("data", "environments", "compute", "jobs", "models", "endpoints")
SHOWN = 10  # names listed per finding; the rest are counted


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def _names(items) -> str:
    items = sorted(items)
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


# ---------------------------------------------------------------------------- what is on disk


def _job_folders(root: Path) -> dict[str, Path]:
    jobs = root / "jobs"
    if not jobs.is_dir():
        return {}
    return {p.name: p for p in jobs.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _data_folders(root: Path) -> dict[tuple[str, str], Path]:
    store = root / "datastore"
    found = {}
    if store.is_dir():
        for name in store.iterdir():
            if name.is_dir() and not name.name.startswith("."):
                for version in name.iterdir():
                    if version.is_dir() and not version.name.startswith("."):
                        found[(name.name, version.name)] = version
    return found


def _creator_gone(path: Path, pid: str) -> bool:
    from .jobfiles import _creator_gone

    return _creator_gone(path, pid, time.time())


def _leftovers(root: Path) -> list[Path]:
    """Unfinished creations whose creator is gone: jobs/.new/<name>-<pid>[.commit], and the
    `.new-<name>-<pid>` folders older versions left in jobs/ and datastore/<name>/."""
    from .jobfiles import INCOMING

    found = []
    incoming = root / "jobs" / INCOMING
    if incoming.is_dir():
        for p in incoming.iterdir():
            if _creator_gone(p, p.name.removesuffix(".commit").rpartition("-")[2]):
                found.append(p)
    parents = [root / "jobs"] + [p for p in (root / "datastore").glob("*") if p.is_dir()]
    for parent in parents:
        for p in parent.glob(".new-*"):
            if _creator_gone(p, p.name.rpartition("-")[2]):
                found.append(p)
    return found


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


# ---------------------------------------------------------------------------- the old catalog


def _state(db: Path) -> tuple[str, list[str]]:
    """('missing' | 'empty' | 'damaged' | 'newer' | 'ok', problems)."""
    if not db.exists():
        return "missing", [f"{db} is missing"]
    if db.stat().st_size == 0:
        return "empty", [f"{db} is empty (0 bytes)"]
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return "damaged", [f"{db} cannot be read: {exc}"]
    if result != ["ok"]:
        return "damaged", [f"{db} is damaged: " + "; ".join(result[:3]) + (" ..." if len(result) > 3 else "")]
    if version == 0:
        return "damaged", [f"{db} has no aml-tui tables"]
    if version > SCHEMA_VERSION:
        return "newer", [f"{db} was written by a newer aml-tui (schema {version} > {SCHEMA_VERSION}); upgrade aml-tui"]
    return "ok", []


def _salvage(db: Path) -> tuple[dict[str, list[dict]], list[str]]:
    """Every row that can still be read, per table, and notes on the tables that could not."""
    tables: dict[str, list[dict]] = {}
    notes = []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.DatabaseError as exc:
        return {}, [f"nothing could be read from {db.name}: {exc}"]
    with closing(conn):
        for table in TABLES:
            rows: list[dict] = []
            try:
                cur = conn.execute(f"SELECT * FROM {table}")
                cols = [d[0] for d in cur.description]
                for r in cur:
                    rows.append(dict(zip(cols, r)))
            except sqlite3.DatabaseError as exc:
                notes.append(f"{table}: {len(rows)} row(s) read from the old catalog before it failed ({exc})")
                tables[table] = rows
                continue
            tables[table] = rows
    return tables, notes


# ---------------------------------------------------------------------------- check


def check(root: Path) -> Findings:
    """Integrity of catalog.db, then whether its rows and the folders on disk agree."""
    f = Findings()
    db = root / "catalog.db"
    state, problems = _state(db)
    folders = _job_folders(root)
    data = _data_folders(root)
    if state in ("missing", "empty") and not folders and not data:
        f.facts.append(f"{db}: none yet (a new workspace)")
        return f
    f.problems += problems
    if state == "ok":
        tables = _salvage(db)[0]
        f.facts.append(f"{db}: integrity ok; {len(tables['jobs'])} job(s), {len(tables['data'])} data version(s)")
        rows = {r["name"] for r in tables["jobs"]}
        no_row = set(folders) - rows
        no_folder = rows - set(folders)
        if no_row:
            f.problems.append(f"{len(no_row)} job folder(s) under jobs/ have no catalog row "
                              f"(repair restores them): {_names(no_row)}")
        if no_folder:
            f.problems.append(f"{len(no_folder)} job(s) in the catalog have no folder under jobs/ "
                              f"(their logs and outputs are gone): {_names(no_folder)}")
        data_rows = {(r["name"], r["version"]): r for r in tables["data"]}
        missing = {f"{n}:{v}" for (n, v), r in data_rows.items() if not (root / r["path"]).exists()}
        unlisted = {f"{n}:{v}" for (n, v) in data if (n, v) not in data_rows}
        if missing:
            f.problems.append(f"{len(missing)} data version(s) in the catalog have no files under datastore/: "
                              f"{_names(missing)}")
        if unlisted:
            f.problems.append(f"{len(unlisted)} data version(s) under datastore/ have no catalog row "
                              f"(repair restores them): {_names(unlisted)}")
        if not any(r["name"] == "local" for r in tables["compute"]):
            f.problems.append("the `local` compute is missing (repair recreates it)")
    elif state != "newer":
        f.facts.append(f"on disk: {len(folders)} job folder(s) under jobs/, {len(data)} data version(s) "
                       "under datastore/ (repair rebuilds the catalog from them)")
    left = _leftovers(root)
    if left:
        mb = sum(_size(p) for p in left) / 1e6
        f.problems.append(f"{len(left)} unfinished creation(s) left by killed processes ({mb:.1f} MB; repair "
                          f"removes them): {_names(str(p.relative_to(root)) for p in left)}")
    return f


# ---------------------------------------------------------------------------- repair


@contextmanager
def _repair_lock(root: Path) -> Iterator[None]:
    with open(root / ".repair.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(f"{root}: another `aml-tui workspace repair` is running") from None
        yield


def _live_runners(root: Path) -> list[str]:
    """`name (pid N)` of every runner process still working for this workspace."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "tui.workspace.local.runner" in cmd:
            args = cmd[cmd.index("tui.workspace.local.runner") + 1:]
            if len(args) >= 2 and Path(args[0]).resolve() == root:
                found.append(f"{args[1]} (pid {proc.pid})")
    return found


def repair(root: Path) -> list[str]:
    """Remove dead leftovers; when the catalog is damaged, lost or disagrees with the folders,
    rebuild it. Returns what it did, recovered and could not recover."""
    root = Path(root).resolve()
    with _repair_lock(root):
        live = _live_runners(root)
        if live:
            raise CatalogError(f"{root}: job runners are still working here: {_names(live)}. A rebuilt catalog "
                               "would lose what they record; wait for them to end (or kill them), then repair again")
        db = root / "catalog.db"
        state, _ = _state(db)
        if state == "newer":
            raise CatalogError(_state(db)[1][0])
        tables, notes = _salvage(db) if state in ("ok", "damaged") else ({}, [])
        lines = _remove_leftovers(root, {r["name"] for r in tables.get("jobs", [])})
        findings = check(root)
        if not findings.problems:
            return lines + ["nothing else to repair: " + "; ".join(findings.facts)]
        lines += _rebuild(root, db, state, tables, notes)
        after = check(root)
        lines += [f"still wrong: {p}" for p in after.problems] or ["check: " + "; ".join(after.facts)]
    return lines


def _remove_leftovers(root: Path, known_jobs: set[str]) -> list[str]:
    left = _leftovers(root)
    if not left:
        return []
    size = sum(_size(p) for p in left)
    for p in left:
        if p.name.endswith(".commit"):
            name = p.name.removesuffix(".commit").rpartition("-")[0]
            folder = root / "jobs" / name
            # Killed between moving the folder into place and committing its row; a committed
            # job has a row or, once past the commit, its lifecycle log.
            if (folder.is_dir() and name not in known_jobs
                    and not JobLayout(folder).log(LIFECYCLE_LOG).exists()):
                shutil.rmtree(folder, ignore_errors=True)
            p.unlink(missing_ok=True)
        elif p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    return [f"removed {len(left)} unfinished creation(s) left by killed processes ({size / 1e6:.1f} MB)"]


def _rebuild(root: Path, db: Path, state: str, old: dict[str, list[dict]], notes: list[str]) -> list[str]:
    lines = []
    unread = {t for t in TABLES if t not in old} | {n.split(":", 1)[0] for n in notes}
    tmp = root / f"catalog.db.rebuild-{os.getpid()}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    conn = connect(tmp, rebuild=True)
    failed: list[tuple[str, str | None]] = []
    try:
        with transaction(conn):
            jobs, plans, job_lines, failed = _jobs(conn, root, old.get("jobs", []))
            lines += _compute(conn, old.get("compute", []), plans, "compute" in unread)
            lines += _environments(conn, old.get("environments", []), plans, root, "environments" in unread)
            lines += _data(conn, root, old.get("data", []), jobs, "data" in unread)
            lines += job_lines
            for table in ("models", "endpoints"):
                for row in old.get(table, []):
                    _insert(conn, table, row)
                if table in unread:
                    lines.append(f"{table}: could not be read from the old catalog and are not stored elsewhere; "
                                 f"{len(old.get(table, []))} recovered")
                elif old.get(table):
                    lines.append(f"{table}: {len(old[table])} carried over from the old catalog")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    if db.exists():
        kind = "replaced" if state == "ok" else "corrupt"
        aside = root / f"catalog.db.{kind}-{time.strftime('%Y%m%dT%H%M%S')}"
        if aside.exists():
            aside = aside.with_name(f"{aside.name}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                os.rename(f"{db}{suffix}", f"{aside}{suffix}")
    else:
        aside = None
    os.rename(tmp, db)
    head = [f"rebuilt {db} from the folders on disk"]
    if aside is not None:
        what = "the damaged catalog" if state != "ok" else "the old catalog (it disagreed with the folders)"
        head.insert(0, f"moved {what} aside to {aside.name} (kept, never deleted)")
    lines = head + lines + [f"old catalog: {n}" for n in notes]
    for _, run_id in failed:
        if run_id:
            try:
                from . import tracking

                tracking.end_run(root, run_id, "FAILED")
            except sqlite3.DatabaseError:
                pass
    return lines


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _insert(conn: sqlite3.Connection, table: str, row: dict) -> None:
    cols = [c for c in row if c in _columns(conn, table) and c != "seq"]
    conn.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                 [row[c] for c in cols])


def _read_job(folder: Path) -> tuple[dict, dict, dict]:
    """(job.yml, run.json, status.json) of a job folder; raises ValueError saying what is missing."""
    import yaml

    layout = JobLayout(folder)
    docs = []
    for path in (layout.job_yml, layout.run_json):
        file = path.name
        try:
            text = path.read_text()
            doc = yaml.safe_load(text) if file.endswith(".yml") else json.loads(text)
        except FileNotFoundError:
            raise ValueError(f"{file} is missing") from None
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ValueError(f"{file} cannot be read: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{file} is not a mapping")
        docs.append(doc)
    try:
        status = json.loads(layout.status_json.read_text())
    except (OSError, ValueError):
        status = {}  # status.json appears when the job is first scheduled
    return docs[0], docs[1], status if isinstance(status, dict) else {}


def _mlflow_runs(root: Path) -> dict[str, str]:
    db = root / "mlflow.db"
    if not db.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return dict(conn.execute("SELECT value, run_uuid FROM tags WHERE key = 'azureml.job_name'").fetchall())
    except sqlite3.DatabaseError:
        return {}


def _jobs(conn, root: Path, old_rows: list[dict]):
    """Insert a row per job folder; returns (job.yml per name, run.json per name, report lines,
    [(name, mlflow run id)] of the jobs failed because nothing was running them)."""
    old = {r["name"]: r for r in old_rows}
    run_ids = _mlflow_runs(root)
    now = time.time()
    rows, specs, plans, lost = [], {}, {}, []
    for name, folder in sorted(_job_folders(root).items()):
        try:
            spec, plan, status = _read_job(folder)
        except ValueError as exc:
            lost.append(f"jobs/{name} ({exc})")
            continue
        specs[name], plans[name] = spec, plan
        created = JobLayout(folder).run_json.stat().st_mtime
        spec["name"] = name
        spec.setdefault("creation_context", {"created_at": jobstore.iso(created), "created_by": "local",
                                             "created_by_type": "User"})
        row = dict(old.get(name) or {
            "name": name, "display_name": spec.get("display_name") or name, "type": spec.get("type", "command"),
            "experiment_name": plan.get("experiment_name") or spec.get("experiment_name") or "Default",
            "compute": plan.get("compute") or "local", "created_at": created, "spec": json.dumps(spec),
            "parent_job_name": spec.get("parent_job_name")})  # a sweep's trial stays its trial
        row.update({k: status[k] for k in ("status", "start_time", "end_time", "exit_code", "error") if k in status})
        row.setdefault("status", "NotStarted")
        row["mlflow_run_id"] = row.get("mlflow_run_id") or run_ids.get(name)
        row["runner_pid"] = row["runner_started"] = row["pgid"] = row["spawn_pid"] = None
        rows.append(row)
    failed = []
    for row in sorted(rows, key=lambda r: r["created_at"]):
        was = row["status"]
        if was not in JOB_STATUSES:
            row["status"] = "Failed"
        _insert(conn, "jobs", row)
        if was in TERMINAL_STATUSES or was in jobstore.WAITING:
            continue
        message = (f"the job was {was} when `aml-tui workspace repair` rebuilt the catalog, "
                   "and no runner was running it any more")
        jobstore.set_status(conn, root, row["name"], "Failed", end_time=now,
                            error=json.dumps({"code": "SystemError", "message": message}))
        failed.append((row["name"], row["mlflow_run_id"]))
    lines = [f"jobs: {len(rows)} recovered from jobs/*/ (job.yml, run.json, status.json)"]
    if failed:
        lines.append(f"jobs: {len(failed)} were active with no runner left and are now Failed: "
                     f"{_names(n for n, _ in failed)}")
    if lost:
        lines.append(f"jobs: could not recover {len(lost)}, left on disk as they are: {_names(lost)}")
    gone = set(old) - set(specs)
    if gone:
        lines.append(f"jobs: {len(gone)} in the old catalog have no folder any more and are not carried over: "
                     f"{_names(gone)}")
    return specs, plans, lines, failed


def _compute(conn, old_rows: list[dict], plans: dict[str, dict], unread: bool) -> list[str]:
    for row in old_rows:
        _insert(conn, "compute", row)
    have = {r["name"] for r in old_rows}
    lines = []
    if "local" not in have:
        conn.execute("INSERT INTO compute (name, type, max_concurrency, description, created_at) "
                     "VALUES ('local', 'local', ?, 'this machine', ?)", (os.cpu_count() or 1, time.time()))
        lines.append("compute: recreated `local`")
    named = sorted({p.get("compute") for p in plans.values()} - have - {None, "local"})
    for name in named:
        conn.execute("INSERT INTO compute (name, type, max_concurrency, description, created_at) "
                     "VALUES (?, 'local', 1, NULL, ?)", (name, time.time()))
    if named:
        lines.append(f"compute: recreated {', '.join(named)} (used by jobs) with max_concurrency 1: their "
                     "capacity was only in the catalog; set it with `aml-tui compute create`")
    if old_rows:
        lines.append(f"compute: {len(old_rows)} carried over from the old catalog")
    if unread:
        lines.append("compute: targets no job used could not be recovered")
    return lines


def _environments(conn, old_rows: list[dict], plans: dict[str, dict], root: Path, unread: bool) -> list[str]:
    from .environments import conda_hash

    for row in old_rows:
        _insert(conn, "environments", row)
    have = {(r["name"], r["version"]) for r in old_rows}
    known_hashes = {conda_hash(json.loads(r["conda_file"])) for r in old_rows if r.get("conda_file")}
    recovered = {}
    for name, plan in plans.items():
        env = plan.get("environment") or {}
        if env.get("conda_file"):
            known_hashes.add(conda_hash(env["conda_file"]))
        key = (env.get("name"), env.get("version"))
        if key[0] and key[1] and key not in have and key not in recovered:
            recovered[key] = env
    for (name, version), env in sorted(recovered.items()):
        conn.execute("INSERT INTO environments (name, version, image, conda_file, created_at) VALUES (?, ?, ?, ?, ?)",
                     (name, str(version), env.get("image"),
                      json.dumps(env["conda_file"]) if env.get("conda_file") else None, time.time()))
    lines = []
    if old_rows:
        lines.append(f"environments: {len(old_rows)} carried over from the old catalog")
    if recovered:
        lines.append(f"environments: {len(recovered)} recovered from the jobs that used them (their description "
                     f"and tags are lost): {_names(f'{n}:{v}' for n, v in recovered)}")
    if unread:
        built = sorted(p.name for p in (root / "envs").glob("*") if p.is_dir() and p.name not in known_hashes)
        if built:
            lines.append(f"environments: {len(built)} built environment(s) under envs/ belong to no recovered asset; "
                         "envs/<hash> holds the packages but not the asset's name or version, so they stay as a "
                         f"cache only (register them again with `aml-tui environment create`): {_names(built)}")
        lines.append("environments: assets that no job used could not be recovered")
    return lines


def _data(conn, root: Path, old_rows: list[dict], specs: dict[str, dict], unread: bool) -> list[str]:
    folders = _data_folders(root)
    kept = 0
    have = set()
    for row in old_rows:
        if (row["name"], row["version"]) in folders and (root / row["path"]).exists():
            _insert(conn, "data", row)
            have.add((row["name"], row["version"]))
            kept += 1
    # The jobs' inputs say which type an `azureml:name:version` asset was.
    hints = {}
    for spec in specs.values():
        for inp in (spec.get("inputs") or {}).values():
            if isinstance(inp, dict) and str(inp.get("path", "")).startswith("azureml:"):
                parts = str(inp["path"]).removeprefix("azureml:").split(":")
                if len(parts) == 2 and inp.get("type") in ("uri_file", "uri_folder"):
                    hints[(parts[0], parts[1])] = inp["type"]
    rebuilt, guessed = [], []
    for (name, version), folder in sorted(folders.items()):
        if (name, version) in have:
            continue
        entries = list(folder.iterdir())
        kind = hints.get((name, version))
        if kind is None:
            kind = "uri_file" if len(entries) == 1 and entries[0].is_file() else "uri_folder"
            guessed.append(f"{name}:{version} ({kind})")
        rel = folder.relative_to(root)
        if kind == "uri_file" and len(entries) == 1:
            rel = rel / entries[0].name
        conn.execute("INSERT INTO data (name, version, type, path, created_at) VALUES (?, ?, ?, ?, ?)",
                     (name, version, kind, str(rel), folder.stat().st_mtime))
        rebuilt.append(f"{name}:{version}")
    lines = []
    if kept:
        lines.append(f"data: {kept} version(s) carried over from the old catalog")
    if rebuilt:
        lines.append(f"data: {len(rebuilt)} version(s) recovered from datastore/ (description, tags and source "
                     f"path are lost): {_names(rebuilt)}")
    if guessed:
        lines.append(f"data: the type of {len(guessed)} was guessed from the files: {_names(guessed)}")
    lost = {f"{r['name']}:{r['version']}" for r in old_rows} - {f"{n}:{v}" for n, v in have}
    if lost:
        lines.append(f"data: {len(lost)} version(s) in the old catalog have no files under datastore/ and are not "
                     f"carried over: {_names(lost)}")
    return lines
