"""The package's shape, read from the code: layers that import one way, no cycles, small files.

The rule (README, "Layout"):

    cli      -> control, client, gateway, config, protocol, errors
    gateway  -> client, config, protocol, errors
    control  -> config, protocol, errors   (and llm_twin_local through `control.local_target` only)
    client   -> config, protocol, errors
    config   -> protocol, errors
    protocol -> errors
    llm_twin_local -> llm_twin.protocol, llm_twin.errors

Imports are read with `ast`, deferred ones (inside functions) included: a lazy import
is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("llm_twin", "llm_twin_local")
MAX_LINES = 400
ALLOWED: dict[str, set[str]] = {
    "llm_twin.errors": set(),
    "llm_twin.protocol": {"llm_twin.errors"},
    "llm_twin.config": {"llm_twin.protocol", "llm_twin.errors"},
    "llm_twin.client": {"llm_twin.config", "llm_twin.protocol", "llm_twin.errors"},
    "llm_twin.control": {"llm_twin.config", "llm_twin.protocol", "llm_twin.errors"},
    "llm_twin.gateway": {"llm_twin.client", "llm_twin.config", "llm_twin.protocol", "llm_twin.errors"},
    "llm_twin.cli": {
        "llm_twin.control",
        "llm_twin.client",
        "llm_twin.gateway",
        "llm_twin.config",
        "llm_twin.protocol",
        "llm_twin.errors",
    },
    "llm_twin_local": {"llm_twin.protocol", "llm_twin.errors"},
}
BRIDGE = "llm_twin.control.local_target"
"""The one module of the main package that may start the embedded AWS (an optional extra)."""


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    """The layer a module belongs to: the longest key of ALLOWED it falls under."""
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return module


def _imports(module: str) -> set[str]:
    """Project modules `module` imports, resolved to the modules that exist."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n in MODULES and n != module}


GRAPH = {module: _imports(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    layer = _layer(module)
    wrong = set()
    for target in GRAPH[module]:
        target_layer = _layer(target)
        if target_layer == layer:
            continue
        if module == BRIDGE and target.startswith("llm_twin_local"):
            continue
        if target_layer not in ALLOWED[layer]:
            wrong.add(f"{target} ({target_layer})")
    assert not wrong, f"{module} ({layer}) may not import {sorted(wrong)}"


def test_no_import_cycles() -> None:
    """A cycle between modules, deferred imports included, is a knot in the layers."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(GRAPH[node]):
            # A package's __init__ re-exporting its own modules is not a cycle of logic.
            if node == target.rpartition(".")[0] or target == node.rpartition(".")[0]:
                continue
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, cycles[:5]


def test_no_file_over_the_limit() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_the_base_install_never_imports_the_local_extra() -> None:
    """`pip install llm-twin` (no [local]) must run every aws-target command: nothing at module
    level in llm_twin reaches moto, torch or transformers."""
    heavy = ("moto", "torch", "transformers", "safetensors", "werkzeug")
    offenders = []
    for module, path in MODULES.items():
        if not module.startswith("llm_twin.") or module.startswith("llm_twin_local"):
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in heavy]
    assert not offenders, offenders
