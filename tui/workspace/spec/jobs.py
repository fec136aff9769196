"""Command jobs with az ml's names: their inputs, outputs, distribution, resources and limits,
and the parts every job type shares (job_header, parse_io, job_environment). `azureml:`
references stay unresolved strings: whether they exist is the workspace's business."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .assets import ENVIRONMENT_FIELDS
from .command import ANY_BINDING_RE, check_bindings
from .names import (
    IDENT_RE, IO_NAME_MAX_BYTES, _check_fields, _fail, _int, _opt_str, _short, _str_map, _type_name, check_name,
)

# Every input and output type az ml knows, whether or not a backend can read it.
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")
DATA_TYPES = ("uri_file", "uri_folder", "mltable") + MODEL_TYPES
LITERAL_TYPES = ("integer", "number", "string", "boolean")
INPUT_MODES = ("ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download", "upload")
OUTPUT_MODES = ("rw_mount", "upload", "direct", "mount")

COMMAND_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "code", "command", "inputs", "outputs", "environment",
    "environment_variables", "compute", "distribution", "resources", "limits", "identity",
    "services", "queue_settings", "status", "creation_context", "id",
)


@dataclass
class InputSpec:
    """A literal (`value`) or a data input (`type` in DATA_TYPES with a `path`)."""

    name: str
    type: str
    value: Any = None
    path: str | None = None
    mode: str | None = None

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES

    def to_dict(self) -> Any:
        if not self.is_data:
            return self.value
        out = {"type": self.type, "path": self.path}
        if self.mode:
            out["mode"] = self.mode
        return out


@dataclass
class OutputSpec:
    name: str
    type: str = "uri_folder"
    mode: str | None = None
    path: str | None = None  # where Azure writes it (a datastore URI); a local job has its own folder

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.mode:
            out["mode"] = self.mode
        return out


@dataclass
class CommandJobSpec:
    """A command job, shape-checked; references (`azureml:`) are still unresolved strings."""

    type: ClassVar[str] = "command"
    source: str
    command: str
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    experiment_name: str | None = None
    code: str | None = None
    environment: str | dict[str, Any] | None = None
    compute: str | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    environment_variables: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    process_count: int = 1
    distribution: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    timeout: int | None = None
    unset_optional: set[str] = field(default_factory=set)  # inputs declared optional, with no value


def _check_io_name(name: Any, group: str, source: str) -> str:
    """Input and output names: identifiers of at most IO_NAME_MAX_BYTES. A YAML key can also be
    null, a number or a boolean (`null: 4`, `yes: 1`): refused, not turned into 'None'."""
    rule = (f"{group[:-1]} names are identifiers: letters, digits and '_', not starting with a digit, "
            f"at most {IO_NAME_MAX_BYTES} characters")
    if not isinstance(name, str):
        got = "null" if name is None else f"{_type_name(name)} {_short(name)}"
        raise _fail(source, group, f"{rule}; got {got} as a name")
    where = f"{group}.{_short(name, 80, quote=False)}"
    if not IDENT_RE.fullmatch(name):  # fullmatch: `$` alone lets a trailing newline through
        raise _fail(source, where, rule)
    if len(name) > IO_NAME_MAX_BYTES:
        raise _fail(source, where, f"{rule}; this one has {len(name)}")
    return name


def _parse_input(name: Any, raw: Any, source: str) -> InputSpec:
    name = _check_io_name(name, "inputs", source)
    where = f"inputs.{name}"
    if raw is None:
        raise _fail(source, where, "expected a value or a mapping with type and path, got null")
    if isinstance(raw, bool):
        return InputSpec(name, "boolean", value=raw)
    if isinstance(raw, int):
        return InputSpec(name, "integer", value=raw)
    if isinstance(raw, float):
        return InputSpec(name, "number", value=raw)
    if isinstance(raw, str):
        if raw.startswith("azureml:"):
            raise _fail(source, where, f"a data reference needs a mapping: {{type: uri_folder, path: {raw}}}")
        return InputSpec(name, "string", value=raw)
    if not isinstance(raw, dict):
        raise _fail(source, where, f"expected a value or a mapping with type and path, got {_type_name(raw)}")
    _check_fields(raw, ("type", "path", "mode", "value", "default", "description", "optional", "path_on_compute",
                        "datastore"), source=source, prefix=f"{where}.")
    kind = raw.get("type")
    if kind is None:
        value = raw.get("value", raw.get("default"))
        if value is not None and "path" not in raw:
            return _parse_input(name, value, source)  # {value: 5}: a literal, typed by its value
        kind = "uri_folder"
    if kind in LITERAL_TYPES:
        value = raw.get("value", raw.get("default"))
        checker = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
                   "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                   "string": lambda v: isinstance(v, str),
                   "boolean": lambda v: isinstance(v, bool)}[kind]
        if value is None or not checker(value):
            raise _fail(source, f"{where}.value", f"expected {kind} value, got {_type_name(value)} {_short(value)}")
        return InputSpec(name, kind, value=value)
    if kind not in DATA_TYPES:
        raise _fail(source, f"{where}.type", f"unknown input type {_short(kind)}; allowed: "
                    + ", ".join(DATA_TYPES + LITERAL_TYPES))
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise _fail(source, f"{where}.path", f"a {kind} input needs a path (a local path or azureml:name@latest)")
    mode = raw.get("mode")
    if mode is not None and mode not in INPUT_MODES:
        raise _fail(source, f"{where}.mode", f"unknown mode {_short(mode)}; allowed: {', '.join(INPUT_MODES)}")
    return InputSpec(name, kind, path=path, mode=mode)


def _parse_output(name: Any, raw: Any, source: str) -> OutputSpec:
    name = _check_io_name(name, "outputs", source)
    where = f"outputs.{name}"
    if raw is None:
        return OutputSpec(name)
    if not isinstance(raw, dict):
        raise _fail(source, where, f"expected a mapping like {{type: uri_folder}}, got {_type_name(raw)}")
    _check_fields(raw, ("type", "mode", "path", "name", "version", "description"), source=source, prefix=f"{where}.")
    kind = raw.get("type", "uri_folder")
    if kind not in DATA_TYPES:
        raise _fail(source, f"{where}.type", f"unknown output type {_short(kind)}; allowed: {', '.join(DATA_TYPES)}")
    mode = raw.get("mode")
    if mode is not None and mode not in OUTPUT_MODES:
        raise _fail(source, f"{where}.mode", f"unknown mode {_short(mode)}; allowed: {', '.join(OUTPUT_MODES)}")
    return OutputSpec(name, kind, mode, _opt_str(raw, "path", source, f"{where}."))


def job_header(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The fields every job type shares, checked: name, display_name, description,
    experiment_name, compute, tags, properties."""
    name = document.get("name")
    experiment = _opt_str(document, "experiment_name", source)
    if experiment is not None:
        check_name(experiment, source=source, field="experiment_name")
    return {
        "name": None if name is None else check_name(name, source=source, field="name", job=True),
        "display_name": _opt_str(document, "display_name", source),
        "description": _opt_str(document, "description", source),
        "experiment_name": experiment,
        "compute": _opt_str(document, "compute", source),
        "tags": _str_map(document, "tags", source),
        "properties": _str_map(document, "properties", source),
    }


