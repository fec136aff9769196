"""Reading a job's log incrementally, off the event loop (no Textual here).

`LogTail` turns `Workspace.read_log` chunks into clean complete lines, each with the time
it was written (from the chunk's marks; the time it was read where the backend has none),
plus the current unterminated tail; `tail_batches` is the worker loop: it reads as fast as
the file grows, polls every 50 ms at the end, and yields one batch per ~50 ms (or per
`BATCH_LINES` lines), so the UI gets one message per batch instead of one per line.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from tui.workspace.base import LogChunk, LogFile, NotFoundError, Workspace

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
# Any byte `clean_line` would change (a newline is fine: chunks are split on it).
NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\t\r]")


def clean_line(line: str) -> str:
    """Make a raw log line safe to paint: keep what follows the last carriage return (progress
    bars redraw themselves with \\r), expand tabs, drop escape sequences and control bytes."""
    if "\r" in line:
        line = line.rstrip("\r")
        line = line[line.rfind("\r") + 1 :]
    if "\t" in line:
        line = line.expandtabs(4)
    if not line.isprintable():
        line = ANSI_RE.sub("", line)
    return line


POLL_S = 0.05  # how often an idle tail asks for more (the "on screen in 100 ms" budget)
BATCH_S = 0.05  # the longest a line waits in a batch while more keeps coming
BATCH_LINES = 10_000
STATUS_S = 0.5  # how often to ask whether the job has ended, and which log files exist
# Small reads: a C-level split or decode of a big chunk holds the GIL, stalling the UI thread.
READ_BYTES = 1 << 18


def line_times(chunk: LogChunk, lines: int) -> list[float]:
    """The write time of each of the `lines` lines that end in `chunk` (see LogChunk.times):
    the time of the first mark at or after the line's end."""
    assert chunk.times is not None
    text = chunk.text
    # A newline is one byte in UTF-8 and survives decoding, so counting newlines in the
    # text's encoding counts them in the file's bytes. (A U+FFFD that replaced fewer bytes
    # encodes longer: a mark then covers fewer lines, and they take a later mark, still true.)
    hay, newline = (text, "\n") if text.isascii() else (text.encode(), b"\n")
    times: list[float] = []
    pos = 0
    for end, when in chunk.times:
        cut = min(end - chunk.offset, len(hay))
        if cut > pos:  # marks out of order cover nothing new
            times.extend([when] * hay.count(newline, pos, cut))  # type: ignore[arg-type]
            pos = cut
    if len(times) < lines:  # a backend that broke its promise to cover the chunk
        times.extend([time.time()] * (lines - len(times)))
    return times[:lines]


class LogTail:
    """Incremental reader of one log file, with the time each line was written (`stamps`);
    `written` is False once a chunk came without write times, when stamps are times read."""

    def __init__(self, workspace: Workspace, job: str, file: str, offset: int = 0) -> None:
        self.workspace, self.job, self.file = workspace, job, file
        self.offset = offset
        self.partial = ""
        self.partial_stamp = 0.0  # when the unterminated tail was last written (or read)
        self.written = True

    def read(self, into: list[str], stamps: list[float] | None = None) -> bool:
        """Append the complete lines of the next chunk to `into` (their times to `stamps`);
        False when nothing new."""
        try:
            chunk = self.workspace.read_log(self.job, self.file, self.offset, READ_BYTES)
        except NotFoundError:
            if self.offset:
                raise
            return False  # not written yet (a queued job): keep polling
        if not chunk.text and chunk.next_offset == self.offset:
            return False
        self.offset = chunk.next_offset
        text = self.partial + chunk.text
        parts = text.split("\n")
        self.partial = parts.pop()
        if stamps is not None:
            if chunk.times is None:
                self.written = False
                self.partial_stamp = time.time()
                stamps.extend([self.partial_stamp] * len(parts))
            else:
                stamps.extend(line_times(chunk, len(parts)))
                if chunk.times:
                    self.partial_stamp = chunk.times[-1][1]
        if NEEDS_CLEANING.search(text):  # most chunks have no control bytes: skip the per-line pass
            parts = list(map(clean_line, parts))
            self.partial = clean_line(self.partial)
        into.extend(parts)
        return True


def read_whole(workspace: Workspace, job: str, file: str) -> Iterator[str]:
    """Every chunk of a log file's text from offset 0 (search and save use this)."""
    offset = 0
    while True:
        chunk = workspace.read_log(job, file, offset, READ_BYTES)
        if not chunk.text and chunk.next_offset == offset:
            return
        yield chunk.text
        offset = chunk.next_offset


@dataclass
class Batch:
    lines: list[str]
    partial: str
    status: str | None = None  # the job's status when it was last checked
    files: list[LogFile] | None = None  # the job's log files, when they changed
    ended: bool = False  # the job is terminal and the file has been read to its end
    stamps: list[float] = field(default_factory=list)  # one per line: when it was written (or read)
    partial_stamp: float = 0.0
    written: bool = True  # the stamps are write times, not times read


def tail_batches(tail: LogTail, cancelled: Callable[[], bool], status_s: float = STATUS_S) -> Iterator[Batch]:
    """Yield batches until the job ends (and its log is drained) or `cancelled()`.

    `status_s` is how often the job's status and log files are asked for; the screen asks
    more often while it waits for the job's own log to appear."""
    ws, job = tail.workspace, tail.job
    lines: list[str] = []
    stamps: list[float] = []
    sent_partial = ""
    last_sent = last_status = 0.0
    status: str | None = None
    files: list[LogFile] | None = None
    terminal = False
    while not cancelled():
        # Was the job already over before this read? Then an empty read means drained.
        drained_if_empty = terminal
        got = tail.read(lines, stamps)
        now = time.monotonic()
        new_files = None
        if now - last_status >= status_s:
            last_status = now
            current = ws.get_job(job)
            status, terminal = current.status, current.is_terminal
            listed = ws.log_files(job)
            if listed != files:
                files = new_files = listed
        due = len(lines) >= BATCH_LINES or now - last_sent >= BATCH_S or not got
        ended = drained_if_empty and not got
        if (lines and due) or tail.partial != sent_partial or new_files is not None or ended:
            yield Batch(lines, tail.partial, status, new_files, ended, stamps, tail.partial_stamp, tail.written)
            lines, stamps, sent_partial, last_sent = [], [], tail.partial, now
        if ended:
            return
        if not got:
            time.sleep(POLL_S)
