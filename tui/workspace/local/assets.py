"""One descriptor per asset kind: its catalog table, its order, how a row becomes an `Asset`.

`LocalWorkspace` lists, counts and reads every kind through these, so a new kind is one
more descriptor here (and its table in catalog.py), not another branch in each method.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from ..base import Asset, AssetKind, Job, NotFoundError, Page
from . import jobstore
from .jobstore import iso


def _created(r: sqlite3.Row) -> dict[str, Any]:
    return {"created_at": iso(r["created_at"]), "created_by": "local", "created_by_type": "User"}


def _data(root: Path, r: sqlite3.Row) -> dict[str, Any]:
    return {"name": r["name"], "version": r["version"], "type": r["type"],
            "path": Path(root, r["path"]).as_uri(), "description": r["description"],
            "tags": json.loads(r["tags"]), "creation_context": _created(r),
            "id": f"azureml:{r['name']}:{r['version']}"}


def _environment(root: Path, r: sqlite3.Row) -> dict[str, Any]:
    fields = {"name": r["name"], "version": r["version"], "image": r["image"],
              "conda_file": json.loads(r["conda_file"]) if r["conda_file"] else None,
              "description": r["description"], "tags": json.loads(r["tags"]),
              "creation_context": _created(r), "id": f"azureml:{r['name']}:{r['version']}"}
    if r["build"]:
        fields["build"] = json.loads(r["build"])
    return fields


def _compute(root: Path, r: sqlite3.Row) -> dict[str, Any]:
    return {"name": r["name"], "type": r["type"], "max_concurrency": r["max_concurrency"],
            "description": r["description"], "provisioning_state": "Succeeded",
            "state": "Running", "running_jobs": r["running_jobs"], "queued_jobs": r["queued_jobs"],
            "creation_context": _created(r), "id": f"azureml:{r['name']}"}


def _in(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


# Each compute with the jobs that hold its slots ("running": Preparing to Finalizing) and
# those waiting for one: one grouped count over the active jobs, joined, not a query per row.
_COMPUTE_WITH_JOBS = (
    "(SELECT c.*, coalesce(j.running, 0) AS running_jobs, coalesce(j.queued, 0) AS queued_jobs "
    f"FROM compute c LEFT JOIN (SELECT compute, sum({_in(jobstore.HOLDING)}) AS running, "
    f"sum({_in(jobstore.WAITING)}) AS queued FROM jobs "
    f"WHERE {_in(jobstore.HOLDING + jobstore.WAITING)} AND type != 'sweep' GROUP BY compute) j "
    "ON j.compute = c.name)"  # a sweep takes no slot: its trials do
)


def _model(root: Path, r: sqlite3.Row) -> dict[str, Any]:
    return {"name": r["name"], "version": r["version"], "type": r["type"], "path": r["path"],
            "job_name": r["job_name"], "description": r["description"],
            "tags": json.loads(r["tags"]), "creation_context": _created(r)}


def _endpoint(root: Path, r: sqlite3.Row) -> dict[str, Any]:
    return {"name": r["name"], "provisioning_state": r["state"], "scoring_uri": r["scoring_uri"],
            **json.loads(r["spec"]), "creation_context": _created(r)}


@dataclass(frozen=True)
class AssetDescriptor:
    """How one kind lives in the catalog. Versioned kinds list their latest version per name."""

    kind: AssetKind
    table: str
    fields: Callable[[Path, sqlite3.Row], dict[str, Any]]
    versioned: bool = True
    order: str = "created_at DESC"
    source: str = ""  # unversioned kinds: what rows are read from, when more than `table`

    @property
    def rows_from(self) -> str:
        return self.source or self.table

    def to_asset(self, root: Path, row: sqlite3.Row) -> Asset:
        return Asset(self.kind, row["name"], row["version"] if self.versioned else None, self.fields(root, row))

    def count_sql(self) -> str:
        return f"SELECT count({'DISTINCT name' if self.versioned else '*'}) FROM {self.table}"

    def list_sql(self) -> str:
        if self.versioned:  # one row per name, its latest version (az ml data list shows the same)
            return (f"SELECT * FROM {self.table} t WHERE created_at = "
                    f"(SELECT max(created_at) FROM {self.table} WHERE name = t.name) ORDER BY {self.order}")
        return f"SELECT * FROM {self.rows_from} ORDER BY {self.order}"


DESCRIPTORS: dict[AssetKind, AssetDescriptor] = {d.kind: d for d in (
    AssetDescriptor(AssetKind.DATA, "data", _data),
    AssetDescriptor(AssetKind.ENVIRONMENTS, "environments", _environment),
    AssetDescriptor(AssetKind.COMPUTE, "compute", _compute, versioned=False, order="name",
                    source=_COMPUTE_WITH_JOBS),
    AssetDescriptor(AssetKind.MODELS, "models", _model),
    AssetDescriptor(AssetKind.ENDPOINTS, "endpoints", _endpoint, versioned=False, order="name"),
)}


def descriptor(kind: AssetKind) -> AssetDescriptor:
    try:
        return DESCRIPTORS[AssetKind(kind)]
    except KeyError:
        raise NotFoundError(f"the local workspace has no {kind!r} assets") from None


def list_latest(conn: sqlite3.Connection, root: Path, kind: AssetKind, max_results: int | None,
                page_token: str | None) -> Page:
    d = descriptor(kind)
    rows = conn.execute(d.list_sql()).fetchall()
    offset = int(page_token or 0)
    end = offset + max_results if max_results else len(rows)
    return Page([d.to_asset(root, r) for r in rows[offset:end]], str(end) if end < len(rows) else None)


def list_versions(conn: sqlite3.Connection, root: Path, kind: AssetKind, name: str) -> list[Asset]:
    d = descriptor(kind)
    if not d.versioned:
        raise NotFoundError(f"{d.kind.value} have no versions")
    rows = conn.execute(f"SELECT * FROM {d.table} WHERE name = ? ORDER BY created_at DESC", (name,))
    return [d.to_asset(root, r) for r in rows]


def get(conn: sqlite3.Connection, root: Path, kind: AssetKind, name: str, version: str | None) -> Asset:
    d = descriptor(kind)
    if not d.versioned:
        row = conn.execute(f"SELECT * FROM {d.rows_from} WHERE name = ?", (name,)).fetchone()
    elif version is None:
        row = conn.execute(f"SELECT * FROM {d.table} WHERE name = ? ORDER BY created_at DESC LIMIT 1",
                           (name,)).fetchone()
    else:
        row = conn.execute(f"SELECT * FROM {d.table} WHERE name = ? AND version = ?",
                           (name, str(version))).fetchone()
    if row is None:
        what = f"{name}:{version}" if version else name
        raise NotFoundError(f"{d.kind.value}: {what!r} not found")
    return d.to_asset(root, row)


def next_version(conn: sqlite3.Connection, kind: AssetKind, name: str) -> str:
    table = descriptor(kind).table
    versions = [r[0] for r in conn.execute(f"SELECT version FROM {table} WHERE name = ?", (name,))]
    numeric = [int(v) for v in versions if v.isdigit()]
    return str(max(numeric) + 1 if numeric else 1)


def rows_to_jobs(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Job]:
    """Jobs rows as jobs; those waiting for a slot say why (`properties.queue_reason`)."""
    waiting = {r["compute"] for r in rows if r["status"] in jobstore.WAITING}
    reasons = jobstore.queue_reasons(conn, waiting)
    return [row_to_job(r, reasons.get(r["name"])) for r in rows]


def row_to_job(r: sqlite3.Row, queue_reason: str | None = None) -> Job:
    """A jobs row as `az ml job show` shows it (the stored record keeps most of it ready)."""
    fields = orjson.loads(r["spec"])
    fields["status"] = r["status"]
    if "creation_context" not in fields:
        fields["creation_context"] = _created(r)
    props = fields.setdefault("properties", {})
    if r["start_time"] and "StartTimeUtc" not in props:
        props["StartTimeUtc"] = iso(r["start_time"])
    if r["end_time"] and "EndTimeUtc" not in props:
        props["EndTimeUtc"] = iso(r["end_time"])
    if r["exit_code"] is not None:
        props["exit_code"] = str(r["exit_code"])
    if r["mlflow_run_id"]:
        props["mlflow.runId"] = r["mlflow_run_id"]
    if queue_reason:
        props["queue_reason"] = queue_reason
    if r["error"]:
        fields["error"] = json.loads(r["error"])
    return Job(AssetKind.JOBS, r["name"], None, fields, status=r["status"], display_name=r["display_name"],
               experiment_name=r["experiment_name"], compute=r["compute"], type=r["type"],
               created_at=r["created_at"], start_time=r["start_time"], end_time=r["end_time"],
               parent_job_name=r["parent_job_name"])
