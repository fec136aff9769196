"""Test-only entry point: the real `aml-tui` (CLI and app, flags, files and sign-in) against
the fake Azure service, to try it as a user would (e.g. in tmux):

    python -m tests.azure.fake_main [aml-tui arguments]      # from the repository root

It passes `tui.cli.main` a `Connector` with the fake credential and transport, so nothing
reaches the network. It lives under tests/, which is not installed: users cannot reach it.
FAKE_AZURE_FAIL=signin|403|404|network makes the first attempt fail that way (`r` retries).
"""

from __future__ import annotations

import os
import sys

from tests.azure.fake import FakeAzure, FakeCredential


def seeded() -> FakeAzure:
    fake = FakeAzure()
    fake.workspaces.append(("rg-other", "ws-other"))
    fake.add_job("train-1", "Completed", experiment="mnist")
    fake.add_job("train-2", "Running", experiment="mnist", logs={"user_logs/std_log.txt": b"epoch 1\n"})
    fake.add_compute("cpu-cluster")
    fake.add_asset("data", "mnist", "1")
    return fake


def main(argv: list[str]) -> int:
    from tui.cli import main as cli_main
    from tui.workspace.azure.client import Connector

    fake = seeded()
    fail = os.environ.get("FAKE_AZURE_FAIL")
    credential = FakeCredential()
    first = {"done": False}

    def make_credential():
        if fail == "signin" and not first["done"]:
            first["done"] = True

            class NotSignedIn:
                def get_token(self, *scopes, **kw):
                    from azure.identity import CredentialUnavailableError

                    raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")

            return NotSignedIn()
        return credential

    def client_kwargs():
        # The fault lasts for the first client only: the retry (a new client) finds it fixed.
        if not first["done"] and fail in ("403", "404", "network"):
            first["done"] = True
            fake.auth_status = 403 if fail == "403" else None
            fake.workspace_exists = fail != "404"
            fake.network_down = fail == "network"
        else:
            fake.auth_status, fake.workspace_exists, fake.network_down = None, True, False
        return {"transport": fake.transport(), "retry_backoff_factor": 0.01}

    return cli_main(argv, connector=Connector(credential=make_credential, client_kwargs=client_kwargs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
