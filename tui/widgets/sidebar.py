"""The sidebar: the six asset kinds with their counts; selecting one shows it."""

from __future__ import annotations

from typing import Mapping

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.kinds import KIND_ORDER, KINDS
from tui.workspace.base import AssetKind


class KindList(OptionList):
    """One option per kind (id = the kind's value); the main screen listens for selection."""

    def __init__(self, **kwargs) -> None:
        super().__init__(*(Option(self._label(k, None), id=k.value) for k in KIND_ORDER), **kwargs)

    @staticmethod
    def _label(kind: AssetKind, count: int | None, available: bool = True) -> Text:
        spec = KINDS[kind]
        number = KIND_ORDER.index(kind) + 1
        text = Text.assemble((f"{number} ", "dim"), spec.title)
        if not available:
            text.append("  n/a", style="dim")
        elif count is not None:
            text.append(f"  {count:,}", style="bold")
        return text

    def set_counts(self, counts: Mapping[AssetKind, int], available: Mapping[AssetKind, bool]) -> None:
        for kind in KIND_ORDER:
            self.replace_option_prompt(kind.value, self._label(kind, counts.get(kind), available.get(kind, True)))

    def select_kind(self, kind: AssetKind) -> None:
        self.highlighted = self.get_option_index(kind.value)
