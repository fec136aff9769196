"""SDK entities and REST JSON -> the az ml JSON shape our records carry.

The SDK's enums are str-Enums that `_to_dict()` dumps as `'JobStatus.RUNNING'`; statuses come
in whatever case a service sends. Everything leaving this backend goes through `scrub`, so
SAS signatures, account keys, passwords and tokens never reach a record.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..base import TERMINAL_STATUSES
from ..redact import MASK, mask_env, redact

# Azure ML's job statuses (run history and ARM), in lifecycle order.
AZURE_JOB_STATUSES: tuple[str, ...] = (
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
    "CancelRequested", "NotResponding", "Paused", "Completed", "Failed", "Canceled", "Unknown",
)
# The SDK counts NotResponding and Paused as terminal; they are not: a paused job resumes and a
# job that stopped responding may come back, so both keep being refreshed.
ACTIVE_JOB_STATUSES = frozenset(AZURE_JOB_STATUSES) - TERMINAL_STATUSES
_STATUS_BY_KEY = {s.lower(): s for s in AZURE_JOB_STATUSES} | {"cancelled": "Canceled"}

# Keys whose string values are secrets wherever they appear.
_SECRET_KEY_RE = re.compile(
    r"(?i)(password|passwd|secret|token|connection_?string|account_?key|sas|credential|private_?key"
    r"|^key$|^keys$|(^|_)(primary|secondary)_?key$|access_?key)")
_ENV_KEYS = frozenset({"environment_variables", "environmentVariables"})
_ENUM_TEXT_RE = re.compile(r"^([A-Z][A-Za-z0-9]*)\.([A-Z][A-Z0-9_]*)$")


def enum_value(value: Any) -> Any:
    """A str-Enum member -> its value; anything else unchanged."""
    return value.value if isinstance(value, enum.Enum) else value


def status(value: Any) -> str:
    """Any status an SDK or service gives (enum, 'JobStatus.RUNNING', 'running') -> Azure's name."""
    value = enum_value(value)
    if value is None or value == "":
        return "Unknown"
    text = str(value)
    m = _ENUM_TEXT_RE.match(text)
    if m:
        text = m.group(2).replace("_", "")
    return _STATUS_BY_KEY.get(text.replace("_", "").lower(), text)


def _camel(member: str) -> str:
    return "".join(part.capitalize() for part in member.split("_"))


def collect_enums(obj: Any, found: dict[str, Any] | None = None, depth: int = 0,
                  seen: set[int] | None = None) -> dict[str, Any]:
    """`str(member) -> member.value` for every enum reachable from an SDK entity: `_to_dict()`
    writes members as `str(member)`, and this turns them back exactly."""
    found = {} if found is None else found
    seen = set() if seen is None else seen
    if depth > 6 or id(obj) in seen:
        return found
    if isinstance(obj, enum.Enum):
        found[str(obj)] = obj.value
        return found
    if isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return found
    seen.add(id(obj))
    if isinstance(obj, Mapping):
        children: Iterable[Any] = obj.values()
    elif isinstance(obj, (list, tuple, set)):
        children = obj
    elif hasattr(obj, "__dict__"):
        children = vars(obj).values()
    else:
        return found
    for child in children:
        collect_enums(child, found, depth + 1, seen)
    return found


def plain(value: Any, enums: Mapping[str, Any] | None = None) -> Any:
    """JSON-ready copy of a `_to_dict()` result: enum text -> value, datetimes -> ISO strings."""
    if isinstance(value, Mapping):
        return {str(k): plain(v, enums) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, enums) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        if enums and value in enums:
            return enums[value]
        m = _ENUM_TEXT_RE.match(value)
        if m and m.group(1).endswith(("Status", "State", "Type", "Mode", "Tier", "Priority")):
            return _camel(m.group(2))
    return value


def scrub(value: Any, key: str = "") -> Any:
    """Copy with secrets masked: values under secret-named keys, sig=/AccountKey=/Bearer in text."""
    if isinstance(value, str):  # the common case first: a page of rows is mostly strings
        if value and key and _SECRET_KEY_RE.search(key) and value != MASK:
            return MASK
        return redact(value)
    if isinstance(value, (dict, Mapping)):
        if key in _ENV_KEYS:
            value = mask_env({str(k): v for k, v in value.items()})
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, key) for v in value]
    return value


def entity_dict(entity: Any) -> dict[str, Any]:
    """An SDK entity as `az ml ... show -o json` prints it, enums as their values, secrets masked."""
    try:
        raw = entity._to_dict()
    except Exception:  # a partial entity the schema cannot dump: fall back to its public fields
        raw = {k: v for k, v in vars(entity).items() if not k.startswith("_") and v is not None}
    return scrub(plain(raw, collect_enums(entity)))


