"""The package's layers, read from its source: what each layer may import, and no import
cycle among the modules' top-level imports (what Python runs at import time)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stxm_operando"
FORBIDDEN = {  # layer -> what it must never import, at any level
    "analysis": (
        "bluesky",
        "ophyd",
        "qtpy",
        "PyQt5",
        "pyqtgraph",
        "tiled",
        "zmq",
        "stxm_operando.",
    ),
    "physics": ("bluesky", "ophyd", "qtpy", "pyqtgraph", "stxm_operando.analysis"),
    "live_callbacks": ("qtpy", "PyQt5", "pyqtgraph", "stxm_operando.gui", "stxm_operando.plans"),
    "storage": ("qtpy", "pyqtgraph", "stxm_operando.gui", "stxm_operando.live_callbacks"),
    "plans": ("qtpy", "pyqtgraph", "stxm_operando.gui"),
    "methodscript": ("bluesky", "ophyd", "qtpy", "stxm_operando.sim", "stxm_operando.devices"),
}
ANALYSIS_MAY_USE = ("stxm_operando.analysis", "stxm_operando.physics")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from . import x`` resolved)."""
    tree = ast.parse(path.read_text())
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    )
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_what_sits_above_it(layer):
    offending = {}
    for name, path in MODULES.items():
        if not name.startswith(f"stxm_operando.{layer}"):
            continue
        for imported in imports(path, top_level_only=False):
            if layer == "analysis" and imported.startswith(ANALYSIS_MAY_USE):
                continue
            if imported.startswith(FORBIDDEN[layer]) or imported in FORBIDDEN[layer]:
                offending.setdefault(name, []).append(imported)
    assert not offending, f"{layer} imports what it must not: {offending}"


def test_epics_devices_never_import_the_simulator():
    """A fresh interpreter that builds the EPICS beamline has not loaded ``stxm_operando.sim``."""
    script = (
        "import sys; from stxm_operando.devices import epics_beamline, EpicsPotentiostat; "
        "print(sorted(m for m in sys.modules if m.startswith('stxm_operando.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "stxm_operando.devices.potentiostat" in loaded
    assert "stxm_operando.sim" not in loaded, loaded


def test_no_import_cycle_among_modules():
    graph = {
        name: {i for i in imports(path, top_level_only=True) if i in MODULES and i != name}
        for name, path in MODULES.items()
    }
    for name in graph:  # a module's own packages are loading already when it is imported
        graph[name] = {i for i in graph[name] if not name.startswith(f"{i}.")}
    seen, on_path, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in on_path:
            cycles.append([*on_path[on_path.index(node) :], node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        on_path.pop()

    for name in sorted(graph):
        visit(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
