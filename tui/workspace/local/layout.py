"""A local job's folder: the one place that names its files (jobs/<name>/...).

The runner writes them, the workspace reads them, and the app and the CLI see only
`LogFile`s with their roles (base.py), never these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..base import LogFile

USER_LOGS = "user_logs"
SYSTEM_LOGS = "system_logs"
LOG_FOLDERS = (USER_LOGS, SYSTEM_LOGS)
BUILD_LOG = f"{SYSTEM_LOGS}/environment_build.txt"  # the Preparing log
LIFECYCLE_LOG = f"{SYSTEM_LOGS}/lifecycle.txt"
RUNNER_LOG = f"{SYSTEM_LOGS}/runner.txt"
# When each log's bytes were written (logtimes.py): log_times/<log name>, apart from the logs
# so that listing and downloading the logs never meet them.
LOG_TIMES = "log_times"
_RANK_RE = re.compile(r"^std_log_process_(\d+)\.txt$")


def std_log_name(rank: int, count: int) -> str:
    """Azure's user log names: `std_log.txt`, or one `std_log_process_{rank}.txt` per rank."""
    return "std_log.txt" if count == 1 else f"std_log_process_{rank}.txt"


def log_file(name: str, size: int) -> LogFile:
    """A log of a job, with its role read from its name."""
    folder, _, base = name.partition("/")
    if folder != USER_LOGS:
        return LogFile(name, size, role="build" if name == BUILD_LOG else "system")
    match = _RANK_RE.match(base)
    return LogFile(name, size, role="user", rank=int(match.group(1)) if match else None)


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class JobLayout:
    """The folder of one job."""

    dir: Path

    @classmethod
    def of(cls, root: Path, name: str) -> "JobLayout":
        return cls(root / "jobs" / name)

    # What create_job makes, and the runner fills.
    @property
    def run_json(self) -> Path:
        return self.dir / "run.json"

    @property
    def job_yml(self) -> Path:
        return self.dir / "job.yml"

    @property
    def status_json(self) -> Path:
        return self.dir / "status.json"

    @property
    def snapshot(self) -> Path:
        return self.dir / "snapshot"

    @property
    def outputs(self) -> Path:
        """`./outputs` of the job (Azure uploads it as the default output)."""
        return self.dir / "outputs"

    @property
    def named_outputs(self) -> Path:
        return self.dir / "named-outputs"

    @property
    def user_logs(self) -> Path:
        return self.dir / USER_LOGS

    @property
    def system_logs(self) -> Path:
        return self.dir / SYSTEM_LOGS

    FOLDERS = (USER_LOGS, SYSTEM_LOGS, "outputs", "named-outputs",
               LOG_TIMES, *(f"{LOG_TIMES}/{folder}" for folder in LOG_FOLDERS))

    def log(self, name: str) -> Path:
        """The path of a log named relative to the job (`system_logs/lifecycle.txt`)."""
        return self.dir / name

    @property
    def log_times_dir(self) -> Path:
        """Exists for jobs whose log write times are recorded (older jobs have none)."""
        return self.dir / LOG_TIMES

    def log_times(self, name: str) -> Path:
        """The write-time marks of the log `name` (logtimes.py reads and writes them)."""
        return self.dir / LOG_TIMES / name

    def std_log(self, rank: int, count: int) -> Path:
        return self.user_logs / std_log_name(rank, count)

    def user_log_paths(self) -> list[Path]:
        return sorted(self.user_logs.glob("std_log*.txt"), key=lambda p: _natural_key(p.name))

    def log_files(self) -> list[LogFile]:
        """User logs (by rank), then system logs, as they exist now."""
        found = []
        for folder in LOG_FOLDERS:
            path = self.dir / folder
            if path.is_dir():
                for p in sorted(path.iterdir(), key=lambda p: _natural_key(p.name)):
                    if p.is_file():
                        found.append(log_file(f"{folder}/{p.name}", p.stat().st_size))
        return found

    def resolve_log(self, name: str) -> Path | None:
        """The path of a log file named by a reader, or None if that is no log of this job."""
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] not in ((USER_LOGS,), (SYSTEM_LOGS,)):
            return None
        return self.dir / rel
