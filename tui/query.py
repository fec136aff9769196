"""The `/` filter language, parsed once into a `Query` that any backend can run.

    mnist                     rows whose text holds "mnist" (case-insensitive)
    /fail|cancel/             rows matching a regular expression (case-insensitive)
    status:Failed exp:mnist   column terms: the STATUS cell holds "failed", and EXPERIMENT "mnist"
    -status:Completed         a negated term: the STATUS cell does not hold "completed"
    status:Failed oom         terms and text together (all must hold)
    display:"my run"          quotes keep spaces in a value

A term's column is one of the kind's column titles, case-insensitive, with spaces, `_` and `-`
ignored (`display_name`), or a short alias (`exp`, `display`). A word with a colon whose key is
no column (`azureml:local`) is plain text. Values match as case-insensitive substrings, so a
backend can run a term as `LIKE '%value%'`; the table runs it in memory with `Query.predicate`.

No Textual or Rich here: the catalog may run the same object in SQL.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Callable, Sequence

# Short names for columns, beside their titles (only those the kind has apply).
ALIASES: dict[str, str] = {
    "exp": "EXPERIMENT",
    "experiment": "EXPERIMENT",
    "status": "STATUS",
    "compute": "COMPUTE",
    "type": "TYPE",
    "name": "NAME",
    "display": "DISPLAY NAME",
}

_KEY = re.compile(r"^(-?)([A-Za-z][A-Za-z0-9_ -]*):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Term:
    """`column` (a column title, as the kind spells it) holds `value`, or not when `negate`."""

    column: str
    value: str
    negate: bool = False


@dataclass(frozen=True)
class Query:
    """Every part must hold: `text` anywhere in the row, `regex` anywhere in the row, each term
    in its column. An empty query matches every row. `error` says what was not understood
    (the rest still applies)."""

    text: str | None = None
    regex: str | None = None
    terms: tuple[Term, ...] = ()
    error: str | None = None

    @property
    def empty(self) -> bool:
        return self.text is None and self.regex is None and not self.terms

    def predicate(self, titles: Sequence[str]) -> Callable[[str, Sequence[str]], bool] | None:
        """A test of one row, `(row_text, cells) -> bool`, for the columns `titles`; `row_text`
        is the row's cells joined and lower-cased. None when the query matches everything."""
        if self.empty:
            return None
        text = self.text.lower() if self.text is not None else None
        pattern = re.compile(self.regex, re.IGNORECASE) if self.regex is not None else None
        index = {t: i for i, t in enumerate(titles)}
        terms = [(index[t.column], t.value.lower(), t.negate) for t in self.terms if t.column in index]

        def test(row_text: str, cells: Sequence[str]) -> bool:
            if text is not None and text not in row_text:
                return False
            if pattern is not None and pattern.search(row_text) is None:
                return False
            for i, value, negate in terms:
                if (value in cells[i].lower()) == negate:
                    return False
            return True

        return test

    def matches(self, cells: Sequence[str], titles: Sequence[str]) -> bool:
        """Whether one row (its cells, under `titles`) matches; see `predicate` for many rows."""
        test = self.predicate(titles)
        return test is None or test(" ".join(cells).lower(), cells)


def _normal(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).lower()


def column_names(titles: Sequence[str]) -> dict[str, str]:
    """What a term may call each column: its title, normalised, and the aliases that apply."""
    names = {_normal(t): t for t in titles}
    for alias, title in ALIASES.items():
        if title in titles:
            names.setdefault(alias, title)
    return names


def parse_query(text: str, titles: Sequence[str]) -> Query:
    """The filter `text` against a kind's column `titles` -> Query (never raises)."""
    text = text.strip()
    if not text:
        return Query()
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        # The whole filter is one regex, spaces and all (`/^job_1 /`).
        return _with_regex(Query(), text[1:-1])
    try:
        tokens = shlex.split(text)
    except ValueError:  # an unbalanced quote while typing: words as they are
        tokens = text.split()
    names = column_names(titles)
    words: list[str] = []
    terms: list[Term] = []
    regex: str | None = None
    errors: list[str] = []
    for token in tokens:
        match = _KEY.match(token)
        if match:
            negate, key, value = match.group(1) == "-", match.group(2), match.group(3)
            column = names.get(_normal(key))
            if column is not None:
                if value:  # `status:` while typing: no constraint yet
                    terms.append(Term(column, value, negate))
                continue
            if key.isalpha() and not value.startswith("/"):
                errors.append(f"{token!r} searched as text: no column {key!r} (columns: {', '.join(titles)})")
        if len(token) >= 2 and token.startswith("/") and token.endswith("/"):
            if regex is None:
                regex = token[1:-1]
            else:
                errors.append(f"one /regex/ per filter; ignoring {token}")
            continue
        words.append(token)
    query = Query(" ".join(words) or None, None, tuple(terms), "; ".join(errors) or None)
    return _with_regex(query, regex) if regex is not None else query


def _with_regex(query: Query, regex: str) -> Query:
    """`query` with `regex`, or, when it does not compile, with it as plain text (and why)."""
    try:
        re.compile(regex)
    except re.error as exc:
        text = f"/{regex}/" if query.text is None else f"{query.text} /{regex}/"
        error = f"bad regex, searching as text: {exc}"
        return Query(text, None, query.terms, f"{query.error}; {error}" if query.error else error)
    return Query(query.text, regex, query.terms, query.error)
