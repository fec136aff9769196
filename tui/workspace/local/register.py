"""Registering assets in the local workspace: data versions (copied into datastore/,
immutable), environment versions, computes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .. import spec as specs
from ..base import Asset, AssetKind, InvalidSpecError
from . import assets, jobstore
from .catalog import transaction
from .resolve import JobResolver, build_context
from .rules import LOCAL_RULES

if TYPE_CHECKING:
    from .workspace import LocalWorkspace


def create_data(ws: "LocalWorkspace", document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
    spec = specs.parse_data(document, source, rules=LOCAL_RULES.data)
    # A cloud path was refused by LOCAL_RULES.data.
    src = (Path(base_dir) / spec.path.removeprefix("file://")).resolve()
    if not src.exists():
        raise InvalidSpecError(f"{src} does not exist", source=source, field="path")
    if spec.type == "uri_file" and not src.is_file():
        raise InvalidSpecError(f"{src} is not a file (type uri_file)", source=source, field="path")
    if spec.type == "uri_folder" and not src.is_dir():
        raise InvalidSpecError(f"{src} is not a folder (type uri_folder)", source=source, field="path")
    version = spec.version or assets.next_version(ws._conn, AssetKind.DATA, spec.name)
    if ws._conn.execute("SELECT 1 FROM data WHERE name = ? AND version = ?", (spec.name, version)).fetchone():
        raise InvalidSpecError(f"data {spec.name}:{version} already exists; versions are immutable, "
                               "use a new version", source=source, field="version")
    final = ws.root / "datastore" / spec.name / version
    tmp = final.with_name(f".new-{version}-{os.getpid()}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        if spec.type == "uri_folder":
            shutil.copytree(src, tmp)
            rel = final.relative_to(ws.root)
        else:
            tmp.mkdir()
            shutil.copy2(src, tmp / src.name)
            rel = final.relative_to(ws.root) / src.name
        try:
            os.rename(tmp, final)
        except OSError:  # another process registered this version first
            raise InvalidSpecError(f"data {spec.name}:{version} already exists; versions are immutable",
                                   source=source, field="version") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        with transaction(ws._conn):
            ws._conn.execute(
                "INSERT INTO data (name, version, type, path, source_path, description, tags, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (spec.name, version, spec.type, str(rel), str(src), spec.description,
                 json.dumps(spec.tags), time.time()))
    except sqlite3.IntegrityError:
        shutil.rmtree(final, ignore_errors=True)
        raise InvalidSpecError(f"data {spec.name}:{version} already exists", source=source,
                               field="version") from None
    return ws.get_asset(AssetKind.DATA, spec.name, version)


def create_environment(ws: "LocalWorkspace", document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
    spec = specs.parse_environment(document, source)
    conda = JobResolver(ws).load_conda(spec.conda_file, Path(base_dir), source, "conda_file")
    build = build_context(spec.build, Path(base_dir), source, "build.path")
    version = spec.version or assets.next_version(ws._conn, AssetKind.ENVIRONMENTS, spec.name)
    try:
        with transaction(ws._conn):
            ws._conn.execute(
                "INSERT INTO environments (name, version, image, conda_file, description, tags, created_at,"
                " build) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (spec.name, version, spec.image, json.dumps(conda) if conda else None, spec.description,
                 json.dumps(spec.tags), time.time(), json.dumps(build) if build else None))
    except sqlite3.IntegrityError:
        raise InvalidSpecError(f"environment {spec.name}:{version} already exists; versions are immutable",
                               source=source, field="version") from None
    return ws.get_asset(AssetKind.ENVIRONMENTS, spec.name, version)


def create_compute(ws: "LocalWorkspace", document: Mapping[str, Any], *, source: str) -> Asset:
    spec = specs.parse_compute(document, source, default_concurrency=os.cpu_count() or 1,
                               rules=LOCAL_RULES.compute)
    with transaction(ws._conn):
        ws._conn.execute(
            "INSERT INTO compute (name, type, max_concurrency, description, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET max_concurrency = excluded.max_concurrency,"
            " description = coalesce(excluded.description, description)",
            (spec.name, spec.type, spec.max_concurrency, spec.description, time.time()))
    jobstore.schedule(ws._conn, ws.root)  # more capacity may start queued jobs
    return ws.get_asset(AssetKind.COMPUTE, spec.name)
