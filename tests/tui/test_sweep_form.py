"""The sweep form: offered from `n` and the palette where sweeps can be submitted (never in
read-only mode or on a backend without sweeps), prefilled from the job template or the
sweep.yml beside it, a YAML preview that follows every edit and loads with the spec, errors
shown at the field they name, and a submit that selects the new sweep."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import yaml

from tests.tui.conftest import DATA, JOB_TEMPLATE, text_of, wait_for, wait_for_workers
from tui.screens.main import MainScreen
from tui.screens.modals import HelpScreen
from tui.screens.submit import SubmitScreen
from tui.screens.sweep_form import NewJobChooser, ParamRow, SweepFormScreen, parse_values, sweep_template
from tui.workspace.spec import parse_sweep_job


async def open_form(pilot, app) -> SweepFormScreen:
    await wait_for_workers(pilot)
    await pilot.press("n")
    assert isinstance(app.screen, NewJobChooser)
    await pilot.press("s")
    screen = app.screen
    assert isinstance(screen, SweepFormScreen)
    await wait_for(pilot, lambda: screen.ready and screen.checks > 0, what="the form, checked")
    return screen


async def checked(pilot, screen: SweepFormScreen) -> None:
    """Until the form's error (or none) is about the document the form holds now."""
    await pilot.pause()
    await wait_for(pilot, lambda: screen.checked_document == screen.form_document(), what="the form's validation")


def error_text(screen, selector: str) -> str:
    widget = screen.query_one(selector)
    return text_of(widget) if widget.display else ""


def rows(screen) -> list[ParamRow]:
    return list(screen.query(ParamRow))


@pytest.mark.local_only("the form's sweep runs in the local sweep runner; sweeps on the Azure fake: tests/backend/test_sweep_azure.py")
async def test_the_form_builds_a_sweep_that_loads_with_the_spec_and_submits(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_form(pilot, app)
        # From the job template: its command job is the trial, its inputs the sweep's.
        assert screen.query_one("#sf-command").text == "python train.py --epochs ${{inputs.epochs}} --lr ${{inputs.lr}}"
        assert screen.query_one("#sf-code").value == "./src"
        assert "inputs:\n  epochs: 2\n  lr: 0.5" in screen.preview_text
        # No metric named yet: said in the objective section, the field marked.
        assert screen.last_error.field == "objective.primary_metric"
        assert "objective.primary_metric: required" in error_text(screen, "#sf-error-objective")
        assert screen.query_one("#sf-primary_metric").has_class("-invalid-field")

        screen.query_one("#sf-command").text = "echo lr=${{search_space.lr}} opt=${{search_space.opt}}"
        (first,) = rows(screen)
        first.query_one(".p-name").value = "lr"
        first.query_one(".p-type").value = "loguniform"
        await pilot.pause()
        first.query_one(".p-min_value").value = "-7"
        first.query_one(".p-max_value").value = "-3"
        await pilot.press("ctrl+n")  # another parameter: a choice
        second = rows(screen)[1]
        await pilot.press(*"opt")
        second.query_one(".p-values").value = "adamw, sgd"
        # Grid takes choice parameters only: the error is on lr's row, at its distribution.
        screen.query_one("#sf-sampling").value = "grid"
        screen.query_one("#sf-primary_metric").value = "acc"
        await checked(pilot, screen)
        assert screen.last_error.field == "search_space.lr.type"
        assert "grid sampling takes choice parameters only" in error_text(first, ".p-error")
        assert first.query_one(".p-type").has_class("-invalid-field")
        assert not screen.query_one("#sf-seed").parent.display  # grid has no seed

        screen.query_one("#sf-sampling").value = "random"
        await pilot.pause()
        screen.query_one("#sf-seed").value = "7"
        screen.query_one("#sf-max_total_trials").value = "2"
        screen.query_one("#sf-policy").value = "bandit"
        await pilot.pause()
        assert screen.query_one("#sf-slack_factor").parent.display
        assert not screen.query_one("#sf-truncation_percentage").parent.display
        screen.query_one("#sf-slack_factor").value = "0.1"
        screen.query_one("#sf-evaluation_interval").value = "1"
        await checked(pilot, screen)
        assert screen.last_error is None, screen.last_error
        assert "valid" in text_of(screen.query_one("#sf-error-general"))

        # The preview is the document: it loads with the spec as it stands.
        document = yaml.safe_load(screen.preview_text)
        assert document == screen.form_document()
        spec = parse_sweep_job(document, "preview")
        assert spec.search_space == {"lr": {"type": "loguniform", "min_value": -7, "max_value": -3},
                                     "opt": {"type": "choice", "values": ["adamw", "sgd"]}}
        assert spec.sampling_algorithm == {"type": "random", "seed": 7}
        assert (spec.primary_metric, spec.goal) == ("acc", "maximize")
        assert spec.limits == {"max_total_trials": 2, "max_concurrent_trials": 2}
        assert spec.early_termination == {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 1}

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the jobs table")
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key is not None, what="the new sweep selected")
        sweep = ws.get_job(main.table.cursor_key)
        assert sweep.type == "sweep" and sweep.get("objective.primary_metric") == "acc"
        sweep = ws.wait_for_job(sweep.name, 120)
        trials = ws.list_jobs(parent_job_name=sweep.name).items
        assert sweep.status == "Completed" and len(trials) == 2
        logs = [ws.read_log(t.name, "user_logs/std_log.txt").text for t in trials]
        assert all("lr=" in log and ("opt=adamw" in log or "opt=sgd" in log) for log in logs)


