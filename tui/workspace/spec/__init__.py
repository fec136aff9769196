"""Job, data, environment and compute YAML -> validated specs, with az ml (CLI v2) names.

This package checks the *shape* of a document: field names, types, references inside the
command. Whether `azureml:` references exist is the workspace's business (it owns the
catalog). Every error names the file, the field and what is allowed.

    yamlfile  load_yaml_file (bounded), apply_overrides (--set)
    names     check_name, parse_reference and the small checks every document shares
    command   ${{...}} bindings: check_bindings, render_command
    jobs      command jobs, their inputs and outputs
    assets    data, environment, compute, conda files
"""

from __future__ import annotations

from typing import Any, Mapping

from .assets import (
    COMPUTE_FIELDS, DATA_FIELDS, ENVIRONMENT_FIELDS, MAX_CONCURRENCY, ComputeSpec, DataSpec, EnvironmentSpec,
    conda_pip_requirements, parse_compute, parse_data, parse_environment,
)
from .command import ANY_BINDING_RE, BINDING_RE, OPTIONAL_RE, check_bindings, render_command
from .jobs import (
    COMMAND_JOB_FIELDS, DATA_TYPES, INPUT_MODES, LITERAL_TYPES, CommandJobSpec, InputSpec, OutputSpec,
    parse_command_job,
)
from .names import (
    IDENT_RE, IO_NAME_MAX_BYTES, JOB_NAME_RE, MAX_INT, NAME_MAX_BYTES, NAME_RE, _check_fields, _fail, check_name,
    parse_reference,
)
from .yamlfile import MAX_SET_BYTES, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_EXPANDED, apply_overrides, load_yaml_file

__all__ = [
    "ANY_BINDING_RE", "BINDING_RE", "COMMAND_JOB_FIELDS", "COMPUTE_FIELDS", "DATA_FIELDS", "DATA_TYPES",
    "ENVIRONMENT_FIELDS", "IDENT_RE", "INPUT_MODES", "IO_NAME_MAX_BYTES", "JOB_NAME_RE", "LITERAL_TYPES",
    "MAX_CONCURRENCY", "MAX_INT", "MAX_SET_BYTES", "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_EXPANDED",
    "NAME_MAX_BYTES", "NAME_RE", "OPTIONAL_RE", "SWEEP_JOB_FIELDS", "CommandJobSpec", "ComputeSpec", "DataSpec",
    "EnvironmentSpec", "InputSpec", "OutputSpec", "apply_overrides", "check_bindings", "check_name",
    "conda_pip_requirements", "load_yaml_file", "parse_command_job", "parse_compute", "parse_data",
    "parse_environment", "parse_job", "parse_reference", "render_command",
]

SWEEP_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "compute", "inputs", "outputs", "search_space", "objective",
    "sampling_algorithm", "early_termination", "limits", "trial", "identity", "queue_settings",
)


def parse_job(document: Mapping[str, Any], source: str) -> CommandJobSpec:
    """Dispatch on `type`. Sweep documents are shape-checked, then refused: no local sweeps yet."""
    kind = document.get("type", "command")
    if kind == "command":
        return parse_command_job(document, source)
    if kind == "sweep":
        _check_fields(document, SWEEP_JOB_FIELDS, source=source)
        from ..base import NotSupportedError

        raise NotSupportedError(f"{source}: type: sweep jobs are not supported by this workspace yet; "
                                "submit the trial as a command job")
    why = {"spark": "Spark jobs run on Azure's serverless Spark compute or an attached Synapse pool, "
                    "which a local workspace does not have",
           "pipeline": "pipeline jobs are not run by the local workspace yet"}.get(kind)
    if why:
        raise _fail(source, "type", f"{why}; allowed: command, sweep")
    raise _fail(source, "type", f"unknown job type {kind!r}; allowed: command, sweep")
