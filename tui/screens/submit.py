"""Submit a command job: a form prefilled from a job YAML, a YAML file with `--set`
overrides, or a clone of an existing job.

Every edit is validated (debounced) with `Workspace.validate_job`, the validator the CLI
uses; its `InvalidSpecError` names a field, and the message is shown under that field. The
preview shows exactly the document that will be submitted.
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from tui.screens.base import ReportsWorkerErrors
from tui.workspace.base import AssetKind, InvalidSpecError, Job

if TYPE_CHECKING:
    from tui.app import AmlTuiApp

# What a new job looks like when there is no template (no trainer/job.yml around).
BLANK_JOB: dict[str, Any] = {"command": "echo hello from aml-tui"}  # experiment: as azure-ai-ml names it
# Fields of a shown job that describe a past run, not a job to submit.
NOT_CLONED = ("name", "id", "status", "creation_context", "services", "studio_url", "parent_job_name",
              "error", "start_time", "end_time", "log_files", "properties")
TEXT_FIELDS = ("display_name", "experiment_name", "code")
INLINE = "__inline__"  # Select value for an inline (mapping) environment kept from the template


def clone_document(job: Job) -> dict[str, Any]:
    """A job's az ml shape, minus what belongs to the run: ready to submit again."""
    doc = {k: copy.deepcopy(v) for k, v in job.to_dict().items() if k not in NOT_CLONED and v is not None}
    doc.setdefault("type", "command")
    if job.display_name:
        doc["display_name"] = f"{job.display_name} (clone)"
    return doc


def _error_id(field: str | None, inputs: list[str]) -> str:
    """The form field an error belongs to: `inputs.epochs.value` -> `inputs-epochs`."""
    if not field:
        return "general"
    parts = field.split(".")
    if parts[0] == "inputs" and len(parts) > 1 and parts[1] in inputs:
        return f"inputs-{parts[1]}"
    if parts[0] in TEXT_FIELDS + ("command", "environment", "compute"):
        return parts[0]
    return "general"


# Where form_document leaves the literal inputs' texts, applied in the worker as `--set`s.
LITERAL_SETS = "__literal_sets__"


