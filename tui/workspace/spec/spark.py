"""Spark jobs (`type: spark`), shape only: they run on Azure's serverless Spark compute or an
attached Synapse pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .command import check_bindings
from .jobs import InputSpec, OutputSpec, job_environment, job_header, parse_io
from .names import _check_fields, _fail, _mapping, _opt_str, _type_name

SPARK_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "code", "entry", "py_files", "jars", "files", "archives", "conf", "environment",
    "args", "inputs", "outputs", "compute", "resources", "identity", "services", "status",
    "creation_context", "id",
)


@dataclass
class SparkJobSpec:
    type: ClassVar[str] = "spark"
    source: str
    entry: dict[str, str]  # {file: main.py} or {class_name: com.example.Main}
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    experiment_name: str | None = None
    compute: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    args: str | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    environment: str | dict[str, Any] | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    resources: dict[str, Any] | None = None


def parse_spark_job(document: Mapping[str, Any], source: str) -> SparkJobSpec:
    _check_fields(document, SPARK_JOB_FIELDS, source=source)
    entry = document.get("entry")
    if entry is None:
        raise _fail(source, "entry", "required: {file: main.py} or {class_name: NAME}")
    _mapping(entry, source=source, field="entry", like="{file: main.py}")
    _check_fields(entry, ("file", "class_name"), source=source, prefix="entry.")
    if len(entry) != 1 or not all(isinstance(v, str) and v for v in entry.values()):
        raise _fail(source, "entry", "expected one of file or class_name, naming the entry point")
    spec = SparkJobSpec(source=source, entry=dict(entry), **job_header(document, source))
    spec.code = _opt_str(document, "code", source)
    spec.args = _opt_str(document, "args", source)
    spec.environment = job_environment(document, source)
    for key in ("py_files", "jars", "files", "archives"):
        value = document.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _fail(source, key, f"expected a list of paths, got {_type_name(value)}")
    if document.get("conf") is not None:
        spec.conf = dict(_mapping(document["conf"], source=source, field="conf", like="{spark.driver.cores: 1}"))
    if document.get("resources") is not None:
        resources = _mapping(document["resources"], source=source, field="resources",
                             like="{instance_type: standard_e4s_v3}")
        _check_fields(resources, ("instance_type", "runtime_version"), source=source, prefix="resources.")
        spec.resources = dict(resources)
    spec.inputs, spec.outputs, unset = parse_io(document, source)
    if spec.args:
        check_bindings(spec.args, set(spec.inputs), set(spec.outputs), source=source, optional=unset,
                       field="args")
    return spec
