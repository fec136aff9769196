"""Kind actions come from the registry: the footer, `?` and the palette show only what the
current kind and mode allow, and a key another kind lacks does nothing there."""

from __future__ import annotations

from textual.widgets import Footer

from tests.tui.conftest import run_job, text_of, wait_for
from tests.tui.test_browse import seed_assets, show
from tui.kinds import KINDS, KindAction, all_actions
from tui.screens.detail import DetailScreen
from tui.screens.logs import LogScreen
from tui.screens.main import MainScreen
from tui.screens.modals import HelpScreen
from tui.workspace.base import AssetKind


def footer_keys(app) -> dict[str, str]:
    """key -> description of the footer's visible, enabled bindings."""
    screen = app.screen
    return {key: a.binding.description for key, a in screen.active_bindings.items()
            if a.binding.show and a.enabled}


def help_sections(app) -> list[tuple[str, list[str]]]:
    text = text_of(app.screen.query_one("#help-table"))
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" ") and "  " not in line.strip():
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(line.strip())
    return sections


def test_every_action_has_a_unique_id_and_a_description():
    ids = [a.id for a in all_actions()]
    assert len(ids) == len(set(ids))
    for spec in KINDS.values():
        for action in spec.actions:
            assert isinstance(action, KindAction) and action.description and action.id.startswith(spec.name)


async def test_footer_follows_the_kind(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    run_job(ws, "echo hi")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.JOBS)
        shown = footer_keys(app)
        assert shown["l"] == "Logs" and shown["c"] == "Cancel job" and shown["C"] == "Clone job"
        assert shown["n"] == "New job"
        await show(pilot, AssetKind.DATA)
        await pilot.pause(0.1)
        shown = footer_keys(app)
        for key in ("l", "c", "C"):
            assert key not in shown, (key, shown)
        await pilot.pause(0.2)
        described = [k.description for k in app.screen.query_one(Footer).query("FooterKey")]
        assert "Filter" in described and "Logs" not in described and "Clone job" not in described
        # The key does nothing on data: no log screen, no warning about jobs.
        await pilot.press("l")
        await pilot.pause(0.1)
        assert isinstance(app.screen, MainScreen)


async def test_read_only_hides_every_mutation(ws, app_factory):
    name = run_job(ws, "sleep 30")
    app = app_factory(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key == name)
        shown = footer_keys(app)
        assert "l" in shown
        for key in ("n", "c", "C"):
            assert key not in shown, (key, shown)
            await pilot.press(key)
            assert isinstance(app.screen, MainScreen), key
        assert not any("disabled" in n.message for n in app._notifications)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = text_of(app.screen.query_one("#help-table"))
        assert "Logs" in text
        for hidden in ("New job", "Cancel job", "Clone job"):
            assert hidden not in text
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"job")
        await pilot.pause(0.5)
        from textual.command import CommandPalette

        palette = app.screen
        assert isinstance(palette, CommandPalette)
        options = " ".join(str(o.prompt) for o in palette.query_one("CommandList").options)
        assert "New job" not in options and "Cancel job" not in options
        await pilot.press("escape")
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
    ws.cancel_job(name)


async def test_help_starts_with_the_current_screen(ws, app_factory):
    name = run_job(ws, "echo hi")
    app = app_factory()
    async with app.run_test(size=(160, 60)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key == name)
        await pilot.press("question_mark")
        sections = help_sections(app)
        assert sections[0][0] == "This screen" and sections[-1][0] == "Everywhere"
        first = " ".join(sections[0][1])
        assert "Logs" in first and "Filter" in first and "New job" in first
        await pilot.press("escape")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))
        await pilot.press("question_mark")
        sections = help_sections(app)
        assert sections[0][0] == "This screen"
        assert "Follow" in " ".join(sections[0][1])
        assert "New job" not in text_of(app.screen.query_one("#help-table"))


async def test_detail_screen_actions_follow_the_kind(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.DATA)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        shown = footer_keys(app)
        assert "l" not in shown and "C" not in shown and shown["y"] == "YAML"
        await pilot.press("l")
        assert isinstance(app.screen, DetailScreen)


async def test_palette_offers_the_kinds_actions(ws, app_factory):
    name = run_job(ws, "echo hi")
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await wait_for(pilot, lambda: main.table.cursor_key == name)
        await pilot.press("ctrl+p")
        await pilot.press(*"logs")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))
        assert app.screen.job == name


async def test_read_only_shows_in_the_header_at_80_columns(ws, app_factory):
    app = app_factory(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.screen.query_one("#header")
        kind = ws.info().kind
        await wait_for(pilot, lambda: kind in text_of(header, width=80))
        assert "READ-ONLY" in text_of(header, width=80).splitlines()[0][:80]
