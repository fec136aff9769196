"""Pipeline jobs (`type: pipeline`), shape only: a mapping of command steps, the pipeline's
inputs and outputs, its settings, and the `${{parent...}}` bindings that wire them together."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .command import ANY_BINDING_RE
from .jobs import COMMAND_JOB_FIELDS, CommandJobSpec, InputSpec, OutputSpec, job_header, parse_command_job, parse_io
from .names import _check_fields, _fail, _mapping, _nested, _opt_str, _short, _type_name

PIPELINE_JOB_FIELDS = (
    "$schema", "type", "name", "display_name", "description", "experiment_name", "tags",
    "properties", "compute", "settings", "inputs", "outputs", "jobs", "component", "identity",
    "services", "status", "creation_context", "id",
)
STEP_FIELDS = COMMAND_JOB_FIELDS + ("component", "comment")
# Azure's step (node) names: lower-case Python identifiers.
STEP_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*")
# ${{parent.inputs.x}}, ${{parent.outputs.x}}, ${{parent.jobs.step.outputs.x}}
PARENT_RE = re.compile(r"\$\{\{\s*parent\.(?:(inputs|outputs)\.([A-Za-z0-9_]+)"
                       r"|jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+))\s*\}\}")
SETTINGS_FLAGS = ("continue_on_step_failure", "force_rerun")
SETTINGS_NAMES = ("default_compute", "default_datastore", "on_init", "on_finalize")


@dataclass
class PipelineStepSpec:
    """One step: an inline command job, or a component run with these inputs and outputs."""

    name: str
    job: CommandJobSpec | None = None
    component: str | dict[str, Any] | None = None  # azureml:name:version, a file (./train.yml), or inline
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    # "inputs.x" / "outputs.y" -> the ${{parent...}} expression it is bound to
    bindings: dict[str, str] = field(default_factory=dict)
    compute: str | None = None


@dataclass
class PipelineJobSpec:
    type: ClassVar[str] = "pipeline"
    source: str
    jobs: dict[str, PipelineStepSpec] = field(default_factory=dict)
    component: str | None = None  # a pipeline component, in place of jobs
    settings: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    experiment_name: str | None = None
    compute: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    unset_optional: set[str] = field(default_factory=set)


def _step(name: Any, raw: Any, source: str) -> PipelineStepSpec:
    if not isinstance(name, str) or not STEP_NAME_RE.fullmatch(name):
        raise _fail(source, "jobs", "step names are lower-case identifiers (a-z, 0-9 and '_', not starting with "
                    f"a digit), got {_short(name)}")
    where = f"jobs.{name}"
    _mapping(raw, source=source, field=where, like="{type: command, command: ..., environment: ...}")
    kind = raw.get("type", "command")
    if kind != "command":
        raise _fail(source, f"{where}.type", f"pipeline steps of type {_short(kind)} are not read here yet; "
                    "allowed: command")
    _check_fields(raw, STEP_FIELDS, source=source, prefix=f"{where}.")
    doc = dict(raw)
    component = doc.pop("component", None)
    doc.pop("comment", None)
    bindings: dict[str, str] = {}
    if isinstance(raw.get("inputs"), dict):
        for key, value in raw["inputs"].items():
            text = value.get("path") if isinstance(value, dict) else value
            if isinstance(text, str) and "${{" in text:
                bindings[f"inputs.{key}"] = text
    if isinstance(raw.get("outputs"), dict):
        # `out: ${{parent.outputs.x}}`: the step writes the pipeline's output; its shape is a plain output.
        bindings.update({f"outputs.{k}": v for k, v in raw["outputs"].items() if isinstance(v, str)})
        doc["outputs"] = {k: None if isinstance(v, str) else v for k, v in raw["outputs"].items()}
    with _nested(where):
        if component is None:
            job = parse_command_job(doc, source)
            return PipelineStepSpec(name, job=job, inputs=job.inputs, outputs=job.outputs, bindings=bindings,
                                    compute=job.compute)
        if not component or not isinstance(component, (str, dict)):
            raise _fail(source, "component", "expected azureml:NAME:VERSION, a component file (./train.yml) "
                        f"or an inline component, got {_type_name(component)}")
        if doc.get("command") is not None:
            raise _fail(source, "command", "a step runs its component's command: give command or component, "
                        "not both")
        job_header(doc, source)
        inputs, outputs, _ = parse_io(doc, source)
        return PipelineStepSpec(name, component=component, inputs=inputs, outputs=outputs, bindings=bindings,
                                compute=_opt_str(doc, "compute", source))


def _check_bindings(spec: PipelineJobSpec, source: str) -> None:
    """Each `${{parent...}}` names a declared pipeline input or output, or an output of another step."""
    inputs = set(spec.inputs) | spec.unset_optional
    for step in spec.jobs.values():
        for key, text in step.bindings.items():
            where = f"jobs.{step.name}.{key}"
            if key.startswith("outputs."):
                match = PARENT_RE.fullmatch(text.strip())
                if not match or match.group(1) != "outputs":
                    raise _fail(source, where, f"expected ${{{{parent.outputs.NAME}}}} or a mapping like "
                                f"{{type: uri_folder}}, got {_short(text)}")
                if match.group(2) not in spec.outputs:
                    raise _fail(source, where, f"{text.strip()} refers to an undeclared pipeline output "
                                f"{match.group(2)!r}; declared outputs: {', '.join(sorted(spec.outputs)) or 'none'}")
                continue
            for found in ANY_BINDING_RE.finditer(text):
                match = PARENT_RE.fullmatch(found.group(0))
                if not match or match.group(1) == "outputs":
                    raise _fail(source, where, f"{found.group(0)} is not an input binding; use "
                                "${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}")
                group, name, other, output = match.groups()
                if group == "inputs" and name not in inputs:
                    raise _fail(source, where, f"{found.group(0)} refers to an undeclared pipeline input {name!r}; "
                                f"declared inputs: {', '.join(sorted(inputs)) or 'none'}")
                if other is not None:
                    source_step = spec.jobs.get(other)
                    if source_step is None or other == step.name:
                        raise _fail(source, where, f"{found.group(0)} refers to {other!r}, which is not another "
                                    f"step of this pipeline; steps: {', '.join(spec.jobs)}")
                    # A component declares its own outputs; an inline step lists them here.
                    if source_step.job is not None and output not in source_step.outputs:
                        raise _fail(source, where, f"{found.group(0)}: step {other!r} has no output {output!r}; "
                                    f"its outputs: {', '.join(source_step.outputs) or 'none'}")


def parse_pipeline_job(document: Mapping[str, Any], source: str) -> PipelineJobSpec:
    _check_fields(document, PIPELINE_JOB_FIELDS, source=source)
    spec = PipelineJobSpec(source=source, **job_header(document, source))
    spec.inputs, spec.outputs, spec.unset_optional = parse_io(document, source)
    settings = document.get("settings")
    if settings is not None:
        # Azure passes settings it does not know on to the service; so do we.
        spec.settings = dict(_mapping(settings, source=source, field="settings", like="{default_compute: ...}"))
        for key in SETTINGS_FLAGS:
            if spec.settings.get(key) is not None and not isinstance(spec.settings[key], bool):
                raise _fail(source, f"settings.{key}", f"expected true or false, got {_type_name(spec.settings[key])}")
        for key in SETTINGS_NAMES:
            _opt_str(spec.settings, key, source, "settings.")
    jobs, component = document.get("jobs"), document.get("component")
    if (jobs is None) == (component is None):
        raise _fail(source, "jobs", "a pipeline needs jobs (its steps) or component (a pipeline component), "
                    "one of the two")
    if component is not None:
        if not isinstance(component, str) or not component:
            raise _fail(source, "component", f"expected azureml:NAME:VERSION or a pipeline component file, "
                        f"got {_type_name(component)}")
        spec.component = component
        return spec
    _mapping(jobs, source=source, field="jobs", like="{train: {command: ..., environment: ...}}")
    if not jobs:
        raise _fail(source, "jobs", "expected at least one step")
    spec.jobs = {name: _step(name, raw, source) for name, raw in jobs.items()}
    _check_bindings(spec, source)
    return spec
