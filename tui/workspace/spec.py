"""Job, data, environment and compute YAML -> validated specs, with az ml (CLI v2) names.

This module checks the *shape* of a document: field names, types, references inside the
command. Whether `azureml:` references exist is the workspace's business (it owns the
catalog). Every error names the file, the field and what is allowed.
"""

from __future__ import annotations

import copy
import functools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

from .base import InvalidSpecError

# Azure ML asset names (data, environments, compute) and versions; job names have no '.'.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
JOB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Names become folder names (jobs/NAME, datastore/NAME/VERSION), and the engine's temporary
# folders wrap them as `.new-NAME-PID` (a Linux pid has up to 7 digits): 255 bytes, the usual
# file-name limit, less 15. Azure allows 255; the bytes we keep back are ours.
NAME_MAX_BYTES = 240
# Input and output names: Azure's 255; an output name is a folder under named-outputs/.
IO_NAME_MAX_BYTES = 255
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ${{inputs.x}}, ${{outputs.x}}, ${{search_space.x}}; whitespace inside the braces is allowed.
BINDING_RE = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z0-9_]+)\s*\}\}")
ANY_BINDING_RE = re.compile(r"\$\{\{.*?\}\}")
# Azure's optional segment `$[[--flag ${{inputs.x}}]]`: dropped when an input in it is unset.
# A plain `[ ... ]` is the shell's and passes through untouched.
OPTIONAL_RE = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)

DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model")
LITERAL_TYPES = ("integer", "number", "string", "boolean")
INPUT_MODES = ("ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download", "upload")

COMMAND_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "code", "command", "inputs", "outputs", "environment",
    "environment_variables", "compute", "distribution", "resources", "limits", "identity",
    "services", "queue_settings", "status", "creation_context", "id",
)
SWEEP_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "compute", "inputs", "outputs", "search_space", "objective",
    "sampling_algorithm", "early_termination", "limits", "trial", "identity", "queue_settings",
)
DATA_FIELDS = ("$schema", "name", "version", "type", "path", "description", "tags", "properties")
ENVIRONMENT_FIELDS = (
    "$schema", "name", "version", "image", "conda_file", "build", "description", "tags",
    "properties", "os_type", "inference_config",
)
# Job YAML on Azure is a few KB; these bounds refuse before parsing what would take minutes or
# gigabytes, e.g. "billion laughs" anchors whose aliases expand a 1 KB file to gigabytes.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_EXPANDED = 2 << 20  # once aliases (*name) are expanded: scalar characters + 1 per node
MAX_YAML_DEPTH = 64
MAX_SET_BYTES = 64 << 10  # one --set KEY=VALUE
# Integers end up in SQLite (64-bit) and in loops of the runner; nothing sane is larger.
MAX_INT = 2**31 - 1
# Local compute capacity (jobs at once): far beyond any machine's cores, yet it keeps a typo
# from meaning "no limit".
MAX_CONCURRENCY = 1024

COMPUTE_FIELDS = ("$schema", "name", "type", "description", "max_concurrency", "tags", "size",
                  "min_instances", "max_instances", "idle_time_before_scale_down", "location")


