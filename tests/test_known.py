"""Known Warp bugs are recognised by signature, each as narrowly as its reproducer shows it."""

import ast
from pathlib import Path

import pytest

from check.kinds import KINDS
from check.known import KNOWN, known_as
from tests.conftest import ROOT

FINDINGS = ROOT / "docs" / "warp_findings"


def _kernel(path: Path, name: str) -> str:
    """The module of `import warp as wp`, the constants and the one kernel `name` of a reproducer."""
    tree = ast.parse(path.read_text())
    keep = [
        s
        for s in tree.body
        if (isinstance(s, ast.FunctionDef) and s.name == name)
        or (isinstance(s, ast.Assign) and "wp.constant" in ast.unparse(s))
    ]
    return "import warp as wp\n" + ast.unparse(ast.Module(body=keep, type_ignores=[])) + "\n"


def test_every_signature_names_a_reproducer_and_a_finding_kind():
    assert len({k.name for k in KNOWN}) == len(KNOWN)
    for known in KNOWN:
        assert (FINDINGS / f"{known.name}.py").exists(), known.name
        assert known.kind in KINDS and (known.code is None) != (known.message is None)


@pytest.mark.parametrize(
    ("reproducer", "buggy", "fine"),
    [("unused_tile_transpose_gradient", "with_unused_transpose", "plain")],
)
def test_code_signatures_match_the_reproducers_kernels(reproducer, buggy, fine):
    path = FINDINGS / f"{reproducer}.py"
    assert known_as("gradient", _kernel(path, buggy), "") == reproducer
    assert known_as("gradient", _kernel(path, fine), "") is None
    assert known_as("compile", _kernel(path, buggy), "") is None  # the kind must match too


def test_a_component_store_into_a_local_vector_is_the_known_gradient_bug():
    path = FINDINGS / "vector_component_store_gradient.py"
    source = _kernel(path, "store_component")
    assert known_as("gradient", source, "") == "vector_component_store_gradient"
    attribute = source.replace("v[2] = 1.0", "v.z = 1.0")
    assert known_as("gradient", attribute, "") == "vector_component_store_gradient"
    # a store into an array parameter (out[i] = v) is no component store into a local, nor is a
    # matrix element store (not what the reproducer shows)
    assert known_as("gradient", source.replace("    v[2] = 1.0\n", ""), "") is None
    assert known_as("gradient", source.replace("v[2] = 1.0", "M[0, 1] = 1.0"), "") is None


@pytest.mark.parametrize("name", [k.name for k in KNOWN if k.message is not None])
def test_message_signatures_match_the_compilers_words_the_reproducer_quotes(name):
    known = next(k for k in KNOWN if k.name == name)
    docstring = ast.get_docstring(ast.parse((FINDINGS / f"{name}.py").read_text()))
    assert known.matches("compile", ast.parse(""), docstring.replace("\n", " "))
    generic = "Couldn't find function overload for 'bit_or' that matched inputs with types: [float64, int32]"
    assert not known.matches("compile", ast.parse(""), generic)
