"""What the local workspace cannot run or register, refused once a document has az ml's shape.

`spec` accepts every job, input, data and compute type az ml does; an Azure backend runs them.
This machine runs command jobs (and sweeps of them) on local files, so the rest is refused
here, before anything is written, with exit code 2, naming the field and why. What needs the catalog (does that compute
or data asset exist?) is the workspace's to check, and so, for now, are the distribution type,
the number of processes and registered code assets.
"""

from __future__ import annotations

import re

from ..base import InvalidSpecError
from ..redact import redact
from ..spec import BackendRules, CommandJobSpec, ComputeSpec, DataSpec, JobSpec, SweepJobSpec

LOCAL_DATA_TYPES = ("uri_file", "uri_folder")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# The job types az ml accepts that this machine does not run, and why.
_NOT_RUN = {
    "pipeline": "pipeline jobs are not run by the local workspace yet; submit each step as a command job",
    "spark": "Spark jobs run on Azure's serverless Spark compute or an attached Synapse pool, which a local "
             "workspace does not have",
}


def check_job(spec: JobSpec, source: str) -> None:
    resources = "resources"
    if isinstance(spec, SweepJobSpec):  # its trials are command jobs: the same rules, on the trial
        spec, resources = spec.trial, "trial.resources"
    if not isinstance(spec, CommandJobSpec):
        why = _NOT_RUN.get(spec.type, f"{spec.type} jobs are not run by the local workspace")
        raise InvalidSpecError(why, source=source, field="type")
    count = (spec.resources or {}).get("instance_count") or 1
    if count > 1:
        raise InvalidSpecError(f"a multi-node job ({count} instances) needs an Azure compute cluster; a local "
                               "compute has one instance, this machine: use instance_count: 1 "
                               "(distribution.process_count_per_instance sets the processes)",
                               source=source, field=f"{resources}.instance_count")
    for name, inp in spec.inputs.items():
        if inp.is_data:
            _check_input(name, inp.type, inp.path or "", source)


def _check_input(name: str, kind: str, path: str, source: str) -> None:
    if kind not in LOCAL_DATA_TYPES:
        raise InvalidSpecError(f"{kind} inputs are not read by the local workspace yet; it reads uri_file and "
                               "uri_folder inputs and literal values", source=source, field=f"inputs.{name}.type")
    field = f"inputs.{name}.path"
    if path.startswith("azureml://"):
        raise InvalidSpecError("datastore URIs are not available locally; register the data "
                               "(aml-tui data create) and use azureml:name@latest", source=source, field=field)
    if "://" in path and not path.startswith("file://"):
        raise InvalidSpecError(f"cannot read {redact(path)!r} locally; use a local path or a registered data asset",
                               source=source, field=field)


def check_data(spec: DataSpec, source: str) -> None:
    if spec.type not in LOCAL_DATA_TYPES:
        raise InvalidSpecError(f"expected uri_file or uri_folder for a local data asset, got {spec.type!r}",
                               source=source, field="type")
    scheme = _SCHEME_RE.match(spec.path)
    if scheme and scheme.group(1).lower() != "file":
        raise InvalidSpecError(
            f"{redact(spec.path)} is a cloud location; the local workspace registers local files and "
            "folders only (download it, then give its local path)", source=source, field="path")


def check_compute(spec: ComputeSpec, source: str) -> None:
    if spec.type != "local":
        raise InvalidSpecError(f"the local workspace creates computes of type 'local' only, got {spec.type!r} "
                               "(a compute type of Azure ML)", source=source, field="type")


LOCAL_RULES = BackendRules(job=check_job, data=check_data, compute=check_compute)
