"""Style lookups cached per widget, for Line-API widgets that paint many lines a frame."""

from __future__ import annotations

from rich.style import Style


class CachedStyles:
    """Mixin for a Widget: `_base_style()` and `_style(name)` (the component class
    `{COMPONENT_PREFIX}--{name}`), computed once until the widget's styles change."""

    COMPONENT_PREFIX = ""
    _styles: dict[str, Style]

    def notify_style_update(self) -> None:
        super().notify_style_update()  # type: ignore[misc]
        self._styles = {}

    def _base_style(self) -> Style:
        # `rich_style` walks every ancestor's styles; per line, that was a third of a repaint.
        style = self._cached_styles().get("")
        if style is None:
            style = self._styles[""] = self.rich_style  # type: ignore[attr-defined]
        return style

    def _style(self, name: str) -> Style:
        style = self._cached_styles().get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(  # type: ignore[attr-defined]
                f"{self.COMPONENT_PREFIX}--{name}", partial=True)
        return style

    def _cached_styles(self) -> dict[str, Style]:
        if not hasattr(self, "_styles"):
            self._styles = {}
        return self._styles
