"""The app over the Azure cache: a cached list says when it was fetched, and a cache that
cannot refresh keeps its rows on screen and says why (the fake, no network)."""

from __future__ import annotations

import time

from tests.azure.fake import FakeAzure
from tests.tui.conftest import wait_for, wait_for_workers
from tui.app import make_app
from tui.workspace.azure import AzureWorkspace
from tui.workspace.base import AssetKind
from tui.workspace.source import ListQuery, source_for


def _title(app) -> str:
    return str(app.screen.query_one("#table-title").render())


async def test_a_cached_list_says_as_of_when_and_offline_keeps_its_rows_with_a_banner(tmp_path):
    fake = FakeAzure()
    for i in range(3):
        fake.add_job(f"job{i}")
    first = AzureWorkspace(fake.client(), cache_dir=tmp_path / "cache")
    cache = source_for(first)
    cache.fetch(ListQuery(AssetKind.JOBS), 0, 50, now=time.time())
    fetched = time.strftime("%H:%M", time.localtime(cache.as_of(AssetKind.JOBS)))
    first.close()

    fake.network_down = True
    ws = AzureWorkspace(fake.client(), cache_dir=tmp_path / "cache")
    app = make_app(ws)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            table = app.screen.table
            await wait_for(pilot, lambda: table.total.total == 3, what="the cached rows")
            await wait_for(pilot, lambda: f"as of {fetched}" in _title(app), what="the as-of mark")
            banner = app.screen.query_one("#banner")
            await wait_for(pilot, lambda: banner.display, what="the offline banner", timeout=30)
            text = str(banner.render())
            assert "cannot reach Azure" in text and "press r to retry" in text, text
            # Still on screen, and still saying how old they are.
            assert table.total.total == 3 and f"as of {fetched}" in _title(app)

            fake.network_down = False
            await pilot.press("r")
            await wait_for(pilot, lambda: not banner.display, what="the banner to go", timeout=30)
            await wait_for_workers(pilot)
    finally:
        ws.close()
