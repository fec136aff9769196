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

from tui.config import Config
from tui.kinds import KIND_ORDER, KINDS, all_actions
from tui.workspace.base import Asset, BackendUnavailableError, Job, Workspace, WorkspaceError

if TYPE_CHECKING:
    from tui.screens.main import MainScreen
    from tui.workspace.azure.client import AzureOpener, WorkspaceRef

# Set by the first-frame benchmark: exit as soon as the first frame has been painted.
EXIT_AFTER_FIRST_FRAME = "AML_TUI_EXIT_AFTER_FIRST_FRAME"


def default_job_template(cwd: Path | None = None) -> Path | None:
    """`trainer/job.yml` under the cwd or any parent (a project of the user's), else the
    bundled trainer's job, so `n` is prefilled from any folder."""
    from tui.bundle import trainer_job

    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "trainer" / "job.yml"
        if candidate.is_file():
            return candidate
    return trainer_job()


class AmlCommands(Provider):
    """Command palette entries: every kind, and the main actions."""

    def _commands(self) -> Iterable[tuple[str, Callable[[], object], str]]:
        app = self.app
        assert isinstance(app, AmlTuiApp)
        if app.workspace is None:  # still signing in: there is nothing to browse yet
            yield "Help", app.action_help, "The keys of this screen (?)"
            return
        for kind in KIND_ORDER:
            spec = KINDS[kind]
            yield f"Show {spec.title.lower()}", (lambda k=kind: app.go_to_kind(k)), f":{spec.aliases[0]}"
        yield "Refresh", lambda: app.main_screen.action_refresh(), "Reload the current view (r)"
        if app.can_submit:
            yield "New job", lambda: app.open_submit(None), "Submit a command job (n)"
        if app.can_submit_sweep:
            yield "New sweep", app.open_sweep_form, "Submit a sweep job: a hyperparameter search (N)"
        # The current kind's actions on the selected row, as its keys allow them.
        main = app.main_screen
        for action in main.current_spec().actions:
            if main.kind_action_allowed(action):
                yield (f"{action.description} ({main.current_spec().title.lower()})",
                       (lambda a=action.id: main.action_kind_action(a)), f"{action.key_display or action.key}")
        yield "Help", app.action_help, "The keys of this screen (?)"

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
        workspace: Workspace | None,
        *,
        read_only: bool = False,
        job_template: Path | None = None,
        clock: Callable[[], float] = time.time,
        config: Config | None = None,
        opener: "AzureOpener | None" = None,
    ) -> None:
        super().__init__()
        if workspace is None and opener is None:
            raise ValueError("the app needs a workspace, or an opener that signs in to one")
        self.config = config or Config(Path("(none)"))
        # None until the sign-in screen opens the Azure workspace `opener` names.
        self.workspace: Workspace = workspace  # type: ignore[assignment]
        self.opener = opener
        self.workspace_source: str | None = None  # where the Azure workspace was named (the header says)
        self.read_only = read_only or bool(getattr(workspace or opener, "read_only", False))
        self.job_template = job_template
        self.clock = clock
        self.exit_after_first_frame = os.environ.get(EXIT_AFTER_FIRST_FRAME) == "1"
        self.refresh_interval = self.config.refresh_interval
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        if self.config.theme:
            if self.config.theme in self.available_themes:
                self.theme = self.config.theme
            else:
                self._startup_warning = (f"{self.config.path}: ui.theme: unknown theme {self.config.theme!r}; "
                                         f"available: {', '.join(sorted(self.available_themes))}")

    _startup_warning: str | None = None

    def on_mount(self) -> None:
        if self._startup_warning:
            self.notify(self._startup_warning, severity="warning", timeout=10, markup=False)
        if not self.config.keymap:
            return  # checking it imports every screen: only when there is one
        known = {b.id for b in self._all_binding_ids()} | {a.id for a in all_actions()}
        unknown = sorted(set(self.config.keymap) - known)
        if unknown:
            self.notify(f"{self.config.path}: keymap: unknown binding ids: {', '.join(unknown)}",
                        severity="warning", timeout=10, markup=False)

    @staticmethod
    def _all_binding_ids():
        """Every binding of every screen and widget of ours (for checking the keymap)."""
        from textual.binding import Binding

        from tui.screens.detail import DetailScreen
        from tui.screens.logs import LogScreen
        from tui.screens.main import MainScreen, SortPicker
        from tui.screens.modals import ConfirmScreen, HelpScreen, PromptScreen, TextScreen
        from tui.screens.signin import SignInScreen
        from tui.screens.submit import SubmitScreen
        from tui.screens.sweep import SweepScreen
        from tui.screens.sweep_form import NewJobChooser, SweepFormScreen
        from tui.widgets.asset_table import AssetTable
        from tui.widgets.log_view import LogView

        for cls in (AmlTuiApp, MainScreen, DetailScreen, LogScreen, SubmitScreen, AssetTable, LogView,
                    ConfirmScreen, HelpScreen, PromptScreen, TextScreen, SortPicker, SignInScreen, SweepScreen,
                    SweepFormScreen, NewJobChooser):
            yield from Binding.make_bindings(cls.BINDINGS)

    # ------------------------------------------------------------------ screens

    def get_default_screen(self) -> Screen:
        if self.workspace is None:
            from tui.screens.signin import SignInScreen

            return SignInScreen(self.opener)
        from tui.screens.main import MainScreen

        return MainScreen()

    def workspace_opened(self, workspace: Workspace, ref: "WorkspaceRef") -> None:
        """The sign-in screen opened the workspace: browse it."""
        from tui.screens.main import MainScreen

        self.workspace = workspace
        self.workspace_source = ref.source
        self.read_only = self.read_only or bool(getattr(workspace, "read_only", False))
        # A mode of its own: its stack starts at the main screen, as `main_screen` expects
        # (switch_screen cannot replace a default screen). The sign-in screen stays suspended.
        self.add_mode("browse", MainScreen)
        self.switch_mode("browse")

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
            self.push_screen(HelpScreen(self.screen))

    # ------------------------------------------------------------------ what kind actions ask for

    @property
    def can_submit(self) -> bool:
        return not self.read_only and self.workspace.capabilities.submit

    @property
    def can_submit_sweep(self) -> bool:
        return self.can_submit and self.workspace.capabilities.sweeps

    def new_job(self) -> None:
        """`n`: a command job, or, where sweeps can be submitted, first the choice of one."""
        if not self.can_submit_sweep:
            self.open_submit(None)
            return
        from tui.screens.sweep_form import NewJobChooser

        def chosen(kind: str | None) -> None:
            if kind == "sweep":
                self.open_sweep_form()
            elif kind == "command":
                self.open_submit(None)

        self.push_screen(NewJobChooser(), chosen)

    def open_sweep_form(self) -> None:
        if not self.check_writable("submit"):
            return
        if not self.workspace.capabilities.sweeps:
            self.notify("This workspace backend does not run sweeps.", severity="warning", markup=False)
            return
        from tui.screens.sweep_form import SweepFormScreen

        while len(self.screen_stack) > 1:  # as a job's submit: it ends on the jobs table, the sweep selected
            self.pop_screen()
        self.push_screen(SweepFormScreen(), self.main_screen.job_submitted)

    def open_sweep(self, job: Asset) -> None:
        from tui.screens.sweep import SweepScreen

        self.push_screen(SweepScreen(job if isinstance(job, Job) else job.name))

    def open_logs(self, job_name: str) -> None:
        from tui.screens.logs import LogScreen

        self.push_screen(LogScreen(job_name))

    def open_submit(self, document: dict | None) -> None:
        if not self.check_writable("submit"):
            return
        from tui.screens.submit import SubmitScreen

        while len(self.screen_stack) > 1:  # a submit ends on the jobs table, the new job selected
            self.pop_screen()
        self.push_screen(SubmitScreen(document=document), self.main_screen.job_submitted)

    def clone_job(self, job: Asset) -> None:
        from tui.screens.submit import clone_document

        assert isinstance(job, Job)
        self.open_submit(clone_document(job))

    def request_cancel(self, job: Asset) -> None:
        """Ask, then cancel in a worker; the main table refreshes when it is done."""
        assert isinstance(job, Job)
        if not self.check_writable("cancel"):
            return
        if job.is_terminal:
            self.notify(f"{job.name} is already {job.status}.", severity="warning", markup=False)
            return
        from tui.screens.modals import ConfirmScreen

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_worker(lambda: self._cancel(job.name), thread=True, group="mutate", exit_on_error=False)

        self.push_screen(ConfirmScreen(f"Cancel job [b]{job.name}[/b] ({job.status})?", yes="Cancel job",
                                       no="Keep running"), confirmed)

    def _cancel(self, name: str) -> None:
        try:
            job = self.workspace.cancel_job(name)
        except Exception as exc:  # a worker of the app: report it like a screen's worker
            self.call_from_thread(self.report_error, exc, group="mutate")
            return
        self.call_from_thread(self._cancelled, job)

    def _cancelled(self, job: Job) -> None:
        self.notify(f"{job.name}: {job.status}", title="cancel", markup=False)
        self.main_screen.action_refresh()

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
    workspace: Workspace | None,
    *,
    read_only: bool = False,
    job_template: Path | None = None,
    clock: Callable[[], float] = time.time,
    config: Config | None = None,
    opener: "AzureOpener | None" = None,
) -> AmlTuiApp:
    """Build the app (tests use this; `run_app` runs it). With `opener` instead of a
    workspace, the app signs in first (tui/screens/signin.py)."""
    if job_template is None:
        job_template = default_job_template()
    return AmlTuiApp(workspace, read_only=read_only, job_template=job_template, clock=clock, config=config,
                     opener=opener)


def run_app(workspace: Workspace | None, *, read_only: bool = False, job_template: Path | None = None,
            config: Config | None = None, opener: "AzureOpener | None" = None) -> int:
    """Run the TUI until the user quits; returns the process exit code."""
    app = make_app(workspace, read_only=read_only, job_template=job_template, config=config, opener=opener)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
