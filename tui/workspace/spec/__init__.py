"""Job, data, environment and compute YAML -> validated specs, with az ml (CLI v2) names.

This package checks az ml's schema: the *shape* of a document (field names, types, references
inside the command) for everything az ml accepts, also what a given backend cannot run. Each
backend adds its own rules through `BackendRules` (the local workspace's are in
`tui/workspace/local/rules.py`). Whether `azureml:` references exist is the workspace's
business (it owns the catalog). Every error names the file, the field and what is allowed.

    yamlfile  load_yaml_file (bounded), apply_overrides (--set)
    names     check_name, parse_reference and the small checks every document shares
    command   ${{...}} bindings: check_bindings, render_command
    jobs      command jobs, their inputs and outputs (shared by every job type)
    sweep, pipeline, spark   the other job types az ml accepts
    assets    data, environment, compute, conda files
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

from .assets import (
    ATTACHED_COMPUTE_TYPES, COMPUTE_FIELDS, COMPUTE_TYPES, DATA_ASSET_TYPES, DATA_FIELDS, ENVIRONMENT_FIELDS,
    MAX_CONCURRENCY, ComputeSpec, DataSpec, EnvironmentSpec, conda_pip_requirements, parse_compute, parse_data,
    parse_environment,
)
from .command import ANY_BINDING_RE, BINDING_RE, OPTIONAL_RE, check_bindings, render_command
from .jobs import (
    COMMAND_JOB_FIELDS, DATA_TYPES, INPUT_MODES, LITERAL_TYPES, MODEL_TYPES, OUTPUT_MODES, CommandJobSpec, InputSpec,
    OutputSpec, parse_command_job,
)
from .names import (
    IDENT_RE, IO_NAME_MAX_BYTES, JOB_NAME_RE, MAX_INT, NAME_MAX_BYTES, NAME_RE, Rule, _fail, _short, check_name,
    parse_reference,
)
from .pipeline import PIPELINE_JOB_FIELDS, PipelineJobSpec, PipelineStepSpec, parse_pipeline_job
from .spark import SPARK_JOB_FIELDS, SparkJobSpec, parse_spark_job
from .sweep import SWEEP_JOB_FIELDS, SweepJobSpec, parse_sweep_job
from .yamlfile import MAX_SET_BYTES, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_EXPANDED, apply_overrides, load_yaml_file

__all__ = [
    "ANY_BINDING_RE", "ATTACHED_COMPUTE_TYPES", "BINDING_RE", "COMMAND_JOB_FIELDS", "COMPUTE_FIELDS", "COMPUTE_TYPES",
    "DATA_ASSET_TYPES", "DATA_FIELDS", "DATA_TYPES", "ENVIRONMENT_FIELDS", "IDENT_RE", "INPUT_MODES",
    "IO_NAME_MAX_BYTES", "JOB_NAME_RE", "JOB_TYPES", "LITERAL_TYPES", "MAX_CONCURRENCY", "MAX_INT", "MAX_SET_BYTES",
    "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_EXPANDED", "MODEL_TYPES", "NAME_MAX_BYTES", "NAME_RE",
    "OPTIONAL_RE", "OUTPUT_MODES", "PIPELINE_JOB_FIELDS", "SPARK_JOB_FIELDS", "SWEEP_JOB_FIELDS", "BackendRules",
    "CommandJobSpec", "ComputeSpec", "DataSpec", "EnvironmentSpec", "InputSpec", "JobSpec", "OutputSpec",
    "PipelineJobSpec", "PipelineStepSpec", "Rule", "SparkJobSpec", "SweepJobSpec", "apply_overrides",
    "check_bindings", "check_name", "conda_pip_requirements", "load_yaml_file", "parse_command_job",
    "parse_compute", "parse_data", "parse_environment", "parse_job", "parse_pipeline_job", "parse_reference",
    "parse_spark_job", "parse_sweep_job", "render_command",
]

JobSpec = Union[CommandJobSpec, SweepJobSpec, PipelineJobSpec, SparkJobSpec]
# Every job type az ml accepts, whether or not a backend runs it.
JOB_TYPES = {"command": parse_command_job, "sweep": parse_sweep_job, "pipeline": parse_pipeline_job,
             "spark": parse_spark_job}


@dataclass(frozen=True)
class BackendRules:
    """What a backend adds to the schema: refusals of what it cannot run or register. Each rule
    gets a parsed spec and its source and raises InvalidSpecError naming the field and why; the
    parsers apply one once the shape is right: `parse_job(doc, source, rules=RULES.job)`."""

    job: Rule | None = None
    data: Rule | None = None
    compute: Rule | None = None


def parse_job(document: Mapping[str, Any], source: str, *, rules: Rule | None = None) -> JobSpec:
    """Dispatch on `type` (default command); then the backend's `rules`, if given."""
    kind = document.get("type", "command")
    parse = JOB_TYPES.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise _fail(source, "type", f"unknown job type {_short(kind)}; allowed: {', '.join(JOB_TYPES)}")
    spec = parse(document, source)
    if rules:
        rules(spec, source)
    return spec
