"""The config file reaches the app: keymap (by binding id), theme, refresh interval."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import run_job, wait_for
from tui.config import Config
from tui.screens.logs import LogScreen
from tui.screens.main import MainScreen


async def test_keymap_theme_and_interval(ws, app_factory):
    name = run_job(ws, "echo hi")
    config = Config(Path("c.toml"), True, theme="nord", refresh_interval=0.5,
                    keymap={"jobs.logs": "L", "no.such.binding": "x"})
    app = app_factory(config=config)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key == name)
        assert app.theme == "nord" and app.refresh_interval == 0.5
        assert any("no.such.binding" in n.message for n in app._notifications)
        await pilot.press("l")  # rebound: l no longer opens the log
        await pilot.pause(0.1)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))


async def test_unknown_theme_is_a_warning(ws, app_factory):
    app = app_factory(config=Config(Path("c.toml"), True, theme="no-such-theme"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        assert any("no-such-theme" in n.message and "available" in n.message for n in app._notifications)