def _fail(source: str | None, field: str | None, message: str) -> InvalidSpecError:
    return InvalidSpecError(message, source=source, field=field)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60, *, quote: bool = True) -> str:
    """repr() (or the text) for messages, cut short: a value can be a megabyte long."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- YAML files


@functools.cache
def _bounded_loader():
    """A SafeLoader class that refuses deep nesting and alias expansion beyond the bounds.

    PyYAML shares an aliased node instead of copying it, so parsing a "billion laughs" is
    quick; everything after it (deepcopy, json, the runner) expands it. The expanded size of
    each node is counted as it is composed, from its children's sizes, so the refusal comes
    at the first node that grows too big, in time proportional to the file.
    """
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, ScalarNode

    class LimitError(ComposerError):
        """A document over the bounds: refused, never read as something else."""

    class BoundedLoader(yaml.SafeLoader):
        limit_error = LimitError

        def __init__(self, stream):
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                target = self.anchors.get(event.anchor)
                if target is not None and id(target) not in self._sizes:
                    raise LimitError(None, None, f"the alias *{event.anchor} is inside its own anchor "
                                     f"&{event.anchor}", event.start_mark)
            self._depth += 1
            if self._depth > MAX_YAML_DEPTH:
                raise LimitError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            known = self._sizes.get(id(node))
            if known is not None:  # an alias: its anchor was measured already
                size, height = known
                if self._depth + height > MAX_YAML_DEPTH:
                    raise LimitError(None, None, f"the alias *{event.anchor} nests the document deeper than "
                                     f"{MAX_YAML_DEPTH} levels", event.start_mark)
            elif isinstance(node, ScalarNode):
                size, height = 1 + len(node.value), 1
                self._sizes[id(node)] = (size, height)
            else:
                children = ([n for pair in node.value for n in pair] if isinstance(node, MappingNode)
                            else node.value)
                measured = [self._sizes[id(c)] for c in children]
                size = 1 + sum(m[0] for m in measured)
                height = 1 + max((m[1] for m in measured), default=0)
                self._sizes[id(node)] = (size, height)
            if size > MAX_YAML_EXPANDED:
                raise LimitError(None, None, f"the document grows beyond {MAX_YAML_EXPANDED >> 20} MiB once "
                                 "its aliases (*name) are expanded", event.start_mark)
            return node

        def construct_object(self, node, deep=False):
            # int() of 5,000 digits, 2024-13-01 as a date: PyYAML lets the ValueError through.
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as exc:
                raise ConstructorError(None, None, f"cannot read the value {_short(node.value)}: {exc}",
                                       node.start_mark) from None

    return BoundedLoader


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and cmark:
        problem += f" ({context} at line {cmark.line + 1}, column {cmark.column + 1})"
    return where + problem


def _load_bounded(text: str) -> Any:
    loader = _bounded_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml_file(path: Path | str) -> dict[str, Any]:
    """Read a YAML mapping; syntax errors name the line and column."""
    import yaml

    path = Path(path)
    source = str(path)
    try:
        # Read one byte past the limit rather than trust stat(): a FIFO or /dev/zero has no size.
        with open(path, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise _fail(source, None, f"the file is larger than {MAX_YAML_BYTES >> 20} MiB, the limit for a YAML "
                        "file here (a job YAML is a few KB; put data in a data asset)")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise _fail(source, None, "file not found") from None
    except IsADirectoryError:
        raise _fail(source, None, "is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(source, None, f"cannot read: {exc}") from None
    try:
        document = _load_bounded(text)
    except _bounded_loader().limit_error as exc:
        raise _fail(source, None, f"YAML over the limits: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise _fail(source, None, f"invalid YAML: {_yaml_problem(exc)}") from None
    if document is None:
        raise _fail(source, None, "the file is empty; expected a YAML mapping")
    if not isinstance(document, dict):
        raise _fail(source, None, f"expected a YAML mapping at the top level, got {_type_name(document)}")
    return document


def apply_overrides(document: Mapping[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply `--set key.path=value` overrides; values are parsed as YAML scalars (`3` -> 3)."""
    import yaml

    result = copy.deepcopy(dict(document))
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise _fail(source, None, f"--set {_short(item)}: expected key=value, e.g. inputs.epochs=3")
        field = _short(key, 80, quote=False)
        if len(item.encode("utf-8", "surrogateescape")) > MAX_SET_BYTES:
            raise _fail(source, field, f"--set: longer than {MAX_SET_BYTES >> 10} KiB, the limit for one "
                        "--set; put the value in the YAML file")
        parts = key.split(".")
        if len(parts) > MAX_YAML_DEPTH:
            raise _fail(source, field, f"--set: the key nests deeper than {MAX_YAML_DEPTH} levels")
        try:
            value = _load_bounded(raw) if raw.strip() else ""
        except _bounded_loader().limit_error as exc:
            raise _fail(source, field, f"--set: {_yaml_problem(exc)}") from None
        except yaml.YAMLError:
            value = raw
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                # `inputs.data.path=...` on a literal input: turn it into a mapping.
                if parts[: depth + 1][0] == "inputs" and depth == 1:
                    child = node[part] = {"path": child} if isinstance(child, str) else {}
                else:
                    where = ".".join(parts[: depth + 1])
                    raise _fail(source, key, f"--set: {where} is {_type_name(child)}, not a mapping")
            node = child
        node[parts[-1]] = value
    return result