def parse_io(document: Mapping[str, Any], source: str) -> tuple[dict[str, InputSpec], dict[str, OutputSpec], set[str]]:
    """(inputs, outputs, inputs declared optional without a value) of a job document."""
    inputs = document.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise _fail(source, "inputs", f"expected a mapping of input names, got {_type_name(inputs)}")
    parsed: dict[str, InputSpec] = {}
    unset: set[str] = set()
    for key, raw in inputs.items():
        if _unset_optional(raw):
            unset.add(_check_io_name(key, "inputs", source))
        else:
            parsed[str(key)] = _parse_input(key, raw, source)
    outputs = document.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise _fail(source, "outputs", f"expected a mapping of output names, got {_type_name(outputs)}")
    return parsed, {str(k): _parse_output(k, v, source) for k, v in outputs.items() if k != "default"}, unset


def job_environment(document: Mapping[str, Any], source: str) -> str | dict[str, Any] | None:
    """A job's `environment`: a reference (checked by the workspace) or an inline mapping."""
    env = document.get("environment")
    if env is not None and not isinstance(env, (str, dict)):
        raise _fail(source, "environment", f"expected azureml:name@latest, azureml:name:version or an inline "
                    f"mapping with image/conda_file, got {_type_name(env)}")
    if isinstance(env, dict):
        _check_fields(env, ENVIRONMENT_FIELDS, source=source, prefix="environment.")
        if not env.get("image") and not env.get("conda_file") and not env.get("build"):
            raise _fail(source, "environment", "an inline environment needs image, conda_file or build")
    return env


