"""The contract between a workspace backend and its users (the CLI and the TUI).

Everything here is plain data: frozen dataclasses with az ml (CLI v2) field names,
errors that carry an exit code, and the abstract `Workspace`. A backend implements
`Workspace`; the UI reads `Workspace.capabilities` instead of checking its type.

Nothing in this package imports Textual, Rich or a heavy SDK at module level.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

# Azure ML's job statuses, in lifecycle order.
JOB_STATUSES: tuple[str, ...] = (
    "NotStarted",
    "Queued",
    "Preparing",
    "Starting",
    "Running",
    "Finalizing",
    "CancelRequested",
    "Completed",
    "Failed",
    "Canceled",
)
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
ACTIVE_STATUSES = frozenset(JOB_STATUSES) - TERMINAL_STATUSES


class AssetKind(str, enum.Enum):
    """The six asset kinds of a workspace; the value is the plural noun used in the UI."""

    DATA = "data"
    COMPUTE = "compute"
    ENVIRONMENTS = "environments"
    JOBS = "jobs"
    MODELS = "models"
    ENDPOINTS = "endpoints"


# ---------------------------------------------------------------------------- errors


class WorkspaceError(Exception):
    """A failure the user can act on. `exit_code` is what the CLI exits with."""

    exit_code = 1


class InvalidSpecError(WorkspaceError):
    """Bad input: a YAML file, a field, a flag. Nothing was written.

    str() reads `source: field: message`, e.g. `job.yml: inputs.epochs: expected an integer`.
    """

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.message = message
        super().__init__(": ".join(p for p in (source, field, message) if p))


class NotFoundError(WorkspaceError):
    """An asset that does not exist (a job name, a data version, a compute)."""

    exit_code = 2


class NotSupportedError(WorkspaceError):
    """The backend lacks a capability (see `Capabilities`)."""

    exit_code = 2


class ReadOnlyError(WorkspaceError):
    """A mutating call on a workspace opened read-only."""

    exit_code = 2


class BackendUnavailableError(WorkspaceError):
    """The backend cannot be reached (network, credentials, a locked store)."""

    exit_code = 1


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Asset:
    """One asset of any kind. `fields` is the az ml JSON shape (`az ml data show -o json`)."""

    kind: AssetKind
    name: str
    version: str | None
    fields: Mapping[str, Any]

    @property
    def key(self) -> str:
        """A stable row key: `name` or `name:version`."""
        return f"{self.name}:{self.version}" if self.version else self.name

    def get(self, dotted: str, default: Any = None) -> Any:
        """Read a nested field: `asset.get("creation_context.created_at")`."""
        value: Any = self.fields
        for part in dotted.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True)
class Job(Asset):
    """A job with the fields the UI needs typed; `fields` is the full `az ml job show` shape.

    Times are POSIX seconds (floats), None until they happen.
    """

    status: str = "NotStarted"
    display_name: str | None = None
    experiment_name: str = "Default"
    compute: str | None = None
    type: str = "command"
    created_at: float = 0.0
    start_time: float | None = None
    end_time: float | None = None
    parent_job_name: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def duration(self, now: float | None = None) -> float | None:
        if self.start_time is None:
            return None
        end = self.end_time if self.end_time is not None else (now or time.time())
        return max(0.0, end - self.start_time)


@dataclass(frozen=True)
class Page:
    """One page of a listing. Pass `next_token` back as `page_token` for the next page."""

    items: Sequence[Asset]
    next_token: str | None = None


@dataclass(frozen=True)
class LogFile:
    """A log file of a job: `name` is its path relative to the job (`user_logs/std_log.txt`).

    `role` says what it holds: "user" (what the command printed; `rank` is the process of a
    distributed job, None for a single process), "build" (the environment build, the job's
    Preparing log) or "system" (the rest: lifecycle, runner).
    Readers choose by role, never by file name: each backend names its files its own way.
    """

    name: str
    size: int | None = None  # None where the backend cannot tell without reading it
    role: str = "user"
    rank: int | None = None

    @property
    def is_user(self) -> bool:
        return self.role == "user"


def primary_log(files: Sequence[LogFile]) -> LogFile | None:
    """The log a user means by "the job's log": the user log of a single process, else rank 0,
    else the lowest rank."""
    users = [f for f in files if f.is_user]
    if not users:
        return None
    return min(users, key=lambda f: -1 if f.rank is None else f.rank)


def build_log(files: Sequence[LogFile]) -> LogFile | None:
    """The Preparing log (the environment build), if the backend has one."""
    return next((f for f in files if f.role == "build"), None)


def split_utf8(data: bytes) -> tuple[bytes, bytes]:
    """(complete, incomplete tail): never end inside a multi-byte character. Backends cut a
    chunk with this, so a character split across two reads is decoded whole from the next."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue
        if byte & 0x80:
            need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
            if back < need:
                return data[:-back], data[-back:]
        break
    return data, b""


