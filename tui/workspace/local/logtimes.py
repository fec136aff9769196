"""When the bytes of a local job's logs were written: marks kept beside the logs.

A mark `(end, time)` says: every byte of the log before offset `end` had been written by
`time` (POSIX seconds). The job's processes write their logs themselves, so only watching
the files tells when: the runner's `LogClock` stats every log of its job about every
`TICK_S` and marks each one that grew with its size and modification time (the time of
its last write, so a line printed on its own gets its exact write time, a flood of lines
the time of the last write before the tick). Writers of lifecycle lines add a mark of
their own, as those are written before the runner starts and after it ends.

A log's marks are one file of 16-byte records (layout.py names it), each appended with
one write: writers in several processes never tear one. Two writers racing may append out
of offset order, but every mark is true wherever it stands, so a reader may take any mark
at or after a line's end; in a file in order, the first is the nearest.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

from .layout import LOG_FOLDERS, JobLayout

MARK = struct.Struct("<qd")
TICK_S = 0.1
_READ_MARKS = 256  # records per read while collecting a chunk's marks


def append_mark(path: Path, end: int, when: float) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, MARK.pack(end, when))
    finally:
        os.close(fd)


def mark_written(layout: JobLayout, name: str, log_fd: int) -> None:
    """Mark what the log `name`, open as `log_fd`, holds now, if its job records write times."""
    if layout.log_times_dir.is_dir():
        st = os.fstat(log_fd)
        append_mark(layout.log_times(name), st.st_size, st.st_mtime)


def marks_covering(path: Path, start: int, end: int) -> list[tuple[int, float]] | None:
    """The marks a reader of bytes `start`..`end` needs: those past `start`, up to and with
    the first at or after `end` (none when the log is not yet marked that far). None when
    the log has no marks at all."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        count = os.fstat(fd).st_size // MARK.size  # a record being appended is not there yet

        def end_of(index: int) -> int:
            return MARK.unpack(os.pread(fd, MARK.size, index * MARK.size))[0]

        lo, hi = 0, count
        while lo < hi:  # the first mark past `start`; out of order, still some mark past it
            mid = (lo + hi) // 2
            if end_of(mid) <= start:
                lo = mid + 1
            else:
                hi = mid
        found: list[tuple[int, float]] = []
        while lo < count:
            n = min(_READ_MARKS, count - lo)
            for mark in MARK.iter_unpack(os.pread(fd, n * MARK.size, lo * MARK.size)):
                found.append(mark)
                if mark[0] >= end:
                    return found
            lo += n
        return found
    finally:
        os.close(fd)


class LogClock:
    """The runner's watch over its job's logs: a thread marking each log that grew, every
    `TICK_S`, until `stop()` (which marks once more, so the whole of each log is marked)."""

    def __init__(self, layout: JobLayout) -> None:
        self.layout = layout
        self.sizes: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:  # jobs created before write times were recorded have no folder for them
            for folder in LOG_FOLDERS:
                self.layout.log_times(folder).mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # the job runs all the same; its readers show when they read each line
        self._thread = threading.Thread(target=self._run, name="log-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.tick()

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            self.tick()

    def tick(self) -> None:
        for folder in LOG_FOLDERS:
            try:
                with os.scandir(self.layout.dir / folder) as entries:
                    for entry in entries:
                        self._mark(f"{folder}/{entry.name}", entry)
            except OSError:
                continue  # no such folder yet, or a full disk: readers fall back to the log's mtime

    def _mark(self, name: str, entry: os.DirEntry) -> None:
        if not entry.is_file(follow_symlinks=False):
            return
        st = entry.stat(follow_symlinks=False)
        if st.st_size > self.sizes.get(name, 0):
            append_mark(self.layout.log_times(name), st.st_size, st.st_mtime)
            self.sizes[name] = st.st_size
