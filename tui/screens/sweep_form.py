"""Submit a sweep job: a form over az ml's sweep shape, with a YAML preview.

The form starts from `sweep.yml` beside the job template (the trainer's `job.yml` has its
`sweep.yml`), else from the job template itself (its command job becomes the trial). It edits
the trial (command, code, environment, compute, the inputs every trial shares), each
search-space parameter (name, distribution and its bounds; rows are added and removed),
sampling, objective, limits and early termination.
The preview is rebuilt from the form on every keystroke; the document is validated
(debounced, in a worker) by `Workspace.validate_job`, the validator the CLI uses, and its
error is shown in the section of the field it names, that field marked. `ctrl+s` submits
the document the preview shows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from rich.syntax import Syntax
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from tui.screens.base import ReportsWorkerErrors
from tui.widgets.footer import KeyFooter
from tui.workspace.base import AssetKind, InvalidSpecError, Job

if TYPE_CHECKING:
    from tui.app import AmlTuiApp

# az ml's distributions and the fields each takes (tui/workspace/spec/sweep.py checks them).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "choice": ("values",), "randint": ("upper",),
    "uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"), "qlognormal": ("mu", "sigma", "q"),
}
BOUNDS = ("values", "upper", "min_value", "max_value", "q", "mu", "sigma")
SAMPLINGS = ("random", "grid", "bayesian")
GOALS = ("maximize", "minimize")
POLICIES = ("none", "bandit", "median_stopping", "truncation_selection")
POLICY_FIELDS: dict[str, tuple[str, ...]] = {
    "none": (), "median_stopping": ("evaluation_interval", "delay_evaluation"),
    "bandit": ("slack_factor", "slack_amount", "evaluation_interval", "delay_evaluation"),
    "truncation_selection": ("truncation_percentage", "exclude_finished_jobs", "evaluation_interval",
                             "delay_evaluation"),
}
POLICY_INPUTS = ("slack_factor", "slack_amount", "truncation_percentage", "evaluation_interval", "delay_evaluation")
LIMITS = ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout")
TRIAL_TEXT = ("code",)
TOP_TEXT = ("display_name", "experiment_name")
# What the trial of a sweep takes from a command job template (the rest is the sweep's).
TRIAL_KEYS = ("command", "code", "environment", "environment_variables", "distribution", "resources")
SWEEP_KEYS = ("display_name", "experiment_name", "description", "compute", "inputs", "outputs", "tags")
NEW_SWEEP: dict[str, Any] = {
    "type": "sweep",
    "sampling_algorithm": {"type": "random"},
    "search_space": {"x": {"type": "uniform", "min_value": 0.0, "max_value": 1.0}},
    "objective": {"primary_metric": "", "goal": "maximize"},
    "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
}
INLINE = "__inline__"  # Select value for an inline (mapping) environment kept from the template
NARROW = 110  # columns under which the preview narrows and the labels shorten


# ---------------------------------------------------------------------------- the document


def sweep_template(job_template: Path | None, cwd: Path | None = None) -> Path | None:
    """`sweep.yml` beside the job template (the trainer's job.yml has its sweep.yml); with no
    job template, `trainer/sweep.yml` here or above, else the bundled trainer's. None: the
    form starts from the job template itself, its command job as the trial."""
    if job_template is not None:
        beside = Path(job_template).parent / "sweep.yml"
        return beside if beside.is_file() else None
    from tui.bundle import bundle_root

    here = (cwd or Path.cwd()).resolve()
    candidates = [folder / "trainer" / "sweep.yml" for folder in (here, *here.parents)]
    root = bundle_root()
    if root is not None:
        candidates.append(root / "trainer" / "sweep.yml")
    return next((c for c in candidates if c.is_file()), None)


def sweep_from_command(job: Mapping[str, Any]) -> dict[str, Any]:
    """A command job (the job template) as the trial of a new sweep."""
    doc = copy.deepcopy(NEW_SWEEP)
    doc["trial"] = {k: copy.deepcopy(job[k]) for k in TRIAL_KEYS if job.get(k) is not None}
    doc.update({k: copy.deepcopy(job[k]) for k in SWEEP_KEYS if job.get(k) is not None})
    return doc


def parse_scalar(text: str) -> Any:
    """What a field's text means in YAML: 0.1 -> 0.1, 64 -> 64, adamw -> 'adamw', '' -> None.
    Numbers are read as Python reads them (YAML 1.1 would keep 1e-3 a string)."""
    text = text.strip()
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) else text


def parse_values(text: str) -> list[Any] | None:
    """A choice's values: `64, 128, 256` or a YAML list `[adamw, "a,b"]`."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        import yaml

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return [text]
        return value if isinstance(value, list) else [value]
    return [parse_scalar(part) for part in text.split(",") if part.strip()]


def values_text(values: Any) -> str:
    if not isinstance(values, list):
        return "" if values is None else str(values)
    if any(isinstance(v, str) and "," in v for v in values):
        import yaml

        return yaml.safe_dump(values, default_flow_style=True).strip()
    return ", ".join(str(v) for v in values)


def field_text(value: Any) -> str:
    return "" if value is None else str(value)


def error_section(field: str | None) -> str:
    """Where the form shows an error naming `field` (`limits.max_total_trials` -> limits)."""
    head = (field or "").split(".")[0]
    return {"trial": "trial", "search_space": "search_space", "sampling_algorithm": "sampling",
            "objective": "objective", "limits": "limits", "early_termination": "early", "compute": "trial",
            "display_name": "trial", "experiment_name": "trial", "inputs": "trial",
            "outputs": "trial"}.get(head, "general")


# ---------------------------------------------------------------------------- widgets


class NewJobChooser(ModalScreen[str | None]):
    """`n` where sweeps can be submitted: a command job or a sweep."""

    DEFAULT_CSS = """
    NewJobChooser { align: center middle; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="new.cancel"),
        Binding("c", "pick('command')", "Command job", id="new.command"),
        Binding("s", "pick('sweep')", "Sweep job", id="new.sweep"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="new-dialog"):
            yield Label("[b]New job[/b]   [dim]enter or c / s picks · esc cancels[/dim]")
            yield OptionList(Option("[b]c[/b]ommand job   one run of a command", id="command"),
                             Option("[b]s[/b]weep job     a hyperparameter search, its trials command jobs",
                                    id="sweep"), id="new-kind")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0  # enter right after `n` is the command job, as `n` was before sweeps
        options.focus()

    def action_pick(self, kind: str) -> None:
        self.dismiss(kind)

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        self.dismiss(message.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ParamRow(Vertical):
    """One search-space parameter: its name, its distribution and that distribution's bounds
    (only the fields it takes are shown)."""

    DEFAULT_CSS = """
    ParamRow { height: auto; border-left: blank; }
    ParamRow:focus-within { border-left: outer $accent; }
    ParamRow > .p-line { height: auto; }
    ParamRow .p-name { width: 14; margin-right: 1; }
    ParamRow Select { width: 15; margin-right: 1; }
    ParamRow .p-bound { width: 1fr; min-width: 8; margin-right: 1; }
    ParamRow .p-values { width: 3fr; }
    ParamRow Button { min-width: 3; width: 3; }
    ParamRow .field-error { padding-left: 2; }
    """

    def __init__(self, name: str = "", parameter: Mapping[str, Any] | None = None, **kwargs) -> None:
        super().__init__(classes="param-row", **kwargs)
        self.initial_name = name
        parameter = dict(parameter or {"type": "choice", "values": []})
        kind = str(parameter.get("type") or "choice")
        self.shown_kind = kind if kind in DISTRIBUTIONS else "choice"
        # Each bound's text, kept while another distribution is shown (uniform -> normal -> uniform).
        self.texts = {b: values_text(parameter.get(b)) if b == "values" else field_text(parameter.get(b))
                      for b in BOUNDS}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="p-line"):
            yield Input(self.initial_name, placeholder="name", compact=True, classes="p-name")
            yield Select([(d, d) for d in DISTRIBUTIONS], value=self.shown_kind, allow_blank=False, compact=True,
                         classes="p-type")
            yield from self._bounds(self.shown_kind)
            yield Button("✕", compact=True, classes="p-remove", tooltip="Remove this parameter")
        yield Static("", classes="field-error p-error")

    def _bounds(self, kind: str) -> list[Input]:
        """Only the fields this distribution takes (a row of inputs for all seven, hidden,
        made a form of ten parameters slow to open)."""
        return [Input(self.texts[bound], placeholder="values: 64, 128, 256" if bound == "values" else bound,
                      compact=True, classes=f"p-bound p-{bound}", tooltip=bound, name=bound)
                for bound in DISTRIBUTIONS[kind]]

    @property
    def kind(self) -> str:
        found = self.query(".p-type")
        value = found.first(Select).value if found else self.shown_kind
        return str(value) if value is not Select.NULL else "choice"

    @property
    def param_name(self) -> str:
        found = self.query(".p-name")  # none yet while the row is being mounted
        return found.first(Input).value.strip() if found else ""

    async def on_select_changed(self, message: Select.Changed) -> None:
        kind = self.kind
        if kind == self.shown_kind:
            return
        for bound in self.query(".p-bound").results(Input):
            self.texts[str(bound.name)] = bound.value
        self.shown_kind = kind
        await self.query(".p-bound").remove()
        await self.query_one(".p-line", Horizontal).mount_all(self._bounds(kind), before=self.query_one(".p-remove"))

    def parameter_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.kind}
        for bound in DISTRIBUTIONS.get(self.kind, ()):
            found = self.query(f".p-{bound}")
            text = found.first(Input).value if found else self.texts[bound]
            value = parse_values(text) if bound == "values" else parse_scalar(text)
            if value is not None:
                doc[bound] = value
        return doc


# ---------------------------------------------------------------------------- the form


class SweepFormScreen(ReportsWorkerErrors, Screen[str | None]):
    """Dismisses with the new sweep's name, or None when cancelled."""

    app: "AmlTuiApp"

    # CSS, not DEFAULT_CSS: these rules must win over app.tcss's form rules (.field).
    CSS = """
    SweepFormScreen #sweep-form-title { height: 1; background: $primary; color: $text; }
    SweepFormScreen #sweep-form-body { height: 1fr; }
    SweepFormScreen #sweep-form { width: 3fr; padding: 0 1; }
    SweepFormScreen #sf-preview-box { width: 2fr; border-left: vkey $panel-lighten-2; padding: 0 1; }
    SweepFormScreen .field { margin-top: 0; }
    SweepFormScreen .field-label { width: 23; }
    SweepFormScreen .section { margin-top: 1; }
    SweepFormScreen .field-error { display: none; }
    SweepFormScreen #sf-params { height: auto; }
    SweepFormScreen #sf-command { width: 1fr; height: 4; }
    SweepFormScreen #sf-error-general { height: auto; padding: 0 1; }
    SweepFormScreen .-invalid-field { background: $error 30%; }
    SweepFormScreen.-narrow #sf-preview-box { width: 1fr; }
    SweepFormScreen.-narrow .field-label { width: 16; }
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", priority=True, id="sweep_form.submit"),
        Binding("ctrl+n", "add_parameter", "Add parameter", priority=True, id="sweep_form.add_parameter"),
        Binding("escape", "cancel", "Cancel", id="sweep_form.cancel"),
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
        document: dict[str, Any]
        error: Exception | None

    @dataclass
    class Submitted(Message):
        job: Job

    def __init__(self, document: dict[str, Any] | None = None, base_dir: Path | None = None) -> None:
        super().__init__()
        self.initial = document
        self.initial_base = base_dir
        self.document: dict[str, Any] = {}
        self.base_dir = Path.cwd()
        self.source = "new sweep"
        self.ready = False
        self._timer: Timer | None = None
        self._busy = False
        self.last_error: Exception | None = None
        self.checks = 0  # validations answered
        self.checked_document: dict[str, Any] | None = None  # what `last_error` is about

    def compose(self) -> ComposeResult:
        yield Static(" [b]New sweep job[/b]   [dim]ctrl+s submits · ctrl+n adds a parameter · esc cancels[/dim]",
                     id="sweep-form-title")
        with Horizontal(id="sweep-form-body"):
            yield VerticalScroll(Static("Loading…", id="sf-loading"), id="sweep-form")
            yield VerticalScroll(Static("", id="sf-preview"), id="sf-preview-box")
        yield Static("", classes="field-error", id="sf-error-general")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()

    def on_resize(self, event: events.Resize) -> None:
        # Under ~110 columns the fields need the width more than the preview does.
        self.set_class(event.size.width < NARROW, "-narrow")

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-form-load")
    def load(self) -> None:
        from tui.workspace.spec import load_yaml_file

        ws = self.app.workspace
        if self.initial is not None:
            document, base_dir, source = self.initial, self.initial_base or Path.cwd(), "sweep"
        else:
            template = sweep_template(self.app.job_template)
            job_template = self.app.job_template
            if template is not None:
                document, base_dir, source = load_yaml_file(template), template.parent, str(template)
            elif job_template is not None and Path(job_template).is_file():
                document = sweep_from_command(load_yaml_file(job_template))
                base_dir, source = Path(job_template).parent, "new sweep"
            else:
                document, base_dir, source = copy.deepcopy(NEW_SWEEP), Path.cwd(), "new sweep"
                document["trial"] = {"command": "python train.py --x ${{search_space.x}}"}
        if document.get("type") != "sweep":
            document = sweep_from_command(document)
        envs = [f"azureml:{a.name}:{a.version}" if a.version else f"azureml:{a.name}"
                for a in ws.list_assets(AssetKind.ENVIRONMENTS).items]
        computes = [a.name for a in ws.list_assets(AssetKind.COMPUTE).items]
        self.post_message(self.Loaded(document, base_dir, source, envs, computes))

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-form-check")
    def check(self, document: dict[str, Any]) -> None:
        try:
            self.app.workspace.validate_job(document, base_dir=self.base_dir, source=self.source)
            self.post_message(self.Checked(document, None))
        except InvalidSpecError as exc:
            self.post_message(self.Checked(document, exc))

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-form-create")
    def create(self, document: dict[str, Any]) -> None:
        try:
            job = self.app.workspace.create_job(document, base_dir=self.base_dir, source=self.source)
        except InvalidSpecError as exc:
            self.post_message(self.Checked(document, exc))
            return
        finally:
            self._busy = False
        self.post_message(self.Submitted(job))

    # ------------------------------------------------------------------ building the form

    async def on_sweep_form_screen_loaded(self, message: Loaded) -> None:
        self.document, self.base_dir, self.source = message.document, message.base_dir, message.source
        doc = message.document
        trial = doc.get("trial") if isinstance(doc.get("trial"), Mapping) else {}
        form = self.query_one("#sweep-form", VerticalScroll)
        await form.query_one("#sf-loading").remove()
        widgets: list = []

        def section(title: str, hint: str = "") -> None:
            widgets.append(Static(f"[b]{title}[/b]" + (f"  [dim]{hint}[/dim]" if hint else ""), classes="section"))

        def field(label: str, widget) -> None:
            widgets.append(Horizontal(Label(label, classes="field-label"), widget, classes="field"))

        def text(id_: str, value: Any, placeholder: str = "") -> Input:
            return Input(field_text(value), placeholder=placeholder, compact=True, id=id_)

        def error(name: str) -> None:
            widgets.append(Static("", classes="field-error", id=f"sf-error-{name}"))

        section("trial", "the command job each trial runs; ${{search_space.NAME}} takes a parameter")
        for name in TOP_TEXT:
            field(name, text(f"sf-{name}", doc.get(name)))
        field("compute", self._select("sf-compute", "compute", doc.get("compute"), message.computes))
        field("environment", self._select("sf-environment", "environment", trial.get("environment"),
                                          message.environments))
        field("code", text("sf-code", trial.get("code"), "folder of the trial's code"))
        field("command", TextArea(str(trial.get("command") or ""), soft_wrap=True, show_line_numbers=False,
                                  compact=True, id="sf-command"))
        inputs = doc.get("inputs") if isinstance(doc.get("inputs"), Mapping) else {}
        self.inputs = [str(k) for k in inputs]
        for name in self.inputs:  # shared by every trial: ${{inputs.NAME}}
            raw = inputs[name]
            shown = raw.get("path", raw.get("value", "")) if isinstance(raw, Mapping) else raw
            field(f"inputs.{name}", text(f"sf-input-{name}", shown))
        error("trial")

        section("search space", "a row per parameter: name, distribution, its bounds (ctrl+n adds one)")
        space = doc.get("search_space") if isinstance(doc.get("search_space"), Mapping) else {}
        widgets.append(Vertical(*(ParamRow(str(k), v if isinstance(v, Mapping) else None)
                                  for k, v in space.items()), id="sf-params"))
        widgets.append(Horizontal(Button("+ parameter", compact=True, id="sf-add"), classes="field"))
        error("search_space")

        section("sampling")
        sampling = doc.get("sampling_algorithm")
        sampling = {"type": sampling} if isinstance(sampling, str) else dict(sampling or {"type": "random"})
        field("algorithm", Select([(s, s) for s in SAMPLINGS], value=sampling.get("type") if sampling.get("type")
                                  in SAMPLINGS else "random", allow_blank=False, compact=True, id="sf-sampling"))
        field("seed", text("sf-seed", sampling.get("seed"), "random only: a seed makes the trials reproducible"))
        field("rule", Select([("random", "random"), ("sobol", "sobol")], value=sampling.get("rule") or "random",
                             allow_blank=False, compact=True, id="sf-rule"))
        error("sampling")

        section("objective")
        objective = doc.get("objective") if isinstance(doc.get("objective"), Mapping) else {}
        field("primary_metric", text("sf-primary_metric", objective.get("primary_metric"),
                                     "the metric each trial logs (mlflow.log_metric)"))
        field("goal", Select([(g, g) for g in GOALS], value=objective.get("goal") if objective.get("goal") in GOALS
                             else "maximize", allow_blank=False, compact=True, id="sf-goal"))
        error("objective")

        section("limits", "timeouts in seconds")
        limits = doc.get("limits") if isinstance(doc.get("limits"), Mapping) else {}
        for name in LIMITS:
            field(name, text(f"sf-{name}", limits.get(name)))
        error("limits")

        section("early termination")
        policy = doc.get("early_termination") if isinstance(doc.get("early_termination"), Mapping) else {}
        kind = policy.get("type") if policy.get("type") in POLICIES else "none"
        field("policy", Select([(p, p) for p in POLICIES], value=kind, allow_blank=False, compact=True,
                               id="sf-policy"))
        for name in POLICY_INPUTS:
            field(name, text(f"sf-{name}", policy.get(name)))
        excluded = policy.get("exclude_finished_jobs")
        field("exclude_finished_jobs", Select([("false", "false"), ("true", "true")],
                                              value="true" if excluded else "false", allow_blank=False,
                                              compact=True, id="sf-exclude_finished_jobs"))
        error("early")
        await form.mount_all(widgets)
        self._show_fields()
        self.ready = True
        self.changed()
        self.query_one("#sf-display_name", Input).focus()

    def _select(self, id_: str, name: str, current: Any, choices: list[str]) -> Select:
        """A Select over the workspace's assets; the template's value stays selectable."""
        options: list[tuple[str, str]] = []
        value: Any = Select.NULL
        if isinstance(current, Mapping):
            options.append(("(inline environment from the template)", INLINE))
            value = INLINE
        elif current:
            value = str(current)
        prefix = "azureml:" if str(current or "").startswith("azureml:") else ""
        for choice in choices:
            shown = choice if choice.startswith("azureml:") else prefix + choice
            options.append((shown, shown))
        if value is not Select.NULL and value not in [v for _, v in options]:
            options.insert(0, (value, value))
        return Select(options, value=value, allow_blank=True, prompt=f"(workspace default {name})",
                      compact=True, id=id_)

    def _row_of(self, widget_id: str):
        return self.query_one(f"#{widget_id}").parent

    def _show_fields(self) -> None:
        """Only the fields the chosen sampling and policy take."""
        random = self.query_one("#sf-sampling", Select).value == "random"
        self._row_of("sf-seed").display = self._row_of("sf-rule").display = random
        policy = str(self.query_one("#sf-policy", Select).value)
        for name in POLICY_INPUTS + ("exclude_finished_jobs",):
            self._row_of(f"sf-{name}").display = name in POLICY_FIELDS.get(policy, ())

    # ------------------------------------------------------------------ the document the form holds

    def _value(self, id_: str) -> str:
        return self.query_one(f"#{id_}", Input).value

    def form_document(self) -> dict[str, Any]:
        """The template document with the form's values put in."""
        doc = copy.deepcopy(self.document)
        doc["type"] = "sweep"
        for name in TOP_TEXT:
            value = self._value(f"sf-{name}").strip()
            if value:
                doc[name] = value
            else:
                doc.pop(name, None)
        trial = dict(doc.get("trial") or {}) if isinstance(doc.get("trial"), Mapping) else {}
        code = self._value("sf-code").strip()
        if code:
            trial["code"] = code
        else:
            trial.pop("code", None)
        trial["command"] = self.query_one("#sf-command", TextArea).text
        for key, id_ in (("compute", "sf-compute"), ("environment", "sf-environment")):
            value = self.query_one(f"#{id_}", Select).value
            target = doc if key == "compute" else trial
            if value is Select.NULL:
                target.pop(key, None)
            elif value != INLINE:
                target[key] = value
        doc["trial"] = trial
        doc = self._apply_inputs(doc)

        space: dict[str, Any] = {}
        for row in self.query(ParamRow):
            if row.param_name:
                space[row.param_name] = row.parameter_document()
        doc["search_space"] = space

        kind = str(self.query_one("#sf-sampling", Select).value)
        sampling: dict[str, Any] = {"type": kind}
        if kind == "random":
            seed = parse_scalar(self._value("sf-seed"))
            if seed is not None:
                sampling["seed"] = seed
            if self.query_one("#sf-rule", Select).value == "sobol":
                sampling["rule"] = "sobol"
        doc["sampling_algorithm"] = sampling

        objective = {"primary_metric": self._value("sf-primary_metric").strip(),
                     "goal": str(self.query_one("#sf-goal", Select).value)}
        doc["objective"] = objective

        limits = {}
        for name in LIMITS:
            value = parse_scalar(self._value(f"sf-{name}"))
            if value is not None:
                limits[name] = value
        doc["limits"] = limits

        policy = str(self.query_one("#sf-policy", Select).value)
        if policy == "none":
            doc.pop("early_termination", None)
        else:
            early: dict[str, Any] = {"type": policy}
            for name in POLICY_FIELDS[policy]:
                if name == "exclude_finished_jobs":
                    if self.query_one("#sf-exclude_finished_jobs", Select).value == "true":
                        early[name] = True
                    continue
                value = parse_scalar(self._value(f"sf-{name}"))
                if value is not None:
                    early[name] = value
            doc["early_termination"] = early
        return _ordered(doc)

    # ------------------------------------------------------------------ as you type

    def _apply_inputs(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The inputs' texts put in as `--set inputs.NAME=...` would: a literal keeps its type
        (`epochs: 3` refuses `ten`, naming inputs.epochs); a data input takes the text as its path.
        A refused text is kept in `input_error`, and never submitted."""
        from tui.workspace.spec import apply_overrides

        self.input_error = None
        for name in self.inputs:
            text = self._value(f"sf-input-{name}")
            inputs = doc.get("inputs") if isinstance(doc.get("inputs"), dict) else {}
            raw = inputs.get(name)
            if isinstance(raw, dict) and "path" in raw:
                raw["path"] = text
                continue
            try:
                doc = apply_overrides(doc, [f"inputs.{name}={text}"], self.source)
            except InvalidSpecError as exc:
                self.input_error = self.input_error or exc
                doc["inputs"] = {**inputs, name: text}  # the preview shows what was typed
        return doc

    input_error: InvalidSpecError | None = None
    inputs: list[str] = []

    def changed(self) -> None:
        """Every edit: the preview now (a small YAML dump), the validation once typing pauses."""
        if not self.ready:
            return
        self._preview(self.form_document())
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(0.3, self._check_now)

    def _check_now(self) -> None:
        document = self.form_document()
        if self.input_error is not None:
            self.post_message(self.Checked(document, self.input_error))
        else:
            self.check(document)

    def _preview(self, document: dict[str, Any]) -> None:
        import yaml

        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
        self.preview_text = text
        self.query_one("#sf-preview", Static).update(
            Syntax(text, "yaml", theme="ansi_dark", background_color="default", word_wrap=True))

    preview_text = ""

    def on_input_changed(self, message: Input.Changed) -> None:
        self.changed()

    def on_text_area_changed(self, message: TextArea.Changed) -> None:
        self.changed()

    def on_select_changed(self, message: Select.Changed) -> None:
        if self.ready:
            self._show_fields()
        self.changed()

    async def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "sf-add":
            await self.action_add_parameter()
        elif message.button.has_class("p-remove"):
            row = next((a for a in message.button.ancestors if isinstance(a, ParamRow)), None)
            if row is not None:
                await row.remove()
                self.changed()

    async def action_add_parameter(self) -> None:
        if not self.ready:
            return
        row = ParamRow()
        await self.query_one("#sf-params", Vertical).mount(row)
        row.query_one(".p-name", Input).focus()
        self.changed()

    def on_sweep_form_screen_checked(self, message: Checked) -> None:
        self.checks += 1
        self.last_error, self.checked_document = message.error, message.document
        for error in self.query(".field-error").results(Static):
            error.update("")
            error.display = False
        for widget in self.query(".-invalid-field"):
            widget.remove_class("-invalid-field")
        if message.error is None:
            self._general(Text("✓ valid", style="green"))
            return
        error = message.error
        field = getattr(error, "field", None)
        text = Text(f"✗ {field + ': ' if field else ''}{getattr(error, 'message', str(error))}")
        target = self._error_widget(field)
        target.update(text)
        target.display = True
        widget = self._field_widget(field)
        if widget is not None:
            widget.add_class("-invalid-field")
        self._general(Text(f"✗ {error}", style="red"))

    def _param_row(self, field: str | None) -> ParamRow | None:
        parts = (field or "").split(".")
        if parts[0] != "search_space" or len(parts) < 2:
            return None
        return next((r for r in self.query(ParamRow) if r.param_name == parts[1]), None)

    def _error_widget(self, field: str | None) -> Static:
        row = self._param_row(field)
        if row is not None:
            return row.query_one(".p-error", Static)
        return self.query_one(f"#sf-error-{error_section(field)}", Static)

    def _field_widget(self, field: str | None):
        """The input a field names (`search_space.lr.max_value`, `limits.timeout`), if the form has one."""
        parts = (field or "").split(".")
        row = self._param_row(field)
        if row is not None:
            if len(parts) > 2 and parts[2] in BOUNDS:
                found = row.query(f".p-{parts[2]}")
                return found.first() if found else None
            return row.query_one(".p-type" if parts[-1] == "type" else ".p-name")
        ids = {"limits": "sf-{}", "objective": "sf-{}", "early_termination": "sf-{}", "trial": "sf-{}"}
        if len(parts) == 2 and parts[0] in ids:
            name = "policy" if parts[0] == "early_termination" and parts[1] == "type" else parts[1]
            found = self.query(f"#sf-{name}")
            return found.first() if found else None
        if parts[0] == "sampling_algorithm":
            return self.query_one("#sf-seed" if parts[-1] == "seed" else "#sf-sampling")
        if parts[0] in ("compute", "display_name", "experiment_name"):
            return self.query_one(f"#sf-{parts[0]}")
        if parts[0] == "inputs" and len(parts) > 1 and parts[1] in self.inputs:
            return self.query_one(f"#sf-input-{parts[1]}")
        return None

    def _general(self, text: Text) -> None:
        general = self.query_one("#sf-error-general", Static)
        general.update(text)
        general.display = True

    def on_sweep_form_screen_submitted(self, message: Submitted) -> None:
        self.notify(f"Submitted sweep {message.job.name} ({message.job.status}).", title="sweep")
        self.dismiss(message.job.name)

    # ------------------------------------------------------------------ actions

    def action_submit(self) -> None:
        if self._busy or not self.ready or not self.app.check_writable("submit"):
            return
        document = self.form_document()
        if self.input_error is not None:
            self.post_message(self.Checked(document, self.input_error))
            return
        self._busy = True
        self._general(Text("Submitting…"))
        self.create(document)

    def action_cancel(self) -> None:
        self.dismiss(None)


# The order az ml's own sweep files use, so the preview reads like one.
ORDER = ("$schema", "type", "name", "display_name", "description", "experiment_name", "trial", "inputs",
         "outputs", "compute", "sampling_algorithm", "search_space", "objective", "early_termination", "limits")


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    return {**{k: doc[k] for k in ORDER if k in doc}, **{k: v for k, v in doc.items() if k not in ORDER}}
