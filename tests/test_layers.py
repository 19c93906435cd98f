"""Layers point down: warp_access < grammar < emit < check < check.fuzz < synth; Warp's private API
(`warp._src`) is touched by `warp_access` alone; and no two modules of the project import each
other, however indirectly.

Every `import` and `from ... import` anywhere in a file counts, inside functions too: an import
inside a function only postpones a circle to the call."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("warp_access", "grammar", "emit", "check", "check.fuzz", "synth")


def _files(layer: str) -> list[Path]:
    """The files of a layer (a package's own: a sub-layer such as `check.fuzz` is not its parent's)."""
    inner = [ROOT / other.replace(".", "/") for other in LAYERS if other.startswith(f"{layer}.")]
    return [
        path
        for path in (ROOT / layer.replace(".", "/")).rglob("*.py")
        if not any(path.is_relative_to(folder) for folder in inner)
    ]


def _layer(name: str) -> str | None:
    """The layer a dotted module name belongs to (its longest layer prefix)."""
    found = [layer for layer in LAYERS if name == layer or name.startswith(f"{layer}.")]
    return max(found, key=len) if found else None


def _imports(path: Path) -> set[str]:
    """The modules `path` imports anywhere in it, by dotted name; `from package import name` names
    `package.name` too (the submodule, if it is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _paths() -> Iterator[Path]:
    for layer in LAYERS:
        yield from _files(layer)


def import_graph() -> dict[str, set[str]]:
    """Each module of the project, and the modules of the project it imports."""
    modules = {_module_name(path): path for path in _paths()}
    return {name: (_imports(path) & modules.keys()) - {name} for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of `graph` with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files(layer)
        for name in _imports(path)
        if _layer(name) in above
    }
    assert not wrong


def test_a_sub_layer_is_told_apart_from_its_parent():
    assert _layer("check.judge") == "check" and _layer("check.fuzz.campaign") == "check.fuzz"
    assert ROOT / "check" / "fuzz" / "campaign.py" not in _files("check")


def test_only_warp_access_touches_warps_private_api():
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for layer in LAYERS[1:]
        for path in _files(layer)
        for name in _imports(path)
        if name.startswith("warp._src")
    }
    assert not wrong


def test_no_modules_import_each_other():
    assert circles(import_graph()) == []


def test_a_circle_is_found_however_long():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles(graph | {"c": set()}) == []


def test_every_package_is_installed():
    """`pip install .` installs the packages pyproject.toml lists, subpackages only if named."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        _module_name(init)
        for layer in LAYERS
        for init in (ROOT / layer.replace(".", "/")).rglob("__init__.py")
    }
    assert found == listed