def parse_time(value: Any) -> float | None:
    """ISO 8601 (any of the services' spellings) or a datetime -> POSIX seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        # Run history sends 7 fractional digits; fromisoformat takes at most 6.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def arm_name(resource_id: str | None) -> str | None:
    """`/subscriptions/.../computes/cpu` or `azureml:cpu` -> `cpu`; environments keep `name:version`."""
    if not resource_id:
        return None
    rid = resource_id.removeprefix("azureml:")
    m = re.search(r"/(?:environments|data|models|codes|components)/([^/]+)/versions/([^/]+)$", rid)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    return rid.rstrip("/").rsplit("/", 1)[-1]


_JOB_TYPES = {"command": "command", "sweep": "sweep", "pipeline": "pipeline", "automl": "automl",
              "spark": "spark", "finetuning": "finetuning", "base": "command"}


def job_type(value: Any) -> str:
    text = str(enum_value(value) or "command")
    return _JOB_TYPES.get(text.lower().replace("_", ""), text.lower())


def _io(values: Mapping[str, Any] | None, output: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, v in (values or {}).items():
        if not isinstance(v, Mapping):
            continue
        kind = v.get("jobOutputType" if output else "jobInputType")
        if kind == "literal":
            out[name] = v.get("value")
        else:
            entry = {"type": kind}
            if v.get("uri"):
                entry["path"] = v["uri"]
            if v.get("mode"):
                entry["mode"] = v["mode"]
            out[name] = entry
    return out


def arm_job_fields(wire: Mapping[str, Any]) -> dict[str, Any]:
    """An ARM job resource (wire JSON) -> the az ml job shape, for list rows.

    Cheap on purpose: the SDK's own conversion and `_to_dict()` cost 20-40 ms a job, which a
    page of rows cannot pay. `get_job` gives the full shape through the SDK.
    """
    props = wire.get("properties") or {}
    system = wire.get("systemData") or {}
    kind = job_type(props.get("jobType"))
    fields: dict[str, Any] = {
        "name": wire.get("name"),
        "type": kind,
        "display_name": props.get("displayName") or wire.get("name"),
        "status": status(props.get("status")),
        "experiment_name": props.get("experimentName") or "Default",
        "description": props.get("description"),
        "compute": f"azureml:{arm_name(props['computeId'])}" if props.get("computeId") else None,
        "tags": props.get("tags") or {},
        "properties": props.get("properties") or {},
        "creation_context": {
            "created_at": system.get("createdAt"),
            "created_by": system.get("createdBy"),
            "created_by_type": system.get("createdByType"),
        },
        "id": f"azureml:{wire['id']}" if wire.get("id") else None,
    }
    trial = props.get("trial") if kind == "sweep" else props
    if trial and trial.get("command"):
        fields["command"] = trial["command"]
    if trial and trial.get("environmentId"):
        fields["environment"] = f"azureml:{arm_name(trial['environmentId'])}"
    if props.get("inputs"):
        fields["inputs"] = _io(props["inputs"], output=False)
    if props.get("outputs"):
        fields["outputs"] = _io(props["outputs"], output=True)
    if props.get("environmentVariables"):
        fields["environment_variables"] = props["environmentVariables"]
    services = props.get("services") or {}
    if isinstance(services.get("Studio"), Mapping) and services["Studio"].get("endpoint"):
        fields["services"] = {"Studio": {"endpoint": services["Studio"]["endpoint"]}}
    if kind == "sweep":
        for src, dst in (("objective", "objective"), ("limits", "limits")):
            if props.get(src):
                fields[dst] = {snake(k): v for k, v in props[src].items() if k != "jobLimitsType"}
    return {k: v for k, v in fields.items() if v is not None}


def run_fields(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run-history run (a sweep trial) -> the az ml job shape. Its `token` is never copied."""
    created_by = run.get("createdBy") or {}
    fields = {
        "name": run.get("runId"),
        "type": "command",
        "display_name": run.get("displayName") or run.get("runId"),
        "status": status(run.get("status")),
        "experiment_name": run.get("experimentName") or run.get("experimentId"),
        "description": run.get("description"),
        "compute": f"azureml:{run['target']}" if run.get("target") else None,
        "parent_job_name": run.get("parentRunId"),
        "tags": run.get("tags") or {},
        "properties": run.get("properties") or {},
        "creation_context": {"created_at": run.get("createdUtc"),
                             "created_by": created_by.get("userName") if isinstance(created_by, Mapping) else None},
    }
    return {k: v for k, v in fields.items() if v is not None}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
