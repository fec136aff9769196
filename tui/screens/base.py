"""What every screen shares: worker errors end in one place, and the kind actions of the
registry (tui/kinds.py) become key bindings that show only where they apply."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.worker import Worker, WorkerState

from tui.kinds import KindAction, KindSpec, all_actions
from tui.workspace.base import Asset


class ReportsWorkerErrors:
    """Mixin for screens that run workers: a failed worker becomes a notification.

    Textual sends `Worker.StateChanged` only to the node that started the worker (it does
    not bubble), so each screen forwards it to the app's single `report_error`.
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_error(event.worker.error, group=event.worker.group)  # type: ignore[attr-defined]


def kind_action_bindings() -> list[Binding]:
    """One binding per registered action; `KindActions.check_action` hides those the current
    kind or mode lacks, and a key shared by two kinds' actions falls through to the right one."""
    return [Binding(a.key, f"kind_action({a.id!r})", a.description, show=a.show, key_display=a.key_display,
                    id=a.id) for a in all_actions()]


class KindActions:
    """Mixin: runs and gates the kind actions of `current_spec()` on `current_asset()`."""

    app: Any

    def current_spec(self) -> KindSpec:
        raise NotImplementedError

    def current_asset(self) -> Asset | None:
        raise NotImplementedError

    def kind_action_allowed(self, action: KindAction | None, asset: Asset | None = None) -> bool:
        if action is None:
            return False
        app = self.app
        return action.enabled(app.workspace.capabilities, asset, app.read_only)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "kind_action":
            return self.kind_action_allowed(self.current_spec().action(str(parameters[0])))
        return True

    def action_kind_action(self, action_id: str) -> None:
        spec = self.current_spec()
        action = spec.action(action_id)
        asset = self.current_asset()
        if action is None:
            return
        if asset is None:
            self.app.notify(f"No {spec.title.lower().rstrip('s')} selected.", severity="warning")
            return
        if not self.kind_action_allowed(action, asset):
            self.app.notify(f"{action.description} does not apply to {asset.key}.", severity="warning",
                            markup=False)
            return
        action.run(self.app, asset)
