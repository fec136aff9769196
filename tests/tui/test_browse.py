"""Browsing: every kind through the one table, command mode, filter, sort, details, YAML."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import text_of, wait_for, wait_for_workers
from tui.kinds import KIND_ORDER, KINDS
from tui.screens.detail import DetailScreen
from tui.screens.main import MainScreen
from tui.screens.modals import TextScreen
from tui.widgets.asset_table import AssetTable
from tui.workspace.base import AssetKind


def seed_assets(ws, tmp_path: Path) -> None:
    """Two data assets, two environments and a second compute, through the real API."""
    for name in ("mnist-sample", "cifar-tiny"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "part-0.txt").write_text("0 1 2\n")
        ws.create_data({"name": name, "version": "1", "type": "uri_folder", "path": str(folder),
                        "description": f"{name} for tests"}, base_dir=tmp_path, source="test")
    for name in ("tui-cpu", "tui-gpu"):
        ws.create_environment({"name": name, "version": "1", "image": f"python:3.11-{name}"},
                              base_dir=tmp_path, source="test")
    if ws.info().kind == "local":
        ws.create_compute({"name": "cpu-cluster", "type": "local", "max_concurrency": 2}, source="test")
    else:  # Azure ML has no local compute: the same cluster, as Azure makes it
        ws.create_compute({"name": "cpu-cluster", "type": "amlcompute", "max_instances": 2}, source="test")


def keys(app) -> list[str]:
    return [row.key for row in app.screen.query_one(AssetTable).rows]


def table(app) -> AssetTable:
    return app.screen.query_one(AssetTable)


async def show(pilot, kind: AssetKind) -> None:
    main = pilot.app.screen
    assert isinstance(main, MainScreen)
    await pilot.press(str(KIND_ORDER.index(kind) + 1))
    await wait_for(pilot, lambda: main.kind == kind, what=f"{kind} shown")
    await wait_for_workers(pilot)


async def test_every_kind_in_the_same_table(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        for kind in KIND_ORDER:
            await show(pilot, kind)
            spec = KINDS[kind]
            assert [c.title for c in table(app).columns] == [c.title for c in spec.columns]
            if spec.available(ws.capabilities):
                expected = sorted(a.key for a in ws.list_assets(kind).items)
                assert sorted(keys(app)) == expected
            else:
                # Local has no models/endpoints: an empty table that says why.
                assert keys(app) == []
                assert "does not support" in table(app).empty_message
        assert sorted(keys(app)) == [] and isinstance(main, MainScreen)
        await show(pilot, AssetKind.DATA)
        assert sorted(keys(app)) == ["cifar-tiny:1", "mnist-sample:1"]
        # The sidebar shows the counts.
        sidebar = str(app.screen.query_one("#sidebar").get_option("data").prompt)
        assert "2" in sidebar


async def test_command_mode_switches_kinds_and_completes(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        await pilot.press("colon", *"env", "enter")
        await wait_for(pilot, lambda: main.kind == AssetKind.ENVIRONMENTS and len(keys(app)) == 2)
        # Tab completes the word (`comp` -> `compute`).
        await pilot.press("colon", *"comp", "tab")
        assert app.screen.query_one("#prompt").value == "compute"
        await pilot.press("enter")
        await wait_for(pilot, lambda: main.kind == AssetKind.COMPUTE and "cpu-cluster" in keys(app))
        # An unknown word is a warning, not a crash.
        await pilot.press("colon", *"podz", "enter")
        await pilot.pause()
        assert any("Unknown command" in n.message for n in app._notifications)
        await pilot.press("colon", *"quit", "enter")
        await pilot.pause()
    assert app.return_code == 0


async def test_filter_substring_regex_and_clear(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.DATA)
        await pilot.press("slash", *"MNIST")
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert keys(app) == ["mnist-sample:1"]
        await pilot.press("enter")  # keeps the filter, back to the table
        assert table(app).filter_text == "MNIST" and app.focused is table(app)
        assert "filter: MNIST" in str(app.screen.query_one("#table-title").render())
        await pilot.press("escape")  # clears it
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert len(keys(app)) == 2
        await pilot.press("slash", *"/^cif.*tiny/", "enter")
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert keys(app) == ["cifar-tiny:1"]
        await pilot.press("slash", "ctrl+u", *"/[/", "enter")  # bad regex -> substring, says why
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert table(app).filter_error and keys(app) == []


async def test_sort_cycles_columns_and_keeps_the_cursor(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.DATA)
        await pilot.press("s")  # by NAME, ascending
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert keys(app) == ["cifar-tiny:1", "mnist-sample:1"]
        await pilot.press("down")
        assert table(app).cursor_key == "mnist-sample:1"
        await pilot.press("S")  # reversed; the cursor follows its row
        await wait_for_workers(pilot)  # sorting and filtering ask the source, in a worker
        assert keys(app) == ["mnist-sample:1", "cifar-tiny:1"]
        assert table(app).cursor_key == "mnist-sample:1"
        assert "NAME ↓" in table(app).sort_description()
        await pilot.pause()
        assert "sort: NAME ↓" in text_of(app.screen.query_one("#table-title"))  # the title says so
        # A refresh keeps the cursor on its key too.
        await pilot.press("r")
        await wait_for_workers(pilot)
        assert table(app).cursor_key == "mnist-sample:1"


async def test_details_pane_screen_and_yaml(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.ENVIRONMENTS)
        detail = app.screen.query_one("#detail-body")
        await wait_for(pilot, lambda: "python:3.11" in text_of(detail), what="detail pane")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await wait_for(pilot, lambda: app.screen.data is not None)
        assert app.screen.asset.name == table_name(app)
        await pilot.press("y")
        assert isinstance(app.screen, TextScreen)
        assert "image: python:3.11" in text_of(app.screen.query_one("#text"))
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, MainScreen)


def table_name(app) -> str:
    return app.screen_stack[0].query_one(AssetTable).cursor_row.asset.name


async def test_yaml_is_the_assets_az_ml_shape(ws, tmp_path, app_factory):
    import yaml

    from tui.screens.modals import asset_yaml

    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await show(pilot, AssetKind.DATA)
        row = table(app).cursor_row
        await pilot.press("y")
        assert isinstance(app.screen, TextScreen)
        assert yaml.safe_load(asset_yaml(row.asset)) == row.asset.to_dict()


async def test_command_palette_shows_a_kind(ws, tmp_path, app_factory):
    seed_assets(ws, tmp_path)
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"show data")
        await pilot.pause(0.5)
        await pilot.press("enter")
        main = app.screen_stack[0]
        await wait_for(pilot, lambda: main.kind == AssetKind.DATA and len(keys(app)) == 2)
