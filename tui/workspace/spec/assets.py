"""Data, environment and compute documents, and conda files, with az ml's names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .names import _check_fields, _fail, _int, _opt_str, _short, _str_map, _type_name, check_name

DATA_FIELDS = ("$schema", "name", "version", "type", "path", "description", "tags", "properties")
ENVIRONMENT_FIELDS = (
    "$schema", "name", "version", "image", "conda_file", "build", "description", "tags",
    "properties", "os_type", "inference_config",
)
COMPUTE_FIELDS = ("$schema", "name", "type", "description", "max_concurrency", "tags", "size",
                  "min_instances", "max_instances", "idle_time_before_scale_down", "location")
# Local compute capacity (jobs at once): far beyond any machine's cores, yet it keeps a typo
# from meaning "no limit".
MAX_CONCURRENCY = 1024


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