@dataclass(frozen=True)
class LogChunk:
    """Bytes `offset`..`next_offset` of a log file, decoded as UTF-8.

    A chunk never ends inside a multi-byte character (the rest may still be written), unless
    it is `final`: the job has ended and the read reached the end of the file, so an
    incomplete character at the end never will be completed and is decoded as U+FFFD.
    `next_offset` is where to read next.

    `times` says when the chunk's bytes were written, as marks `(end, time)`: every byte
    before offset `end` had been written by `time` (POSIX seconds). A line's write time is
    the time of the first mark at or after its end (the offset just past its newline). The
    marks are in offset order (a mark out of order is still true), and they cover the
    chunk: the last is at or after `next_offset`; an empty chunk has none. `times` is None
    where the backend knows no write times (Azure logs): a reader then shows when it read
    each line, and says so.
    """

    name: str
    offset: int
    next_offset: int
    text: str
    final: bool = False
    times: tuple[tuple[int, float], ...] | None = None


@dataclass(frozen=True)
class MetricPoint:
    step: int
    value: float
    timestamp: float


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the UI hides or disables what is False."""

    submit: bool = True
    cancel: bool = True
    sweeps: bool = False
    models: bool = False
    endpoints: bool = False
    metrics: bool = True
    create_assets: bool = True


@dataclass(frozen=True)
class WorkspaceInfo:
    """What the header shows: `kind` is "local" or "azure"; `location` the path or ARM scope."""

    kind: str
    name: str
    location: str
    details: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------- contract


class Workspace(ABC):
    """An Azure ML workspace, local or remote.

    All methods block (disk, database, network): call them from a worker thread in a UI.
    Implementations are thread-safe: a UI calls them from several workers at once.
    Mutating methods raise `ReadOnlyError` when the workspace was opened read-only.
    """

    capabilities: Capabilities = Capabilities()
    read_only: bool = False

    @abstractmethod
    def info(self) -> WorkspaceInfo:
        """Name and location of the workspace, for headers."""

    @abstractmethod
    def counts(self) -> dict[AssetKind, int]:
        """Number of assets of each kind (latest versions; top-level jobs)."""

    @abstractmethod
    def list_assets(
        self,
        kind: AssetKind,
        *,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page:
        """List assets of a kind, newest first. Jobs: only top-level jobs (see `list_jobs`)."""

    @abstractmethod
    def get_asset(self, kind: AssetKind, name: str, version: str | None = None) -> Asset:
        """One asset; `version=None` means the latest. Raises NotFoundError."""

    @abstractmethod
    def list_versions(self, kind: AssetKind, name: str) -> list[Asset]:
        """Every version of a versioned asset (data, environments, models), newest first."""

    @abstractmethod
    def list_jobs(
        self,
        *,
        status: str | None = None,
        experiment_name: str | None = None,
        parent_job_name: str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page:
        """Jobs, newest first. Without `parent_job_name`, child jobs (sweep trials) are left out."""

    @abstractmethod
    def get_job(self, name: str) -> Job:
        """One job, its status current. Raises NotFoundError."""

    @abstractmethod
    def validate_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> dict[str, Any]:
        """Validate and resolve a job YAML document without writing anything.

        Returns the resolved job as `az ml job show` would show it. Raises InvalidSpecError
        naming `source` and the field.
        """

    @abstractmethod
    def create_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Job:
        """Validate, snapshot the code, record and schedule a job. Raises InvalidSpecError."""

    @abstractmethod
    def cancel_job(self, name: str) -> Job:
        """Request cancellation; returns the job (CancelRequested or already terminal)."""

    @abstractmethod
    def log_files(self, name: str) -> list[LogFile]:
        """The job's log files, system logs first, then user logs by rank."""

    @abstractmethod
    def read_log(self, name: str, file: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        """Read a log file from a byte offset; returns an empty chunk at the end (`final`
        once the job has ended). The chunk says when its lines were written where the
        backend knows (`LogChunk.times`)."""

    @abstractmethod
    def job_metrics(self, name: str) -> dict[str, list[MetricPoint]]:
        """Metric history of the job's MLflow run, by metric key, in step order."""

    @abstractmethod
    def download_job(
        self, name: str, download_path: Path, *, output_name: str | None = None, all: bool = False
    ) -> Path:
        """Copy a job's outputs and logs (or one named output) under `download_path`."""

    @abstractmethod
    def create_data(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        """Register a data asset version (copied, immutable). Raises InvalidSpecError."""

    @abstractmethod
    def create_environment(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        """Register an environment version. Raises InvalidSpecError."""

    @abstractmethod
    def create_compute(self, document: Mapping[str, Any], *, source: str) -> Asset:
        """Create or update a compute target. Raises InvalidSpecError."""

    def close(self) -> None:
        """Release connections. Default: nothing to release."""
