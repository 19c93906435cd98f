"""`python -m synth check FILE.py`: the fuzzer's checks on a user's own kernels, run as a user runs them."""

import ast
import json

import pytest

from synth.check_file import kernel_names
from tests.conftest import plain_warp, synth

READ_AHEAD = """import warp as wp


@DECORATOR
def read_ahead(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i + 5]


@DECORATOR
def read_behind(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i - 9]


if __name__ == "__main__":
    wp.launch(read_ahead, dim=4, inputs=[wp.zeros(4), wp.zeros(4)])
"""

#: A correct kernel, and one outside the launch contract (a generic parameter type).
CORRECT = """from typing import Any

import numpy as np
import warp

SCALE = warp.constant(2.0)
TABLE = np.arange(4)


@warp.kernel
def scale(a: warp.array(dtype=float), out: warp.array(dtype=float)):
    i = warp.tid()
    out[i] = SCALE * warp.sin(a[i])


@warp.kernel
def generic(a: warp.array(dtype=Any), out: warp.array(dtype=Any)):
    i = warp.tid()
    out[i] = a[i]
"""


def _check(tmp_path, source, *args):
    kernel = tmp_path / "kernels.py"
    kernel.write_text(source)
    return synth("check", str(kernel), "--device", "cpu", "--out", str(tmp_path / "out"), *args)


@pytest.mark.parametrize("decorator", ["wp.kernel", 'wp.kernel(module="unique")'])
def test_an_out_of_bounds_read_is_the_users_finding(tmp_path, decorator):
    result = _check(tmp_path, READ_AHEAD.replace("DECORATOR", decorator))
    assert result.returncode == 1, result.stderr
    assert "  debug build  FAILED" in result.stdout
    assert "undefined_behaviour: read_ahead: debug build: the process died" in result.stdout
    index = (tmp_path / "out/findings/findings.jsonl").read_text()
    findings = [json.loads(line) for line in index.splitlines()]
    assert [f["kernel_name"] for f in findings] == ["read_ahead", "read_behind"]  # each its own finding
    finding = findings[0]
    assert finding["kind"] == "undefined_behaviour" and "__main__" not in finding["source"]
    assert "read_behind" not in finding["source"]
    summary = json.loads((tmp_path / "out/check.json").read_text())["summary"]
    assert summary["new_findings"] == {"undefined_behaviour": 2} and summary["exit_status"] == 1
    # its reproducer fails the bounds assertion with plain Warp
    replay = plain_warp(tmp_path / "out/findings" / finding["reproducer"], tmp_path)
    assert replay.returncode < 0 and "Assertion failed" in replay.stdout + replay.stderr


def test_a_correct_kernel_passes_and_one_outside_the_contract_is_one_line(tmp_path):
    result = _check(tmp_path, CORRECT)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "generic: not checked, outside the launch contract: value type typing.Any" in lines
    for row in ("debug build  passed", "determinism  passed", "gradient     passed", "CPU/GPU      skipped"):
        assert any(line.startswith(f"  {row}") for line in lines), result.stdout
    assert not (tmp_path / "out/findings").exists()


@pytest.mark.parametrize(
    "source, args, said",
    [
        (None, (), "no such file"),
        ("def f(:\n", (), "kernels.py:1: syntax error"),
        ("import warp as wp\nx = 1\n", (), "no module-level @wp.kernel function"),
        (CORRECT, ("--kernel", "other"), "no kernel 'other' (its kernels: scale, generic)"),
        ("import no_such_module\n" + CORRECT, (), "raised ModuleNotFoundError: No module named 'no_such"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, source, args, said):
    if source is not None:
        (tmp_path / "kernels.py").write_text(source)
    result = synth("check", str(tmp_path / "kernels.py"), "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr


def test_kernels_are_found_under_any_name_warp_is_imported_as():
    source = """import warp, warp as w
from warp import kernel as k

@warp.kernel
def a(): pass
@w.kernel(enable_backward=False)
def b(): pass
@k
def c(): pass
@w.func
def d(): pass
def e():
    @w.kernel
    def inner(): pass
"""
    assert kernel_names(ast.parse(source)) == ["a", "b", "c"]
