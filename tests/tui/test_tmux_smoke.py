"""The real `aml-tui` binary in a real terminal (tmux), driven by scripts/tmux_smoke.sh."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_tmux_smoke_of_the_real_binary():
    binary = Path(sys.executable).parent / "aml-tui"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "tmux_smoke.sh")], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "AML_TUI_BIN": str(binary)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tmux_smoke: OK" in proc.stdout + proc.stderr