async def test_bad_bounds_and_limits_are_shown_at_their_field_and_nothing_is_submitted(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_form(pilot, app)
        screen.query_one("#sf-command").text = "echo ${{search_space.x}}"
        screen.query_one("#sf-primary_metric").value = "acc"
        (row,) = rows(screen)
        assert row.kind == "uniform" and row.param_name == "x"  # the new sweep's first parameter
        row.query_one(".p-min_value").value = "1"
        row.query_one(".p-max_value").value = "0.5"
        await checked(pilot, screen)
        assert screen.last_error.field == "search_space.x.max_value"
        assert "expected more than min_value (1)" in error_text(row, ".p-error")
        assert row.query_one(".p-max_value").has_class("-invalid-field")

        row.query_one(".p-max_value").value = "ten"
        await checked(pilot, screen)
        assert screen.last_error.field == "search_space.x.max_value"
        assert "expected a number, got a string 'ten'" in error_text(row, ".p-error")

        row.query_one(".p-max_value").value = "2"
        screen.query_one("#sf-max_concurrent_trials").value = "9"
        await checked(pilot, screen)
        assert screen.last_error.field == "limits.max_concurrent_trials"
        assert "expected at most max_total_trials (4), got 9" in error_text(screen, "#sf-error-limits")
        assert not error_text(row, ".p-error")  # the row's error went with its cause
        assert screen.query_one("#sf-max_concurrent_trials").has_class("-invalid-field")

        # The trials' shared inputs: a literal keeps its type, as with --set.
        assert screen.query_one("#sf-input-epochs").value == "2"
        screen.query_one("#sf-input-epochs").value = "ten"
        await checked(pilot, screen)
        assert screen.last_error.field == "inputs.epochs"
        assert "expected an integer" in error_text(screen, "#sf-error-trial")
        assert screen.query_one("#sf-input-epochs").has_class("-invalid-field")
        screen.query_one("#sf-input-epochs").value = "1"
        await checked(pilot, screen)
        assert "epochs: 1\n" in screen.preview_text and screen.last_error.field == "limits.max_concurrent_trials"

        before = {j.name for j in ws.list_jobs().items}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen._busy, what="the refused submit")
        await pilot.pause(0.2)
        assert app.screen is screen and screen.last_error.field == "limits.max_concurrent_trials"
        assert {j.name for j in ws.list_jobs().items} == before

        # A parameter's row goes with its button; distributions show only their bounds.
        await pilot.press("ctrl+n")
        new = rows(screen)[1]
        assert [w.name for w in new.query(".p-bound")] == ["values"]
        new.query_one(".p-type").value = "qnormal"
        await pilot.pause()
        assert [w.name for w in new.query(".p-bound")] == ["mu", "sigma", "q"]
        new.query_one(".p-remove").press()
        await wait_for(pilot, lambda: len(rows(screen)) == 1, what="the row removed")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pytest.mark.local_only("the form's sweep runs in the local sweep runner; sweeps on the Azure fake: tests/backend/test_sweep_azure.py")