def _shown(document: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if document is None else {k: v for k, v in document.items() if k != LITERAL_SETS}


class SubmitScreen(ReportsWorkerErrors, Screen[str | None]):
    """Dismisses with the new job's name, or None when cancelled."""

    app: "AmlTuiApp"

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", priority=True, id="submit.submit"),
        Binding("escape", "cancel", "Cancel", id="submit.cancel"),
    ]

    @dataclass
    class Loaded(Message):
        document: dict[str, Any]
        base_dir: Path
        source: str
        environments: list[str]
        computes: list[str]

    @dataclass
    class Checked(Message):
        """Result of a validation (error None = valid) of the document shown in `preview`."""

        tab: str
        document: dict[str, Any] | None
        error: Exception | None

    @dataclass
    class Submitted(Message):
        job: Job

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.initial = document
        self.document: dict[str, Any] = {}
        self.base_dir = Path.cwd()
        self.source = "new job"
        self.inputs: list[str] = []
        self._timer: Timer | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        title = "Clone job" if self.initial is not None else "New command job"
        yield Static(f" [b]{title}[/b]   [dim]ctrl+s submits · esc cancels[/dim]", id="submit-title")
        with TabbedContent(id="submit-tabs"):
            with TabPane("Form", id="tab-form"):
                with Horizontal():
                    with VerticalScroll(id="form"):
                        yield Static("Loading…", id="form-loading")
                    yield VerticalScroll(Static("", id="form-preview"), id="form-preview-box")
            with TabPane("From YAML file", id="tab-file"):
                with Horizontal():
                    with VerticalScroll(id="file-form"):
                        yield Horizontal(Label("YAML file", classes="field-label"),
                                         Input(str(self.app.job_template or ""), placeholder="path/to/job.yml",
                                               compact=True, id="file-path"), classes="field")
                        yield Horizontal(Label("--set", classes="field-label"),
                                         Input(placeholder="inputs.epochs=3 compute=azureml:local (space separated)",
                                               compact=True, id="file-overrides"), classes="field")
                        yield Static("", classes="field-error", id="error-file")
                    yield VerticalScroll(Static("", id="file-preview"), id="file-preview-box")
        yield Static("", classes="field-error", id="error-general")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, exit_on_error=False, group="submit-load")
    def load(self) -> None:
        """Template (or clone) and the choices for environment and compute."""
        from tui.workspace.spec import load_yaml_file

        ws = self.app.workspace
        template = self.app.job_template
        if self.initial is not None:
            document, base_dir, source = self.initial, Path.cwd(), "clone"
        elif template is not None and Path(template).is_file():
            document, base_dir, source = load_yaml_file(template), Path(template).parent, str(template)
        else:
            document, base_dir, source = dict(BLANK_JOB), Path.cwd(), "new job"
        envs = [f"azureml:{a.name}:{a.version}" if a.version else f"azureml:{a.name}"
                for a in ws.list_assets(AssetKind.ENVIRONMENTS).items]
        computes = [a.name for a in ws.list_assets(AssetKind.COMPUTE).items]
        self.post_message(self.Loaded(document, base_dir, source, envs, computes))

    @work(thread=True, exclusive=True, exit_on_error=False, group="submit-check")
    def check(self, tab: str, document: dict[str, Any] | None, path: str = "", overrides: str = "") -> None:
        try:
            document, base_dir, source = self._resolve(tab, document, path, overrides)
            self.app.workspace.validate_job(document, base_dir=base_dir, source=source)
            self.post_message(self.Checked(tab, document, None))
        except InvalidSpecError as exc:
            self.post_message(self.Checked(tab, _shown(document), exc))

    @work(thread=True, exclusive=True, exit_on_error=False, group="submit-create")
    def create(self, tab: str, document: dict[str, Any] | None, path: str = "", overrides: str = "") -> None:
        try:
            document, base_dir, source = self._resolve(tab, document, path, overrides)
            job = self.app.workspace.create_job(document, base_dir=base_dir, source=source)
        except InvalidSpecError as exc:
            self.post_message(self.Checked(tab, _shown(document), exc))
            return
        finally:
            self._busy = False
        self.post_message(self.Submitted(job))

    def _resolve(self, tab: str, document: dict[str, Any] | None, path: str,
                 overrides: str) -> tuple[dict[str, Any], Path, str]:
        """The document to validate or submit, its base directory and its source name."""
        from tui.workspace.spec import apply_overrides, load_yaml_file

        if tab == "tab-form":
            assert document is not None
            document = dict(document)
            sets = document.pop(LITERAL_SETS, [])
            return apply_overrides(document, sets, self.source), self.base_dir, self.source

        if not path.strip():
            raise InvalidSpecError("enter the path of a job YAML file", field="file")
        file = Path(path.strip()).expanduser()
        try:
            words = shlex.split(overrides)
        except ValueError as exc:
            raise InvalidSpecError(f"overrides: {exc}", source=str(file), field="file") from None
        document = apply_overrides(load_yaml_file(file), words, source=str(file))
        return document, file.resolve().parent, str(file)

    # ------------------------------------------------------------------ form

    async def on_submit_screen_loaded(self, message: Loaded) -> None:
        self.document, self.base_dir, self.source = message.document, message.base_dir, message.source
        doc = message.document
        form = self.query_one("#form", VerticalScroll)
        await form.query_one("#form-loading").remove()
        widgets = []

        def field(label: str, widget, error_id: str) -> None:
            # One line per field (compact widgets), its error right under it.
            widgets.append(Horizontal(Label(label, classes="field-label"), widget, classes="field"))
            widgets.append(Static("", classes="field-error", id=f"error-{error_id}"))

        for name in TEXT_FIELDS:
            value = doc.get(name)
            field(name, Input("" if value is None else str(value), compact=True, id=f"field-{name}"), name)
        field("command", TextArea(str(doc.get("command") or ""), soft_wrap=True, show_line_numbers=False,
                                  compact=True, id="field-command"), "command")
        field("environment", self._select("environment", doc.get("environment"), message.environments),
              "environment")
        field("compute", self._select("compute", doc.get("compute"), message.computes), "compute")
        inputs = doc.get("inputs") or {}
        self.inputs = [str(k) for k in inputs] if isinstance(inputs, dict) else []
        if self.inputs:
            widgets.append(Static("[b]inputs[/b]  [dim](data inputs take a path: ./local or azureml:name@latest)[/dim]",
                                  classes="section"))
        for name in self.inputs:
            raw = inputs[name]
            shown = raw.get("path", raw.get("value", "")) if isinstance(raw, dict) else raw
            field(name, Input("" if shown is None else str(shown), compact=True, id=f"field-inputs-{name}"),
                  f"inputs-{name}")
        await form.mount_all(widgets)
        self.call_after_refresh(self._schedule_check)
        self.query_one("#field-display_name", Input).focus()

    def _select(self, name: str, current: Any, choices: list[str]) -> Select:
        """A Select over the workspace's assets; the template's value stays selectable."""
        options: list[tuple[str, str]] = []
        value: Any = Select.NULL
        if isinstance(current, dict):
            options.append(("(inline environment from the template)", INLINE))
            value = INLINE
        elif current:
            value = str(current)
        # Keep the template's spelling: `azureml:cpu` vs `cpu` for compute.
        prefix = "azureml:" if str(current or "").startswith("azureml:") else ""
        for choice in choices:
            shown = choice if choice.startswith("azureml:") else prefix + choice
            options.append((shown, shown))
        if value is not Select.NULL and value not in [v for _, v in options]:
            options.insert(0, (value, value))
        return Select(options, value=value, allow_blank=True, prompt=f"(workspace default {name})",
                      compact=True, id=f"field-{name}")

    def form_document(self) -> dict[str, Any]:
        """The template document with the form's values put in."""
        doc = copy.deepcopy(self.document)
        for name in TEXT_FIELDS:
            value = self.query_one(f"#field-{name}", Input).value.strip()
            if value:
                doc[name] = value
            else:
                doc.pop(name, None)
        doc["command"] = self.query_one("#field-command", TextArea).text
        for name in ("environment", "compute"):
            value = self.query_one(f"#field-{name}", Select).value
            if value is Select.NULL:
                doc.pop(name, None)
            elif value != INLINE:
                doc[name] = value
        inputs = doc.get("inputs") or {}
        for name in self.inputs:
            text = self.query_one(f"#field-inputs-{name}", Input).value
            raw = inputs.get(name)
            if isinstance(raw, dict) and "path" in raw:
                raw["path"] = text
            else:
                # The same rule as `--set`: the value keeps the type of the one it replaces
                # (`ten` for an integer input is refused, naming inputs.NAME).
                doc.setdefault(LITERAL_SETS, []).append(f"inputs.{name}={text}")
        return doc

    @property
    def active_tab(self) -> str:
        return self.query_one("#submit-tabs", TabbedContent).active or "tab-form"

    def _schedule_check(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(0.3, self._check_now)

    def _check_now(self) -> None:
        if self.active_tab == "tab-form":
            if self.document:
                self.check("tab-form", self.form_document())
        else:
            self.check("tab-file", None, self.query_one("#file-path", Input).value,
                       self.query_one("#file-overrides", Input).value)

    def on_input_changed(self, message: Input.Changed) -> None:
        self._schedule_check()

    def on_text_area_changed(self, message: TextArea.Changed) -> None:
        self._schedule_check()

    def on_select_changed(self, message: Select.Changed) -> None:
        self._schedule_check()

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        self._schedule_check()

    def on_submit_screen_checked(self, message: Checked) -> None:
        for error in self.query(".field-error").results(Static):
            error.update("")
            error.display = False
        preview_id = "#form-preview" if message.tab == "tab-form" else "#file-preview"
        if message.document is not None:
            import yaml

            text = yaml.safe_dump(message.document, sort_keys=False, allow_unicode=True, width=1000)
            self.query_one(preview_id, Static).update(
                Syntax(text, "yaml", theme="ansi_dark", background_color="default", word_wrap=True))
        if message.error is None:
            self._general(Text("✓ valid", style="green"))
            return
        error = message.error
        field = getattr(error, "field", None)
        target = "file" if message.tab == "tab-file" else _error_id(field, self.inputs)
        text = getattr(error, "message", str(error))
        shown = self.query_one(f"#error-{target}", Static)
        shown.update(Text(f"✗ {field + ': ' if field else ''}{text}"))
        shown.display = True
        self._general(Text(f"✗ {error}", style="red"))

    def _general(self, text: Text) -> None:
        general = self.query_one("#error-general", Static)
        general.update(text)
        general.display = True

    def on_submit_screen_submitted(self, message: Submitted) -> None:
        self.notify(f"Submitted {message.job.name} ({message.job.status}). Press l for its log.", title="job")
        self.dismiss(message.job.name)

    # ------------------------------------------------------------------ actions

    def action_submit(self) -> None:
        if self._busy or not self.app.check_writable("submit"):
            return
        if self.active_tab == "tab-form":
            if not self.document:
                return
            args: tuple = ("tab-form", self.form_document())
        else:
            args = ("tab-file", None, self.query_one("#file-path", Input).value,
                    self.query_one("#file-overrides", Input).value)
        self._busy = True
        self._general(Text("Submitting…"))
        self.create(*args)

    def action_cancel(self) -> None:
        self.dismiss(None)
