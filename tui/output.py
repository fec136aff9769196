"""The CLI's output: `-o json|yaml|table|tsv`, listings written as they are read.

Cheap to import (the CLI's budget): no Rich, Textual or SDK; orjson and yaml on first use.
"""

from __future__ import annotations

import functools
import re
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
        wrote = False
        for asset in assets:
            out.write(_yaml_item(asset.to_dict()))
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


# ---------------------------------------------------------------------------- YAML, fast
# PyYAML's emitter is pure Python: 4 ms a job, 7 minutes for `job list -o yaml` at 100,000.
# A listing is JSON-shaped (dicts, lists, text, numbers, booleans, None), so it is written
# here in PyYAML's block style: text plain where PyYAML would read it back as the same text,
# else double-quoted with JSON's escapes (a subset of YAML's) plus those of the characters
# YAML reads as line breaks or does not print. Anything else goes through PyYAML.


class _NotJsonShaped(Exception):
    pass


# Plain text: starts with no YAML indicator, holds no ": ", " #", quotes or line breaks.
_PLAIN = re.compile(r"[A-Za-z0-9_./$()~+=][A-Za-z0-9_./$()~+=@ ,;:{}\[\]-]*")
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_texts: dict[str, str] = {}  # text -> its YAML; values repeat (keys, statuses)


@functools.cache
def _resolver():
    from yaml.resolver import Resolver

    return Resolver()


def _yaml_text(text: str) -> str:
    known = _texts.get(text)
    if known is not None:
        return known
    plain = bool(_PLAIN.fullmatch(text)) and not text.endswith((" ", ":")) and ": " not in text
    # Text that PyYAML could read as a number, a date, a boolean or null is quoted: all that
    # starts like a number (asking PyYAML's resolver about every time stamp costs), and the
    # short words its resolver reads as booleans or null.
    if plain and text[0] in "0123456789+-.~=<":
        plain = False
    elif plain and len(text) <= 5 and text[0] in _resolver().yaml_implicit_resolvers:
        from yaml.nodes import ScalarNode

        plain = _resolver().resolve(ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"
    known = text if plain else _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", _json(text).decode())
    if len(_texts) > 4096:  # memory stays flat
        _texts.clear()
    _texts[text] = known
    return known


def _yaml_scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _texts.get(value) or _yaml_text(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:  # as PyYAML's represent_float
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    raise _NotJsonShaped(kind.__name__)


def _yaml_map(value: dict, indent: str, out: list[str]) -> None:
    get, append = _texts.get, out.append  # (locals: this loop runs ~40 times a job)
    for key, item in value.items():
        key = get(key) or _yaml_scalar(key)
        kind = type(item)
        if kind is str:
            append(f"{indent}{key}: {get(item) or _yaml_text(item)}\n")
        elif kind is dict and item:
            append(f"{indent}{key}:\n")
            _yaml_map(item, indent + "  ", out)
        elif kind is list and item:
            append(f"{indent}{key}:\n")
            _yaml_seq(item, indent, out)  # PyYAML does not indent a sequence under its key
        else:
            append(f"{indent}{key}: {_yaml_scalar(item)}\n")


def _yaml_seq(items: list, indent: str, out: list[str]) -> None:
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and item:
            start = len(out)
            (_yaml_map if kind is dict else _yaml_seq)(item, indent + "  ", out)
            out[start] = f"{indent}- {out[start][len(indent) + 2:]}"
        else:
            out.append(f"{indent}- {_yaml_scalar(item)}\n")


def _yaml_item(value: dict) -> str:
    """`value` as one item of a YAML list: what `yaml.safe_dump([value])` reads back as."""
    out: list[str] = []
    try:
        _yaml_seq([value], "", out)
    except _NotJsonShaped:
        import yaml

        return yaml.safe_dump([value], sort_keys=False, allow_unicode=True)
    return "".join(out)


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
