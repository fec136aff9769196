"""Job logs without `jobs.stream`: log-file SAS URLs from run details, new bytes by HTTP Range.

`az ml job stream` downloads every whole log file again on each poll. Here a read asks for
`bytes=offset-...` only: 206 carries the bytes, 416 means nothing new yet, 200 means the
server ignored the range (slice it), 403 means the SAS expired (fetch run details again for a
new URL, once). A trailing partial UTF-8 character is held back and handed out with the next
read, so no byte is fetched twice.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from ..base import LogChunk, LogFile, NotFoundError, WorkspaceError, split_utf8
from ..redact import redact

_RANK_RE = re.compile(r"std_log_process_(\d+)\.txt$")
_CONTENT_RANGE_RE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


def role_of(name: str) -> str:
    return "user" if name.startswith("user_logs/") else "system"


def rank_of(name: str) -> int | None:
    m = _RANK_RE.search(name)
    return int(m.group(1)) if m else None


def order_key(name: str) -> tuple:
    """System logs first, then user logs by rank (std_log.txt before std_log_process_N)."""
    rank = rank_of(name)
    return (role_of(name) == "user", rank if rank is not None else -1,
            [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)])


@dataclass
class _FileState:
    url: str | None = None
    size: int = 0  # the largest size seen in a Content-Range or body
    tail_offset: int = -1  # where `tail` starts in the file
    tail: bytes = b""
    # Two workers reading the same file would hand out one held tail twice.
    lock: threading.Lock = field(default_factory=threading.Lock)


class LogReader:
    """Reads job log files incrementally. `details(job)` returns run details (wire JSON);
    `send(url, range_header)` returns (status, headers, body) without any bearer token."""

    def __init__(self, details: Callable[[str], Mapping[str, Any]],
                 send: Callable[[str, str], tuple[int, Mapping[str, str], bytes]]):
        self._details = details
        self._send = send
        self._files: dict[tuple[str, str], _FileState] = {}
        self._terminal: dict[str, bool] = {}
        self._lock = threading.Lock()
        self.bytes_fetched = 0
        self.requests = 0

    def refresh(self, job: str) -> dict[str, str]:
        """Fetch run details: the current log files and fresh SAS URLs."""
        details = self._details(job)
        from .normalise import status

        self._terminal[job] = status(details.get("status")) in ("Completed", "Failed", "Canceled")
        urls = dict(details.get("logFiles") or {})
        with self._lock:
            for name, url in urls.items():
                self._files.setdefault((job, name), _FileState()).url = url
        return urls

    def files(self, job: str) -> list[LogFile]:
        urls = self.refresh(job)
        out = []
        for name in sorted(urls, key=order_key):
            state = self._files[(job, name)]
            out.append(LogFile(name=redact(name), size=state.size, role=role_of(name), rank=rank_of(name)))
        return out

    def read(self, job: str, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        if offset < 0 or max_bytes < 1:
            raise WorkspaceError(f"read_log: offset must be >= 0 and max_bytes >= 1, got {offset} and {max_bytes}")
        state = self._files.get((job, name))
        if state is None or state.url is None:
            self.refresh(job)
            state = self._files.get((job, name))
            if state is None:
                raise NotFoundError(f"job {job!r} has no log file {name!r} (yet)")
        with state.lock:
            return self._read_locked(job, name, state, offset, max_bytes)

    def _read_locked(self, job: str, name: str, state: _FileState, offset: int, max_bytes: int) -> LogChunk:
        whole = state.tail if state.tail_offset == offset else b""
        want = max(1, max_bytes - len(whole))
        while True:
            start = offset + len(whole)
            data = self._fetch(job, name, state, start, want)
            whole += data
            text_bytes, tail = split_utf8(whole)
            at_end = start + len(data) >= state.size
            # Only part of one character so far: an empty chunk would read as the end of the file.
            if text_bytes or not tail or at_end or not data:
                break
            want = 4 - len(tail)
        final = at_end and self._terminal.get(job, False)
        if final and tail:  # the job has ended: that character will never be completed
            text_bytes, tail = whole, b""
        next_offset = offset + len(text_bytes)
        state.tail_offset, state.tail = (next_offset, tail) if tail else (-1, b"")
        # Azure's system logs print SAS URLs of the job's storage: mask them like any other secret.
        return LogChunk(name=name, offset=offset, next_offset=next_offset,
                      text=redact(text_bytes.decode("utf-8", "replace")), final=final)

    def _fetch(self, job: str, name: str, state: _FileState, start: int, want: int) -> bytes:
        rng = f"bytes={start}-{start + want - 1}"
        for attempt in range(2):
            status, headers, body = self._send(state.url or "", rng)
            self.requests += 1
            self.bytes_fetched += len(body)
            if status == 403 and attempt == 0:
                # The SAS expired: run details hand out a fresh URL.
                self.refresh(job)
                continue
            break
        if status == 206:
            m = _CONTENT_RANGE_RE.match(headers.get("Content-Range") or headers.get("content-range") or "")
            if m and m.group(3) != "*":
                state.size = max(state.size, int(m.group(3)))
            else:
                state.size = max(state.size, start + len(body))
            return body
        if status == 416:
            m = _CONTENT_RANGE_RE.match(headers.get("Content-Range") or headers.get("content-range") or "")
            if m and m.group(3) != "*":
                state.size = int(m.group(3))
            return b""
        if status == 200:  # the range was ignored: the whole blob came back
            state.size = max(state.size, len(body))
            return body[start:start + want]
        if status == 404:
            raise NotFoundError(f"job {job!r} has no log file {name!r} (yet)")
        if status == 403:
            raise WorkspaceError(f"reading log {name!r} of job {job!r} was refused (403) even with a fresh "
                                 "link from run details; retry later")
        raise WorkspaceError(f"reading log {name!r} of job {job!r} failed: HTTP {status}")


def follow(read: Callable[[int], LogChunk], is_done: Callable[[], bool], *, max_bytes: int = 1 << 20,
           min_interval: float = 1.0, max_interval: float = 30.0,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[LogChunk]:
    """Follow one log file: one read per poll while it grows (more at once only when a chunk
    came back full), back off (doubling, up to `max_interval`) while it does not, and stop once
    `is_done()` says the job ended and the last bytes are read."""
    offset = 0
    interval = min_interval
    while True:
        chunk = read(offset)
        got = chunk.next_offset - offset
        if got:
            offset = chunk.next_offset
            yield chunk
            if got >= max_bytes - 3:  # a full chunk: more is already waiting
                continue
            interval = min_interval
        elif is_done():
            last = read(offset)  # the bytes written between the read above and the end
            if last.next_offset != offset:
                yield last
            return
        sleep(interval)
        if not got:
            interval = min(max_interval, interval * 2)
