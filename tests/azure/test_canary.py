"""Canary secrets (a SAS sig, an account key, a bearer token, a JWT) are planted in every kind of
fake response: jobs, data, environments, models, compute, endpoints and deployments, run
history, MLflow, log content and the SAS URLs of logs. None may come out anywhere: not on any
screen (lists, details, YAML, logs), not in `-o json/yaml/table/tsv`, not in a file the app or
the CLI writes (saved logs, downloads, config, cache), not in Python logging."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import pytest

from tests.azure.fake import CANARIES, CANARY_TEXT, CONNECTION_STRING, FakeAzure
from tests.conftest import run_cli_in_process
from tests.tui.conftest import JOB_TEMPLATE, wait_for, wait_for_workers
from tui.workspace.base import AssetKind

# A screen shows values cut to their column: look for what every canary starts with, too.
MARKERS = ("CANARY", "Q0FOQVJZ",  # base64 of "CANARY": the account key
           "eyJhbGci")  # any JWT's header
PLANTED_LOG = (f"step 1\nmounting with {CONNECTION_STRING}\n{CANARY_TEXT}\nstep 2\n").encode()


def leaks(text: str) -> list[str]:
    return [m for m in (*CANARIES, *MARKERS) if m in text]


@pytest.fixture
def planted(monkeypatch, no_network) -> FakeAzure:
    fake = FakeAzure(auto_tick=True)
    fake.route_storage(monkeypatch)
    fake.add_job("train", "Completed", experiment="mnist", metrics={"loss": [(1, 0.5), (2, 0.25)]}, logs={
        "user_logs/std_log.txt": PLANTED_LOG,
        "system_logs/lifecycler/execution-wrapper.txt": PLANTED_LOG,
        "user_logs/std_log_process_1.txt": PLANTED_LOG})
    fake.add_output("train", "outputs/model.txt", b"weights\n")
    fake.add_sweep("sweep", trials=4)
    for kind in ("data", "environments", "models"):
        fake.add_asset(kind, f"{kind}-a", "1")
        fake.add_asset(kind, f"{kind}-a", "2")
    fake.add_compute("cluster")
    fake.add_compute("ci", "ComputeInstance", state="Running")
    fake.add_endpoint("ep", {"blue": 100}, {"blue": {}})
    yield fake
    fake.close()


@pytest.fixture
def captured_logs(monkeypatch):
    """Every log record any logger emits, at any level, whether it propagates or not."""
    records: list[logging.LogRecord] = []
    original = logging.Logger.callHandlers

    def call_handlers(logger, record):
        records.append(record)
        original(logger, record)

    monkeypatch.setattr(logging.Logger, "callHandlers", call_handlers)
    for name in ("", "azure", "tui", "urllib3", "msal", "requests"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    return records


def log_text(records: list[logging.LogRecord]) -> str:
    out = []
    for r in records:
        try:
            out.append(r.getMessage())
        except Exception:  # a malformed record still shows its raw parts
            out.append(f"{r.msg} {r.args}")
    return "\n".join(out)


def files_text(*roots: Path) -> str:
    chunks = []
    for root in roots:
        if root.is_file():
            chunks.append(root.read_bytes().decode("utf-8", "replace"))
        elif root.is_dir():
            chunks += [p.read_bytes().decode("utf-8", "replace") for p in sorted(root.rglob("*")) if p.is_file()]
    return "\n".join(chunks)


def test_cli_output_in_every_format(planted, tmp_path, captured_logs):
    from tui.workspace.azure import AzureWorkspace

    def cli(*args: str):
        return run_cli_in_process(lambda read_only: AzureWorkspace(planted.client(), read_only=read_only), *args)

    commands = [("job", "list"), ("job", "show", "--name", "train"), ("job", "show", "--name", "sweep"),
                ("job", "list", "--parent-job-name", "sweep"), ("job", "show", "--name", "sweep_1")]
    for group, kind in (("data", "data"), ("environment", "environments")):
        commands += [(group, "list"), (group, "list", "--name", f"{kind}-a"),
                     (group, "show", "--name", f"{kind}-a", "--version", "1")]
    commands += [("model", "list"), ("model", "show", "--name", "models-a")]
    commands += [("compute", "list"), ("compute", "show", "--name", "cluster"), ("compute", "show", "--name", "ci"),
                 ("online-endpoint", "list"), ("online-endpoint", "show", "--name", "ep")]
    seen = []
    for command in commands:
        for output in ("json", "yaml", "table", "tsv"):
            r = cli(*command, "-o", output)
            assert r.returncode == 0, (command, output, r.stderr)
            assert r.stdout.strip(), (command, output)
            seen.append((command, output, r.stdout + r.stderr))
    r = cli("job", "stream", "--name", "train")
    assert r.returncode == 0 and "step 2" in r.stdout and "sig=***" in r.stdout
    seen.append((("job", "stream"), "text", r.stdout + r.stderr))
    r = cli("job", "download", "--name", "train", "--download-path", str(tmp_path / "dl"), "--all")
    assert r.returncode == 0, r.stderr
    seen.append((("job", "download"), "text", r.stdout + r.stderr))
    assert (tmp_path / "dl").is_dir()
    for command, output, text in seen:
        assert not leaks(text), (command, output, leaks(text))
    # A download is a copy of the job's own files (its logs too, byte for byte, as az ml gives
    # them): those are the user's. Nothing else is written beside them.
    written = sorted(str(p.relative_to(tmp_path / "dl")) for p in (tmp_path / "dl").rglob("*") if p.is_file())
    assert written == ["artifacts/outputs/model.txt", "artifacts/system_logs/lifecycler/execution-wrapper.txt",
                       "artifacts/user_logs/std_log.txt", "artifacts/user_logs/std_log_process_1.txt"]
    assert captured_logs and not leaks(log_text(captured_logs)), leaks(log_text(captured_logs))


def screen_text(app) -> str:
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_every_screen_of_every_kind(planted, tmp_path, monkeypatch, captured_logs):
    import os

    from tests.tui.test_browse import keys, show, table
    from tui.app import make_app
    from tui.kinds import KIND_ORDER
    from tui.screens.detail import DetailScreen
    from tui.screens.logs import LogScreen
    from tui.screens.modals import TextScreen
    from tui.screens.sweep import SweepScreen
    from tui.workspace.azure import AzureWorkspace

    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    ws = AzureWorkspace(planted.client(), cache_dir=cache)
    app = make_app(ws, job_template=JOB_TEMPLATE)
    captures: list[tuple[str, str]] = []

    def capture(where: str) -> None:
        captures.append((where, screen_text(app)))

    async with app.run_test(size=(220, 60)) as pilot:
        for kind in KIND_ORDER:
            await show(pilot, kind)
            await wait_for(pilot, lambda: keys(app), what=f"{kind.value} rows")
            for key in list(keys(app))[:2]:
                assert table(app).move_to_key(key)
                await wait_for_workers(pilot)
                capture(f"{kind.value} list, {key}")
                await pilot.press("enter")
                sweep_view = None
                if isinstance(app.screen, SweepScreen):  # enter on a sweep opens its view; `i` its details
                    sweep_view = app.screen
                    await wait_for(pilot, lambda: sweep_view.sweep is not None, what=f"{key} sweep view")
                    await wait_for_workers(pilot)
                    capture(f"{kind.value} sweep view {key}")
                    await pilot.press("i")
                await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.data is not None,
                               what=f"{key} details")
                await wait_for_workers(pilot)
                capture(f"{kind.value} detail {key}")
                await pilot.press("y")
                assert isinstance(app.screen, TextScreen)
                capture(f"{kind.value} YAML {key}")
                await pilot.press("escape", "escape")
                if sweep_view is not None:
                    await pilot.press("escape")
            await pilot.press("s")  # a sort the app saves in the config file
        await show(pilot, AssetKind.JOBS)
        assert table(app).move_to_key("train")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.ended, what="the log")
        screen = app.screen
        for _ in range(3):  # every log file: system, user, the other rank
            await wait_for(pilot, lambda: "step 2" in screen_text(app), what="the log text")
            capture(f"log {screen.file}")
            await pilot.press("right_square_bracket")
            await wait_for_workers(pilot)
        await pilot.press("s")
        app.screen.query_one("#value").value = str(tmp_path / "saved.log")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "saved.log").exists(), what="the saved log")
    ws.close()

    assert len(captures) >= 6 * 2 + 3
    for where, text in captures:
        assert not leaks(text), (where, leaks(text))
    # The planted fields are on screen, masked: the search looked where the secrets were.
    shown = {where: "".join(text.split()) for where, text in captures}  # the screenshot's text has no spaces
    assert "sig=***" in shown["jobs YAML train"] and "AccountKey=***" in shown["log user_logs/std_log.txt"]
    assert "Bearer***" in shown["data YAML data-a:2"]
    saved = (tmp_path / "saved.log").read_text()
    assert "step 2" in saved and not leaks(saved)
    written = files_text(cache, Path(os.environ["AML_TUI_CONFIG"]), Path(os.environ["AML_TUI_HOME"]))
    assert not leaks(written), leaks(written)
    assert captured_logs and not leaks(log_text(captured_logs)), leaks(log_text(captured_logs))


async def test_errors_the_app_shows(planted, captured_logs):
    """The services' error bodies echo a bearer token and a SAS URL (as some do): neither the
    notification, nor the banner of an unreachable workspace, nor the logs show them."""
    from tests.tui.test_browse import show
    from tui.app import make_app
    from tui.workspace.azure import AzureWorkspace

    ws = AzureWorkspace(planted.client())
    app = make_app(ws, job_template=JOB_TEMPLATE)
    async with app.run_test(size=(220, 60)) as pilot:
        await wait_for_workers(pilot)
        planted.inject(lambda r: "/data?" in r.url or "/data/" in r.url, 400, times=20)
        await show(pilot, AssetKind.DATA)
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications), what="the error")
        shown = [screen_text(app), *(n.message for n in app._notifications)]
        planted.network_down = True
        await pilot.press("r")
        await wait_for_workers(pilot)
        shown.append(screen_text(app))
    ws.close()
    assert any("Bearer ***" in s or "sig=***" in s for s in shown[1:]), shown[1:]  # the body was shown, masked
    for text in shown:
        assert not leaks(text), leaks(text)
    assert not leaks(log_text(captured_logs)), leaks(log_text(captured_logs))
