"""Fixtures for the TUI tests: the real LocalWorkspace (root conftest's `ws`), the app
factory, and a helper that waits for the app's workers to catch up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Callable

import pytest

from tui.app import AmlTuiApp, make_app

DATA = Path(__file__).parent / "data"
JOB_TEMPLATE = DATA / "job.yml"


@pytest.fixture
def other(ws):
    """A second handle on the same workspace, as the CLI in another process would have."""
    from tui.workspace.local import LocalWorkspace

    handle = LocalWorkspace(ws.root)
    yield handle
    handle.close()


@pytest.fixture
def app_factory(ws) -> Callable[..., AmlTuiApp]:
    def build(**kwargs) -> AmlTuiApp:
        kwargs.setdefault("job_template", JOB_TEMPLATE)
        return make_app(ws, **kwargs)

    return build


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Let the app run until `predicate()` is true (workers post from threads)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


async def wait_for_workers(pilot, timeout: float = 15.0) -> None:
    """Until every worker the app has started is done and the messages they posted are
    handled (the public way to wait for rows, details and counts to land)."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.02)
        if all(w.is_finished for w in pilot.app.workers):
            await pilot.pause(0.02)  # the last worker's message
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"workers still running: {[w.name for w in pilot.app.workers]}")


def run_job(ws, command: str, **fields) -> str:
    """Submit a command job through the real workspace; returns its name."""
    document = {"command": command, **fields}
    if ws.info().kind != "local":  # Azure ML requires an environment; locally none means this interpreter
        document.setdefault("environment", {"image": "python:3.11-slim"})
    return ws.create_job(document, base_dir=DATA, source="test").name


def wait_job(ws, name: str, timeout: float = 30.0):
    return ws.wait_for_job(name, timeout=timeout)


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def text_of(widget, width: int = 200) -> str:
    """What a Static shows, as plain text (it may hold markup, Text or any Rich renderable)."""
    from rich.console import Console
    from rich.text import Text

    content = widget.content
    if isinstance(content, str):
        return Text.from_markup(content).plain
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(content)
    return console.export_text()
