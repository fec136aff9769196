"""A job's logs, live: follow, search, wrap, timestamps, save, switch files.

A thread worker tails the file (`tail_batches`) and posts one `LogBatch` per batch; the
`LogView` appends it at once. Search and save read the whole file again from offset 0 in
workers, so they cover lines the bounded on-screen buffer has dropped.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Select, Static
from textual.worker import get_current_worker

from tui.screens.base import ReportsWorkerErrors
from tui.widgets.log_tail import LogTail, read_whole, tail_batches
from tui.widgets.footer import KeyFooter
from tui.widgets.log_view import LogView
from tui.widgets.search import parse_search
from tui.workspace.base import LogFile, build_log, primary_log

if TYPE_CHECKING:
    from tui.app import AmlTuiApp


MAX_IN_FLIGHT = 2  # log batches posted but not yet shown
PENDING = ""  # what the screen tails while the job has no log file yet


def default_log_file(files: list[LogFile]) -> str | None:
    """The user's own output first (rank 0), as `az ml job stream` shows it; else the
    environment build (the Preparing log); else any."""
    chosen = primary_log(files) or build_log(files) or (files[0] if files else None)
    return chosen.name if chosen else None


def is_user_log(files: list[LogFile], name: str | None) -> bool:
    return any(f.name == name and f.is_user for f in files)


def default_save_path(job: str, file: str) -> str:
    return f"./{job}-{Path(file).stem}.log"


class LogScreen(ReportsWorkerErrors, Screen):
    app: "AmlTuiApp"

    # Focus the log at once: auto focus would pick the file Select first, and each focus
    # change recomposes the footer (~50 ms on 2 cores while the screen opens).
    AUTO_FOCUS = "#log"

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="logs.back"),
        Binding("f", "toggle_follow", "Follow", id="logs.follow"),
        Binding("slash", "search", "Search", key_display="/", id="logs.search"),
        Binding("n", "next_match", "Next", id="logs.next"),
        Binding("N", "previous_match", "Prev", key_display="N", id="logs.previous"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap"),
        Binding("t", "toggle_timestamps", "Time", id="logs.timestamps"),
        Binding("s", "save", "Save", id="logs.save"),
        Binding("left_square_bracket", "switch_file(-1)", "Prev file", key_display="[", id="logs.prev_file"),
        Binding("right_square_bracket", "switch_file(1)", "Next file", key_display="]", id="logs.next_file"),
    ]

    @dataclass
    class LogBatch(Message):
        file: str
        lines: list[str]
        partial: str
        status: str | None
        files: list[LogFile] | None
        ended: bool
        stamps: list[float]
        partial_stamp: float
        written: bool

    @dataclass
    class FilesLoaded(Message):
        files: list[LogFile]

    @dataclass
    class SearchDone(Message):
        file: str
        pattern: re.Pattern[str]
        matches: list[int]
        first_text: dict[int, str]

    @dataclass
    class Saved(Message):
        path: Path
        size: int

    def __init__(self, job: str, file: str | None = None, *, max_lines: int = 100_000) -> None:
        super().__init__()
        self.job = job
        self.max_lines = max_lines
        self.file = file
        self.files: list[LogFile] = []
        self.status: str | None = None
        self.ended = False
        self.search_text = ""
        self._match_text: dict[int, str] = {}
        self._updating_select = False
        # Until the user picks a file, follow the job's own output as soon as it appears
        # (a starting job has only system logs).
        self._auto_file = file is None
        self._in_flight = threading.Semaphore(MAX_IN_FLIGHT)

    def compose(self) -> ComposeResult:
        yield Static(f" logs  │  [b]{self.job}[/b]", id="log-title")
        yield Select([], prompt="log file", allow_blank=True, compact=True, id="log-file")
        yield LogView(max_lines=self.max_lines, id="log")
        yield Input(placeholder="search the whole file: text or /regex/   enter searches, esc closes", id="log-search")
        yield Static("", id="log-status")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one("#log", LogView)

    def on_mount(self) -> None:
        self.view.focus()
        if self.file:
            self.start_tail(self.file)
        self.load_files()

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-files")
    def load_files(self) -> None:
        self.post_message(self.FilesLoaded(self.app.workspace.log_files(self.job)))

    def start_tail(self, file: str) -> None:
        self.file = file
        self.ended = False
        self.view.clear()
        self.view.set_search(None, [])
        self._update_title()
        self.tail(file)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-tail")
    def tail(self, file: str) -> None:
        worker = get_current_worker()
        waiting_for_user_log = self._auto_file and not is_user_log(self.files, file)
        status_s = 0.1 if waiting_for_user_log else 0.5
        for batch in tail_batches(LogTail(self.app.workspace, self.job, file), lambda: worker.is_cancelled,
                                  status_s):
            # Backpressure (as in toolong): at most MAX_IN_FLIGHT batches wait in the queue,
            # so a flood of output never stands between the user's keys and the screen.
            while not self._in_flight.acquire(timeout=0.1):
                if worker.is_cancelled:
                    return
            if worker.is_cancelled:
                return
            self.post_message(self.LogBatch(file, batch.lines, batch.partial, batch.status, batch.files,
                                            batch.ended, batch.stamps, batch.partial_stamp, batch.written))

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-search")
    def search(self, file: str, pattern: re.Pattern[str]) -> None:
        """Line numbers of every match in the whole file (not just the on-screen buffer)."""
        matches: list[int] = []
        texts: dict[int, str] = {}
        lineno, rest = 0, ""
        for text in read_whole(self.app.workspace, self.job, file):
            lines = (rest + text).split("\n")
            rest = lines.pop()
            for line in lines:
                if pattern.search(line):
                    matches.append(lineno)
                    if len(texts) < 1000:
                        texts[lineno] = line
                lineno += 1
        if rest and pattern.search(rest):
            matches.append(lineno)
            texts[lineno] = rest
        self.post_message(self.SearchDone(file, pattern, matches, texts))

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-save")
    def save(self, file: str, path: Path, overwrite: bool = False) -> None:
        """The whole file, read from offset 0 (the screen may hold only its end). Without
        `overwrite` a file that appeared since the user was asked is an error, not replaced."""
        size = 0
        with open(path, "w" if overwrite else "x", encoding="utf-8") as out:
            for text in read_whole(self.app.workspace, self.job, file):
                out.write(text)
                size += len(text.encode("utf-8"))
        self.post_message(self.Saved(path, size))

    # ------------------------------------------------------------------ messages

    def on_log_screen_files_loaded(self, message: FilesLoaded) -> None:
        self._set_files(message.files)
        if self.file is None:
            chosen = default_log_file(message.files)
            if chosen:
                self.start_tail(chosen)
            else:
                # No log yet (a queued job): wait for one; the files poll picks the user's.
                self.start_tail(PENDING)

    def _set_files(self, files: list[LogFile]) -> None:
        self.files = files
        if self._auto_file and self.file is not None and not is_user_log(files, self.file):
            chosen = default_log_file(files)
            if chosen and (is_user_log(files, chosen) or self.file == PENDING):
                self.start_tail(chosen)
        select = self.query_one("#log-file", Select)
        names = [f.name for f in files]
        if self.file and self.file not in names:
            names.append(self.file)
        self._updating_select = True
        select.set_options([(n, n) for n in names])
        if self.file in names:
            select.value = self.file
        self._updating_select = False

    def on_log_screen_log_batch(self, message: LogBatch) -> None:
        self._in_flight.release()
        if message.file != self.file:
            return  # a batch from the tail of a file we switched away from
        if message.files is not None:
            self._set_files(message.files)
            if message.file != self.file:
                return  # switched to the job's own log as it appeared
        if (message.status and message.status != self.status) or message.ended != self.ended:
            self.status = message.status or self.status
            self.ended = message.ended
            self._update_title()
        self.view.append(message.lines, message.partial, stamps=message.stamps,
                         partial_stamp=message.partial_stamp, written=message.written)

    def on_log_screen_search_done(self, message: SearchDone) -> None:
        if message.file != self.file:
            return
        self._match_text = message.first_text
        self.view.set_search(message.pattern, message.matches)
        if message.matches:
            self.action_next_match()
        else:
            self.notify(f"No match for {self.search_text!r} in {self.file}.", severity="warning", markup=False)

    def on_log_screen_saved(self, message: Saved) -> None:
        self.notify(f"Saved {message.size:,} bytes to {message.path}", title="saved", timeout=8, markup=False)

    def on_log_view_state_changed(self, message: LogView.StateChanged) -> None:
        self._update_status()

    def on_select_changed(self, message: Select.Changed) -> None:
        if self._updating_select or message.value is Select.NULL or message.value == self.file:
            return
        self._auto_file = False
        self.start_tail(str(message.value))
        self.view.focus()

    # ------------------------------------------------------------------ display

    def _update_title(self) -> None:
        status = self.status or "…"
        state = "  │  [dim]ended[/dim]" if self.ended else ""
        self.query_one("#log-title", Static).update(
            f" logs  │  [b]{self.job}[/b]  │  {status}  │  {self.file or ''}{state}", layout=False)

    def _update_status(self) -> None:
        view = self.view
        if self.ended:
            # Nothing more will come: "follow" would promise lines that never arrive.
            parts = [f"[b]ENDED[/b] (job {escape(self.status or 'finished')})"]
            if not view.follow:
                parts.append("G for the end")
        else:
            parts = ["[b]FOLLOW[/b]" if view.follow else "[reverse] PAUSED [/reverse]"]
        if not view.follow and view.new_lines and not self.ended:
            noun = "line" if view.new_lines == 1 else "lines"
            parts.append(f"[b]{view.new_lines:,} new {noun}[/b] (f or G to follow)")
        parts.append(f"{view.total_lines:,} lines")
        if view.first_lineno:
            parts.append(f"showing the last {len(view.lines):,}")
        parts.append(f"wrap {'on' if view.wrap else 'off'}")
        # Whether `t` shows when each line was written, or only when the app read it.
        seen = "written" if view.written else "seen"
        parts.append(f"t: time {seen}" if view.timestamps else "t: time off")
        if view.matches:
            where = f"{view.match_index + 1}/" if view.match_index is not None else ""
            parts.append(f"match {where}{len(view.matches):,} for {escape(repr(self.search_text))}")
        self.query_one("#log-status", Static).update("  ·  ".join(parts), layout=False)

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.display:
            search.display = False
            self.view.focus()
        else:
            self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        self.view.set_follow(not self.view.follow)

    def action_toggle_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)

    def action_toggle_timestamps(self) -> None:
        self.view.set_timestamps(not self.view.timestamps)

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.display = True
        search.value = self.search_text
        search.cursor_position = len(search.value)
        search.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id != "log-search":
            return
        message.input.display = False
        self.view.focus()
        self.search_text = message.value
        pattern, error = parse_search(message.value)
        if error:
            self.notify(error, severity="warning", markup=False)
        if pattern is None:
            self.view.set_search(None, [])
        elif self.file:
            self.search(self.file, pattern)

    def _goto(self, forward: bool) -> None:
        lineno = self.view.goto_match(forward)
        if lineno is not None and lineno < self.view.first_lineno:
            text = self._match_text.get(lineno, "")
            self.notify(f"line {lineno + 1} (before the on-screen buffer; s saves the whole file): {text[:200]}",
                        markup=False)

    def action_next_match(self) -> None:
        self._goto(True)

    def action_previous_match(self) -> None:
        self._goto(False)

    def action_save(self) -> None:
        if not self.file:
            return
        from tui.screens.modals import ConfirmScreen, PromptScreen

        file = self.file

        def chosen(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser().absolute()
            if path.is_dir():
                self.notify(f"Not saved: {path} is a folder; give a file name.", severity="error", markup=False)
            elif not path.parent.is_dir():
                # Creating it silently would hide a typo in the path.
                self.notify(f"Not saved: the folder {path.parent} does not exist.", severity="error", markup=False)
            elif path.exists():
                def confirmed(yes: bool | None) -> None:
                    if yes:
                        self.save(file, path, overwrite=True)

                self.app.push_screen(ConfirmScreen(f"{escape(str(path))} exists. Overwrite it?", yes="Overwrite",
                                                   no="Keep it"), confirmed)
            else:
                self.save(file, path)

        self.app.push_screen(PromptScreen(f"Save the whole of {file} to:", default_save_path(self.job, file)), chosen)

    def action_switch_file(self, step: int) -> None:
        names = [f.name for f in self.files]
        if not names:
            return
        self._auto_file = False
        index = names.index(self.file) if self.file in names else -1
        self.start_tail(names[(index + step) % len(names)])
        self._set_files(self.files)
