"""The CLI's output: `-o json|yaml|table|tsv`, listings written as they are read.

Cheap to import (the CLI's budget): no Rich, Textual or SDK; orjson and yaml on first use.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator

from .workspace.base import Asset, AssetKind

OUTPUTS = ("json", "yaml", "table", "tsv")


def emit(value: Any, fmt: str) -> None:
    """A plain value (a dict, a list of dicts) in the output format."""
    if fmt == "json":
        sys.stdout.buffer.write(_json(value) + b"\n")
    elif fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))
    else:
        rows = value if isinstance(value, list) else [value]
        titles = list(rows[0].keys()) if rows else []
        _table([[_cell(r.get(t)) for t in titles] for r in rows], titles, fmt)


def _json(value: Any) -> bytes:
    # stdlib json with indent= runs in pure Python (0.6 s for 10,000 jobs); orjson is in C.
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _table(cells: list[list[str]], titles: list[str], fmt: str) -> None:
    if fmt == "tsv":
        for line in cells:
            print("\t".join(line))
        return
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, title in enumerate(titles)]
    print("  ".join(t.ljust(w) for t, w in zip(titles, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in cells:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def emit_asset(asset: Asset, fmt: str) -> None:
    if fmt in ("json", "yaml"):
        emit(asset.to_dict(), fmt)
    else:
        emit_assets(iter([asset]), fmt, asset.kind)


def emit_assets(assets: Iterable[Asset], fmt: str, kind: AssetKind) -> None:
    """A listing, written as it is read: JSON and YAML row by row (memory stays flat at any
    size); a table needs every row for its widths, tsv does not. Table and tsv show the
    app's columns (tui/columns.py)."""
    out = sys.stdout
    if fmt == "json":
        buffer, first = out.buffer, True
        buffer.write(b"[")
        for asset in assets:
            buffer.write(b"\n  " if first else b",\n  ")
            buffer.write(_json(asset.to_dict()).replace(b"\n", b"\n  "))
            first = False
        buffer.write(b"]\n" if first else b"\n]\n")
        return
    if fmt == "yaml":
        import yaml

        wrote = False
        for asset in assets:
            out.write(yaml.safe_dump([asset.to_dict()], sort_keys=False, allow_unicode=True))
            wrote = True
        if not wrote:
            out.write("[]\n")
        return
    from .columns import COLUMNS

    now = time.time()
    columns = COLUMNS[kind]
    rows = ([c.fmt(c.get(a, now)) for c in columns] for a in assets)
    if fmt == "tsv":
        for line in rows:
            print("\t".join(line))
        return
    _table(list(rows), [c.title for c in columns], fmt)


def pages(fetch: Callable[[str | None], Any], limit: int | None) -> Iterator[Asset]:
    """Every item of a paged listing (at most `limit`), one page in memory at a time."""
    token, count = None, 0
    while True:
        page = fetch(token)
        for item in page.items:
            if limit is not None and count >= limit:
                return
            count += 1
            yield item
        token = page.next_token
        if not token:
            return
