"""Job YAML -> (the job as `az ml job show` shows it, the plan the runner carries out).

Everything a job refers to is resolved here, against the catalog, before anything is
written: code folder, compute, environment (every form az ml takes), data inputs.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .. import spec as specs
from ..base import Asset, AssetKind, InvalidSpecError, NotFoundError
from ..redact import mask_env
from .plan import RunPlan, SweepPlan, TrialTemplate
from .rules import LOCAL_RULES

if TYPE_CHECKING:
    from .workspace import LocalWorkspace

DEFAULT_COMPUTE = "local"
# Every process of a distributed job runs here at once: one per core is what a machine can
# take, and 8 (a GPU node's usual count) may be tried on any machine.
MAX_LOCAL_PROCESSES = max(8, os.cpu_count() or 1)
_REGISTRY_ENV_RE = re.compile(r"^azureml://registries/[^/]+/environments/[^/]+/(versions/[^/]+|labels/latest)$")


def default_experiment_name() -> str:
    """azure-ai-ml's default: the folder the job is submitted from, spaces removed, or Default."""
    return Path("./").resolve().stem.replace(" ", "") or "Default"


@dataclass
class Draft:
    """A plan before the job has its folder: output paths and the final command come then."""

    command: str
    values: dict[str, dict[str, str]]
    paths: dict[str, list[str]]
    environment: dict[str, Any]
    environment_variables: dict[str, str]
    process_count: int
    timeout: int | None
    experiment_name: str
    code_dir: str | None
    compute: str

    def plan(self, output_paths: Mapping[str, str], display_name: str) -> RunPlan:
        values = {"inputs": self.values["inputs"], "outputs": dict(output_paths),
                  "search_space": self.values.get("search_space", {})}
        return RunPlan(command=specs.render_command(self.command, values, self.paths),
                       experiment_name=self.experiment_name, display_name=display_name, compute=self.compute,
                       environment=self.environment, environment_variables=self.environment_variables,
                       process_count=self.process_count, timeout=self.timeout, code_dir=self.code_dir)


@dataclass
class SweepDraft:
    """A sweep before its folder exists: its trial's draft and what the sweep decides."""

    trial: Draft
    spec: specs.SweepJobSpec

    @property
    def values(self) -> dict[str, dict[str, str]]:
        return self.trial.values

    @property
    def code_dir(self) -> str | None:
        return self.trial.code_dir

    @property
    def compute(self) -> str:
        return self.trial.compute

    def plan(self, output_paths: Mapping[str, str], display_name: str) -> SweepPlan:
        """The sweep's own output folders are not the trials': each trial gets its own."""
        t, spec = self.trial, self.spec
        template = TrialTemplate(
            command=t.command, values={"inputs": t.values["inputs"]}, paths=t.paths,
            outputs=dict(t.values["outputs"]), environment=t.environment,
            environment_variables=t.environment_variables, process_count=t.process_count)
        return SweepPlan(trial=template, search_space=spec.search_space,
                         sampling_algorithm=spec.sampling_algorithm, primary_metric=spec.primary_metric,
                         goal=spec.goal, limits=spec.limits, experiment_name=t.experiment_name,
                         display_name=display_name, compute=t.compute, early_termination=spec.early_termination)


