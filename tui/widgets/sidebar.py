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
        self.folded = False
        self._counts: Mapping[AssetKind, int] = {}
        self._available: Mapping[AssetKind, bool] = {}

    def _label(self, kind: AssetKind, count: int | None, available: bool = True) -> Text:
        spec = KINDS[kind]
        number = KIND_ORDER.index(kind) + 1
        if getattr(self, "folded", False):
            return Text(str(number), style="bold")  # the table's title names the kind
        text = Text.assemble((f"{number} ", "dim"), spec.title)
        if not available:
            text.append("  n/a", style="dim")
        elif count is not None:
            text.append(f"  {count:,}", style="bold")
        return text

    def fold(self, folded: bool) -> None:
        """Below ~100 columns: only the numbers (1-6 still jump to a kind)."""
        if folded != self.folded:
            self.folded = folded
            self.set_class(folded, "-folded")
            self.set_counts(self._counts, self._available)

    def set_counts(self, counts: Mapping[AssetKind, int], available: Mapping[AssetKind, bool]) -> None:
        self._counts, self._available = counts, available
        for kind in KIND_ORDER:
            self.replace_option_prompt(kind.value, self._label(kind, counts.get(kind), available.get(kind, True)))

    def select_kind(self, kind: AssetKind) -> None:
        self.highlighted = self.get_option_index(kind.value)