def check_name(value: Any, *, source: str | None, field: str, job: bool = False) -> str:
    """Asset names and versions: letters, digits, `-`, `_`, `.`; job names: no `.` (Azure's
    rules). Never `/` or `..`; at most NAME_MAX_BYTES, as names become folder names."""
    if not isinstance(value, str):
        raise _fail(source, field, f"expected a non-empty string, got {_type_name(value)}")
    if not value:
        raise _fail(source, field, "expected a non-empty string, got an empty string")
    size = len(value.encode("utf-8", "surrogateescape"))
    if size > NAME_MAX_BYTES:
        raise _fail(source, field, f"{_short(value, 40)} is {size} bytes long; at most {NAME_MAX_BYTES} bytes "
                    "(it becomes a folder name)")
    # fullmatch: `$` alone lets a trailing newline through.
    if "/" in value or "\\" in value or ".." in value or not (JOB_NAME_RE if job else NAME_RE).fullmatch(value):
        allowed = "letters, digits, '-' and '_'" if job else "letters, digits, '-', '_' and '.'"
        raise _fail(source, field, f"invalid name {_short(value)}: use {allowed}, starting with a letter or "
                    f"digit (no '/' or '..'), at most {NAME_MAX_BYTES} bytes")
    return value


def _check_fields(document: Mapping[str, Any], allowed: tuple[str, ...], *, source: str, prefix: str = "") -> None:
    for key in document:
        if key not in allowed:
            shown = ", ".join(a for a in allowed if a not in ("status", "creation_context", "id"))
            raise _fail(source, f"{prefix}{key}", f"unknown field; allowed: {shown}")


def _opt_str(document: Mapping[str, Any], key: str, source: str, prefix: str = "") -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(source, f"{prefix}{key}", f"expected a string, got {_type_name(value)}")
    return str(value)


def _str_map(document: Mapping[str, Any], key: str, source: str) -> dict[str, str]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(source, key, f"expected a mapping of names to values, got {_type_name(value)}")
    out = {}
    for k, v in value.items():
        if isinstance(v, (dict, list)):
            raise _fail(source, f"{key}.{k}", f"expected a scalar value, got {_type_name(v)}")
        out[str(k)] = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    return out


_INT_TEXT_RE = re.compile(r"[+-]?[0-9]+")


def _int(value: Any, *, source: str, field: str, minimum: int | None = None, maximum: int | None = MAX_INT) -> int:
    """An integer, or a string of ASCII digits (from --set); never a float such as 1e23."""
    if isinstance(value, str) and _INT_TEXT_RE.fullmatch(value.strip()) and len(value) < 1000:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, field, f"expected an integer, got {_type_name(value)} {_short(value)}")
    if minimum is not None and value < minimum:
        raise _fail(source, field, f"expected an integer >= {minimum}, got {_short(value)}")
    if maximum is not None and value > maximum:
        raise _fail(source, field, f"expected an integer <= {maximum}, got {_short(value)}")
    return value


# ---------------------------------------------------------------------------- jobs


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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.mode:
            out["mode"] = self.mode
        return out


@dataclass
class CommandJobSpec:
    """A command job, shape-checked; references (`azureml:`) are still unresolved strings."""

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
    _check_fields(raw, ("type", "path", "mode", "value", "default", "description", "optional"),
                  source=source, prefix=f"{where}.")
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
    if mode is not None and mode not in ("rw_mount", "upload", "direct"):
        raise _fail(source, f"{where}.mode", f"unknown mode {_short(mode)}; allowed: rw_mount, upload, direct")
    return OutputSpec(name, kind, mode)


