"""The browser: sidebar of kinds, one windowed table, a detail pane (k9s's main view).

Every kind goes through the same code, driven by its `KindSpec` (tui/kinds.py). All
workspace calls run in thread workers that post typed messages back; the first frame is
the empty chrome, rows arrive with the source's first page (the table is a window over it).
"""

from __future__ import annotations

import time

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual import events
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from tui.kinds import (
    KIND_ORDER,
    KINDS,
    DetailData,
    KindSpec,
    SourcePager,
    build_rows,
    command_words,
    render_detail,
    resolve_kind,
)
from tui.columns import Row
from tui.screens.base import KindActions, ReportsWorkerErrors, kind_action_bindings
from tui.widgets.asset_table import AssetTable
from tui.widgets.footer import KeyFooter
from tui.widgets.sidebar import KindList
from tui.widgets.window import PageRequest, PageResult, Pager
from tui.workspace.base import ACTIVE_STATUSES, Asset, AssetKind, Job, WorkspaceInfo
from tui.workspace.source import Changes, source_for

if TYPE_CHECKING:
    from tui.app import AmlTuiApp

# Auto-refresh, every `ui.refresh_interval` (config file; 1 s), by watermark: each tick asks the
# source for the shown kind's watermark (the other kinds' every OTHER_KINDS_EVERY ticks), which
# is cheap. Only when one moved: the counts (a few COUNT queries, for the sidebar), and for the
# shown kind what changed since (rows updated in place by key; the pages on screen fetched again
# when rows were added, removed or moved). While jobs are active the counts are asked every tick
# too (the local workspace notices a dead runner there). An idle app does nothing more.
OTHER_KINDS_EVERY = 5


NO_CONFIG_FILE = Path("(none)")  # the path of the Config an app gets when given none (tui/app.py)
FOLD_BELOW = 100  # columns under which the sidebar shows only the kinds' numbers


def describe_workspace(info: WorkspaceInfo, read_only: bool, source: str | None = None) -> str:
    # READ-ONLY before the long parts: a narrow terminal cuts the header's end, not the mode.
    # `source`: where an Azure workspace was named (app.workspace_source), before the long scope.
    parts = [" aml-tui", "READ-ONLY" if read_only else "", info.kind, info.name,
             f"from {source}" if source else "", info.location]
    parts += [f"{k}: {v}" for k, v in info.details.items()]
    return "  │  ".join(p for p in parts if p)


HISTORY = 100  # entries the prompt remembers per mode, for this session


