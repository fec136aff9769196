"""Keep secrets off screens and out of logs.

Two rules, no list of whole variable names:

- By name. A name is split into segments on `_`, `-`, `.`, digits and camelCase boundaries
  (`dbPassword` -> db, Password; `APIKey` -> API, Key). It is secret when a segment, or two
  neighbouring segments joined (`CONNECTION_STRING`), is a secret word: PASS, PASSWD, PASSWORD,
  PASSPHRASE, PASSCODE, PWD, PAT, TOKEN, SECRET, KEY, AUTH, AUTHORIZATION, CREDENTIAL, PRIVATE,
  CONN, SAS, SIG, or its plural. Short words also end or begin ordinary words (MONKEY, PATH,
  PASSPORT, AUTHOR, SIGNAL), so they count only as a whole segment; the long ones, which do
  not, also count at the end of a run-together segment (`ACCESSTOKEN`, `DBPASSWORD`,
  `CLIENTSECRET`), PASSWORD, PASSWD, SECRET and CREDENTIAL at its start too (`SECRETKEY`; not
  TOKEN: `TOKENIZERS_PARALLELISM` is no secret), and KEY after API, ACCESS, ACCOUNT, MASTER,
  PRIVATE, SIGNING, ENCRYPTION or SHARED (`APIKEY`). A false alarm only hides a harmless value.
- By shape, whatever it is called: JWTs, bearer tokens, GitHub, Hugging Face, OpenAI, AWS,
  Slack and Google API keys, passwords in URLs, private key blocks.

`redact()` masks free text (log lines, error messages, command lines): the shapes, plus the
value of every `NAME=value`, `"NAME": "value"` and `--NAME value` whose NAME is secret
(that covers SAS `sig=`, `AccountKey=`, `Password=` in connection strings; a bare `key=` is
too common to mean a secret there: `key=value`, `sorted(key=len)`). It runs on log
chunks (10 MB of log in ~0.2 s), so every pattern starts with a literal or runs only when its
marker is in the text, and secret names are found by their keyword in the lower-cased text:
only a candidate costs a Python call.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping

MASK = "***"
# A known secret value shorter than this is not searched for in text: masking every "1" or
# "on" of a log would destroy it, and such a value protects nothing.
MIN_SECRET_LENGTH = 4

_SEGMENTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_LONG = r"PASSWORD|PASSWD|PASSPHRASE|PASSCODE|SECRET|TOKEN|CREDENTIAL"
_SECRET_SEGMENT = re.compile(
    r"(?:PASS|PASSWD|PASSWORD|PASSPHRASE|PASSCODE|PWD|PAT|TOKEN|SECRET|KEY|AUTH|AUTHORIZATION"
    r"|CREDENTIAL|PRIVATE|CONN|SAS|SIG|CONNSTR|CONNSTRING|CONNECTIONSTRING)S?"
    rf"|(?:PASSWORD|PASSWD|SECRET|CREDENTIAL)\w*|\w*(?:{_LONG})S?"
    r"|\w*(?:API|ACCESS|ACCOUNT|MASTER|PRIVATE|SIGNING|ENCRYPTION|SHARED)KEYS?")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    segments = [s.upper() for s in _SEGMENTS.findall(name)]
    pairs = (a + b for a, b in zip(segments, segments[1:]))
    return any(_SECRET_SEGMENT.fullmatch(s) for s in segments) or any(_SECRET_SEGMENT.fullmatch(p) for p in pairs)


_KEYWORDS = "pass|pwd|pat|token|secret|key|auth|credential|private|conn|sas|sig"


def _token(prefix: str, body: str) -> str:
    # The look-behind after the literal prefix keeps the regex engine's fast literal search;
    # it is a word boundary in front of the prefix (`task-...` holds no `sk-` key).
    return rf"{prefix}(?<![\w-]{prefix}){body}"


# Values that are secrets by their shape: masked whole.
_SHAPES = tuple(re.compile(p) for p in (
    _token("eyJ", r"[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*"),  # a JWT (header.payload.signature)
    _token("gh[pousr]_", r"[A-Za-z0-9]{30,}"),  # GitHub tokens
    _token("github_pat_", r"\w{30,}"),
    _token("hf_", r"[A-Za-z0-9]{30,}"),  # Hugging Face
    _token("sk-", r"[\w-]{20,}"),  # OpenAI-style API keys
    _token("A[KS]IA", r"[0-9A-Z]{16}\b"),  # AWS access key ids
    _token("xox[abprs]-", r"[\w-]{10,}"),  # Slack
    _token("AIza", r"[\w-]{35}"),  # Google API keys
))
# Secrets after a fixed prefix: group 1 is kept, the rest masked; each runs only when the
# (lower-cased) text holds its marker.
_PREFIXED = (
    ("bearer", re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]+")),
    ("authorization", re.compile(r"(?i)\b(authorization\s*[:=]\s*(?:\w+\s+)?)[\w.~+/=*-]+")),
    ("://", re.compile(r"(://[^\s/:@]*:)[^\s/@]+(?=@)")),  # scheme://user:password@host
    ("private key-----", re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(?=-----END [A-Z ]*PRIVATE KEY-----)")),
)
# Secret names are found in the lower-cased text by their keyword, which is fast; what
# surrounds a candidate is then checked on the original text.
# In text, a bare `key=` is mostly not a secret: `--set key=value`, `sorted(key=len)`.
_GENERIC_IN_TEXT = frozenset(("key", "keys"))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_NAMED = re.compile(rf"(?:{_KEYWORDS})[\w.-]*(?==|[\"']\s*:\s*[\"'])")
_OPTION = re.compile(rf"--([\w-]*?(?:{_KEYWORDS})[\w-]*)\s+(?=[^\s-])")
# NAME=value: quoted, or up to a space, a quote, `&` (a URL) or `;` (a connection string).
_ASSIGNED_VALUE = re.compile(r"""=("[^"\n]*"|'[^'\n]*'|[^\s&;'"]+)""")
_QUOTED_VALUE = re.compile(r"""(["'])\s*:\s*(["'])((?:(?!\2)[^\n\\]|\\.)+)\2""")
_OPTION_VALUE = re.compile(r"\S+")


def _name_start(text: str, end: int) -> int:
    start = end
    while start > 0 and end - start < 256 and text[start - 1] in _NAME_CHARS:
        start -= 1
    while start < end and not text[start].isalpha():  # a name starts with a letter
        start += 1
    return start


def _named_spans(text: str, low: str) -> list[tuple[int, int]]:
    """Where the values of NAME=value, "NAME": "value" and --NAME value are, for secret NAMEs."""
    spans = []
    for m in _NAMED.finditer(low):
        end = m.end()
        start = _name_start(text, end)
        if low[start:end] in _GENERIC_IN_TEXT or not is_secret_name(text[start:end]):
            continue
        if text[end] == "=":
            value = _ASSIGNED_VALUE.match(text, end)
            if value:
                quoted = value[1][0] in "\"'"
                spans.append((value.start(1) + quoted, value.end(1) - quoted))
        elif start > 0 and text[start - 1] == text[end]:  # the name is quoted with the same quote
            value = _QUOTED_VALUE.match(text, end)
            if value:
                spans.append(value.span(3))
    for m in _OPTION.finditer(low):
        if (m.start() == 0 or low[m.start() - 1] not in _NAME_CHARS) and is_secret_name(text[m.start(1):m.end(1)]):
            spans.append(_OPTION_VALUE.match(text, m.end()).span())
    return spans


def _lower(text: str) -> str:
    """`text` lower-cased, character for character, so positions in it are positions in `text`."""
    low = text.lower()
    if len(low) != len(text):  # a rare character (U+0130) lower-cases to two
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low


def redact(text: str, values: Iterable[str] = ()) -> str:
    """`text` with its secrets masked; `values` are known secrets (say, a job's secret
    environment variables) masked wherever they appear."""
    for value in sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _SHAPES:
        text = pattern.sub(MASK, text)
    low = _lower(text)
    for marker, pattern in _PREFIXED:
        if marker in low:
            text = pattern.sub(r"\1" + MASK, text)
            low = _lower(text)
    spans = _named_spans(text, low)
    if not spans:
        return text
    pieces, at = [], 0
    for start, end in sorted(spans):
        if start >= at:
            pieces += [text[at:start], MASK]
            at = end
    pieces.append(text[at:])
    return "".join(pieces)


def secret_values(variables: Mapping[str, str]) -> list[str]:
    """The values of the secret-named variables: what to scrub from text that may echo them."""
    return [str(v) for k, v in variables.items() if is_secret_name(k) and v]


def mask_env(variables: Mapping[str, str]) -> dict[str, str]:
    """Environment variables fit to show: secret names masked whole, secret shapes in the others."""
    return {k: (MASK if is_secret_name(k) else redact(str(v))) for k, v in variables.items()}