def parse_command_job(document: Mapping[str, Any], source: str) -> CommandJobSpec:
    """Check a command job document. Raises InvalidSpecError naming the field."""
    kind = document.get("type", "command")
    if kind != "command":
        raise _fail(source, "type", f"expected 'command' here, got {kind!r}")
    _check_fields(document, COMMAND_JOB_FIELDS, source=source)

    command = document.get("command")
    if command is None:
        raise _fail(source, "command", "required: the shell command the job runs")
    if not isinstance(command, str) or not command.strip():
        raise _fail(source, "command", f"expected a non-empty string, got {_type_name(command)}")

    spec = CommandJobSpec(source=source, command=command.strip())
    if document.get("name") is not None:
        spec.name = check_name(document["name"], source=source, field="name", job=True)
    spec.display_name = _opt_str(document, "display_name", source)
    spec.description = _opt_str(document, "description", source)
    spec.experiment_name = _opt_str(document, "experiment_name", source)
    if spec.experiment_name is not None:
        check_name(spec.experiment_name, source=source, field="experiment_name")
    spec.code = _opt_str(document, "code", source)
    spec.compute = _opt_str(document, "compute", source)
    spec.tags = _str_map(document, "tags", source)
    spec.properties = _str_map(document, "properties", source)
    spec.environment_variables = _str_map(document, "environment_variables", source)
    for key, value in spec.environment_variables.items():
        if ANY_BINDING_RE.search(value):
            raise _fail(source, f"environment_variables.{key}", "bindings like ${{inputs.x}} are substituted "
                        "in command only; pass the value on the command line")

    env = document.get("environment")
    if env is not None and not isinstance(env, (str, dict)):
        raise _fail(source, "environment", f"expected azureml:name@latest, azureml:name:version or an inline "
                    f"mapping with image/conda_file, got {_type_name(env)}")
    if isinstance(env, dict):
        _check_fields(env, ENVIRONMENT_FIELDS, source=source, prefix="environment.")
        if not env.get("image") and not env.get("conda_file") and not env.get("build"):
            raise _fail(source, "environment", "an inline environment needs image, conda_file or build")
    spec.environment = env

    inputs = document.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise _fail(source, "inputs", f"expected a mapping of input names, got {_type_name(inputs)}")
    for key, raw in inputs.items():
        if _unset_optional(raw):
            spec.unset_optional.add(_check_io_name(key, "inputs", source))
        else:
            spec.inputs[str(key)] = _parse_input(key, raw, source)
    outputs = document.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise _fail(source, "outputs", f"expected a mapping of output names, got {_type_name(outputs)}")
    spec.outputs = {str(k): _parse_output(k, v, source) for k, v in outputs.items() if k != "default"}

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
                   optional=spec.unset_optional)
    return spec


def _unset_optional(raw: Any) -> bool:
    """`{type: number, optional: true}` with no value: only `$[[ ... ]]` segments may use it."""
    return (isinstance(raw, dict) and raw.get("optional") is True
            and all(raw.get(k) in (None, "") for k in ("value", "default", "path")))


def check_bindings(command: str, inputs: set[str], outputs: set[str], *, source: str,
                   search_space: set[str] | None = None, optional: set[str] = frozenset()) -> None:
    """Every `${{inputs.x}}` names a set input. Inside an optional segment `$[[ ... ]]` an
    input may also be unset (`optional` holds those declared `optional: true` without a value)
    or undeclared: the segment is then dropped, as Azure does."""
    for raw in ANY_BINDING_RE.finditer(command):
        if not BINDING_RE.fullmatch(raw.group(0)):
            raise _fail(source, "command", f"{raw.group(0)} is not a binding; use ${{{{inputs.NAME}}}} "
                        "or ${{outputs.NAME}}")
    segments = [seg.span(1) for seg in OPTIONAL_RE.finditer(command)]
    for start, end in segments:
        if "$[[" in command[start:end]:
            raise _fail(source, "command", "optional segments $[[ ... ]] do not nest")
    if "$[[" in OPTIONAL_RE.sub("", command):
        raise _fail(source, "command", "$[[ without a closing ]]; an optional segment reads "
                    "$[[--flag ${{inputs.NAME}}]]")
    for match in BINDING_RE.finditer(command):
        group, name = match.groups()
        declared = {"inputs": inputs, "outputs": outputs, "search_space": search_space or set()}[group]
        if name in declared:
            continue
        if group == "inputs" and any(s <= match.start() < e for s, e in segments):
            continue
        if group == "search_space" and search_space is None:
            raise _fail(source, "command", f"${{{{search_space.{name}}}}} is only allowed in a sweep trial")
        if group == "inputs" and name in optional:
            raise _fail(source, "command", f"input {name!r} is optional and has no value here, so "
                        f"${{{{inputs.{name}}}}} must sit inside an optional segment: "
                        f"$[[--{name} ${{{{inputs.{name}}}}}]]")
        known = ", ".join(sorted(declared)) or "none"
        raise _fail(source, "command", f"${{{{{group}.{name}}}}} refers to an undeclared {group[:-1]} "
                    f"{name!r}; declared {group}: {known}")


