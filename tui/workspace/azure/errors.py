"""Azure failures -> `WorkspaceError`s a user can act on, secrets masked.

Each message says what happened and what to do: how to sign in, which role is missing, that
the network is down, that the workspace named does not exist.
"""

from __future__ import annotations

import re
from typing import Any

from ..base import BackendUnavailableError, NotFoundError, WorkspaceError
from ..redact import redact

SIGN_IN_HELP = ("sign in with `az login` (or `az login --use-device-code` without a browser), or set "
                "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal")


class NotSignedInError(BackendUnavailableError):
    """No credential could give a token (no `az login`, no managed identity...)."""


class AuthError(BackendUnavailableError):
    """401 or 403 from Azure."""

    def __init__(self, message: str, *, status: int, role: str | None = None):
        self.status = status
        self.role = role
        super().__init__(message)


class WorkspaceNotFoundError(NotFoundError):
    """The subscription, resource group or workspace named does not exist (or is not visible)."""


class NetworkError(BackendUnavailableError):
    """Azure could not be reached."""


class ThrottledError(BackendUnavailableError):
    """429 after every retry."""


def _role_for(action: str | None) -> str:
    if not action:
        return "AzureML Data Scientist (to browse and submit) or Reader (to browse)"
    action = action.lower()
    if "/computes/" in action and not action.endswith("/read"):
        return "AzureML Compute Operator (or Contributor)"
    if action.endswith("/read"):
        return "Reader (or AzureML Data Scientist)"
    return "AzureML Data Scientist (or Contributor)"


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and those it wraps (the SDK wraps service errors in its own)."""
    out: list[BaseException] = []
    while exc is not None and len(out) < 6 and exc not in out:
        out.append(exc)
        inner = getattr(exc, "inner_exception", None)
        exc = inner if isinstance(inner, BaseException) else (exc.__cause__ or exc.__context__)
    return out


def _status_of(exc: Any) -> int | None:
    for e in _chain(exc):
        code = getattr(e, "status_code", None)
        if code is None:
            code = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(code, int):
            return code
    return None


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _clean(text: str) -> str:
    """The SDK's coloured multi-line message -> its one informative line."""
    text = _ANSI_RE.sub("", text)
    if "Details:" in text:
        details = text.split("Details:", 1)[1].split("Resolutions:", 1)[0]
        lines = [ln.strip().removeprefix("(x)").strip() for ln in details.splitlines()]
    else:
        lines = [ln.strip() for ln in text.splitlines()]
    return next((ln for ln in lines if ln), "")


def _service_message(exc: Any) -> str:
    for e in _chain(exc):
        err = getattr(e, "error", None)
        message = getattr(err, "message", None) or getattr(e, "message", None) or str(e)
        text = _clean(str(message))
        if text:
            return redact(text)
    return type(exc).__name__


def translate(exc: BaseException, *, what: str | None = None, workspace: str | None = None) -> WorkspaceError:
    """An exception from the SDK or azure-core -> the WorkspaceError to raise.

    `what` names the asset the call was about ("job 'x'"); `workspace` names the workspace
    ("ws in resource group rg (subscription s)") for not-found and permission messages.
    """
    if isinstance(exc, WorkspaceError):
        return exc
    from azure.core import exceptions as ax

    where = workspace or "the workspace"
    status = _status_of(exc)
    if isinstance(exc, ax.ClientAuthenticationError) and status is None:
        detail = _service_message(exc)
        return NotSignedInError(f"not signed in to Azure: {SIGN_IN_HELP}. ({detail[:300]})")
    if status == 401:
        return AuthError(f"Azure rejected the sign-in (401) for {where}: {SIGN_IN_HELP}, then retry",
                         status=401)
    if status == 403:
        message = _service_message(exc)
        m = re.search(r"perform action '([^']+)'", message)
        action = m.group(1) if m else None
        role = _role_for(action)
        doing = f" to perform {action}" if action else ""
        return AuthError(f"permission denied (403) on {where}{doing}: your identity needs the role {role} "
                         "on the workspace; ask its owner to assign it", status=403, role=role)
    if status == 404 or isinstance(exc, ax.ResourceNotFoundError):
        message = _service_message(exc)
        code = str(getattr(getattr(exc, "error", None), "code", "") or "")
        if what is None or code in ("ParentResourceNotFound", "ResourceGroupNotFound", "SubscriptionNotFound") \
                or re.search(r"workspaces/[^'/]+'", message):
            return WorkspaceNotFoundError(f"workspace not found: {where} does not exist or you cannot see it "
                                          f"({message[:200]}); check --subscription, --resource-group and "
                                          "--workspace-name")
        return NotFoundError(f"{what} not found")
    if status == 429:
        return ThrottledError(f"Azure is throttling requests to {where} (429) after retries; wait a minute "
                              "and retry")
    if isinstance(exc, (ax.ServiceRequestError, ax.ServiceResponseError)) or _is_connection_error(exc):
        return NetworkError(f"cannot reach Azure: {_service_message(exc)[:300]}; check the network "
                            "connection (and HTTPS_PROXY), then retry")
    if status is not None and status >= 500:
        return BackendUnavailableError(f"Azure failed ({status}) on {where}: {_service_message(exc)[:300]}; "
                                       "retry later")
    message = _service_message(exc)
    if what and re.search(r"(?i)(does not exist|not found|could not be found)", message):
        return NotFoundError(f"{what} not found")
    prefix = f"{what}: " if what else ""
    return WorkspaceError(f"{prefix}{message[:500]}")


def _is_connection_error(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if type(exc).__name__ in ("ConnectionError", "NewConnectionError", "MaxRetryError", "ConnectTimeout",
                                  "NameResolutionError") or isinstance(exc, ConnectionError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
