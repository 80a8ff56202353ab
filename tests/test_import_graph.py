"""The package's import graph: one direction, no circles (TYPE_CHECKING and lazy imports included).

Snorkel's layering, task -> data -> model -> trainer, read bottom-up: a
module may import only modules of its own layer or below. An import that
points up marks a call back up, which makes the code harder to follow; a
circle hidden behind ``TYPE_CHECKING`` is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mtl_teach"

# Lowest first. A module belongs to the first entry that is its name or a
# package above it; a new module must be placed here.
LAYERS: list[tuple[str, ...]] = [
    ("mtl_teach._errors", "mtl_teach.initialization", "mtl_teach.log_writers", "mtl_teach.links"),
    ("mtl_teach._validation", "mtl_teach._probe"),
    ("mtl_teach.seed", "mtl_teach.weighting"),
    ("mtl_teach.scorer", "mtl_teach.metrics", "mtl_teach.toy_objectives"),
    ("mtl_teach.task",),
    ("mtl_teach.graph", "mtl_teach.data"),
    ("mtl_teach.toy_data", "mtl_teach.datasets"),
    ("mtl_teach.model",),
    ("mtl_teach.callbacks", "mtl_teach.schedulers"),
    ("mtl_teach.dead_units", "mtl_teach.balancing"),
    ("mtl_teach.trainer",),
    ("mtl_teach.slicing", "mtl_teach.architectures"),
    ("mtl_teach.plotting",),
    ("mtl_teach.sharing", "mtl_teach.imbalance"),
    ("mtl_teach.exercises",),
    ("mtl_teach.grading",),
    ("mtl_teach.classroom",),
    ("mtl_teach", "mtl_teach.__main__", "mtl_teach.cli", "mtl_teach.cli_info"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    for depth, layer in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in layer if name != "mtl_teach"):
            return depth
    if module in LAYERS[-1]:
        return len(LAYERS) - 1
    raise AssertionError(f"{module} has no layer: add it to LAYERS in {Path(__file__).name}")


def imports_in(source: str, module: str) -> set[str]:
    """Every mtl_teach module that ``source`` (the text of ``module``) imports, wherever the import sits."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: use absolute imports"
            if not (node.module or "").startswith("mtl_teach"):
                continue
            for alias in node.names:  # `from mtl_teach import plotting` imports the submodule
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("mtl_teach"))
    found.discard(module)
    return found


GRAPH = {module: imports_in(path.read_text(), module) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_above_it(module):
    up = sorted(dep for dep in GRAPH[module] if layer_of(dep) > layer_of(module))
    assert not up, f"{module} (layer {layer_of(module)}) imports from layers above it: {up}"


def test_the_import_graph_has_no_circles():
    # Depth-first search; a module met again while still on the path closes a circle.
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = [*path[path.index(module) :], module]
            raise AssertionError(f"import circle: {' -> '.join(circle)}")
        if module in done:
            return
        for dep in sorted(GRAPH.get(module, ())):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(MODULES):
        visit(module, [])


def test_the_check_sees_type_checking_and_lazy_imports():
    # The check must not be blind to the imports that hid the old circles.
    source = (
        "from typing import TYPE_CHECKING\n"
        "from mtl_teach import plotting, Trainer\n"
        "if TYPE_CHECKING:\n"
        "    from mtl_teach.trainer import Trainer\n"
        "def f():\n"
        "    import mtl_teach.sharing\n"
    )
    found = imports_in(source, "mtl_teach.model")
    assert found == {"mtl_teach", "mtl_teach.plotting", "mtl_teach.trainer", "mtl_teach.sharing"}
    assert all(layer_of(dep) > layer_of("mtl_teach.model") for dep in found)  # each would be flagged