def render_command(command: str, values: Mapping[str, Mapping[str, str]],
                   paths: Mapping[str, Collection[str]] | None = None) -> str:
    """Substitute bindings. `values` maps group -> name -> text. An optional segment
    `$[[...]]` is dropped when one of its inputs has no value, else kept without `$[[ ]]`.

    Literal values go in verbatim, as on Azure. The bindings named in `paths` are local
    paths, which may hold spaces or quotes (Azure's mount paths never do): each is quoted
    for the shell context it sits in, so it stays one word both bare and inside the
    user's own quotes."""

    def optional(seg: re.Match[str]) -> str:
        body = seg.group(1)
        names = [(m.group(1), m.group(2)) for m in BINDING_RE.finditer(body)]
        if all(n in values.get(g, {}) for g, n in names):
            return body
        return ""

    command = OPTIONAL_RE.sub(optional, command)
    contexts = _binding_contexts(command)
    paths = paths or {}

    def substitute(m: re.Match[str]) -> str:
        group, name = m.groups()
        text = values[group][name]
        if name not in paths.get(group, ()):
            return text
        return _quote_for(text, contexts.get(m.start(), "bare"))  # a binding in a comment is not in the map

    return BINDING_RE.sub(substitute, command)


def _quote_for(text: str, context: str) -> str:
    if context == "single":  # inside '...': close, emit an escaped quote, reopen
        return text.replace("'", "'\\''")
    if context == "double":  # inside "...": only these four stay special
        return "".join("\\" + c if c in '\\"$`' else c for c in text)
    return shlex.quote(text)


def _binding_contexts(command: str) -> dict[int, str]:
    """For each binding's offset, the bash quoting around it: 'bare', 'single' or 'double'.

    A small bash lexer: quotes, backslashes, `$( )` and backticks (which start a fresh bare
    context, also inside double quotes) and `#` comments. Heredocs are read as plain text."""
    contexts: dict[int, str] = {}
    stack = ["bare"]  # bare | single | double | subst ($( )) | paren (( ) inside $( )) | tick
    i, n = 0, len(command)
    while i < n:
        top = stack[-1]
        binding = BINDING_RE.match(command, i) if command.startswith("${{", i) else None
        if binding:
            contexts[i] = top if top in ("single", "double") else "bare"
            i = binding.end()
            continue
        c = command[i]
        if top == "single":
            if c == "'":
                stack.pop()
        elif c == "\\":
            i += 1  # the next character is taken literally
        elif command.startswith("$(", i):
            stack.append("subst")
            i += 1
        elif top == "double":
            if c == '"':
                stack.pop()
            elif c == "`":
                stack.append("tick")
        elif c == "#" and (i == 0 or command[i - 1] in " \t\n;&|()"):
            newline = command.find("\n", i)
            i = n if newline < 0 else newline
            continue
        elif c == "'":
            stack.append("single")
        elif c == '"':
            stack.append("double")
        elif c == "`":
            if top == "tick":
                stack.pop()
            else:
                stack.append("tick")
        elif c == "(" and top in ("subst", "paren"):
            stack.append("paren")
        elif c == ")" and top in ("subst", "paren"):
            stack.pop()
        i += 1
    return contexts


def parse_job(document: Mapping[str, Any], source: str) -> CommandJobSpec:
    """Dispatch on `type`. Sweep documents are shape-checked, then refused: no local sweeps yet."""
    kind = document.get("type", "command")
    if kind == "command":
        return parse_command_job(document, source)
    if kind == "sweep":
        _check_fields(document, SWEEP_JOB_FIELDS, source=source)
        from .base import NotSupportedError

        raise NotSupportedError(f"{source}: type: sweep jobs are not supported by this workspace yet; "
                                "submit the trial as a command job")
    why = {"spark": "Spark jobs run on Azure's serverless Spark compute or an attached Synapse pool, "
                    "which a local workspace does not have",
           "pipeline": "pipeline jobs are not run by the local workspace yet"}.get(kind)
    if why:
        raise _fail(source, "type", f"{why}; allowed: command, sweep")
    raise _fail(source, "type", f"unknown job type {kind!r}; allowed: command, sweep")


# ---------------------------------------------------------------------------- other assets


def parse_reference(value: str) -> tuple[str, str | None]:
    """`azureml:name@latest` / `azureml:name:version` / `name` -> (name, version or None for latest)."""
    ref = value[len("azureml:"):] if value.startswith("azureml:") else value
    if "@" in ref:
        name, _, label = ref.partition("@")
        if label != "latest":
            raise ValueError(f"unknown label {label!r}; only @latest is supported")
        return name, None
    if ":" in ref:
        name, _, version = ref.partition(":")
        return name, version
    return ref, None


@dataclass
class DataSpec:
    name: str
    version: str | None
    type: str
    path: str
    description: str | None
    tags: dict[str, str]


