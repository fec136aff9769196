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


def _import_graph() -> dict[str, set[str]]:
    """tui module -> the tui modules it imports, anywhere in the file (functions included);
    only `if TYPE_CHECKING:` blocks are left out, since they never run."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    files = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (root / "tui").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != module}
        graph[module] = edges
    return graph


def test_no_import_cycles_inside_tui():
    graph = _import_graph()
    assert "tui.screens.main" in graph and "tui.kinds" in graph["tui.screens.main"]
    # Tarjan's strongly connected components: any with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_workspace_and_tail_engine_import_no_textual():
    graph = _import_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            mod = todo.pop()
            if mod not in seen:
                seen.add(mod)
                todo += graph[mod]
        return seen

    for start in [m for m in graph if m.startswith("tui.workspace")] + ["tui.widgets.log_tail"]:
        assert not {m for m in reach(start) if m.startswith(("tui.widgets.log_view", "tui.screens", "tui.app"))}, start
    mods = _loaded_after("import tui.widgets.log_tail")
    assert "textual" not in mods and "rich" not in mods