class JobResolver:
    """Resolves job documents against one workspace's catalog."""

    def __init__(self, ws: "LocalWorkspace"):
        self.ws = ws

    @property
    def conn(self) -> sqlite3.Connection:
        return self.ws._conn

    def resolve(self, document: Mapping[str, Any], *, base_dir: Path,
                source: str) -> tuple[dict, "Draft | SweepDraft"]:
        """(az ml job shape, the plan before its output paths exist); raises before anything is written."""
        spec = specs.parse_job(document, source, rules=LOCAL_RULES.job)
        name = spec.name
        if name and self.conn.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
            raise InvalidSpecError(f"a job named {name!r} already exists; job names are unique",
                                   source=source, field="name")
        if isinstance(spec, specs.SweepJobSpec):
            return self._sweep(spec, base_dir, source)
        return self._command(spec, base_dir, source)

    def _sweep(self, spec: specs.SweepJobSpec, base_dir: Path, source: str) -> tuple[dict, "SweepDraft"]:
        """A sweep resolves as its trial would (the sweep's name, compute and experiment),
        with the trial's own fields named `trial.*` in errors."""
        trial = spec.trial
        trial.name, trial.compute, trial.experiment_name = spec.name, spec.compute, spec.experiment_name
        try:
            trial_shown, draft = self._command(trial, base_dir, source)
        except InvalidSpecError as exc:
            top = (exc.field or "").split(".")[0]
            if top in ("code", "command", "environment", "environment_variables", "distribution", "resources"):
                raise InvalidSpecError(exc.message, source=exc.source, field=f"trial.{exc.field}") from None
            raise
        shown = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json",
            "type": "sweep",
            "name": spec.name,
            "display_name": spec.display_name,
            "description": spec.description,
            "experiment_name": trial_shown["experiment_name"],
            "sampling_algorithm": dict(spec.sampling_algorithm),
            "search_space": spec.search_space,
            "objective": {"goal": spec.goal, "primary_metric": spec.primary_metric},
            "limits": dict(spec.limits),
            "trial": {k: trial_shown[k] for k in ("command", "code", "environment", "environment_variables",
                                                  "distribution", "resources") if trial_shown.get(k) is not None},
            "inputs": trial_shown["inputs"],
            "outputs": {k: v for k, v in trial_shown["outputs"].items() if k != "default"},
            "compute": trial_shown["compute"],
            "tags": spec.tags,
            "properties": dict(spec.properties),
        }
        if spec.early_termination:
            shown["early_termination"] = dict(spec.early_termination)
        draft.timeout = spec.limits.get("trial_timeout")
        return shown, SweepDraft(draft, spec)

    def _command(self, spec: specs.CommandJobSpec, base_dir: Path, source: str) -> tuple[dict, Draft]:
        name = spec.name
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

        compute = DEFAULT_COMPUTE
        if spec.compute:
            compute = spec.compute.removeprefix("azureml:")
            if not self.conn.execute("SELECT 1 FROM compute WHERE name = ?", (compute,)).fetchone():
                known = [r[0] for r in self.conn.execute("SELECT name FROM compute ORDER BY name")]
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

        env_shown, env_plan = self.environment(spec.environment, base_dir, source)

        inputs_shown: dict[str, Any] = {}
        values: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}}
        for iname, inp in spec.inputs.items():
            if inp.is_data:
                local = self.data_path(inp, base_dir, source)
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
        experiment = spec.experiment_name or default_experiment_name()
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
        draft = Draft(
            command=spec.command, values=values,
            paths={"inputs": [n for n, i in spec.inputs.items() if i.is_data], "outputs": list(spec.outputs)},
            environment=env_plan, environment_variables=spec.environment_variables,
            process_count=spec.process_count, timeout=spec.timeout, experiment_name=experiment,
            code_dir=str(code_dir) if code_dir else None, compute=compute)
        return shown, draft

    def environment(self, env: Any, base_dir: Path, source: str) -> tuple[Any, dict]:
        """(as the job shows it, what the runner materialises) for every form az ml takes."""
        if env is None:
            return None, {}
        if isinstance(env, dict):
            parsed = specs.parse_environment(env, source, anonymous=True)
            return self._inline(parsed, base_dir, source, "environment.")
        if env.startswith("file:"):
            path = (base_dir / env.removeprefix("file:")).resolve()
            try:
                document = specs.load_yaml_file(path)
            except InvalidSpecError as exc:
                raise InvalidSpecError(f"environment file {path}: {exc.message}", source=source,
                                       field="environment") from None
            parsed = specs.parse_environment(document, str(path), anonymous=True, prefix="")
            return self._inline(parsed, path.parent, str(path), "")
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
            asset = self.ws.get_asset(AssetKind.ENVIRONMENTS, ename, version)
        except NotFoundError:
            if ename.startswith("AzureML-"):  # Azure reserves this prefix for its curated images
                return env, {"curated": env}
            known = sorted({r[0] for r in self.conn.execute("SELECT name FROM environments")})
            raise InvalidSpecError(
                f"unknown environment {env!r}; registered: {', '.join(known) or 'none'} "
                "(register one with: aml-tui environment create --file env.yml)",
                source=source, field="environment") from None
        return (f"azureml:{asset.name}:{asset.version}",
                {"name": asset.name, "version": asset.version, "image": asset.fields["image"],
                 "conda_file": asset.fields["conda_file"], "build": asset.fields.get("build")})

    def _inline(self, parsed: specs.EnvironmentSpec, base_dir: Path, source: str,
                            prefix: str) -> tuple[dict, dict]:
        conda = self.load_conda(parsed.conda_file, base_dir, source, f"{prefix}conda_file")
        build = build_context(parsed.build, base_dir, source, f"{prefix}build.path")
        plan = {"image": parsed.image, "conda_file": conda, "build": build}
        return {k: v for k, v in plan.items() if v}, plan

    def data_path(self, inp: specs.InputSpec, base_dir: Path, source: str) -> Path:
        field = f"inputs.{inp.name}.path"
        path = inp.path or ""
        # Datastore and cloud paths were refused by LOCAL_RULES when the job was parsed.
        if path.startswith("azureml:"):
            try:
                dname, version = specs.parse_reference(path)
                asset = self.ws.get_asset(AssetKind.DATA, dname, version)
            except ValueError as exc:
                raise InvalidSpecError(str(exc), source=source, field=field) from None
            except NotFoundError:
                known = sorted({r[0] for r in self.conn.execute("SELECT name FROM data")})
                raise InvalidSpecError(f"unknown data asset {path!r}; registered: {', '.join(known) or 'none'}",
                                       source=source, field=field) from None
            if inp.type in ("uri_file", "uri_folder") and asset.fields["type"] != inp.type:
                raise InvalidSpecError(f"{path} is a {asset.fields['type']} asset, the input says {inp.type}",
                                       source=source, field=f"inputs.{inp.name}.type")
            return self._data_local_path(asset)
        local = (base_dir / path.removeprefix("file://")).resolve()
        if not local.exists():
            raise InvalidSpecError(f"{local} does not exist", source=source, field=field)
        if inp.type == "uri_file" and not local.is_file():
            raise InvalidSpecError(f"{local} is not a file (type uri_file)", source=source, field=field)
        if inp.type == "uri_folder" and not local.is_dir():
            raise InvalidSpecError(f"{local} is not a folder (type uri_folder)", source=source, field=field)
        return local

    def _data_local_path(self, asset: Asset) -> Path:
        row = self.conn.execute("SELECT path FROM data WHERE name = ? AND version = ?",
                                 (asset.name, asset.version)).fetchone()
        return self.ws.root / row["path"]

    def load_conda(self, conda: Any, base_dir: Path, source: str, field: str) -> dict | None:
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


def build_context(build: dict[str, str] | None, base_dir: Path, source: str, field: str) -> dict | None:
    """A docker build context keeps its path: a folder beside the YAML, made absolute."""
    if build is None or "://" in build["path"]:
        return build
    context = (base_dir / build["path"]).resolve()
    if not context.is_dir():
        raise InvalidSpecError(f"docker build context {context} is not a folder", source=source, field=field)
    return {**build, "path": str(context)}
