"""Small modal screens: confirm, prompt for a value, show text (YAML), help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Static

if TYPE_CHECKING:
    from tui.workspace.base import Asset


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no. `y`/enter on the yes button confirms, `n`/esc declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.question, id="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", variant="default", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value (a file path); enter accepts, esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(self.value, id="value")
            yield Label("[dim]enter to accept, esc to cancel[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """A scrollable view of a renderable (the YAML of an asset)."""

    BINDINGS = [Binding("escape,q,y", "close", "Close", id="text.close")]

    def __init__(self, title: str, body) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"[b]{self.title_text}[/b]   [dim]esc to close[/dim]")
            with VerticalScroll(id="text-body"):
                yield Static(self.body, id="text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#text-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


def asset_yaml(asset: "Asset") -> str:
    import yaml

    return yaml.safe_dump(asset.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False)


def show_yaml(app: App, asset: "Asset") -> None:
    text = asset_yaml(asset)
    app.push_screen(TextScreen(f"{asset.kind.value}/{asset.key}", Syntax(text, "yaml", theme="ansi_dark",
                                                                         background_color="default")))


# What `?` lists besides the bindings: the two little languages.
HELP_NOTES = """\
[b]:[/b] command mode: [b]:jobs :data :compute :env :models :endpoints :quit[/b] (tab completes; aliases j, d, c, e, m, ep)
[b]/[/b] filter: text matches anywhere in the row, case-insensitive; wrap in slashes for a regex: [b]/fail|cancel/[/b];
  column terms [b]status:Failed exp:mnist[/b], [b]-status:Completed[/b] excludes; ↑/↓ in the prompt recall earlier filters
[b]o[/b] picks the sort column (picked again, it reverses; clicking a header does the same; each kind keeps its sort
  in the config file); [b]s[/b] sorts by the next column, [b]S[/b] reverses; numbers 1–6 jump to a kind
Logs: [b]/[/b] searches the whole file (same syntax), [b]n[/b]/[b]N[/b] next/previous match; scrolling up pauses follow
"""


_SCREEN_DEFAULTS = {(b.action, b.description) for b in Binding.make_bindings(Screen.BINDINGS)}
WIDGET_TITLES = {"AssetTable": "Table", "LogView": "Log view", "PromptInput": "Prompt"}


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened over, as that screen allows them now (its kind,
    the read-only mode): the screen's own first, then its focused widget's, then the app's."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        groups: dict[str, dict[str, tuple[list[str], str]]] = {}
        for key, active in self.under.active_bindings.items():
            binding, node = active.binding, active.node
            if not active.enabled or not binding.description:
                continue
            textual_own = (binding.action, binding.description) in _SCREEN_DEFAULTS  # tab, copy
            title = ("Everywhere" if node is self.app or textual_own else "This screen" if node is self.under
                     else WIDGET_TITLES.get(type(node).__name__, type(node).__name__))
            keys, _ = groups.setdefault(title, {}).setdefault(binding.id or binding.action, ([], binding.description))
            keys.append(self.app.get_key_display(binding))
        order = sorted(groups, key=lambda t: (t != "This screen", t == "Everywhere"))
        tables = []
        for title in order:
            table = Table(title=title, title_justify="left", title_style="bold underline", box=None,
                          show_header=False, padding=(0, 2), pad_edge=False)
            table.add_column(style="bold cyan", no_wrap=True, min_width=14)
            table.add_column()
            for keys, description in groups[title].values():
                table.add_row(", ".join(keys), description)
            tables.append(table)
        with Vertical(classes="dialog wide"):
            yield Label("[b]aml-tui keys[/b]   [dim]esc to close[/dim]")
            with VerticalScroll(id="help-body"):
                yield Static(Group(*tables), id="help-table")
                yield Static(HELP_NOTES, id="help-notes")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
