"""Names, numbers and the small checks every document shares; every error names the file,
the field and what is allowed."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from ..base import InvalidSpecError

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
# A backend's rule: gets a parsed spec and its source, raises InvalidSpecError for what the
# backend cannot do (see BackendRules).
Rule = Callable[[Any, str], None]
# Integers end up in SQLite (64-bit) and in loops of the runner; nothing sane is larger.
MAX_INT = 2**31 - 1


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


def _mapping(value: Any, *, source: str, field: str, like: str = "") -> dict:
    """`value` when it is a mapping; else an error naming the field (and an example, `like`)."""
    if not isinstance(value, dict):
        example = f" like {like}" if like else ""
        raise _fail(source, field, f"expected a mapping{example}, got {_type_name(value)}")
    return value


@contextmanager
def _nested(prefix: str) -> Iterator[None]:
    """Errors from a document inside another (a sweep's trial, a pipeline step) name the field
    from the top of the file: `trial.command`, `jobs.train.inputs.x`."""
    try:
        yield
    except InvalidSpecError as exc:
        field = f"{prefix}.{exc.field}" if exc.field else prefix
        raise InvalidSpecError(exc.message, source=exc.source, field=field) from None


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
