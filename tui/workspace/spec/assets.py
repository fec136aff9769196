"""Data, environment and compute documents, and conda files, with az ml's names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .names import Rule, _check_fields, _fail, _int, _mapping, _opt_str, _short, _str_map, _type_name, check_name

DATA_FIELDS = ("$schema", "name", "version", "type", "path", "description", "tags", "properties")
DATA_ASSET_TYPES = ("uri_file", "uri_folder", "mltable")
ENVIRONMENT_FIELDS = (
    "$schema", "name", "version", "image", "conda_file", "build", "description", "tags",
    "properties", "os_type", "inference_config",
)
COMPUTE_FIELDS = ("$schema", "name", "type", "description", "tags", "location", "resource_id", "identity")
# Each compute type az ml creates or attaches, with the fields of its own; `local` is ours (it
# also takes amlcompute's sizes, so such a YAML can be turned local with --set type=local).
COMPUTE_TYPES = {
    "local": ("max_concurrency", "size", "min_instances", "max_instances", "idle_time_before_scale_down"),
    "amlcompute": ("size", "tier", "min_instances", "max_instances", "idle_time_before_scale_down",
                   "ssh_public_access_enabled", "ssh_settings", "network_settings", "enable_node_public_ip"),
    "computeinstance": ("size", "network_settings", "create_on_behalf_of", "ssh_settings",
                        "ssh_public_access_enabled", "schedules", "idle_time_before_shutdown",
                        "idle_time_before_shutdown_minutes", "custom_applications", "setup_scripts",
                        "enable_node_public_ip", "enable_sso", "enable_root_access", "release_quota_on_stop",
                        "enable_os_patching"),
    "kubernetes": ("namespace", "properties"),
    "virtualmachine": ("ssh_settings",),
    "synapsespark": ("scale_settings", "auto_pause_settings"),
}
# Attached computes exist already; the YAML names them by their Azure resource id.
ATTACHED_COMPUTE_TYPES = ("kubernetes", "virtualmachine", "synapsespark")
SSH_SETTINGS = ("admin_username", "admin_password", "ssh_key_value", "ssh_port", "ssh_private_key_file")
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


def parse_data(document: Mapping[str, Any], source: str, *, rules: Rule | None = None) -> DataSpec:
    """A data asset; `rules` are the backend's (what it cannot register), applied once the shape is right."""
    _check_fields(document, DATA_FIELDS, source=source)
    name = check_name(document.get("name"), source=source, field="name")
    version = _opt_str(document, "version", source)
    if version is not None:
        check_name(version, source=source, field="version")
    kind = document.get("type", "uri_folder")
    if kind not in DATA_ASSET_TYPES:
        raise _fail(source, "type", f"unknown data type {_short(kind)}; allowed: {', '.join(DATA_ASSET_TYPES)}")
    path = document.get("path")
    if not isinstance(path, str) or not path:
        raise _fail(source, "path", "required: the file or folder to register (a local path or a URI)")
    spec = DataSpec(name, version, kind, path, _opt_str(document, "description", source),
                    _str_map(document, "tags", source))
    if rules:
        rules(spec, source)
    return spec


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
    max_concurrency: int | None  # a local compute's capacity; None for Azure's types
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the fields of its type: size, min_instances...


def _compute_settings(document: Mapping[str, Any], kind: str, source: str) -> dict[str, Any]:
    """The type's own fields, shape-checked. Values are never quoted in messages: ssh_settings
    holds passwords and keys."""
    settings = {k: document[k] for k in COMPUTE_TYPES[kind] if k != "max_concurrency" and document.get(k) is not None}
    for key in ("min_instances", "max_instances", "idle_time_before_scale_down", "idle_time_before_shutdown_minutes"):
        if key in settings:
            settings[key] = _int(settings[key], source=source, field=key, minimum=0)
    low, high = settings.get("min_instances"), settings.get("max_instances")
    if low is not None and high is not None and low > high:
        raise _fail(source, "min_instances", f"expected at most max_instances ({high}), got {low}")
    if settings.get("tier") not in (None, "dedicated", "low_priority"):
        raise _fail(source, "tier", f"expected dedicated or low_priority, got {_short(settings['tier'])}")
    for key in ("size", "namespace", "idle_time_before_shutdown"):
        if key in settings and not isinstance(settings[key], str):
            raise _fail(source, key, f"expected a string, got {_type_name(settings[key])}")
    for key in ("ssh_public_access_enabled", "enable_node_public_ip", "enable_sso", "enable_root_access",
                "release_quota_on_stop", "enable_os_patching"):
        if key in settings and not isinstance(settings[key], bool):
            raise _fail(source, key, f"expected true or false, got {_type_name(settings[key])}")
    for key in ("ssh_settings", "network_settings", "create_on_behalf_of", "schedules", "setup_scripts",
                "properties", "scale_settings", "auto_pause_settings"):
        if key in settings:
            _mapping(settings[key], source=source, field=key)
    if "ssh_settings" in settings:
        _check_fields(settings["ssh_settings"], SSH_SETTINGS, source=source, prefix="ssh_settings.")
    if "network_settings" in settings:
        _check_fields(settings["network_settings"], ("vnet_name", "subnet"), source=source, prefix="network_settings.")
    return settings


def parse_compute(document: Mapping[str, Any], source: str, *, default_concurrency: int,
                  rules: Rule | None = None) -> ComputeSpec:
    """A compute of any az ml type (or `local`); `rules` are the backend's, applied once the shape is right."""
    kind = document.get("type", "local")
    if not isinstance(kind, str) or kind not in COMPUTE_TYPES:
        raise _fail(source, "type", f"unknown compute type {_short(kind)}; allowed: {', '.join(COMPUTE_TYPES)}")
    _check_fields(document, COMPUTE_FIELDS + COMPUTE_TYPES[kind], source=source)
    name = check_name(document.get("name"), source=source, field="name")
    resource_id = _opt_str(document, "resource_id", source)
    if kind in ATTACHED_COMPUTE_TYPES and not resource_id:
        raise _fail(source, "resource_id", f"required: a {kind} compute is attached by its Azure resource id")
    conc = None
    if kind == "local":
        conc = document.get("max_concurrency", default_concurrency)
        conc = _int(conc, source=source, field="max_concurrency", minimum=1, maximum=MAX_CONCURRENCY)
    settings = _compute_settings(document, kind, source)
    for key in ("location", "resource_id"):
        if document.get(key) is not None:
            settings[key] = _opt_str(document, key, source)
    spec = ComputeSpec(name, kind, conc, _opt_str(document, "description", source), _str_map(document, "tags", source),
                       settings)
    if rules:
        rules(spec, source)
    return spec
