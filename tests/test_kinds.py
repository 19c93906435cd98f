"""The table of failure kinds is whole: every kind the code reports has a row, every row is reported,
and each row's reproducer check, title and expectation are there."""

import ast
from pathlib import Path

import pytest

from check import races
from check.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent


def _kinds_named(node: ast.expr, assigned: dict[str, list[ast.expr]]) -> set[str]:
    """The kinds a `Failure(...)`'s first argument can be: a literal, a conditional of literals, a name
    assigned those in its file; none for an existing failure's kind copied (`f.kind`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _kinds_named(node.body, assigned) | _kinds_named(node.orelse, assigned)
    if isinstance(node, ast.Name) and node.id in assigned:
        return set().union(*(_kinds_named(value, assigned) for value in assigned[node.id]))
    if isinstance(node, ast.Attribute) and node.attr == "kind":
        return set()
    raise AssertionError(f"a Failure whose kind this test cannot read: {ast.unparse(node)}")


def emitted_kinds() -> dict[str, set[str]]:
    """Every kind a `Failure(...)` of the project's code is made with, and the files that make it."""
    found: dict[str, set[str]] = {}
    for package in ("warp_access", "grammar", "emit", "check", "synth"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            assigned: dict[str, list[ast.expr]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)
            calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
            for call in (c for c in calls if c.func.id == "Failure"):
                for kind in _kinds_named(call.args[0], assigned):
                    found.setdefault(kind, set()).add(path.name)
    return found


def test_every_kind_the_code_reports_has_a_row_and_every_row_is_reported():
    emitted = emitted_kinds()
    assert {"compile", "crash", "race", "undefined_behaviour", "generator_defect"} <= emitted.keys()
    assert sorted(emitted.keys() - KINDS.keys()) == [], "kinds without a row in check.kinds.KINDS"
    assert sorted(KINDS.keys() - emitted.keys()) == [], "rows no code reports"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_row_has_its_reproducer_check_title_and_expectation(name):
    kind = KINDS[name]
    assert kind.name == name
    (check,) = ast.parse(kind.check).body
    assert isinstance(check, ast.FunctionDef) and check.name == "reproduces" and not check.args.args
    assert "{using}" in kind.title and kind.title.format(using="", wrong="wrong")
    assert kind.expected.format(as_with="") and kind.meaning and kind.found_by and kind.exit
    assert kind.dies == ("Dies" in kind.exit)  # a signal counts as reproducing only where the text says so


def test_the_kinds_that_compare_values_are_those_a_race_explains():
    assert set(races.RACY_KINDS) == {name for name, kind in KINDS.items() if kind.compares}


def test_an_execution_status_is_a_row_of_the_table_and_reads_back_as_written():
    from check.harness import STATUSES, Report, Status

    said = Status("unsupported_by_target", "RuntimeError: Only CUDA devices are supported for x")
    assert Status.parse(str(said)) == said and str(Status("executed")) == "executed"
    report = Report(0, "k", "", "")
    report.status = said
    assert report.metadata["execution"] == str(said) and report.status == said
    with pytest.raises(ValueError, match="unknown execution status"):
        Status.parse("exploded: sometimes")
    assert set(STATUSES) >= {"executed", "unsupported", "generator_defect", "crash", "worker_failed"}
