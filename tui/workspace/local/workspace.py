"""`LocalWorkspace`: Azure ML's workspace model on one machine (see DESIGN.md)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import orjson

from .. import spec as specs
from ..base import (
    Asset,
    AssetKind,
    Capabilities,
    InvalidSpecError,
    Job,
    LogChunk,
    LogFile,
    MetricPoint,
    NotFoundError,
    Page,
    ReadOnlyError,
    TERMINAL_STATUSES,
    Workspace,
    WorkspaceError,
    WorkspaceInfo,
)
from ..redact import mask_env, redact
from . import files, jobstore, tracking
from .catalog import connect, transaction
from .rules import LOCAL_RULES

DEFAULT_COMPUTE = "local"
# Every process of a distributed job runs here at once: one per core is what a machine can
# take, and 8 (a GPU node's usual count) may be tried on any machine.
MAX_LOCAL_PROCESSES = max(8, os.cpu_count() or 1)
# jobs/.new/<name>-<pid>/ holds a job folder while create_job fills it.
INCOMING = ".new"
# An unfinished creation this old is removed even if its pid is alive (the pid was reused).
UNFINISHED_STALE_S = 3600.0
_REGISTRY_ENV_RE = re.compile(r"^azureml://registries/[^/]+/environments/[^/]+/(versions/[^/]+|labels/latest)$")

_ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lively",
               "lucid", "mellow", "nimble", "polite", "quiet", "shiny", "sleepy", "swift", "tidy", "witty")
_NOUNS = ("apple", "badger", "carrot", "comet", "falcon", "garden", "island", "kettle", "lemon", "meadow",
          "otter", "pepper", "puppy", "river", "rocket", "sparrow", "tiger", "tulip", "walnut", "yacht")


def default_root() -> Path:
    """`AML_TUI_HOME`, else the platform data dir."""
    env = os.environ.get("AML_TUI_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("aml-tui", appauthor=False)) / "workspace"


_iso = jobstore.iso


def _new_job_name() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    tail = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{tail}"


class LocalWorkspace(Workspace):
    """A workspace in a directory: catalog.db, mlflow.db, datastore/, jobs/, envs/."""

    capabilities = Capabilities(submit=True, cancel=True, sweeps=False, models=False, endpoints=False,
                                metrics=True, create_assets=True)

    def __init__(self, root: Path | str | None = None, *, read_only: bool = False):
        self.root = Path(root).expanduser().resolve() if root else default_root().resolve()
        self.read_only = read_only
        files.owner_only()  # before anything is created: the root and all inside it are private
        for sub in ("jobs", "datastore", "envs", "artifacts"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # One SQLite connection per thread: the UI calls from several workers at once, and a
        # connection shared between threads interleaves their transactions.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._conn  # open (and migrate) now, so a broken catalog fails here
        self._ensure_default_compute()
        if not read_only:
            self._sweep_unfinished()
            tracking.prepare_store_in_background(self.root)

    # ------------------------------------------------------------------ plumbing

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.root / "catalog.db")
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _ensure_default_compute(self) -> None:
        if self._conn.execute("SELECT 1 FROM compute WHERE name = ?", (DEFAULT_COMPUTE,)).fetchone():
            return
        with transaction(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO compute (name, type, max_concurrency, description, created_at) "
                "VALUES (?, 'local', ?, 'this machine', ?)", (DEFAULT_COMPUTE, os.cpu_count() or 1, time.time()))

    def _sweep_unfinished(self) -> None:
        """Remove what killed `create_job` calls left in jobs/.new/ (the creator's pid is in
        each name): folders still being filled, and a job folder moved into place whose row
        was never committed. Cheap when there is nothing: one small directory listing."""
        incoming = self.root / "jobs" / INCOMING
        try:
            with os.scandir(incoming) as it:
                entries = [e.name for e in it]
        except FileNotFoundError:
            return
        now = time.time()
        for entry in entries:
            stem = entry.removesuffix(".commit")
            name, _, pid = stem.rpartition("-")
            if not _creator_gone(incoming / entry, pid, now):
                continue
            if entry.endswith(".commit"):
                # Under the write lock no live create_job is between its move and its commit.
                with transaction(self._conn):
                    if not self._conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
                        try:
                            os.rename(self.root / "jobs" / name, incoming / stem)
                        except OSError:
                            pass
                    (incoming / entry).unlink(missing_ok=True)
                shutil.rmtree(incoming / stem, ignore_errors=True)
            else:
                shutil.rmtree(incoming / entry, ignore_errors=True)

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the workspace is open read-only")

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def info(self) -> WorkspaceInfo:
        return WorkspaceInfo(kind="local", name=self.root.name, location=str(self.root),
                             details={"tracking_uri": tracking.tracking_uri(self.root)})

    def counts(self) -> dict[AssetKind, int]:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        q = self._conn.execute
        return {
            AssetKind.DATA: q("SELECT count(DISTINCT name) FROM data").fetchone()[0],
            AssetKind.COMPUTE: q("SELECT count(*) FROM compute").fetchone()[0],
            AssetKind.ENVIRONMENTS: q("SELECT count(DISTINCT name) FROM environments").fetchone()[0],
            AssetKind.JOBS: q("SELECT count(*) FROM jobs WHERE parent_job_name IS NULL").fetchone()[0],
            AssetKind.MODELS: q("SELECT count(DISTINCT name) FROM models").fetchone()[0],
            AssetKind.ENDPOINTS: q("SELECT count(*) FROM endpoints").fetchone()[0],
        }

    # ------------------------------------------------------------------ listing

    def list_assets(self, kind: AssetKind, *, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        kind = AssetKind(kind)
        if kind is AssetKind.JOBS:
            return self.list_jobs(max_results=max_results, page_token=page_token)
        table, order = {
            AssetKind.DATA: ("data", "created_at DESC"),
            AssetKind.ENVIRONMENTS: ("environments", "created_at DESC"),
            AssetKind.COMPUTE: ("compute", "name"),
            AssetKind.MODELS: ("models", "created_at DESC"),
            AssetKind.ENDPOINTS: ("endpoints", "name"),
        }[kind]
        if kind in (AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.MODELS):
            # One row per name, its latest version (az ml data list shows the same).
            sql = (f"SELECT * FROM {table} t WHERE created_at = "
                   f"(SELECT max(created_at) FROM {table} WHERE name = t.name) ORDER BY {order}")
        else:
            sql = f"SELECT * FROM {table} ORDER BY {order}"
        rows = self._conn.execute(sql).fetchall()
        offset = int(page_token or 0)
        end = offset + max_results if max_results else len(rows)
        items = [self._row_to_asset(kind, r) for r in rows[offset:end]]
        return Page(items, str(end) if end < len(rows) else None)

    def list_versions(self, kind: AssetKind, name: str) -> list[Asset]:
        table = {AssetKind.DATA: "data", AssetKind.ENVIRONMENTS: "environments", AssetKind.MODELS: "models"}[kind]
        rows = self._conn.execute(f"SELECT * FROM {table} WHERE name = ? ORDER BY created_at DESC", (name,))
        return [self._row_to_asset(kind, r) for r in rows]

    def get_asset(self, kind: AssetKind, name: str, version: str | None = None) -> Asset:
        kind = AssetKind(kind)
        if kind is AssetKind.JOBS:
            return self.get_job(name)
        if kind in (AssetKind.COMPUTE, AssetKind.ENDPOINTS):
            table = "compute" if kind is AssetKind.COMPUTE else "endpoints"
            row = self._conn.execute(f"SELECT * FROM {table} WHERE name = ?", (name,)).fetchone()
        else:
            table = {AssetKind.DATA: "data", AssetKind.ENVIRONMENTS: "environments", AssetKind.MODELS: "models"}[kind]
            if version is None:
                row = self._conn.execute(f"SELECT * FROM {table} WHERE name = ? ORDER BY created_at DESC LIMIT 1",
                                         (name,)).fetchone()
            else:
                row = self._conn.execute(f"SELECT * FROM {table} WHERE name = ? AND version = ?",
                                         (name, str(version))).fetchone()
        if row is None:
            what = f"{name}:{version}" if version else name
            raise NotFoundError(f"{kind.value}: {what!r} not found")
        return self._row_to_asset(kind, row)

    def _row_to_asset(self, kind: AssetKind, r: sqlite3.Row) -> Asset:
        created = {"created_at": _iso(r["created_at"]), "created_by": "local", "created_by_type": "User"}
        if kind is AssetKind.DATA:
            fields = {"name": r["name"], "version": r["version"], "type": r["type"],
                      "path": Path(self.root, r["path"]).as_uri(), "description": r["description"],
                      "tags": json.loads(r["tags"]), "creation_context": created,
                      "id": f"azureml:{r['name']}:{r['version']}"}
        elif kind is AssetKind.ENVIRONMENTS:
            conda = json.loads(r["conda_file"]) if r["conda_file"] else None
            fields = {"name": r["name"], "version": r["version"], "image": r["image"], "conda_file": conda,
                      "description": r["description"], "tags": json.loads(r["tags"]),
                      "creation_context": created, "id": f"azureml:{r['name']}:{r['version']}"}
            if r["build"]:
                fields["build"] = json.loads(r["build"])
        elif kind is AssetKind.COMPUTE:
            fields = {"name": r["name"], "type": r["type"], "max_concurrency": r["max_concurrency"],
                      "description": r["description"], "provisioning_state": "Succeeded",
                      "state": "Running", "creation_context": created, "id": f"azureml:{r['name']}"}
            return Asset(kind, r["name"], None, fields)
        elif kind is AssetKind.MODELS:
            fields = {"name": r["name"], "version": r["version"], "type": r["type"], "path": r["path"],
                      "job_name": r["job_name"], "description": r["description"],
                      "tags": json.loads(r["tags"]), "creation_context": created}
        else:
            fields = {"name": r["name"], "provisioning_state": r["state"], "scoring_uri": r["scoring_uri"],
                      **json.loads(r["spec"]), "creation_context": created}
            return Asset(kind, r["name"], None, fields)
        return Asset(kind, r["name"], r["version"], fields)

    # ------------------------------------------------------------------ jobs: read

    def list_jobs(self, *, status: str | None = None, experiment_name: str | None = None,
                  parent_job_name: str | None = None, max_results: int | None = None,
                  page_token: str | None = None) -> Page:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        where, args = [], []
        if parent_job_name is None:
            where.append("parent_job_name IS NULL")
        else:
            where.append("parent_job_name = ?")
            args.append(parent_job_name)
        if status:
            where.append("status = ?")
            args.append(status)
        if experiment_name:
            where.append("experiment_name = ?")
            args.append(experiment_name)
        if page_token:
            where.append("seq < ?")
            args.append(int(page_token))
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC"
        if max_results:
            sql += f" LIMIT {int(max_results) + 1}"
        rows = self._conn.execute(sql, args).fetchall()
        more = bool(max_results) and len(rows) > max_results
        if more:
            rows = rows[:max_results]
        return Page([self._row_to_job(r) for r in rows], str(rows[-1]["seq"]) if more else None)

    def get_job(self, name: str) -> Job:
        jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        row = self._conn.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"job {name!r} not found")
        return self._row_to_job(row)

    def _row_to_job(self, r: sqlite3.Row) -> Job:
        fields = orjson.loads(r["spec"])
        fields["status"] = r["status"]
        if "creation_context" not in fields:
            fields["creation_context"] = {"created_at": _iso(r["created_at"]), "created_by": "local",
                                          "created_by_type": "User"}
        props = fields.setdefault("properties", {})
        if r["start_time"] and "StartTimeUtc" not in props:
            props["StartTimeUtc"] = _iso(r["start_time"])
        if r["end_time"] and "EndTimeUtc" not in props:
            props["EndTimeUtc"] = _iso(r["end_time"])
        if r["exit_code"] is not None:
            props["exit_code"] = str(r["exit_code"])
        if r["mlflow_run_id"]:
            props["mlflow.runId"] = r["mlflow_run_id"]
        if r["error"]:
            fields["error"] = json.loads(r["error"])
        return Job(AssetKind.JOBS, r["name"], None, fields, status=r["status"], display_name=r["display_name"],
                   experiment_name=r["experiment_name"], compute=r["compute"], type=r["type"],
                   created_at=r["created_at"], start_time=r["start_time"], end_time=r["end_time"],
                   parent_job_name=r["parent_job_name"])

    # ------------------------------------------------------------------ jobs: create

    def validate_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> dict[str, Any]:
        return self._resolve(document, base_dir=Path(base_dir), source=source)[0]

    def _resolve(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> tuple[dict, dict]:
        """(az ml job shape, runner plan) for a document; raises before anything is written."""
        spec = specs.parse_job(document, source, rules=LOCAL_RULES.job)
        name = spec.name
        if name and self._conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
            raise InvalidSpecError(f"a job named {name!r} already exists; job names are unique",
                                   source=source, field="name")
        code_dir = None
        if spec.code:
            if spec.code.startswith("azureml:"):
                raise InvalidSpecError("registered code assets are not supported locally; use a local folder",
                                       source=source, field="code")
            try:
                code_dir = (base_dir / spec.code).resolve()
                is_dir, exists = code_dir.is_dir(), code_dir.exists()
            except (OSError, ValueError) as exc:  # a name too long, a NUL byte
                raise InvalidSpecError(f"cannot use {spec.code[:80]!r} as the code folder: "
                                       f"{getattr(exc, 'strerror', None) or exc}", source=source, field="code") from None
            if not exists:
                raise InvalidSpecError(f"code folder {code_dir} does not exist", source=source, field="code")
            if not is_dir:
                raise InvalidSpecError(f"{code_dir} is a file; code must be a folder (the job's working "
                                       "directory, snapshotted)", source=source, field="code")

        # Multi-node first: no local compute can fix it, while a missing compute can be created.
        if spec.resources and int(spec.resources.get("instance_count") or 1) > 1:
            raise InvalidSpecError(f"a multi-node job ({spec.resources['instance_count']} instances) needs an "
                                   "Azure compute cluster; a local compute has one instance, this machine: use "
                                   "instance_count: 1 (distribution.process_count_per_instance sets the processes)",
                                   source=source, field="resources.instance_count")
        compute = DEFAULT_COMPUTE
        if spec.compute:
            compute = spec.compute.removeprefix("azureml:")
            if not self._conn.execute("SELECT 1 FROM compute WHERE name = ?", (compute,)).fetchone():
                known = [r[0] for r in self._conn.execute("SELECT name FROM compute ORDER BY name")]
                raise InvalidSpecError(f"unknown compute {compute!r}: Azure compute clusters (their VM sizes and "
                                       f"GPUs) do not exist locally, jobs run on this machine; this workspace has: "
                                       f"{', '.join(known)} (to run it here anyway: aml-tui compute create "
                                       f"--name {compute} --type local)", source=source, field="compute")
        if spec.process_count > MAX_LOCAL_PROCESSES:
            raise InvalidSpecError(f"at most {MAX_LOCAL_PROCESSES} processes here (one per CPU core, or 8 on "
                                   f"smaller machines), got {spec.process_count}",
                                   source=source, field="distribution.process_count_per_instance")
        if spec.distribution and spec.distribution["type"] != "pytorch":
            raise InvalidSpecError(f"distribution type {spec.distribution['type']!r} is not supported locally; "
                                   "allowed: pytorch", source=source, field="distribution.type")

        env_shown, env_plan = self._resolve_environment(spec.environment, base_dir, source)

        inputs_shown: dict[str, Any] = {}
        values: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}}
        for iname, inp in spec.inputs.items():
            if inp.is_data:
                local = self._resolve_data_path(inp, base_dir, source)
                values["inputs"][iname] = str(local)  # quoted where it lands, by render_command
                shown = inp.to_dict()
                inputs_shown[iname] = shown
            else:
                inputs_shown[iname] = inp.value
                value = inp.value
                values["inputs"][iname] = str(value).lower() if isinstance(value, bool) else str(value)
        for oname, out in spec.outputs.items():
            # A folder, or for uri_file a file in a folder of its own: filled in by create_job.
            values["outputs"][oname] = out.type
        experiment = spec.experiment_name or (code_dir.name if code_dir else "Default")
        shown = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
            "type": "command",
            "name": name,
            "display_name": spec.display_name,
            "description": spec.description,
            "experiment_name": experiment,
            "code": str(code_dir) if code_dir else None,
            "command": spec.command,
            "inputs": inputs_shown,
            "outputs": {"default": {"type": "uri_folder", "mode": "rw_mount"},
                        **{k: v.to_dict() for k, v in spec.outputs.items()}},
            "environment": env_shown,
            "environment_variables": mask_env(spec.environment_variables),
            "compute": f"azureml:{compute}",
            "resources": spec.resources or {"instance_count": 1},
            "tags": spec.tags,
            "properties": dict(spec.properties),
        }
        if spec.distribution:
            shown["distribution"] = spec.distribution
        if spec.timeout:
            shown["limits"] = {"timeout": spec.timeout}
        plan = {
            "command": spec.command, "values": values, "environment": env_plan,
            "paths": {"inputs": [n for n, i in spec.inputs.items() if i.is_data], "outputs": list(spec.outputs)},
            "environment_variables": spec.environment_variables, "process_count": spec.process_count,
            "timeout": spec.timeout, "experiment_name": experiment, "code_dir": str(code_dir) if code_dir else None,
            "compute": compute, "display_name": spec.display_name,
        }
        return shown, plan

    def _resolve_environment(self, env: Any, base_dir: Path, source: str) -> tuple[Any, dict]:
        """(as the job shows it, what the runner materialises) for every form az ml takes."""
        if env is None:
            return None, {}
        if isinstance(env, dict):
            parsed = specs.parse_environment(env, source, anonymous=True)
            return self._inline_environment(parsed, base_dir, source, "environment.")
        if env.startswith("file:"):
            path = (base_dir / env.removeprefix("file:")).resolve()
            try:
                document = specs.load_yaml_file(path)
            except InvalidSpecError as exc:
                raise InvalidSpecError(f"environment file {path}: {exc.message}", source=source,
                                       field="environment") from None
            parsed = specs.parse_environment(document, str(path), anonymous=True, prefix="")
            return self._inline_environment(parsed, path.parent, str(path), "")
        if env.startswith("azureml://"):
            if not _REGISTRY_ENV_RE.match(env):
                raise InvalidSpecError(
                    f"{env!r} is not an environment reference; expected azureml://registries/REGISTRY/"
                    "environments/NAME/versions/VERSION or .../labels/latest", source=source, field="environment")
            # Registry images cannot be pulled here: the runner says so and uses this interpreter.
            return env, {"registry": env}
        try:
            ename, version = specs.parse_reference(env)
        except ValueError as exc:
            raise InvalidSpecError(str(exc), source=source, field="environment") from None
        try:
            asset = self.get_asset(AssetKind.ENVIRONMENTS, ename, version)
        except NotFoundError:
            if ename.startswith("AzureML-"):  # Azure reserves this prefix for its curated images
                return env, {"curated": env}
            known = sorted({r[0] for r in self._conn.execute("SELECT name FROM environments")})
            raise InvalidSpecError(
                f"unknown environment {env!r}; registered: {', '.join(known) or 'none'} "
                "(register one with: aml-tui environment create --file env.yml)",
                source=source, field="environment") from None
        return (f"azureml:{asset.name}:{asset.version}",
                {"name": asset.name, "version": asset.version, "image": asset.fields["image"],
                 "conda_file": asset.fields["conda_file"], "build": asset.fields.get("build")})

    def _inline_environment(self, parsed: specs.EnvironmentSpec, base_dir: Path, source: str,
                            prefix: str) -> tuple[dict, dict]:
        conda = self._load_conda(parsed.conda_file, base_dir, source, f"{prefix}conda_file")
        build = _build_context(parsed.build, base_dir, source, f"{prefix}build.path")
        plan = {"image": parsed.image, "conda_file": conda, "build": build}
        return {k: v for k, v in plan.items() if v}, plan

    def _resolve_data_path(self, inp: specs.InputSpec, base_dir: Path, source: str) -> Path:
        field = f"inputs.{inp.name}.path"
        path = inp.path or ""
        if path.startswith("azureml://"):
            raise InvalidSpecError("datastore URIs are not available locally; register the data "
                                   "(aml-tui data create) and use azureml:name@latest", source=source, field=field)
        if path.startswith("azureml:"):
            try:
                dname, version = specs.parse_reference(path)
                asset = self.get_asset(AssetKind.DATA, dname, version)
            except ValueError as exc:
                raise InvalidSpecError(str(exc), source=source, field=field) from None
            except NotFoundError:
                known = sorted({r[0] for r in self._conn.execute("SELECT name FROM data")})
                raise InvalidSpecError(f"unknown data asset {path!r}; registered: {', '.join(known) or 'none'}",
                                       source=source, field=field) from None
            if inp.type in ("uri_file", "uri_folder") and asset.fields["type"] != inp.type:
                raise InvalidSpecError(f"{path} is a {asset.fields['type']} asset, the input says {inp.type}",
                                       source=source, field=f"inputs.{inp.name}.type")
            return self._data_local_path(asset)
        if "://" in path and not path.startswith("file://"):
            raise InvalidSpecError(f"cannot read {path!r} locally; use a local path or a registered data asset",
                                   source=source, field=field)
        local = (base_dir / path.removeprefix("file://")).resolve()
        if not local.exists():
            raise InvalidSpecError(f"{local} does not exist", source=source, field=field)
        if inp.type == "uri_file" and not local.is_file():
            raise InvalidSpecError(f"{local} is not a file (type uri_file)", source=source, field=field)
        if inp.type == "uri_folder" and not local.is_dir():
            raise InvalidSpecError(f"{local} is not a folder (type uri_folder)", source=source, field=field)
        return local

    def _data_local_path(self, asset: Asset) -> Path:
        row = self._conn.execute("SELECT path FROM data WHERE name = ? AND version = ?",
                                 (asset.name, asset.version)).fetchone()
        return self.root / row["path"]

    def _load_conda(self, conda: Any, base_dir: Path, source: str, field: str) -> dict | None:
        if conda is None:
            return None
        if isinstance(conda, dict):
            doc = conda
        else:
            path = (base_dir / conda).resolve()
            try:
                doc = specs.load_yaml_file(path)
            except InvalidSpecError as exc:
                raise InvalidSpecError(f"conda file {path}: {exc.message}", source=source, field=field) from None
        specs.conda_pip_requirements(doc, source)
        return doc

    def create_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Job:
        self._writable()
        shown, plan = self._resolve(document, base_dir=Path(base_dir), source=source)
        name = shown["name"] or _new_job_name()
        shown["name"] = name
        shown["display_name"] = shown["display_name"] or name
        plan["display_name"] = shown["display_name"]
        jobs = self.root / "jobs"
        self._sweep_unfinished()
        incoming = jobs / INCOMING
        incoming.mkdir(exist_ok=True)
        tmp = incoming / f"{name}-{os.getpid()}"
        marker = incoming / f"{name}-{os.getpid()}.commit"
        final = jobs / name
        moved = False
        try:
            tmp.mkdir()
            for sub in ("user_logs", "system_logs", "outputs", "named-outputs"):
                (tmp / sub).mkdir()
            if plan["code_dir"]:
                from .snapshot import snapshot_code

                snapshot_code(Path(plan["code_dir"]), tmp / "snapshot", source=source, exclude=(self.root,))
            else:
                (tmp / "snapshot").mkdir()
            for oname, otype in plan["values"]["outputs"].items():
                (tmp / "named-outputs" / oname).mkdir()
                path = final / "named-outputs" / oname
                # A uri_file output is a file the job writes, in a folder that exists.
                plan["values"]["outputs"][oname] = str(path / oname if otype == "uri_file" else path)
            plan["command"] = specs.render_command(plan["command"], plan["values"], plan["paths"])
            (tmp / "run.json").write_text(json.dumps(plan, indent=2))
            _write_yaml(tmp / "job.yml", shown)
            created = time.time()
            shown["creation_context"] = {"created_at": _iso(created), "created_by": "local",
                                         "created_by_type": "User"}
            # The folder moves into place inside the row's transaction, so both appear or
            # neither does: a failed insert leaves no folder, and a kill between the move and
            # the commit leaves `marker` for the next `_sweep_unfinished`.
            with transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO jobs (name, display_name, type, status, experiment_name, compute, created_at, spec)"
                    " VALUES (?, ?, 'command', 'NotStarted', ?, ?, ?, ?)",
                    (name, shown["display_name"], shown["experiment_name"], plan["compute"], created,
                     json.dumps(shown)))
                marker.touch()
                try:
                    os.rename(tmp, final)
                except OSError:
                    raise InvalidSpecError(f"a job named {name!r} already exists", source=source,
                                           field="name") from None
                moved = True
        except BaseException as exc:
            shutil.rmtree(final if moved else tmp, ignore_errors=True)
            marker.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.IntegrityError):
                raise InvalidSpecError(f"a job named {name!r} already exists", source=source,
                                       field="name") from None
            raise
        marker.unlink()
        jobstore.log_lifecycle(self.root, name, "status NotStarted")
        jobstore.schedule(self._conn, self.root)
        return self.get_job(name)

    def cancel_job(self, name: str) -> Job:
        self._writable()
        job = self.get_job(name)
        if job.status in TERMINAL_STATUSES:
            return job
        with transaction(self._conn):
            row = self._conn.execute("SELECT status, runner_pid, runner_started, pgid FROM jobs WHERE name = ?",
                                     (name,)).fetchone()
            status = row["status"]
            # No runner has claimed it yet: the runner's claim fails once the job is Canceled.
            if status in jobstore.WAITING or row["runner_pid"] is None:
                jobstore.set_status(self._conn, self.root, name, "Canceled", end_time=time.time())
                signal_runner = False
            else:
                jobstore.set_status(self._conn, self.root, name, "CancelRequested")
                signal_runner = row["runner_pid"] is not None
        if signal_runner:
            if jobstore.process_alive(row["runner_pid"], row["runner_started"]):
                os.kill(row["runner_pid"], signal.SIGTERM)
            else:
                jobstore.reconcile(self._conn, self.root, start_jobs=not self.read_only)
        return self.get_job(name)

    # ------------------------------------------------------------------ logs, metrics, outputs

    def _job_dir(self, name: str) -> Path:
        if not self._conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
            raise NotFoundError(f"job {name!r} not found")
        return jobstore.job_dir(self.root, name)

    def log_files(self, name: str) -> list[LogFile]:
        d = self._job_dir(name)
        files = []
        for sub in ("user_logs", "system_logs"):
            folder = d / sub
            if folder.is_dir():
                for p in sorted(folder.iterdir(), key=lambda p: _natural_key(p.name)):
                    if p.is_file():
                        files.append(LogFile(f"{sub}/{p.name}", p.stat().st_size))
        return files

    def read_log(self, name: str, file: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        d = self._job_dir(name)
        rel = Path(file)
        if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] not in (("user_logs",), ("system_logs",)):
            raise NotFoundError(f"log file {file!r} is not a log of job {name!r}")
        path = d / rel
        # Asked before reading: a job that had ended then writes no more, so a read to the end
        # has all of the file.
        ended = self._conn.execute("SELECT status FROM jobs WHERE name = ?", (name,)).fetchone()[0] \
            in TERMINAL_STATUSES
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(max_bytes)
        except FileNotFoundError:
            raise NotFoundError(f"job {name!r} has no log file {file!r}") from None
        if ended and len(data) < max_bytes:
            return LogChunk(file, offset, offset + len(data), data.decode("utf-8", "replace"), final=True)
        # Never split a multi-byte character: hold back an incomplete tail for the next read.
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            byte = data[-back]
            if byte & 0xC0 == 0x80:
                continue
            if byte & 0x80:
                need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
                if back < need:
                    cut = len(data) - back
            break
        data = data[:cut]
        return LogChunk(file, offset, offset + len(data), data.decode("utf-8", "replace"))

    def job_metrics(self, name: str) -> dict[str, list[MetricPoint]]:
        row = self._conn.execute("SELECT mlflow_run_id FROM jobs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"job {name!r} not found")
        return tracking.run_metrics(self.root, row["mlflow_run_id"]) if row["mlflow_run_id"] else {}

    def download_job(self, name: str, download_path: Path, *, output_name: str | None = None,
                     all: bool = False) -> Path:
        d = self._job_dir(name)
        dest = Path(download_path)
        # The first folder that exists on the way down must be a folder, or copying fails halfway.
        try:
            existing = next(p for p in (dest, *dest.parents) if p.exists())
            is_dir = existing.is_dir()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            raise InvalidSpecError(f"cannot use {str(dest)[:80]!r}: {getattr(exc, 'strerror', None) or exc}",
                                   field="download_path") from None
        if not is_dir:
            raise InvalidSpecError(f"{existing} is a file; the download path must be a folder", field="download_path")
        named = d / "named-outputs"
        if output_name is not None:
            if output_name == "default":
                output_name = None
            # An output name is an identifier; `../outputs` must not reach outside named-outputs/.
            elif not specs.IDENT_RE.fullmatch(output_name) or not (named / output_name).is_dir():
                outs = sorted(p.name for p in named.iterdir()) if named.is_dir() else []
                raise NotFoundError(f"job {name!r} has no output {output_name[:80]!r}; outputs: "
                                    f"default{''.join(', ' + o for o in outs)}")
        try:
            if output_name is None or all:
                art = dest / "artifacts"
                for sub in ("outputs", "user_logs", "system_logs"):
                    if (d / sub).is_dir():
                        shutil.copytree(d / sub, art / sub, dirs_exist_ok=True)
            if output_name or all:
                for o in ([output_name] if output_name else sorted(p.name for p in named.iterdir())):
                    shutil.copytree(named / o, dest / "named-outputs" / o, dirs_exist_ok=True)
        except OSError as exc:  # a full disk, no permission: what was copied stays
            raise WorkspaceError(f"downloading job {name!r} to {dest} failed: {exc}") from None
        return dest

    # ------------------------------------------------------------------ data, environments, compute

    def _next_version(self, table: str, name: str) -> str:
        versions = [r[0] for r in self._conn.execute(f"SELECT version FROM {table} WHERE name = ?", (name,))]
        numeric = [int(v) for v in versions if v.isdigit()]
        return str(max(numeric) + 1 if numeric else 1)

    def create_data(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        spec = specs.parse_data(document, source, rules=LOCAL_RULES.data)
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", spec.path)
        if scheme and scheme.group(1).lower() != "file":
            raise InvalidSpecError(
                f"{redact(spec.path)} is a cloud location; the local workspace registers local files and "
                "folders only (download it, then give its local path)", source=source, field="path")
        src = (Path(base_dir) / spec.path.removeprefix("file://")).resolve()
        if not src.exists():
            raise InvalidSpecError(f"{src} does not exist", source=source, field="path")
        if spec.type == "uri_file" and not src.is_file():
            raise InvalidSpecError(f"{src} is not a file (type uri_file)", source=source, field="path")
        if spec.type == "uri_folder" and not src.is_dir():
            raise InvalidSpecError(f"{src} is not a folder (type uri_folder)", source=source, field="path")
        version = spec.version or self._next_version("data", spec.name)
        if self._conn.execute("SELECT 1 FROM data WHERE name = ? AND version = ?", (spec.name, version)).fetchone():
            raise InvalidSpecError(f"data {spec.name}:{version} already exists; versions are immutable, "
                                   "use a new version", source=source, field="version")
        final = self.root / "datastore" / spec.name / version
        tmp = final.with_name(f".new-{version}-{os.getpid()}")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            if spec.type == "uri_folder":
                shutil.copytree(src, tmp)
                rel = final.relative_to(self.root)
            else:
                tmp.mkdir()
                shutil.copy2(src, tmp / src.name)
                rel = final.relative_to(self.root) / src.name
            try:
                os.rename(tmp, final)
            except OSError:  # another process registered this version first
                raise InvalidSpecError(f"data {spec.name}:{version} already exists; versions are immutable",
                                       source=source, field="version") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            with transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO data (name, version, type, path, source_path, description, tags, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (spec.name, version, spec.type, str(rel), str(src), spec.description,
                     json.dumps(spec.tags), time.time()))
        except sqlite3.IntegrityError:
            shutil.rmtree(final, ignore_errors=True)
            raise InvalidSpecError(f"data {spec.name}:{version} already exists", source=source,
                                   field="version") from None
        return self.get_asset(AssetKind.DATA, spec.name, version)

    def create_environment(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        spec = specs.parse_environment(document, source)
        conda = self._load_conda(spec.conda_file, Path(base_dir), source, "conda_file")
        build = _build_context(spec.build, Path(base_dir), source, "build.path")
        version = spec.version or self._next_version("environments", spec.name)
        try:
            with transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO environments (name, version, image, conda_file, description, tags, created_at,"
                    " build) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (spec.name, version, spec.image, json.dumps(conda) if conda else None, spec.description,
                     json.dumps(spec.tags), time.time(), json.dumps(build) if build else None))
        except sqlite3.IntegrityError:
            raise InvalidSpecError(f"environment {spec.name}:{version} already exists; versions are immutable",
                                   source=source, field="version") from None
        return self.get_asset(AssetKind.ENVIRONMENTS, spec.name, version)

    def create_compute(self, document: Mapping[str, Any], *, source: str) -> Asset:
        self._writable()
        spec = specs.parse_compute(document, source, default_concurrency=os.cpu_count() or 1,
                                   rules=LOCAL_RULES.compute)
        with transaction(self._conn):
            self._conn.execute(
                "INSERT INTO compute (name, type, max_concurrency, description, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET max_concurrency = excluded.max_concurrency,"
                " description = coalesce(excluded.description, description)",
                (spec.name, spec.type, spec.max_concurrency, spec.description, time.time()))
        jobstore.schedule(self._conn, self.root)  # more capacity may start queued jobs
        return self.get_asset(AssetKind.COMPUTE, spec.name)

    def wait_for_job(self, name: str, timeout: float | None = None, poll: float = 0.05) -> Job:
        """Block until the job is terminal (for scripts and tests)."""
        deadline = time.time() + timeout if timeout else None
        while True:
            job = self.get_job(name)
            if job.is_terminal:
                return job
            if deadline and time.time() > deadline:
                raise TimeoutError(f"job {name} still {job.status} after {timeout} s")
            time.sleep(poll)


def _creator_gone(path: Path, pid: str, now: float) -> bool:
    try:
        age = now - path.lstat().st_mtime
    except FileNotFoundError:
        return False  # another process swept it
    if age > UNFINISHED_STALE_S:
        return True
    return pid.isdigit() and not jobstore.process_alive(int(pid), None)


def _build_context(build: dict[str, str] | None, base_dir: Path, source: str, field: str) -> dict | None:
    """A docker build context keeps its path: a folder beside the YAML, made absolute."""
    if build is None or "://" in build["path"]:
        return build
    context = (base_dir / build["path"]).resolve()
    if not context.is_dir():
        raise InvalidSpecError(f"docker build context {context} is not a folder", source=source, field=field)
    return {**build, "path": str(context)}


def _natural_key(name: str) -> list:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    import yaml

    clean = {k: v for k, v in data.items() if v not in (None, {}, [])}
    path.write_text(yaml.safe_dump(clean, sort_keys=False, allow_unicode=True))

