"""aml-tui's Textual app: k9s for Azure ML.

The app holds the workspace, the read-only switch, the clock and the job template; the
screens do the work (`MainScreen` browses every kind through `tui.kinds`, `LogScreen` tails
a log, `SubmitScreen` submits, `DetailScreen` shows one asset). Worker failures from every
screen end in `report_error` (one place), so a failed call is a notification, never a crash.

Importing this module must stay cheap (the first frame budget is 0.5 s): no mlflow, torch or
azure here, and screens other than the main one are imported when first opened.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tui.kinds import KIND_ORDER, KINDS
from tui.workspace.base import BackendUnavailableError, Workspace, WorkspaceError

if TYPE_CHECKING:
    from tui.screens.main import MainScreen

# Set by the first-frame benchmark: exit as soon as the first frame has been painted.
EXIT_AFTER_FIRST_FRAME = "AML_TUI_EXIT_AFTER_FIRST_FRAME"


def default_job_template(cwd: Path | None = None) -> Path | None:
    """`trainer/job.yml` under the cwd or any parent (the repo root), if there is one."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "trainer" / "job.yml"
        if candidate.is_file():
            return candidate
    return None


class ReportsWorkerErrors:
    """Mixin for screens that run workers: a failed worker becomes a notification.

    Textual sends `Worker.StateChanged` only to the node that started the worker (it does
    not bubble), so each screen forwards it to the app's single `report_error`.
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_error(event.worker.error, group=event.worker.group)  # type: ignore[attr-defined]


class AmlCommands(Provider):
    """Command palette entries: every kind, and the main actions."""

    def _commands(self) -> Iterable[tuple[str, Callable[[], object], str]]:
        app = self.app
        assert isinstance(app, AmlTuiApp)
        for kind in KIND_ORDER:
            spec = KINDS[kind]
            yield f"Show {spec.title.lower()}", (lambda k=kind: app.go_to_kind(k)), f":{spec.aliases[0]}"
        yield "Refresh", lambda: app.main_screen.action_refresh(), "Reload the current view (r)"
        yield "New job", lambda: app.main_screen.action_new_job(), "Submit a command job (n)"
        yield "Help", app.action_help, "Every key binding (?)"

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class AmlTuiApp(App[int]):
    """See module docstring."""

    CSS_PATH = "app.tcss"
    TITLE = "aml-tui"
    COMMANDS = App.COMMANDS | {AmlCommands}
    BINDINGS = [
        # `q` quits from the main screen only (and goes back elsewhere), so a stray `q`
        # on a form or a log never ends the session; ctrl+q quits from anywhere.
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.command_palette"),
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        read_only: bool = False,
        job_template: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.workspace = workspace  # thread-safe by contract: workers call it concurrently
        self.read_only = read_only or bool(getattr(workspace, "read_only", False))
        self.job_template = job_template
        self.clock = clock
        self.exit_after_first_frame = os.environ.get(EXIT_AFTER_FIRST_FRAME) == "1"

    # ------------------------------------------------------------------ screens

    def get_default_screen(self) -> Screen:
        from tui.screens.main import MainScreen

        return MainScreen()

    @property
    def main_screen(self) -> "MainScreen":
        from tui.screens.main import MainScreen

        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def go_to_kind(self, kind) -> None:
        """Back to the main screen, showing `kind`."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.main_screen.show_kind(kind)

    def action_help(self) -> None:
        from tui.screens.modals import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Keep Textual's theme and screenshot commands; "Quit" and "Keys" are ours already.
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit the application", "Keys"):
                yield command

    # ------------------------------------------------------------------ policy

    def check_writable(self, what: str) -> bool:
        """Whether a mutating action may run; tells the user why not when it may not."""
        if self.read_only:
            self.notify(f"Read-only mode: {what} is disabled.", title="read-only", severity="warning", markup=False)
            return False
        return True

    def report_error(self, error: BaseException, *, group: str = "") -> None:
        """The one place a failed call ends: a notification, or the banner when the backend
        cannot be reached."""
        from tui.screens.main import MainScreen

        unreachable = isinstance(error, BackendUnavailableError) or group == "counts"
        main = self.screen_stack[0] if self.screen_stack else None
        if unreachable and isinstance(main, MainScreen):
            main.show_banner(f"Cannot reach the workspace: {error}")
            return
        message = str(error) if isinstance(error, WorkspaceError) else f"{type(error).__name__}: {error}"
        self.notify(message or type(error).__name__, title="error", severity="error", timeout=8, markup=False)


def make_app(
    workspace: Workspace,
    *,
    read_only: bool = False,
    job_template: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> AmlTuiApp:
    """Build the app (tests use this; `run_app` runs it)."""
    if job_template is None:
        job_template = default_job_template()
    return AmlTuiApp(workspace, read_only=read_only, job_template=job_template, clock=clock)


def run_app(workspace: Workspace, *, read_only: bool = False, job_template: Path | None = None) -> int:
    """Run the TUI until the user quits; returns the process exit code."""
    app = make_app(workspace, read_only=read_only, job_template=job_template)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
