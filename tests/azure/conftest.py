"""Fixtures: a fresh stateful fake per test, and an AzureWorkspace over the real SDK talking to it."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import pytest

from tests.azure.fake import CANARIES, FakeAzure


@pytest.fixture(autouse=True)
def _offline(no_network):
    """No test here may reach the network: the fake answers everything."""


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure()


@pytest.fixture
def azure_ws(fake):
    from tui.workspace.azure import AzureWorkspace

    ws = AzureWorkspace(fake.client())
    yield ws
    ws.close()


def strings(value: Any) -> Iterator[str]:
    """Every string inside a record, dict, list or dataclass (keys too)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from strings(getattr(value, f.name))
        if hasattr(value, "to_dict"):
            yield from strings(value.to_dict())
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from strings(v)
    elif value is not None:
        yield str(value)


def assert_no_canary(value: Any) -> None:
    text = "\n".join(strings(value))
    for canary in CANARIES:
        assert canary not in text, f"secret {canary} leaked: ...{text[max(0, text.find(canary) - 200):][:300]}"
