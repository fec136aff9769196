"""The one search syntax shared by the table filter and the log search.

Plain text is a case-insensitive substring; text wrapped in slashes (`/fail|err/`) is a
case-insensitive regular expression. An invalid regular expression falls back to a
substring search and reports why.
"""

from __future__ import annotations

import re


def parse_search(text: str) -> tuple[re.Pattern[str] | None, str | None]:
    """Return (pattern, error); pattern is None for empty text."""
    text = text.strip()
    if not text:
        return None, None
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        try:
            return re.compile(text[1:-1], re.IGNORECASE), None
        except re.error as exc:
            return re.compile(re.escape(text), re.IGNORECASE), f"bad regex, searching as text: {exc}"
    return re.compile(re.escape(text), re.IGNORECASE), None
