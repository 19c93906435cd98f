"""Layers point down: warp_access < grammar < emit < check < synth, and Warp's private API
(`warp._src`) is touched by `warp_access` alone."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("warp_access", "grammar", "emit", "check", "synth")


def _imports(path: Path) -> set[str]:
    """Top-level names of the modules `path` imports (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / layer).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in above
    }
    assert not wrong


def test_only_warp_access_touches_warps_private_api():
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for layer in LAYERS[1:]
        for path in (ROOT / layer).rglob("*.py")
        for name in _imports(path)
        if name.startswith("warp._src")
    }
    assert not wrong
