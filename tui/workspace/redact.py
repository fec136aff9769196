"""Keep secrets off screens and out of logs: SAS signatures, account keys, bearer tokens,
and the values of environment variables whose names say they are secret."""

from __future__ import annotations

import re
from typing import Mapping

SECRET_NAME_RE = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|SAS|CONNECTION_STRING", re.IGNORECASE)
_TEXT_PATTERNS = (
    (re.compile(r"(?i)\b(sig=)[^&\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)\b(AccountKey=)[^;\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)\b(SharedAccessKey=)[^;\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
)
MASK = "***"


def redact(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_env(variables: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if SECRET_NAME_RE.search(k) else v) for k, v in variables.items()}