class PromptInput(Input):
    """The `:` / `/` prompt. In command mode tab completes the word, as in k9s; up and down
    walk what was entered before in the same mode (the text being typed comes back last)."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, id="prompt.complete"),
        Binding("up", "history(-1)", "Previous", show=False, id="prompt.history_previous"),
        Binding("down", "history(1)", "Next", show=False, id="prompt.history_next"),
    ]

    words: list[str] = []
    history: list[str] = []
    _position: int | None = None  # index into `history` while walking it
    _draft = ""

    def start(self, value: str, history: list[str]) -> None:
        self.history, self._position, self._draft = history, None, value
        self.value = value
        self.cursor_position = len(value)

    def remember(self) -> None:
        value = self.value.strip()
        if value and (not self.history or self.history[-1] != value):
            self.history.append(value)
            del self.history[:-HISTORY]

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position is None:
            self._draft, self._position = self.value, len(self.history)
        self._position = max(0, min(len(self.history), self._position + step))
        value = self._draft if self._position == len(self.history) else self.history[self._position]
        self.value = value
        self.cursor_position = len(value)

    def action_complete(self) -> None:
        typed = self.value.strip().lower()
        match = next((w for w in self.words if typed and w.startswith(typed)), None)
        if match:
            self.value = match
            self.cursor_position = len(match)


class SortPicker(ModalScreen[str | None]):
    """`o`: the columns of the table; the one picked sorts it (picked again, it reverses).
    Dismisses with the option id: a column index, "none" (as loaded), or None (cancelled)."""

    BINDINGS = [Binding("escape,o", "cancel", "Close", id="sort.close")]

    def __init__(self, titles: list[str], column: int | None, reverse: bool) -> None:
        super().__init__()
        self.titles, self.column, self.reverse = titles, column, reverse

    def compose(self) -> ComposeResult:
        options = [Option("as loaded (newest first)" + ("  ●" if self.column is None else ""), id="none")]
        for i, title in enumerate(self.titles):
            mark = ""
            if i == self.column:
                mark = f"  {'↓' if self.reverse else '↑'}  (enter reverses)"
            options.append(Option(title + mark, id=str(i)))
        with Vertical(classes="dialog", id="sort-dialog"):
            yield Label("[b]Sort by[/b]   [dim]enter picks · esc closes · clicking a header sorts too[/dim]")
            yield OptionList(*options, id="sort-columns")

    def on_mount(self) -> None:
        columns = self.query_one(OptionList)
        columns.highlighted = 0 if self.column is None else self.column + 1
        columns.focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        self.dismiss(message.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_sort(value: str, titles: list[str]) -> tuple[int, bool] | None:
    """A `[sort]` value ("DURATION", "-DURATION") -> (column index, descending); None when
    the kind has no such column (titles match case-insensitively)."""
    reverse = value.startswith("-")
    wanted = value.lstrip("-").strip().lower()
    index = next((i for i, t in enumerate(titles) if t.lower() == wanted), None)
    return None if index is None else (index, reverse)


class MainScreen(ReportsWorkerErrors, KindActions, Screen):
    """See module docstring."""

    app: "AmlTuiApp"

    BINDINGS = [
        Binding("colon", "command_mode", "Command", key_display=":", id="main.command"),
        Binding("slash", "filter", "Filter", key_display="/", id="main.filter"),
        Binding("r", "refresh", "Refresh", id="main.refresh"),
        Binding("y", "yaml", "YAML", id="main.yaml"),
        Binding("o", "sort_picker", "Sort", id="main.sort"),
        Binding("n", "new_job", "New job", id="main.new_job"),
        Binding("N", "new_sweep", "New sweep", show=False, id="main.new_sweep"),
        *kind_action_bindings(),
        Binding("d", "toggle_detail", "Detail pane", show=False, id="main.detail_pane"),
        Binding("escape", "back", "Back / clear filter", show=False, id="main.back"),
        Binding("q", "app.quit", "Quit", id="main.quit"),
        *(
            Binding(str(i), f"kind({i})", KINDS[kind].title, show=False, id=f"main.kind{i}")
            for i, kind in enumerate(KIND_ORDER, start=1)
        ),
    ]

    # ------------------------------------------------------------------ messages

    @dataclass
    class InfoLoaded(Message):
        info: WorkspaceInfo

    @dataclass
    class CountsLoaded(Message):
        counts: dict[AssetKind, int]

    @dataclass
    class PagesLoaded(Message):
        result: PageResult

    @dataclass
    class ChildrenLoaded(Message):
        kind: AssetKind
        parent: str
        rows: list[Row]

    @dataclass
    class Polled(Message):
        """A tick's findings: the watermarks that moved, the counts when one did, and for the
        shown kind what changed (its rows built)."""

        kind: AssetKind
        moved: dict[AssetKind, int]
        counts: dict[AssetKind, int] | None = None
        changes: Changes | None = None
        rows: list[Row] = field(default_factory=list)

    @dataclass
    class DetailLoaded(Message):
        kind: AssetKind
        key: str
        data: DetailData

    # ------------------------------------------------------------------ layout

    def __init__(self) -> None:
        super().__init__()
        self.kind = AssetKind.JOBS
        self.prompt_mode: str | None = None  # "command" or "filter" while the prompt is open
        self._marks: dict[AssetKind, int] = {}  # each kind's watermark, as last seen
        self._ticks = 0
        self._polling = False
        self._detail_timer: Timer | None = None
        self._select_after_load: str | None = None
        self._banner = False
        self._cache_banner = False  # the banner says a cached list could not refresh
        self._shown_as_of: str | None = None
        self._counts: dict[AssetKind, int] = {}
        self._history: dict[str, list[str]] = {"command": [], "filter": []}
        self._sorts: dict[AssetKind, tuple[int | None, bool]] = {}  # each kind's sort, kept across kinds

    def compose(self) -> ComposeResult:
        yield Static(" aml-tui  │  connecting…", id="header")
        yield Static("", id="banner")
        with Horizontal(id="body"):
            yield KindList(id="sidebar")
            # The table takes the full width (job tables are wide); details sit below it.
            with Vertical(id="center"):
                yield Static("", id="table-title")
                yield AssetTable(id="table", clock=self.app.clock)
                with VerticalScroll(id="detail"):
                    yield Static("", id="detail-body")
        yield PromptInput(id="prompt")
        yield KeyFooter()

    @property
    def table(self) -> AssetTable:
        return self.query_one("#table", AssetTable)

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    def on_mount(self) -> None:
        self._load_sorts()
        self.table.request_pages = self.load_pages
        self.table.focus()
        self.table.configure(self.spec.columns, empty_message="Loading…")
        # Paint the chrome first, then start loading: worker threads started now would
        # compete with the first frame for the GIL.
        self.call_after_refresh(self._start)
        if self.app.exit_after_first_frame:
            self.call_after_refresh(self.app.exit, 0)  # the first-frame benchmark's stopwatch

    def on_resize(self, event: events.Resize) -> None:
        # Below ~100 columns the table needs the sidebar's width more than its names.
        self.query_one(KindList).fold(event.size.width < FOLD_BELOW)

    def _start(self) -> None:
        self.show_kind(self.kind)
        self.load_info()
        self.load_counts()
        self.set_interval(self.app.refresh_interval, self._tick)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, exit_on_error=False, group="info")
    def load_info(self) -> None:
        self.post_message(self.InfoLoaded(self.app.workspace.info()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="counts")
    def load_counts(self) -> None:
        self.post_message(self.CountsLoaded(self.app.workspace.counts()))

    @work(thread=True, exit_on_error=False, group="pages")
    def load_pages(self, pager: Pager, request: PageRequest) -> None:
        # Not exclusive: pages asked for one after another are all wanted; an answer for an
        # older query is dropped by the table (its generation).
        self.post_message(self.PagesLoaded(pager.run(request, self.app.clock())))

    @work(thread=True, exit_on_error=False, group="children")
    def load_children(self, spec: KindSpec, parent: str) -> None:
        rows = SourcePager(source_for(self.app.workspace), spec).children(parent, self.app.clock())
        self.post_message(self.ChildrenLoaded(spec.kind, parent, rows))

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def poll(self, spec: KindSpec, marks: dict[AssetKind, int], others: bool, active: bool) -> None:
        """What moved since `marks`: the shown kind's watermark (`others`: every kind's), and
        only then the counts and the shown kind's changes (see the comment at the top)."""
        ws = self.app.workspace
        source, caps = source_for(ws), ws.capabilities
        moved = {}
        for kind in KIND_ORDER if others else [spec.kind]:
            if KINDS[kind].available(caps):
                mark = source.watermark(kind)
                if mark != marks.get(kind):
                    moved[kind] = mark
        polled = self.Polled(spec.kind, moved, ws.counts() if moved or active else None)
        since = marks.get(spec.kind)
        if spec.kind in moved and since is not None:
            now = self.app.clock()
            polled.changes = source.changes(spec.kind, since)
            polled.rows = build_rows(spec, polled.changes.assets, now)
        self.post_message(polled)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def load_detail(self, spec: KindSpec, row: Row) -> None:
        data = spec.load_detail(self.app.workspace, row.asset)
        if not get_current_worker().is_cancelled:
            self.post_message(self.DetailLoaded(spec.kind, row.key, data))

    # ------------------------------------------------------------------ message handlers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "poll" and worker.is_finished:
            self._polling = False
            if event.state == WorkerState.ERROR and worker.error is not None:
                # Every tick would say it again: the banner says it once, and ticks wait for `r`.
                self.show_banner(f"Cannot reach the workspace: {worker.error}")
                return
        super().on_worker_state_changed(event)

    def on_main_screen_info_loaded(self, message: InfoLoaded) -> None:
        self.query_one("#header", Static).update(Text(describe_workspace(message.info, self.app.read_only,
                                                                         self.app.workspace_source)))

    def on_main_screen_counts_loaded(self, message: CountsLoaded) -> None:
        self.hide_banner()
        self._show_counts(message.counts)

    def _show_counts(self, counts: dict[AssetKind, int]) -> None:
        if counts != self._counts:  # repaint only on change
            self._counts = counts
            caps = self.app.workspace.capabilities
            available = {k: KINDS[k].available(caps) for k in KIND_ORDER}
            self.query_one(KindList).set_counts(counts, available)

    def on_main_screen_pages_loaded(self, message: PagesLoaded) -> None:
        result = message.result
        if self.table.receive(result) and result.watermark is not None:
            self._marks[self.kind] = max(result.watermark, self._marks.get(self.kind, result.watermark))

    def on_main_screen_children_loaded(self, message: ChildrenLoaded) -> None:
        if message.kind == self.kind:
            self.table.set_children(message.parent, message.rows)

    def on_main_screen_polled(self, message: Polled) -> None:
        for kind, mark in message.moved.items():
            if kind != message.kind:
                self._marks[kind] = mark
        if message.counts is not None:
            self._show_counts(message.counts)
        changes = message.changes
        if changes is None or message.kind != self.kind:
            return
        self._marks[self.kind] = max(changes.watermark, self._marks.get(self.kind, changes.watermark))
        if changes.reset:
            self._reload()
            return
        table = self.table
        if not table.update_rows(message.rows):
            table.reload()  # a row came, went or moved: the pages on screen again
        touched = {a.key for a in changes.assets} | {getattr(a, "parent_job_name", None) for a in changes.assets}
        for parent in table.expanded & touched:  # a sweep's trials: its children again
            self.load_children(self.spec, parent)

    def on_asset_table_loaded(self, message: AssetTable.Loaded) -> None:
        table = self.table
        if table.window.counted and table.empty_message == "Loading…":
            table.empty_message = self._empty_message()
        key = self._select_after_load
        if key and table.move_to_key(key):
            self._select_after_load = None
        elif key and not table.window.pending:
            # Not among the rows: a filter hides the new job (the user asked to see it, so
            # the filter goes), or the sort put it out of the window (it stays where it is).
            self._select_after_load = None
            if table.filter_text:
                self._select_after_load = key
                table.set_filter("")
                self.notify(f"Filter cleared to show {key}.", markup=False)
        self._update_title()

    def on_main_screen_detail_loaded(self, message: DetailLoaded) -> None:
        if message.kind == self.kind and message.key == self.table.cursor_key:
            self.query_one("#detail-body", Static).update(render_detail(self.spec, message.data))

    def on_asset_table_highlighted(self, message: AssetTable.Highlighted) -> None:
        # Debounced: holding `down` on 10,000 rows must not start a load per row.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        row = message.row
        if row is None:
            self.query_one("#detail-body", Static).update("")
            return
        self._detail_timer = self.set_timer(0.12, lambda: self.load_detail(self.spec, row))

    def on_asset_table_sorted(self, message: AssetTable.Sorted) -> None:
        table = message.table
        sort = (table.sort_column, table.sort_reverse if table.sort_column is not None else False)
        if self._sorts.get(self.kind, (None, False)) != sort:
            self._sorts[self.kind] = sort
            self._save_sorts()
        self._update_title()

    # ------------------------------------------------------------------ sort (o, s/S, a header click)

    def _load_sorts(self) -> None:
        """Each kind's sort from the config file's [sort]; a column the kind lacks is a warning."""
        config = self.app.config
        for kind_name, value in config.sort.items():
            kind = AssetKind(kind_name)
            titles = [c.title for c in KINDS[kind].columns]
            parsed = parse_sort(value, titles)
            if parsed is None:
                self.notify(f"{config.path}: sort.{kind_name}: no column {value.lstrip('-')!r}; "
                            f"columns: {', '.join(titles)}", severity="warning", timeout=10, markup=False)
            else:
                self._sorts[kind] = parsed

    def _save_sorts(self) -> None:
        path = self.app.config.path
        if path == NO_CONFIG_FILE:
            return  # an app made without a config file (tests) has nowhere to keep it
        sort = {}
        for kind in KIND_ORDER:
            column, reverse = self._sorts.get(kind, (None, False))
            if column is not None:
                sort[kind.value] = ("-" if reverse else "") + KINDS[kind].columns[column].title
        self.write_sorts(path, sort)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save-sort")
    def write_sorts(self, path, sort: dict[str, str]) -> None:
        from tui.config import save_sort

        save_sort(path, sort)

    def action_sort_picker(self) -> None:
        table = self.table
        if not table.columns:
            return

        def picked(choice: str | None) -> None:
            if choice is not None:
                table.sort_by(None if choice == "none" else int(choice))

        self.app.push_screen(SortPicker([c.title for c in table.columns], table.sort_column, table.sort_reverse),
                             picked)

    def on_asset_table_selected(self, message: AssetTable.Selected) -> None:
        from tui.screens.detail import DetailScreen

        if message.row.depth == 0 and getattr(message.row.asset, "type", None) == "sweep":
            self.app.open_sweep(message.row.asset)  # a sweep's details are its trials
            return
        self.app.push_screen(DetailScreen(self.spec, message.row.asset))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        if message.option_list.id == "sidebar" and message.option.id:
            self.show_kind(AssetKind(message.option.id))
            self.table.focus()

    # ------------------------------------------------------------------ view state

    def show_kind(self, kind: AssetKind) -> None:
        """Switch the table to `kind`: its first page comes from the source."""
        self.kind = kind
        spec = KINDS[kind]
        table = self.table
        column, reverse = self._sorts.get(kind, (None, False))
        ws = self.app.workspace
        available = spec.available(ws.capabilities)
        table.configure(spec.columns, kind=kind, pager=SourcePager(source_for(ws), spec) if available else None,
                        empty_message="Loading…", sort_column=column, sort_reverse=reverse)
        if not available:
            table.set_rows([], empty_message=spec.unavailable)
        self.query_one(KindList).select_kind(kind)
        self.refresh_bindings()  # the footer shows this kind's actions
        self.query_one("#detail-body", Static).update("")
        self._update_title()

    def _reload(self) -> None:
        table = self.table
        if isinstance(table.pager, SourcePager):
            table.reload()
            for parent in table.expanded:
                self.load_children(self.spec, parent)

    def _empty_message(self) -> str:
        if self.kind == AssetKind.JOBS:
            return "No jobs yet. Press n to submit one."
        return f"No {self.spec.title.lower()} in this workspace."

    def _update_title(self) -> None:
        # Text, not markup: the filter is user input and may hold brackets.
        table = self.table
        shown, total = table.count, table.total
        # A backend that has not loaded every page (Azure) knows no exact count: "N+".
        of = f" {shown.total:,}{'' if shown.exact else '+'} of {total.total:,}{'' if total.exact else '+'}"
        title = Text.assemble((self.spec.title, "bold"), of)
        if table.filter_text:
            title.append(f"  ·  filter: {table.filter_text}")
            if table.filter_error:
                title.append(f" ({table.filter_error})", style="italic")
        title.append(f"  ·  sort: {table.sort_description()}")
        as_of = self._as_of()
        if as_of:
            title.append(f"  ·  as of {as_of}", style="italic")
        self.query_one("#table-title", Static).update(title)

    def _as_of(self) -> str | None:
        """When a cached list (Azure) was fetched, as HH:MM; None for a source that reads live."""
        as_of = getattr(source_for(self.app.workspace), "as_of", None)
        when = as_of(self.kind) if as_of is not None else None
        return time.strftime("%H:%M", time.localtime(when)) if when else None

    def _watch_cache(self) -> None:
        """A cached source (Azure) that cannot refresh keeps serving its rows: say so, and why."""
        source = source_for(self.app.workspace)
        if not hasattr(source, "as_of"):
            return
        error = getattr(source, "last_error", None)
        if error and not self._banner:
            self.show_banner(f"Showing the list as of {self._as_of() or 'an earlier run'}: {error}")
            self._cache_banner = True
        elif not error and self._cache_banner:
            self._cache_banner = False
            self.hide_banner()
        if self._as_of() != self._shown_as_of:
            self._shown_as_of = self._as_of()
            self._update_title()

    def show_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(Text(f"⚠ {text}   — press r to retry"))
        banner.display = True
        self._banner = True

    def hide_banner(self) -> None:
        if self._banner:
            self.query_one("#banner").display = False
            self._banner = False

    def _tick(self) -> None:
        """Every tick: repaint live durations, ask what moved (see the comment at the top)."""
        table = self.table
        table.refresh_live()
        self._watch_cache()
        if self._banner or self._polling:
            return
        active = [r for _, r in table.window.loaded() if isinstance(r.asset, Job) and r.asset.status in ACTIVE_STATUSES]
        self._polling = True
        self._ticks += 1
        self.poll(self.spec, dict(self._marks), self._ticks % OTHER_KINDS_EVERY == 1, bool(active))
        row = table.cursor_row
        if row is not None and isinstance(row.asset, Job) and row.asset.status in ACTIVE_STATUSES:
            self.load_detail(self.spec, row)  # its metrics and log files grow

    # ------------------------------------------------------------------ prompt (: and /)

    def _open_prompt(self, mode: str) -> None:
        prompt = self.query_one("#prompt", PromptInput)
        self.prompt_mode = mode
        if mode == "command":
            prompt.placeholder = ":" + "  ".join(command_words()[:6]) + "  quit   (tab completes)"
            prompt.suggester = SuggestFromList(command_words(), case_sensitive=False)
            prompt.words = command_words()
            prompt.start("", self._history[mode])
        else:
            prompt.placeholder = "/filter: text, /regex/, status:Failed exp:mnist -status:Completed   ↑↓ history"
            prompt.suggester = None
            prompt.words = []
            prompt.start(self.table.filter_text, self._history[mode])
        prompt.display = True
        prompt.focus()

    def _close_prompt(self) -> None:
        self.prompt_mode = None
        prompt = self.query_one("#prompt", Input)
        prompt.display = False
        self.table.focus()

    def action_command_mode(self) -> None:
        self._open_prompt("command")

    def action_filter(self) -> None:
        self._open_prompt("filter")

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id == "prompt" and self.prompt_mode == "filter":
            self.table.set_filter(message.value)
            self._update_title()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id != "prompt":
            return
        mode = self.prompt_mode
        self.query_one("#prompt", PromptInput).remember()
        self._close_prompt()
        if mode == "command":
            self.run_command(message.value)

    def run_command(self, text: str) -> None:
        word = text.strip().lstrip(":").strip()
        if not word:
            return
        if word.lower() in ("q", "quit", "q!", "exit"):
            self.app.exit(0)
            return
        spec = resolve_kind(word)
        if spec is None:
            self.notify(f"Unknown command :{word}. Try " + ", ".join(":" + w for w in command_words()[:6]),
                        severity="warning", markup=False)
            return
        self.show_kind(spec.kind)

    def action_back(self) -> None:
        if self.prompt_mode == "filter":
            self.table.set_filter("")
            self._update_title()
        if self.prompt_mode is not None:
            self._close_prompt()
        elif self.table.filter_text:
            self.table.set_filter("")
            self._update_title()

    def action_toggle_detail(self) -> None:
        detail = self.query_one("#detail")
        detail.display = not detail.display

    def action_kind(self, number: int) -> None:
        self.show_kind(KIND_ORDER[number - 1])

    # ------------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        refresh = getattr(source_for(self.app.workspace), "refresh", None)
        if refresh is not None:
            refresh(self.kind)  # a cache: fetch now, not when its schedule says
        self.load_info()
        self.load_counts()
        self._reload()

    # The kind's own actions (l, c, C, e ...) come from the registry through KindActions.
    def current_spec(self) -> KindSpec:
        return self.spec

    def current_asset(self) -> Asset | None:
        row = self.table.cursor_row
        return row.asset if row is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_job":
            return self.app.can_submit
        if action == "new_sweep":
            return self.app.can_submit_sweep
        return super().check_action(action, parameters)

    def action_yaml(self) -> None:
        row = self.table.cursor_row
        if row is not None:
            from tui.screens.modals import show_yaml

            show_yaml(self.app, row.asset)

    def action_new_job(self) -> None:
        self.app.new_job()

    def action_new_sweep(self) -> None:
        self.app.open_sweep_form()

    def job_submitted(self, name: str | None) -> None:
        """After a submit: show jobs with the new one selected, ready for `l`."""
        if not name:
            return
        self._select_after_load = name
        if self.kind != AssetKind.JOBS:
            self.show_kind(AssetKind.JOBS)
        else:
            self._reload()
        self.load_counts()
        self.table.focus()

    def toggle_trials(self, job: Asset) -> None:
        """Show or hide a sweep's trials under its row."""
        if self.table.toggle_expanded(job.key):
            self.load_children(self.spec, job.key)
