"""When each log line was written: the runner marks its job's logs as they grow, and a
reader of the log gets the same write time for a line however and whenever it reads it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import tui.widgets.log_tail as log_tail
from tui.widgets.log_tail import LogTail
from tui.workspace.local.layout import JobLayout

STD_LOG = "user_logs/std_log.txt"
# Each line is the time the job printed it; lines 0.4 s apart.
CLOCK = "for i in 1 2 3 4 5; do date +%s.%N; sleep 0.4; done"


pytestmark = pytest.mark.local_only("the local runner's write-time marks in log files")


def submit(ws, command: str, base: Path):
    return ws.create_job({"command": command}, base_dir=base, source="job.yml")


def read_all(ws, name: str, file: str = STD_LOG) -> tuple[list[str], list[float], bool]:
    lines: list[str] = []
    stamps: list[float] = []
    tail = LogTail(ws, name, file)
    while tail.read(lines, stamps):
        pass
    return lines, stamps, tail.written


def test_each_line_gets_the_time_it_was_written_and_keeps_it(ws, tmp_path, monkeypatch):
    job = submit(ws, CLOCK, tmp_path)
    # Read while the job runs, as the app's log view does.
    live: dict[str, float] = {}
    tail = LogTail(ws, job.name, STD_LOG)
    while not ws.get_job(job.name).is_terminal:
        lines, stamps = [], []
        tail.read(lines, stamps)
        live.update(zip(lines, stamps))
        time.sleep(0.05)
    assert ws.get_job(job.name).status == "Completed"
    lines, stamps, written = read_all(ws, job.name)
    assert written and len(lines) == 5
    for line, stamp in zip(lines, stamps):
        # The write time, not the read time: within the marks' 100 ms (and the clock of the
        # file system's modification times, a few ms coarser than the job's).
        assert -0.02 <= stamp - float(line) <= 0.2, (line, stamp)
    # Reopened later, and read in pieces that cut lines and marks apart: the same times.
    time.sleep(0.3)
    monkeypatch.setattr(log_tail, "READ_BYTES", 7)
    assert read_all(ws, job.name)[:2] == (lines, stamps)
    for line in live:  # and those the live read gave (the last may be read after the end)
        assert live[line] == stamps[lines.index(line)]


def test_a_flood_of_lines_is_marked_cheaply_and_every_line_is_covered(ws, tmp_path):
    job = submit(ws, "seq 1 200000", tmp_path)
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    marks = JobLayout.of(ws.root, job.name).log_times(STD_LOG).stat().st_size // 16
    lines, stamps, written = read_all(ws, job.name)
    assert len(lines) == len(stamps) == 200000 and written
    assert stamps == sorted(stamps)
    done = ws.get_job(job.name)
    assert job.created_at <= stamps[0] and stamps[-1] <= done.end_time + 0.05
    assert marks <= (done.end_time - done.start_time) / 0.1 + 3  # about one a tick, not one a line


def test_system_logs_are_marked_too_and_the_marks_are_no_logs(ws, tmp_path):
    job = submit(ws, "echo hi", tmp_path)
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    files = ws.log_files(job.name)
    assert {f.name for f in files} >= {STD_LOG, "system_logs/lifecycle.txt"}
    assert all(f.name.endswith(".txt") for f in files)
    lines, stamps, written = read_all(ws, job.name, "system_logs/lifecycle.txt")
    assert written and lines[0].endswith("status NotStarted") and lines[-1].endswith("status Completed")
    # A lifecycle line says its own time: the mark agrees with it.
    from datetime import datetime

    for line, stamp in zip(lines, stamps):
        said = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
        assert -0.02 <= stamp - said <= 0.5, line
    out = ws.download_job(job.name, tmp_path / "dl")
    assert not list(out.rglob("log_times")) and not list(out.rglob("*.times"))


def test_a_job_without_recorded_times_says_its_times_are_times_seen(ws, tmp_path):
    job = submit(ws, "echo old", tmp_path)
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    # A job created before write times were recorded.
    shutil.rmtree(JobLayout.of(ws.root, job.name).log_times_dir)
    assert ws.read_log(job.name, STD_LOG).times is None
    before = time.time()
    lines, stamps, written = read_all(ws, job.name)
    assert lines == ["old"] and not written and stamps[0] >= before


@pytest.mark.parametrize("first_line", [b"\xc3\xa9" * 9, b"\xff\xfe\xfd"])
def test_a_chunk_is_read_at_its_marks_in_bytes_not_characters(ws, tmp_path, first_line):
    """A first line of multi-byte characters (or of bytes that are no UTF-8), printed 0.5 s
    before the next two: a mark's byte offset is not a character offset."""
    out = tmp_path / "out.bin"
    out.write_bytes(first_line + b"\na\nb\n")
    first = len(first_line) + 1
    job = submit(ws, f"head -c {first} {out}; sleep 0.5; tail -c +{first + 1} {out}", tmp_path)
    assert ws.wait_for_job(job.name, 60).status == "Completed"
    lines, stamps, _ = read_all(ws, job.name)
    assert lines[1:] == ["a", "b"] and stamps[1] == stamps[2]
    if b"\xff" not in first_line:
        assert stamps[1] - stamps[0] >= 0.4  # the first line has its own, earlier, time
    else:  # U+FFFD stands for fewer bytes than it takes: a later time, never an earlier one
        assert stamps[0] <= stamps[1]
