"""The layer rules of DESIGN.md, checked like harlequin does: import in a fresh process."""

import subprocess
import sys

HEAVY = ("textual", "rich", "mlflow", "torch", "azure.ai.ml")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_workspace_layer_imports_no_ui_and_no_heavy_sdk():
    mods = _loaded_after("import tui.workspace.base, tui.workspace.spec, tui.workspace.local, "
                         "tui.workspace.local.runner")
    assert not [m for m in HEAVY if m in mods]


def test_cli_module_is_cheap_to_import():
    mods = _loaded_after("import tui.cli")
    assert not [m for m in HEAVY if m in mods]


def test_trainer_never_imports_tui():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "trainer"
    offenders = [p for p in root.rglob("*.py")
                 if any(line.strip().startswith(("import tui", "from tui")) for line in p.read_text().splitlines())]
    assert offenders == []


def test_no_unused_imports_or_undefined_names():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pyflakes", "tui", "trainer", "tests", "benchmarks"],
                          capture_output=True, text=True, cwd=root)
    assert proc.stdout + proc.stderr == ""
