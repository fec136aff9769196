"""The run plan: what the resolver decided and the runner carries out (jobs/<name>/run.json).

A frozen, typed record, versioned on disk, so the runner never reads keys out of a dict and a
runner of another aml-tui version refuses a plan it does not understand instead of guessing.
A command job is one plan (`RunPlan`); a sweep is a plan of its own kind (`SweepPlan`) that
makes a trial plan (a `RunPlan`) per trial. `read_plan` reads either, by its `kind`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

PLAN_VERSION = 1


class PlanError(RuntimeError):
    """run.json is missing, unreadable or of a version this runner does not know."""


@dataclass(frozen=True)
class RunPlan:
    """One command to run: a command job, or one trial of a sweep.

    `command` is final (bindings substituted, paths quoted). `environment` is what
    `environments.materialise` takes: a registered environment (`name`, `version`, `image`,
    `conda_file`, `build`), an inline one (`image`, `conda_file`, `build`), or a reference this
    machine cannot pull (`curated` or `registry`).
    """

    command: str
    experiment_name: str
    display_name: str
    compute: str
    environment: Mapping[str, Any] = field(default_factory=dict)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    process_count: int = 1
    timeout: int | None = None
    code_dir: str | None = None
    kind: str = "command"

    def to_json(self) -> str:
        return json.dumps({"version": PLAN_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "run.json") -> "RunPlan":
        data = _load(text, source)
        if data.get("kind", "command") != cls.kind:
            raise PlanError(f"{source}: a {data.get('kind')!r} plan, not a {cls.kind!r} plan")
        version = data.pop("version", 0)
        if version == 0:  # written before plans had versions: the same keys, plus the unrendered parts
            data = {k: v for k, v in data.items() if k not in ("values", "paths")}
        elif version != PLAN_VERSION:
            raise PlanError(f"{source}: run plan version {version} is not {PLAN_VERSION}; this job was "
                            "submitted by another aml-tui version")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlanError(f"{source}: unknown run plan fields: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise PlanError(f"{source}: {exc}") from None

    def write(self, path: Path) -> None:
        path.write_text(self.to_json())

    @classmethod
    def read(cls, path: Path) -> "RunPlan":
        try:
            text = path.read_text()
        except OSError as exc:
            raise PlanError(f"{path}: {os.strerror(exc.errno) if exc.errno else exc}") from None
        return cls.from_json(text, str(path))


def _load(text: str, source: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{source}: expected an object")
    return data


@dataclass(frozen=True)
class TrialTemplate:
    """What every trial of a sweep shares: its command before `${{search_space.x}}` (and the
    trial's own output paths) are substituted, with the bindings already known rendered in
    place by the resolver. `values`/`paths` are `render_command`'s: the sweep's inputs."""

    command: str
    values: Mapping[str, Mapping[str, str]]
    paths: Mapping[str, list[str]]
    outputs: Mapping[str, str]  # output name -> type: each trial gets its own folders
    environment: Mapping[str, Any] = field(default_factory=dict)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    process_count: int = 1


@dataclass(frozen=True)
class SweepPlan:
    """A sweep: which trials to make (`search_space`, `sampling_algorithm`), how to judge
    them (`primary_metric`, `goal`, `early_termination`) and how many (`limits`). The sweep
    runner turns each sample into a trial plan (a `RunPlan`) of a child job."""

    trial: TrialTemplate
    search_space: Mapping[str, Mapping[str, Any]]
    sampling_algorithm: Mapping[str, Any]
    primary_metric: str
    goal: str
    limits: Mapping[str, int]
    experiment_name: str
    display_name: str
    compute: str
    early_termination: Mapping[str, Any] | None = None
    kind: str = "sweep"

    def to_json(self) -> str:
        return json.dumps({"version": PLAN_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "run.json") -> "SweepPlan":
        data = _load(text, source)
        version = data.pop("version", None)
        if version != PLAN_VERSION:
            raise PlanError(f"{source}: run plan version {version} is not {PLAN_VERSION}; this job was "
                            "submitted by another aml-tui version")
        if data.get("kind") != "sweep":
            raise PlanError(f"{source}: a {data.get('kind')!r} plan, not a sweep plan")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlanError(f"{source}: unknown sweep plan fields: {', '.join(unknown)}")
        try:
            trial = data.pop("trial")
            return cls(trial=TrialTemplate(**trial), **data)
        except (TypeError, KeyError) as exc:
            raise PlanError(f"{source}: {exc}") from None

    def write(self, path: Path) -> None:
        path.write_text(self.to_json())

    @classmethod
    def read(cls, path: Path) -> "SweepPlan":
        return cls.from_json(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise PlanError(f"{path}: {os.strerror(exc.errno) if exc.errno else exc}") from None


def plan_kind(path: Path) -> str:
    """The `kind` of the plan at `path` ("command" for plans written before kinds)."""
    kind = _load(_read(path), str(path)).get("kind", "command")
    return kind if isinstance(kind, str) else "command"
