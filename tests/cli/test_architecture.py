"""The packages depend on each other one way: biohuman10m <- modeling_biohuman <- builder, and no module
imports itself back through others. Read from the source with ``ast`` (imports inside functions count)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from helpers.paths import PROJECT_ROOT

PACKAGES = ("biohuman10m", "modeling_biohuman", "builder")
ALLOWED = {"biohuman10m": set(), "modeling_biohuman": {"biohuman10m"}, "builder": {"biohuman10m", "modeling_biohuman"}}
"""The project packages each package may import (besides itself and third-party libraries)."""


def module_files() -> dict[str, Path]:
    """Dotted name -> file of every module of the project packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (``from pkg import submodule`` counts
    as importing the submodule); parent packages imported implicitly by Python are not counted."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_dependencies_flow_one_way():
    graph = import_graph()
    assert len(graph) > 100 and {"builder.cli", "modeling_biohuman.modeling_biohuman"} <= set(graph)
    wrong = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                   if target.split(".")[0] not in ALLOWED[module.split(".")[0]] | {module.split(".")[0]})
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checks_see_what_they_check():
    """The graph reads relative, aliased and in-function imports, and the cycle search finds a cycle."""
    graph = import_graph()
    assert "modeling_biohuman.configuration_biohuman" in graph["modeling_biohuman.hmr"]       # from .x import
    assert "builder.dataset.build" in graph["builder.dataset.command"]                         # in a function
    assert "builder.layout" in graph["builder.dataset.build"]                                  # from builder import x
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_the_model_or_the_dataset_package_loads_no_builder_module():
    for package in ("modeling_biohuman", "biohuman10m"):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {package}"], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, check=True)
        loaded = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line]
        assert package in loaded
        assert not [m for m in loaded if m.split(".")[0] == "builder"], f"import {package} loads builder modules"
        if package == "biohuman10m":
            assert not [m for m in loaded if m.split(".")[0] == "modeling_biohuman"]
