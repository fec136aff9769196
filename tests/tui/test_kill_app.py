"""`kill -9` of the app while its jobs run: the jobs finish and are recorded (their runners
are detached from the app's process)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

APP_SUBMITS_THEN_WAITS = """
import asyncio, sys, time
from pathlib import Path
from tui.app import make_app
from tui.screens.main import MainScreen
from tui.workspace.local import LocalWorkspace

async def main():
    ws = LocalWorkspace(sys.argv[1])
    app = make_app(ws, job_template=Path(sys.argv[2]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n", "enter")
        screen = app.screen
        while "valid" not in str(screen.query_one("#error-general").content):
            await pilot.pause(0.05)
        await pilot.press("ctrl+s")
        while not isinstance(app.screen, MainScreen):
            await pilot.pause(0.05)
        print("submitted", flush=True)
        await asyncio.sleep(3600)  # the app stays up until it is killed

asyncio.run(main())
"""


@pytest.mark.local_only("local jobs outliving a killed app (detached runners)")
def test_jobs_survive_the_app_being_killed(ws, tmp_path):
    template = tmp_path / "job.yml"
    template.write_text("command: sleep 1.5; echo finished after the app died\ndisplay_name: outlives-the-app\n")
    app = subprocess.Popen([sys.executable, "-c", APP_SUBMITS_THEN_WAITS, str(ws.root), str(template)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "submitted", app.stderr.read()
        (job,) = ws.list_jobs().items
        deadline = time.time() + 30
        while ws.get_job(job.name).status != "Running":
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        app.kill()  # SIGKILL: no cleanup runs in the app
        app.wait()
    job = ws.wait_for_job(job.name, 30)
    assert job.status == "Completed" and job.display_name == "outlives-the-app"
    assert "finished after the app died" in ws.read_log(job.name, "user_logs/std_log.txt").text
