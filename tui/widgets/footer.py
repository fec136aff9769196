"""The footer of key hints, with `?` and the way out (`q`, `esc`) pinned to its right end.

Textual's footer lays keys out left to right and cuts what does not fit, so at 80 columns
(or 120 on the main screen) the keys a new user needs most, help and quit, were the ones
cut. Here they stay at the right whatever the width; below ~100 columns the footer goes
compact and leaves the palette key to `?`, which lists it.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, KeyGroup

# Actions of help and of leaving the screen (the app's, a screen's back/close/cancel).
PINNED_ACTIONS = frozenset({"help", "app.help", "quit", "app.quit", "back", "app.pop_screen", "close", "cancel"})
NARROW = 100


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter KeyGroup.-pinned {
        dock: right;
        height: 1;
        padding-left: 1;
        border-left: vkey $foreground 20%;
        background: $footer-background;
    }
    KeyFooter KeyGroup.-pinned FooterKey.-command-palette {
        dock: none;
        border-left: none;
    }
    """

    def compose(self) -> ComposeResult:
        pinned: list[FooterKey] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (widget.action in PINNED_ACTIONS
                                                  or widget.has_class("-command-palette")):
                pinned.append(widget)
            else:
                yield widget
        if pinned:
            yield KeyGroup(*pinned, classes="-pinned")

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.call_after_refresh(self.recompose)
