"""Opening an Azure workspace in the app (Pilot): the sign-in screen comes first and before
the SDK, a worker signs in and opens the workspace, failures stay on screen with `r` to
retry, and with only a subscription a picker asks which workspace."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from tests.azure.fake import RG, SUB, WS, FakeAzure, FakeCredential
from tests.azure.test_open_cli import NotSignedIn, connector_for, refuse_network
from tests.conftest import REPO
from tests.tui.conftest import JOB_TEMPLATE, text_of, wait_for
from tui.app import make_app
from tui.workspace.azure.client import AzureOpener, WorkspaceRef


# Waits include the SDK's import on the worker: 1-3 s idle, more on a loaded machine.
WAIT = 90


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    tried = refuse_network(monkeypatch)
    yield
    assert tried == []


def opener_for(fake: FakeAzure, ref: WorkspaceRef | None = None, credential=None, **kw) -> AzureOpener:
    return AzureOpener(ref or WorkspaceRef(SUB, RG, WS, "a test"), connector=connector_for(fake, credential), **kw)


def app_for(opener: AzureOpener):
    return make_app(None, opener=opener, job_template=JOB_TEMPLATE)


def screen_text(app) -> str:
    from textual.widgets import Static

    return "\n".join(text_of(w) for w in app.screen.query(Static))


def on_main(app) -> bool:
    from tui.screens.main import MainScreen

    return isinstance(app.screen, MainScreen)


def jobs_shown(app) -> list[str]:
    from textual.css.query import NoMatches

    try:
        return [r.key for r in app.main_screen.table.rows]
    except NoMatches:  # the main screen is still composing
        return []


async def test_signing_in_shows_first_then_the_workspace_with_where_it_was_named():
    fake = FakeAzure()
    fake.add_job("j1")
    release = threading.Event()
    asked: list[str] = []

    class SlowCredential(FakeCredential):
        def get_token(self, *scopes, **kw):
            asked.append(scopes[0])
            release.wait(10)
            return super().get_token(*scopes, **kw)

    app = app_for(opener_for(fake, WorkspaceRef(SUB, RG, WS, "/proj/.azureml/config.json"), SlowCredential))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: asked, what="the first token asked for", timeout=WAIT)
        text = screen_text(app)
        assert "Signing in to ws-demo" in text and "/proj/.azureml/config.json" in text
        assert app.workspace is None and fake.requests == []  # the token first, on a worker
        release.set()
        await wait_for(pilot, lambda: on_main(app), what="the main screen", timeout=WAIT)
        await wait_for(pilot, lambda: "j1" in jobs_shown(app), what="the jobs", timeout=WAIT)
        await wait_for(pilot, lambda: "from /proj/.azureml/config.json" in text_of(app.screen.query_one("#header")),
                       what="the header naming where the workspace came from", timeout=WAIT)
        assert asked[0] == "https://management.azure.com/.default"
        # The workspace GET that checked it exists is the one the header shows: not sent again.
        assert fake.count(lambda r: r.path.endswith(f"/workspaces/{WS}")) == 1


async def test_the_picker_lists_the_subscriptions_workspaces_and_opens_the_one_chosen():
    from textual.widgets import OptionList

    fake = FakeAzure()
    fake.add_job("j1")
    fake.workspaces = [("rg-a", "ws-alpha"), (RG, WS)]
    app = app_for(opener_for(fake, WorkspaceRef(SUB, None, None, "az CLI defaults")))
    async with app.run_test(size=(160, 40)) as pilot:
        picker = app.screen.query_one("#picker", OptionList)
        await wait_for(pilot, lambda: picker.option_count == 2, what="two workspaces listed", timeout=WAIT)
        assert "Choose a workspace" in screen_text(app)
        options = [str(picker.get_option_at_index(i).prompt) for i in range(2)]
        assert options[0].startswith("ws-alpha") and "rg-a" in options[0] and options[1].startswith(WS)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: on_main(app), what="the main screen", timeout=WAIT)
        assert (app.workspace.workspace_name, app.workspace.resource_group) == (WS, RG)
        await wait_for(pilot, lambda: "j1" in jobs_shown(app), what="the jobs", timeout=WAIT)


FAULTS = [
    ("signin", "Not signed in to Azure", "az login"),
    ("401", "Azure rejected the sign-in (401)", "az login"),
    ("403", "Permission denied (403)", "Reader (or AzureML Data Scientist)"),
    ("404", "Workspace not found", "--workspace-name"),
    ("network", "Cannot reach Azure", "check the network"),
]


@pytest.mark.parametrize("fault, title, advice", FAULTS)
async def test_a_failed_sign_in_says_what_to_do_and_r_retries(fault, title, advice):
    fake = FakeAzure()
    fake.add_job("j1")
    fake.auth_status = {"401": 401, "403": 403}.get(fault)
    fake.workspace_exists = fault != "404"
    fake.network_down = fault == "network"
    made: list[object] = []

    def credential():
        made.append(1)
        return NotSignedIn() if fault == "signin" and len(made) == 1 else FakeCredential()

    app = app_for(opener_for(fake, credential=credential))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.failure is not None, what="the failure", timeout=WAIT)
        text = screen_text(app)
        assert title in text and advice in text and "Press r to retry" in text
        assert not on_main(app)
        fake.auth_status, fake.workspace_exists, fake.network_down = None, True, False  # fixed: `az login`...
        await pilot.press("r")
        await wait_for(pilot, lambda: on_main(app), what="the main screen after the retry", timeout=WAIT)
        await wait_for(pilot, lambda: "j1" in jobs_shown(app), what="the jobs", timeout=WAIT)


async def test_a_listing_that_finds_no_workspace_says_so():
    fake = FakeAzure()
    fake.workspaces = []
    app = app_for(opener_for(fake, WorkspaceRef(SUB, "rg-empty", None, "a test")))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: "No workspaces in rg-empty" in screen_text(app), what="the empty listing", timeout=WAIT)
        await pilot.press("q")
    assert fake.count("/resourceGroups/rg-empty/providers/Microsoft.MachineLearningServices/workspaces") == 1


async def test_read_only_carries_over_to_the_workspace_opened():
    fake = FakeAzure()
    app = app_for(opener_for(fake, read_only=True))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_main(app), what="the main screen", timeout=WAIT)
        assert app.read_only and app.workspace.read_only and not app.can_submit


def test_the_first_frame_comes_before_the_sdk_is_imported():
    """The real entry point, in a process of its own: the sign-in screen paints (the first-frame
    benchmark's exit), and by then no Azure module has been imported."""
    code = ("import os, sys\n"
            "from tests.azure import fake_main\n"
            "code = fake_main.main(['--subscription', %r, '-g', %r, '-w', %r])\n"
            "print(repr(code), sorted(m for m in sys.modules if m.startswith('azure')))\n") % (SUB, RG, WS)
    env = {**os.environ, "AML_TUI_EXIT_AFTER_FIRST_FRAME": "1", "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=REPO, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.endswith("0 []"), last


async def test_a_picked_workspace_that_fails_to_open_can_be_retried_or_another_picked():
    from textual.widgets import OptionList

    fake = FakeAzure()
    fake.add_job("j1")
    fake.workspaces = [("rg-a", "ws-alpha"), (RG, WS)]  # the fake serves ws-demo only: ws-alpha is not found
    app = app_for(opener_for(fake, WorkspaceRef(SUB, None, None, "a test")))
    async with app.run_test(size=(160, 40)) as pilot:
        picker = app.screen.query_one("#picker", OptionList)
        await wait_for(pilot, lambda: picker.option_count == 2, what="two workspaces listed", timeout=WAIT)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.failure is not None, what="the failure", timeout=WAIT)
        assert "Workspace not found" in screen_text(app) and "esc to choose another" in screen_text(app)
        await pilot.press("r")  # the same workspace again
        await wait_for(pilot, lambda: fake.count("/resourceGroups/rg-a/") == 2 and app.screen.failure is not None,
                       what="the retry of ws-alpha", timeout=WAIT)
        await pilot.press("escape")
        assert picker.display and picker.option_count == 2
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: on_main(app), what="the main screen", timeout=WAIT)
        assert app.workspace.workspace_name == WS
