"""Signing in to an Azure workspace: the app's first screen when the user named one.

The first frame comes before the SDK is imported: this screen paints "signing in", then a
worker imports the SDK, fetches the first token and opens the workspace (one GET, so a wrong
name or a missing role shows here, once). A failure stays on this screen with what to do and
`r` to retry. With only a subscription (or a group) named, the worker lists the workspaces
and a picker asks which one. Importing this module imports no Azure SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tui.widgets.footer import KeyFooter
from tui.workspace.base import InvalidSpecError, WorkspaceError

if TYPE_CHECKING:
    from tui.workspace.azure.client import AzureOpener, WorkspaceRef


def failure_title(error: BaseException) -> str:
    """What went wrong, in a few words (the message says what to do)."""
    from tui.workspace.azure.errors import AuthError, NetworkError, NotSignedInError, WorkspaceNotFoundError

    if isinstance(error, NotSignedInError):
        return "Not signed in to Azure"
    if isinstance(error, AuthError):
        return "Permission denied (403)" if error.status == 403 else "Azure rejected the sign-in (401)"
    if isinstance(error, WorkspaceNotFoundError):
        return "Workspace not found"
    if isinstance(error, NetworkError):
        return "Cannot reach Azure (network down?)"
    if isinstance(error, InvalidSpecError):
        return "The workspace named is not valid"
    return "Cannot open the workspace"


class SignInScreen(Screen):
    """See module docstring. The app swaps it for the main screen once a workspace is open."""

    DEFAULT_CSS = """
    SignInScreen #signin { padding: 1 2; height: 1fr; }
    SignInScreen #signin-title { text-style: bold; height: auto; }
    SignInScreen #signin-detail { height: auto; margin-top: 1; }
    SignInScreen #picker { display: none; height: auto; max-height: 1fr; margin-top: 1; }
    SignInScreen.-failed #signin-title { color: $error; }
    """

    BINDINGS = [
        Binding("r", "retry", "Retry", id="signin.retry"),
        Binding("escape", "pick_again", "Other workspace", id="signin.pick_again"),
        Binding("q", "app.quit", "Quit", id="signin.quit"),
    ]

    @dataclass
    class Listed(Message):
        refs: list[Any]

    @dataclass
    class Opened(Message):
        workspace: Any

    def __init__(self, opener: "AzureOpener") -> None:
        super().__init__()
        self.opener = opener
        self.refs: list["WorkspaceRef"] = []  # the picker's choices
        self._target: "WorkspaceRef | None" = None  # what the running (or last) attempt opens
        self.busy = False
        self.failure: BaseException | None = None

    def compose(self) -> ComposeResult:
        ref = self.opener.ref
        name = ref.workspace_name or "choose a workspace"
        yield Static(Text(f" aml-tui  │  azure  │  {name}  │  from {ref.source}"), id="header")
        with Vertical(id="signin"):
            yield Static("", id="signin-title")
            yield Static("", id="signin-detail")
            yield OptionList(id="picker")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._say(f"Signing in to {self.opener.ref.describe()}…",
                  f"named by {self.opener.ref.source}; DefaultAzureCredential (az login, environment, "
                  "managed identity...)")
        if self.app.exit_after_first_frame:  # type: ignore[attr-defined]
            self.call_after_refresh(self.app.exit, 0)  # the first-frame benchmark: never sign in
            return
        # Paint first: the worker's SDK import (1-3 s) competes for the GIL.
        self.call_after_refresh(self.connect_to, None)

    def _say(self, title: str, detail: str = "") -> None:
        self.query_one("#signin-title", Static).update(Text(title))
        self.query_one("#signin-detail", Static).update(Text(detail))

    # ------------------------------------------------------------------ the worker

    def connect_to(self, ref: "WorkspaceRef | None") -> None:
        """Sign in, then list the workspaces (none named) or open `ref` (or the one named)."""
        self.busy, self.failure, self._target = True, None, ref
        self.remove_class("-failed")
        self.refresh_bindings()
        target = ref or self.opener.ref
        if target.complete:
            self._say(f"Signing in to {target.describe()}…", f"named by {target.source}")
        else:
            self._say(f"Signing in to list the workspaces of subscription {target.subscription_id}…",
                      f"named by {target.source}")
        self._connect(ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _connect(self, ref: "WorkspaceRef | None") -> None:
        opener = self.opener
        opener.sign_in()
        target = ref or opener.ref
        if not target.complete:
            self.post_message(self.Listed(opener.list_workspaces()))
            return
        self.post_message(self.Opened(opener.open(target)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "signin" and event.state == WorkerState.ERROR:
            self.busy = False
            self.show_failure(event.worker.error)

    def show_failure(self, error: BaseException | None) -> None:
        self.failure = error
        self.add_class("-failed")
        message = str(error) if isinstance(error, WorkspaceError) else f"{type(error).__name__}: {error}"
        from tui.workspace.redact import redact

        again = ", esc to choose another workspace" if self.refs else ""
        self._say(f"⚠ {failure_title(error) if error else 'Cannot open the workspace'}",
                  f"{redact(message)}\n\nPress r to retry{again}, q to quit.")
        self.refresh_bindings()  # esc applies now

    def on_sign_in_screen_listed(self, message: Listed) -> None:
        self.busy = False
        self.refs = list(message.refs)
        picker = self.query_one("#picker", OptionList)
        picker.clear_options()
        where = self.opener.ref.resource_group or self.opener.ref.subscription_id
        if not self.refs:
            self.add_class("-failed")
            self._say(f"⚠ No workspaces in {where} that you can see",
                      "Ask for a role on a workspace, or name another subscription. Press r to retry, q to quit.")
            picker.display = False
            return
        picker.add_options([Option(Text(f"{r.workspace_name}   (resource group {r.resource_group})"), id=str(i))
                            for i, r in enumerate(self.refs)])
        picker.display = True
        picker.highlighted = 0
        picker.focus()
        self._say(f"Choose a workspace of {where} ({len(self.refs)})", "enter opens it; q quits")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.busy:
            return
        ref = self.refs[int(event.option.id or 0)]
        self.query_one("#picker").display = False
        self.connect_to(ref)

    def on_sign_in_screen_opened(self, message: Opened) -> None:
        self.busy = False
        self.app.workspace_opened(message.workspace, self.opener.ref)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick_again":  # only after a workspace picked from the list failed to open
            return bool(self.refs) and self.failure is not None and not self.busy
        return True

    def action_pick_again(self) -> None:
        self.failure, self._target = None, None
        self.remove_class("-failed")
        self.on_sign_in_screen_listed(self.Listed(self.refs))

    def action_retry(self) -> None:
        if self.busy:
            return
        self.query_one("#picker").display = False
        self.connect_to(self._target)