async def test_a_sweep_yml_beside_the_job_template_prefills_the_form(ws, app_factory, tmp_path):
    shutil.copytree(DATA, tmp_path / "proj")
    (tmp_path / "proj" / "sweep.yml").write_text(yaml.safe_dump({
        "type": "sweep", "display_name": "from-file", "trial": {"code": "./src", "command": "echo ${{search_space.b}}"},
        "search_space": {"b": {"type": "choice", "values": [16, 32]}}, "sampling_algorithm": "grid",
        "objective": {"primary_metric": "loss", "goal": "minimize"}, "limits": {"max_total_trials": 2},
        "early_termination": {"type": "truncation_selection", "truncation_percentage": 20}}))
    assert sweep_template(tmp_path / "proj" / "job.yml") == tmp_path / "proj" / "sweep.yml"
    assert sweep_template(JOB_TEMPLATE) is None  # no sweep.yml there: the job template is the trial
    app = app_factory(job_template=tmp_path / "proj" / "job.yml")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_form(pilot, app)
        assert screen.query_one("#sf-display_name").value == "from-file"
        (row,) = rows(screen)
        assert (row.param_name, row.kind, row.query_one(".p-values").value) == ("b", "choice", "16, 32")
        assert screen.query_one("#sf-goal").value == "minimize"
        assert screen.query_one("#sf-truncation_percentage").value == "20"
        assert screen.query_one("#sf-truncation_percentage").parent.display
        assert not screen.query_one("#sf-slack_factor").parent.display
        assert screen.last_error is None, screen.last_error


def test_choice_values_read_as_yaml_scalars():
    assert parse_values("64, 128, 256") == [64, 128, 256]
    assert parse_values("adamw, sgd, 1e-3, true") == ["adamw", "sgd", 0.001, True]
    assert parse_values('[a, "b,c"]') == ["a", "b,c"]
    assert parse_values("  ") is None


def help_text(app) -> str:
    return text_of(app.screen.query_one("#help-table"))


async def test_no_sweep_form_in_read_only_mode_nor_on_a_backend_without_sweeps(ws, app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("question_mark")
        assert "New sweep" in help_text(app)
        await pilot.press("escape")

    app = app_factory(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("n", "N")
        assert isinstance(app.screen, MainScreen)  # neither is offered
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and "New sweep" not in help_text(app)
        await pilot.press("escape")
        app.open_sweep_form()  # the palette's way in, had it one: refused, and said why
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("Read-only mode: submit is disabled" in n.message for n in app._notifications)
        from tui.app import AmlCommands

        names = [name for name, _, _ in AmlCommands(app.screen)._commands()]
        assert "New sweep" not in names and "New job" not in names

    ws.capabilities = dataclasses.replace(ws.capabilities, sweeps=False)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_workers(pilot)
        await pilot.press("N")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("question_mark")
        assert "New sweep" not in help_text(app) and "New job" in help_text(app)
        await pilot.press("escape", "n")
        assert isinstance(app.screen, SubmitScreen)  # no choice to make: the command form at once
        from tui.app import AmlCommands

        names = [name for name, _, _ in AmlCommands(app.screen_stack[0])._commands()]
        assert "New job" in names and "New sweep" not in names
