"""Compute instances are started, stopped and restarted from the keyboard, each after a
confirmation; clusters, read-only mode and the local backend offer none of it."""

from __future__ import annotations

import pytest

from tests.tui.conftest import JOB_TEMPLATE, text_of, wait_for, wait_for_workers
from tests.tui.test_browse import keys, show, table
from tests.tui.test_kind_actions import footer_keys, help_sections
from tui.app import make_app
from tui.screens.main import MainScreen
from tui.screens.modals import ConfirmScreen
from tui.workspace.base import AssetKind


def instance_state(app, name: str) -> str | None:
    row = next(r for r in table(app).rows if r.key == name)
    return row.asset.get("state")


async def select(pilot, name: str) -> None:
    app = pilot.app
    await show(pilot, AssetKind.COMPUTE)
    await wait_for(pilot, lambda: name in keys(app), what=f"{name} listed")
    assert table(app).move_to_key(name)
    await pilot.pause()


@pytest.mark.parametrize("start_state, key, action, moving, settled", [
    ("Running", "x", "stop", "Stopping", "Stopped"),
    ("Stopped", "t", "start", "Starting", "Running"),
    ("Running", "R", "restart", "Restarting", "Running"),
])
async def test_a_key_asks_then_the_instance_moves(fake, azure_ws, start_state, key, action, moving, settled):
    fake.add_compute("ci-ada", "ComputeInstance", state=start_state)
    fake.add_compute("cpu-cluster")
    app = make_app(azure_ws, job_template=JOB_TEMPLATE)
    async with app.run_test(size=(160, 48)) as pilot:
        await select(pilot, "ci-ada")
        assert footer_keys(app)[key] == f"{action.capitalize()} instance"
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmScreen) and "ci-ada" in str(app.screen.question)
        await pilot.press("n")  # declined: nothing is sent
        await wait_for_workers(pilot)
        assert not any(r.method == "POST" for r in fake.requests)
        assert instance_state(app, "ci-ada") == start_state

        await pilot.press(key, "y")
        await wait_for(pilot, lambda: instance_state(app, "ci-ada") == moving, what=moving)
        assert [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.method == "POST"] == [action]
        assert any(n.message == f"ci-ada: {moving}" for n in app._notifications)
        fake.tick()
        await pilot.press("r")
        await wait_for(pilot, lambda: instance_state(app, "ci-ada") == settled, what=settled)
        # The STATE column shows the instance's state, not its provisioning ("Succeeded").
        row = next(r for r in table(app).rows if r.key == "ci-ada")
        assert row.cells[[c.title for c in table(app).columns].index("STATE")] == settled


async def test_no_action_that_the_state_or_the_kind_rules_out(fake, azure_ws):
    fake.add_compute("ci-ada", "ComputeInstance", state="Stopped")
    fake.add_compute("cpu-cluster")
    app = make_app(azure_ws, job_template=JOB_TEMPLATE)
    async with app.run_test(size=(160, 48)) as pilot:
        await select(pilot, "ci-ada")
        await pilot.press("x")  # already stopped
        await pilot.pause(0.1)
        assert isinstance(app.screen, MainScreen)
        assert any("does not apply to ci-ada" in n.message for n in app._notifications)
        assert table(app).move_to_key("cpu-cluster")
        for key in ("t", "x", "R"):  # a cluster scales by itself
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, MainScreen), key
    assert not any(r.method == "POST" for r in fake.requests)


async def test_read_only_shows_the_actions_disabled(fake):
    from tui.workspace.azure import AzureWorkspace

    fake.add_compute("ci-ada", "ComputeInstance", state="Running")
    ws = AzureWorkspace(fake.client(), read_only=True)
    app = make_app(ws, job_template=JOB_TEMPLATE)
    async with app.run_test(size=(160, 48)) as pilot:
        await select(pilot, "ci-ada")
        shown = footer_keys(app)
        for key in ("t", "x", "R"):
            assert key not in shown, (key, shown)
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, MainScreen), key
        await pilot.press("question_mark")
        help_text = " ".join(" ".join(lines) for _, lines in help_sections(app))
        assert "Stop instance" not in help_text and "Start instance" not in help_text
    ws.close()
    assert not any(r.method == "POST" for r in fake.requests)


async def test_the_local_backend_offers_no_compute_actions(tmp_path):
    from tui.workspace.local import LocalWorkspace

    ws = LocalWorkspace(tmp_path / "ws")
    app = make_app(ws, job_template=JOB_TEMPLATE)
    async with app.run_test(size=(160, 48)) as pilot:
        await select(pilot, "local")
        shown = footer_keys(app)
        assert not {"t", "x", "R"} & set(shown), shown
        await pilot.press("x")
        await pilot.pause(0.05)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("question_mark")
        assert "instance" not in text_of(app.screen.query_one("#help-table"))
    ws.close()


def test_the_local_engine_says_it_has_no_compute_actions(tmp_path):
    from tui.workspace.base import NotSupportedError
    from tui.workspace.local import LocalWorkspace

    ws = LocalWorkspace(tmp_path / "ws")
    assert not ws.capabilities.compute_actions
    with pytest.raises(NotSupportedError, match="cannot stop compute 'local'"):
        ws.compute_action("local", "stop")
    ws.close()
