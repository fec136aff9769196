"""Adding an asset kind touches only: the AssetKind enum, its registry entry (with its columns),
one descriptor per backend, and its CLI verbs. This test adds a toy kind in exactly those
places (the enum member at run time, as a new release would add it in base.py) and browses it
in the real app, over the real local workspace."""

from __future__ import annotations

import json
import time

import pytest

from tests.tui.conftest import text_of, wait_for, wait_for_workers
from tui import columns, kinds
from tui.columns import AGE, NAME, field_column
from tui.screens.main import MainScreen
from tui.widgets.asset_table import AssetTable
from tui.workspace.base import AssetKind
from tui.workspace.local import assets


pytestmark = pytest.mark.local_only("a toy kind registered with the local backend only")


def _add_member(enum_cls, name: str, value: str):
    """What adding `TOYS = "toys"` to the enum's source does, at run time."""
    member = str.__new__(enum_cls, value)
    member._name_, member._value_ = name, value
    member.__objclass__ = enum_cls
    type.__setattr__(enum_cls, name, member)
    enum_cls._member_map_[name] = member
    enum_cls._value2member_map_[value] = member
    enum_cls._member_names_.append(name)
    return member


def _remove_member(enum_cls, name: str, value: str) -> None:
    del enum_cls._member_map_[name]
    del enum_cls._value2member_map_[value]
    enum_cls._member_names_.remove(name)
    type.__delattr__(enum_cls, name)


@pytest.fixture
def toy_kind(ws):
    toys = _add_member(AssetKind, "TOYS", "toys")
    # The local backend's descriptor, and its table (a catalog migration in a real release).
    ws._conn.execute("CREATE TABLE toys (name TEXT PRIMARY KEY, colour TEXT, created_at REAL NOT NULL)")
    ws._conn.executemany("INSERT INTO toys VALUES (?, ?, ?)",
                         [("yo-yo", "red", time.time() - 60), ("kite", "blue", time.time())])
    assets.DESCRIPTORS[toys] = assets.AssetDescriptor(
        toys, "toys", lambda root, r: {"name": r["name"], "colour": r["colour"],
                                       "creation_context": {"created_at": r["created_at"]}},
        versioned=False, order="name")
    # The registry entry (UI side), with its columns.
    spec = kinds.KindSpec(toys, "Toys", ("toys", "toy"), (NAME, field_column("COLOUR", "colour"), AGE))
    kinds.register_kind(spec)
    try:
        yield toys
    finally:
        del kinds.KINDS[toys], columns.COLUMNS[toys], assets.DESCRIPTORS[toys]
        kinds.KIND_ORDER.remove(toys)
        _remove_member(AssetKind, "TOYS", "toys")


async def test_a_toy_kind_is_browsed_like_any_other(ws, toy_kind, app_factory):
    assert ws.counts()[toy_kind] == 2
    assert [a.name for a in ws.list_assets(toy_kind).items] == ["kite", "yo-yo"]
    app = app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await pilot.press("colon", *"toys", "enter")
        await wait_for(pilot, lambda: main.kind is toy_kind)
        await wait_for_workers(pilot)
        table = main.query_one(AssetTable)
        assert [c.title for c in table.columns] == ["NAME", "COLOUR", "AGE"]
        assert [r.cells[:2] for r in table.rows] == [("kite", "blue"), ("yo-yo", "red")]
        sidebar = [str(o.prompt) for o in main.query_one("#sidebar").options]
        assert any("Toys" in p and "2" in p for p in sidebar)
        # Details and YAML come for free.
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not main)
        assert "colour" in text_of(app.screen.query_one("#detail-full"))


def test_the_cli_table_of_a_toy_kind_uses_its_registered_columns(ws, toy_kind, capsys):
    from tui.output import emit_assets

    emit_assets(ws.list_assets(toy_kind).items, "table", toy_kind)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "COLOUR", "AGE"] and lines[2].split()[:2] == ["kite", "blue"]
    emit_assets(ws.list_assets(toy_kind).items, "json", toy_kind)
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == ["kite", "yo-yo"]