def parse_data(document: Mapping[str, Any], source: str) -> DataSpec:
    _check_fields(document, DATA_FIELDS, source=source)
    name = check_name(document.get("name"), source=source, field="name")
    version = _opt_str(document, "version", source)
    if version is not None:
        check_name(version, source=source, field="version")
    kind = document.get("type", "uri_folder")
    if kind not in ("uri_file", "uri_folder"):
        raise _fail(source, "type", f"expected uri_file or uri_folder for a local data asset, got {_short(kind)}")
    path = document.get("path")
    if not isinstance(path, str) or not path:
        raise _fail(source, "path", "required: the local file or folder to register")
    return DataSpec(name, version, kind, path, _opt_str(document, "description", source),
                    _str_map(document, "tags", source))


@dataclass
class EnvironmentSpec:
    name: str | None
    version: str | None
    image: str | None
    conda_file: str | dict[str, Any] | None
    description: str | None
    tags: dict[str, str]
    build: dict[str, str] | None = None  # {path: context folder or URL, dockerfile_path: ...}


def parse_environment(document: Mapping[str, Any], source: str, *, anonymous: bool = False,
                      prefix: str | None = None) -> EnvironmentSpec:
    """An environment: `image` (+ `conda_file`) or a docker `build` context. `anonymous`
    (inline in a job, or a `file:` reference) makes `name` optional."""
    if prefix is None:
        prefix = "environment." if anonymous else ""
    _check_fields(document, ENVIRONMENT_FIELDS, source=source, prefix=prefix)
    name = None if anonymous else check_name(document.get("name"), source=source, field="name")
    version = _opt_str(document, "version", source)
    if version is not None:
        check_name(version, source=source, field=f"{prefix}version")
    image = _opt_str(document, "image", source, prefix)
    conda = document.get("conda_file")
    if conda is not None and not isinstance(conda, (str, dict)):
        raise _fail(source, f"{prefix}conda_file", f"expected a path or an inline mapping, got {_type_name(conda)}")
    build = document.get("build")
    if build is not None:
        if not isinstance(build, dict):
            raise _fail(source, f"{prefix}build", f"expected a mapping like {{path: docker-context}}, "
                        f"got {_type_name(build)}")
        _check_fields(build, ("path", "dockerfile_path"), source=source, prefix=f"{prefix}build.")
        if not isinstance(build.get("path"), str) or not build["path"]:
            raise _fail(source, f"{prefix}build.path", "required: the docker build context folder")
        if image:
            raise _fail(source, f"{prefix}build", "use either image or build, not both")
        build = {k: str(v) for k, v in build.items() if v is not None}
    if not image and conda is None and build is None:
        raise _fail(source, prefix.rstrip(".") or None, "an environment needs image and/or conda_file, or build")
    return EnvironmentSpec(name, version, image, conda, _opt_str(document, "description", source),
                           _str_map(document, "tags", source), build)


def conda_pip_requirements(conda: Mapping[str, Any], source: str) -> tuple[list[str], list[str]]:
    """(pip requirements, conda packages) of a conda file, shape-checked."""
    deps = conda.get("dependencies") or []
    if not isinstance(deps, list):
        raise _fail(source, "conda_file.dependencies", f"expected a list, got {_type_name(deps)}")
    pip: list[str] = []
    conda_pkgs: list[str] = []
    for i, dep in enumerate(deps):
        if isinstance(dep, str):
            conda_pkgs.append(dep)
        elif isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            pip.extend(str(p) for p in dep["pip"])
        else:
            raise _fail(source, f"conda_file.dependencies[{i}]", "expected a package string or {pip: [...]}")
    return pip, conda_pkgs


@dataclass
class ComputeSpec:
    name: str
    type: str
    max_concurrency: int
    description: str | None


def parse_compute(document: Mapping[str, Any], source: str, *, default_concurrency: int) -> ComputeSpec:
    _check_fields(document, COMPUTE_FIELDS, source=source)
    name = check_name(document.get("name"), source=source, field="name")
    kind = document.get("type", "local")
    if kind != "local":
        raise _fail(source, "type", f"the local workspace creates computes of type 'local' only, got {_short(kind)}")
    conc = document.get("max_concurrency", default_concurrency)
    conc = _int(conc, source=source, field="max_concurrency", minimum=1, maximum=MAX_CONCURRENCY)
    return ComputeSpec(name, kind, conc, _opt_str(document, "description", source))
