"""Failures a user can act on: not signed in, 401, 403 naming the role, workspace not found,
network down, throttling (429 Retry-After honoured)."""

from __future__ import annotations

import pytest

from tests.azure.fake import RG, WS
from tui.workspace.azure.errors import AuthError, NetworkError, NotSignedInError, WorkspaceNotFoundError
from tui.workspace.base import BackendUnavailableError, NotFoundError, WorkspaceError


def test_429_retry_after_is_honoured_then_the_call_succeeds(fake, azure_ws):
    fake.add_job("j1")
    fake.inject("/jobs?", 429, headers={"Retry-After": "0.4"}, body={"error": {"code": "TooManyRequests",
                                                                              "message": "slow down"}})
    assert [j.name for j in azure_ws.list_jobs().items] == ["j1"]
    tries = [r for r in fake.requests if r.path.endswith("/jobs")]
    assert [r.status for r in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 0.4


def test_429_on_every_retry_says_throttled(fake, azure_ws):
    fake.inject("/jobs?", 429, headers={"Retry-After": "0"}, times=10)
    with pytest.raises(BackendUnavailableError, match="throttling"):
        azure_ws.list_jobs()


def test_not_signed_in_says_how_to_sign_in(fake):
    from azure.identity import CredentialUnavailableError

    from tui.workspace.azure import AzureWorkspace

    class NoLogin:
        def get_token(self, *scopes, **kw):
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token from the included "
                                             "credentials. Please run 'az login' to set up an account")

    ws = AzureWorkspace(fake.client(credential=NoLogin()))
    with pytest.raises(NotSignedInError, match="not signed in to Azure: sign in with `az login`") as info:
        ws.list_jobs()
    assert info.value.exit_code == 1
    assert fake.requests == []  # nothing was sent without a token


def test_401_says_sign_in_again(fake, azure_ws):
    fake.auth_status = 401
    with pytest.raises(AuthError, match=r"rejected the sign-in \(401\).*az login") as info:
        azure_ws.list_jobs()
    assert info.value.status == 401


def test_403_names_the_missing_role(fake, azure_ws):
    fake.auth_status = 403
    with pytest.raises(AuthError, match=r"permission denied \(403\).*workspaces/jobs/read.*Reader") as info:
        azure_ws.get_job("j")
    assert info.value.role.startswith("Reader")
    fake.auth_status = None
    fake.add_compute("ci", "ComputeInstance")
    fake.inject("/computes/ci/start", 403, body={"error": {"code": "AuthorizationFailed", "message":
                "The client 'a' does not have authorization to perform action "
                "'Microsoft.MachineLearningServices/workspaces/computes/start/action' over scope 'x'"}})
    with pytest.raises(AuthError, match="AzureML Compute Operator"):
        azure_ws.compute_action("ci", "start")


def test_workspace_not_found_names_it(fake, azure_ws):
    fake.workspace_exists = False
    for call in (azure_ws.info, azure_ws.list_jobs, lambda: azure_ws.get_job("j")):
        with pytest.raises(WorkspaceNotFoundError, match=f"workspace not found: workspace '{WS}' in resource "
                                                         f"group '{RG}'") as info:
            call()
        assert info.value.exit_code == 2


def test_network_down(fake, azure_ws):
    fake.network_down = True
    with pytest.raises(NetworkError, match="cannot reach Azure.*check the network connection") as info:
        azure_ws.list_jobs()
    assert isinstance(info.value, BackendUnavailableError) and info.value.exit_code == 1
    fake.network_down = False
    fake.add_job("j")
    assert azure_ws.list_jobs().items  # it recovers: nothing was cached broken


def test_server_errors_after_retries(fake, azure_ws):
    fake.inject("/jobs?", 503, times=10)
    with pytest.raises(BackendUnavailableError, match=r"Azure failed \(503\)"):
        azure_ws.list_jobs()
    assert sum(r.status == 503 for r in fake.requests) == 3  # the first try and retry_total=2


def test_a_missing_asset_is_not_found_not_a_crash(azure_ws):
    from tui.workspace.base import AssetKind

    for kind in (AssetKind.ENVIRONMENTS, AssetKind.MODELS, AssetKind.COMPUTE, AssetKind.ENDPOINTS):
        with pytest.raises(NotFoundError, match="not found"):
            azure_ws.get_asset(kind, "nope")


def test_a_log_blob_still_refused_after_a_fresh_url(fake, azure_ws):
    fake.add_job("j", "Running", logs={"user_logs/std_log.txt": b"x"})
    fake.inject(lambda r: r.host.endswith("blob.core.windows.net"), 403, times=2)
    with pytest.raises(WorkspaceError, match="refused \\(403\\) even with a fresh link"):
        azure_ws.read_log("j", "user_logs/std_log.txt")