def parse_command_job(document: Mapping[str, Any], source: str, *,
                      search_space: set[str] | None = None) -> CommandJobSpec:
    """Check a command job document (or a sweep's trial, whose command may also use
    `${{search_space.x}}`). Raises InvalidSpecError naming the field."""
    kind = document.get("type", "command")
    if kind != "command":
        raise _fail(source, "type", f"expected 'command' here, got {kind!r}")
    _check_fields(document, COMMAND_JOB_FIELDS, source=source)

    command = document.get("command")
    if command is None:
        raise _fail(source, "command", "required: the shell command the job runs")
    if not isinstance(command, str) or not command.strip():
        if isinstance(command, str):
            raise _fail(source, "command", "the command is empty; give the shell command the job runs")
        raise _fail(source, "command", f"expected the shell command the job runs (a string), got {_type_name(command)}")

    spec = CommandJobSpec(source=source, command=command.strip(), **job_header(document, source))
    spec.code = _opt_str(document, "code", source)
    spec.environment_variables = _str_map(document, "environment_variables", source)
    for key, value in spec.environment_variables.items():
        if ANY_BINDING_RE.search(value):
            raise _fail(source, f"environment_variables.{key}", "bindings like ${{inputs.x}} are substituted "
                        "in command only; pass the value on the command line")
    spec.environment = job_environment(document, source)
    spec.inputs, spec.outputs, spec.unset_optional = parse_io(document, source)

    dist = document.get("distribution")
    if dist is not None:
        if not isinstance(dist, dict):
            raise _fail(source, "distribution", f"expected a mapping, got {_type_name(dist)}")
        dkind = dist.get("type")
        if dkind not in ("pytorch", "mpi", "tensorflow", "ray"):
            raise _fail(source, "distribution.type", f"expected pytorch, mpi, tensorflow or ray, got {_short(dkind)}")
        _check_fields(dist, ("type", "process_count_per_instance", "worker_count", "parameter_server_count",
                             "include_key", "address"), source=source, prefix="distribution.")
        dist = dict(dist)
        count = dist.get("process_count_per_instance", 1)
        spec.process_count = _int(count, source=source, field="distribution.process_count_per_instance", minimum=1)
        if "process_count_per_instance" in dist:
            dist["process_count_per_instance"] = spec.process_count
        for key in ("worker_count", "parameter_server_count"):
            if dist.get(key) is not None:
                dist[key] = _int(dist[key], source=source, field=f"distribution.{key}", minimum=0)
        if dist.get("include_key") is not None and not isinstance(dist["include_key"], bool):
            raise _fail(source, "distribution.include_key",
                        f"expected true or false, got {_type_name(dist['include_key'])}")
        if dist.get("address") is not None and not isinstance(dist["address"], str):
            raise _fail(source, "distribution.address", f"expected a string, got {_type_name(dist['address'])}")
        spec.distribution = dist

    res = document.get("resources")
    if res is not None:
        if not isinstance(res, dict):
            raise _fail(source, "resources", f"expected a mapping, got {_type_name(res)}")
        _check_fields(res, ("instance_count", "instance_type", "shm_size", "properties", "docker_args",
                            "locations", "max_instance_count"), source=source, prefix="resources.")
        res = dict(res)
        for key in ("instance_count", "max_instance_count"):
            if res.get(key) is not None:
                res[key] = _int(res[key], source=source, field=f"resources.{key}", minimum=1)
        for key in ("instance_type", "shm_size", "docker_args"):
            if res.get(key) is not None and not isinstance(res[key], str):
                raise _fail(source, f"resources.{key}", f"expected a string, got {_type_name(res[key])}")
        if res.get("properties") is not None and not isinstance(res["properties"], dict):
            raise _fail(source, "resources.properties", f"expected a mapping, got {_type_name(res['properties'])}")
        locations = res.get("locations")
        if locations is not None and not (isinstance(locations, list) and all(isinstance(x, str) for x in locations)):
            raise _fail(source, "resources.locations", f"expected a list of region names, got {_type_name(locations)}")
        spec.resources = res

    limits = document.get("limits")
    if limits is not None:
        if not isinstance(limits, dict):
            raise _fail(source, "limits", f"expected a mapping, got {_type_name(limits)}")
        _check_fields(limits, ("timeout",), source=source, prefix="limits.")
        if limits.get("timeout") is not None:
            spec.timeout = _int(limits["timeout"], source=source, field="limits.timeout", minimum=1)

    check_bindings(spec.command, set(spec.inputs), set(spec.outputs), source=source,
                   search_space=search_space, optional=spec.unset_optional)
    return spec


def _unset_optional(raw: Any) -> bool:
    """`{type: number, optional: true}` with no value: only `$[[ ... ]]` segments may use it."""
    return (isinstance(raw, dict) and raw.get("optional") is True
            and all(raw.get(k) in (None, "") for k in ("value", "default", "path")))
