"""The app at scale, in a real terminal (tmux), on workspaces of 1,000 / 10,000 / 100,000 jobs
(issue 15). Prints a table; asserts nothing.

Per size:
- chrome: launch -> the sidebar on screen; rows: launch -> the first job rows on screen
  (target <= 0.5 s at 100,000): `tmux capture-pane` polled every 10 ms
- RSS of the app process (psutil), once its rows are on screen (target <= 200 MB)
- keypress -> frame for down, pagedown and sort (sorted rows on screen), and a text filter
  -> its rows on screen (Pilot in this process, as benchmarks/bench_tui.py; targets 17 / 50 ms);
  `down` pressed while a /regex/ filter runs (keys never wait for it)
- CPU of the idle app over 10 s: with no active job, and with one running job (targets 1% / 2%
  of a core)

Run: python benchmarks/bench_tui_tmux.py [1000 10000 100000]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tui.app import make_app  # noqa: E402
from tui.workspace.local import LocalWorkspace  # noqa: E402
from tui.workspace.local.bench import fill_jobs  # noqa: E402

SESSION = "aml-tui-bench"
IDLE_SECONDS = 10


# ---------------------------------------------------------------------------- tmux


class Terminal:
    """The real app in a tmux pane of its own server, 160x48."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.env = {**os.environ, "TMUX_TMPDIR": str(tmp), "PYTHONPATH": str(ROOT),
                    "AML_TUI_CONFIG": str(tmp / "config.toml"), "TERM": "xterm-256color"}
        (tmp / "config.toml").write_text("")
        self.root = root

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], env=self.env, capture_output=True, text=True).stdout

    def start(self) -> float:
        command = f"exec {sys.executable} -m tui.cli --local {self.root}"
        t0 = time.perf_counter()
        self.tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48", command)
        return t0

    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", SESSION)

    def wait_for(self, text: str, timeout: float = 120.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if text in self.screen():
                return time.perf_counter()
            time.sleep(0.01)
        raise TimeoutError(f"{text!r} not on screen:\n{self.screen()}")

    def stop(self) -> None:
        self.tmux("kill-server")


def cpu_percent(process: psutil.Process, seconds: float) -> float:
    """Share of one core the process used over `seconds`."""
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    return (after.user - before.user + after.system - before.system) / seconds * 100


def in_terminal(root: Path, tmp: Path, out: dict) -> None:
    term = Terminal(root, tmp)
    try:
        t0 = term.start()
        out["chrome"] = term.wait_for("Endpoints") - t0
        out["rows"] = term.wait_for("bench_job_") - t0
        process = psutil.Process(term.pid())
        time.sleep(3)  # what the app does after its first rows (the rest of the start) is not idling
        out["rss"] = process.memory_info().rss / 1e6
        out["idle"] = cpu_percent(process, IDLE_SECONDS)
        ws = LocalWorkspace(root)
        name = ws.create_job({"command": "sleep 120"}, base_dir=root, source="bench").name
        print("  a running job...", flush=True)
        term.wait_for("Running", timeout=60)
        time.sleep(2)
        out["idle_active"] = cpu_percent(process, IDLE_SECONDS)
        out["rss_end"] = process.memory_info().rss / 1e6
        ws.cancel_job(name)
        ws.wait_for_job(name, timeout=60)
        ws.close()
    finally:
        term.stop()


# ---------------------------------------------------------------------------- keys (Pilot)


async def until(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(0)


def record_frames(app) -> list[float]:
    frames: list[float] = []
    display = app._display

    def recording_display(screen, update) -> None:
        display(screen, update)
        frames.append(time.perf_counter())

    app._display = recording_display  # type: ignore[method-assign]
    return frames


async def keys(root: Path, n: int, out: dict) -> None:
    from tui.widgets.asset_table import AssetTable

    ws = LocalWorkspace(root)
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.query_one(AssetTable)
        await until(lambda: table.total_rows >= n and table.cursor_row is not None, "the first rows")
        frames = record_frames(app)
        await pilot.pause(0.5)

        async def frame_after(t0: float) -> float:
            changed = time.perf_counter()
            await until(lambda: frames and frames[-1] >= changed, "a frame")
            return frames[-1] - t0

        def settled(generation: int) -> bool:
            """The query or reload after `generation` has its rows: counted, no page awaited."""
            window = table.window
            return window.generation > generation and window.counted and not window.pending and not table._to_top

        async def moved(key: str, times: int, row: bool = True) -> list[float]:
            found = []
            for _ in range(times):
                before = table.cursor
                t0 = time.perf_counter()
                app.simulate_key(key)
                # The cursor moved, and its row is there (its page fetched, when it was not held).
                await until(lambda: table.cursor != before and (table.cursor_row is not None or not row), key)
                found.append(await frame_after(t0))
                await pilot.pause(0.03)
            return found

        async def queried(act, times: int) -> list[float]:
            found = []
            for _ in range(times):
                generation = table.window.generation
                t0 = time.perf_counter()
                act()
                await until(lambda: settled(generation), "the query's rows")
                found.append(await frame_after(t0))
                await pilot.pause(0.05)
            return found

        print("  keys...", flush=True)
        out["down"] = statistics.median(await moved("down", 40))
        out["pagedown"] = statistics.median(await moved("pagedown", 20))
        out["sort"] = statistics.median(await queried(lambda: app.simulate_key("s"), 6))
        await pilot.press("S")  # back to no sort costs nothing to measure
        table.sort_by(None)
        await pilot.pause(0.5)
        words = iter(["run 1", "run 12", "experiment-3", "run 99", "run 4"])
        out["filter"] = statistics.median(await queried(lambda: table.set_filter(next(words)), 5))
        table.set_filter("")
        await pilot.pause(0.5)
        table.set_filter("/run [0-9]*7 /")  # a regex: its worker runs while keys are pressed
        out["down_regex"] = statistics.median(await moved("down", 5, row=False))
        # Closing the workspace under a query still running in a worker thread crashes SQLite.
        await until(lambda: all(w.is_finished for w in app.workers), "the workers")
    ws.close()


# ---------------------------------------------------------------------------- table


COLUMNS = [
    ("chrome", "chrome (s)", "{:.2f}"), ("rows", "first rows (s)", "{:.2f}"), ("rss", "RSS (MB)", "{:.0f}"),
    ("down", "down (ms)", "{:.1f}"), ("pagedown", "pagedown (ms)", "{:.1f}"), ("sort", "sort (ms)", "{:.1f}"),
    ("filter", "filter (ms)", "{:.1f}"), ("down_regex", "down in /regex/ (ms)", "{:.1f}"),
    ("idle", "idle CPU %", "{:.2f}"), ("idle_active", "idle CPU %, 1 job", "{:.2f}"),
]
TARGETS = {"rows": "<= 0.5", "rss": "<= 200", "down": "<= 17", "pagedown": "<= 17", "sort": "<= 17",
           "filter": "<= 50", "down_regex": "<= 17", "idle": "<= 1", "idle_active": "<= 2"}
MS = {"down", "pagedown", "sort", "filter", "down_regex"}


def print_table(results: dict[int, dict]) -> None:
    print()
    print(f"{'what':<24}" + "".join(f"{n:>12,}" for n in results) + "   target")
    for key, title, fmt in COLUMNS:
        cells = []
        for r in results.values():
            value = r.get(key)
            if value is not None and key in MS:
                value *= 1000
            cells.append(fmt.format(value) if value is not None else "-")
        print(f"{title:<24}" + "".join(f"{c:>12}" for c in cells) + f"   {TARGETS.get(key, '')}")


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("bench_tui_tmux: tmux is not installed")
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    results: dict[int, dict] = {}
    for n in sizes:
        out: dict = {}
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "ws"
            ws = LocalWorkspace(root)
            t = time.perf_counter()
            fill_jobs(ws, n)
            ws.close()
            print(f"{n:,} jobs: filled in {time.perf_counter() - t:.1f} s", flush=True)
            in_terminal(root, Path(tmp), out)
            asyncio.run(keys(root, n, out))
        results[n] = out
        print(f"{n:,} jobs: {out}", flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
