"""Reproducers judge with the fuzzer's own policy: the same tolerance, steps and functions; a failure
of their own code is told apart from Warp's."""

import runpy
import sys
from dataclasses import replace

import numpy as np
import pytest

from check import execute, tolerance
from check.findings import Finding, read_findings, run_reproducer, save_reproducer, write_finding
from check.fuzz.campaign import Checks
from check.fuzz.filing import Filer, _finding_of
from check.harness import Failure, Report
from check.judge import gradient_check
from check.kinds import BROKEN, KINDS
from tests.conftest import plain_warp
from tests.test_fuzz import SHIFT


def _namespace(script):
    """The reproducer's definitions, without running its check."""
    return runpy.run_path(str(script), run_name="reproducer")


def test_cpu_gpu_reproducer_is_not_blinded_by_an_infinity(tmp_path):
    source = SHIFT.replace("DELTA", "0.0")
    params, inputs = execute.describe(source, "shift", 5)
    finding = Finding("cpu_gpu_mismatch", "cuda", "shift", source, "arrays differ", 5, False, inputs, params)
    ns = _namespace(write_finding(tmp_path, finding))
    assert ns["ACCUMULATORS"] == ["hist"] and ns["THREADS"] == inputs.threads
    cpu, gpu = np.array([np.inf, 1.0], np.float32), np.array([np.inf, 2.0], np.float32)
    # the earlier reproducer scaled its tolerance by nanmax|cpu| = inf: every finite element matched
    assert ns["mismatches"]({"out": cpu}, {"out": gpu}, set(), 1) == ["out"]
    assert tolerance.mismatches({"out": cpu}, {"out": gpu}, set(), 1) == ["out"]


@pytest.mark.parametrize(
    ("cpu", "gpu", "contributors"),
    [
        (np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0005], np.float32), 1),
        (np.array([1.0, 2.0], np.float32), np.array([1.0, 2.01], np.float32), 1),
        (np.array([1e-9, 0.0], np.float32), np.array([-1e-9, 1e-6], np.float32), 1),
        (np.array([np.nan, np.inf, 3.0], np.float32), np.array([np.nan, np.inf, 3.5], np.float32), 1),
        (np.array([100.0], np.float32), np.array([100.2], np.float32), 256),
        (np.array([1, 2], np.int32), np.array([1, 3], np.int32), 1),
    ],
)
def test_cpu_gpu_reproducer_agrees_with_the_fuzzer(tmp_path, cpu, gpu, contributors):
    source = SHIFT.replace("DELTA", "0.0")
    params, inputs = execute.describe(source, "shift", 5)
    finding = Finding("cpu_gpu_mismatch", "cuda", "shift", source, "arrays differ", 5, False, inputs, params)
    ns = _namespace(write_finding(tmp_path, finding))
    assert ns["close"](cpu, gpu, contributors) is tolerance.close(cpu, gpu, contributors)


#: A float64 custom gradient 0.1% off: far outside float64's tolerance (1e-6), inside the 2e-2
#: and step 1e-2 the gradient reproducer used to hard-code for every precision.
CUBE = """import warp as wp

@wp.func
def cube(x: wp.float64) -> wp.float64:
    return x * x * x

@wp.func_grad(cube)
def adj_cube(x: wp.float64, adj_ret: wp.float64):
    wp.adjoint[x] += wp.float64(FACTOR) * x * x * adj_ret

@wp.kernel
def apply_cube(a: wp.array(dtype=wp.float64), out: wp.array(dtype=wp.float64)):
    i = wp.tid()
    out[i] = cube(a[i])
"""


@pytest.mark.parametrize(("factor", "reproduces"), [("3.003", True), ("3.0", False)])
def test_gradient_reproducer_takes_the_precisions_step_and_tolerance(tmp_path, factor, reproduces):
    source = CUBE.replace("FACTOR", factor)
    params, inputs = execute.describe(source, "apply_cube", 2)
    status = gradient_check(source, "apply_cube", params, inputs).status
    assert status == ("mismatch" if reproduces else "passed")
    finding = Finding("gradient", "cpu", "apply_cube", source, status, 2, False, inputs, params)
    result = plain_warp(write_finding(tmp_path, finding), tmp_path)
    assert result.returncode == int(reproduces), result.stdout + result.stderr
    assert f": {status}" in result.stdout  # the reproducer reaches the fuzzer's verdict


#: A kernel that builds and launches: nothing of Warp's fails in it.
DOUBLE = """import warp as wp

@wp.kernel
def double(x: wp.array(dtype=float), y_out: wp.array(dtype=float)):
    i = wp.tid()
    y_out[i] = x[i] * 2.0
"""


def test_a_reproducer_whose_own_code_raises_is_broken_and_never_filed(tmp_path, monkeypatch):
    # the crash check with a bug of its own inside its `try`: a NameError there is no crash of Warp's
    broken = KINDS["crash"].check.replace("run(DEVICE)", "run(DEVICE)\n        undefined_helper()")
    monkeypatch.setitem(KINDS, "crash", replace(KINDS["crash"], check=broken))
    params, inputs = execute.describe(DOUBLE, "double", 1)
    report = Report(
        1, "double", "", DOUBLE, [Failure("crash", "RuntimeError: boom")], params=params, inputs=inputs
    )
    entries = Filer(tmp_path, Checks.pinned(False), shrink=False).file(report)
    assert entries == [
        {"kind": "crash", "versions": ["1.19.0"], "not_reproduced": True, "reproducers_dropped": 1}
    ]
    assert read_findings(tmp_path / "findings") == []
    script = save_reproducer(tmp_path, _finding_of(report, report.failures[0], ["1.19.0"]))
    result = plain_warp(script, tmp_path)
    assert result.returncode == BROKEN and "broken: NameError" in result.stderr, result.stderr
    assert run_reproducer(script, sys.executable) == BROKEN


def test_warps_own_failure_still_reproduces_and_a_crash_without_inputs_builds_the_kernel(tmp_path):
    rejected = DOUBLE.replace("x[i] * 2.0", "undefined_name")  # Warp's code generator raises
    finding = Finding("compile", "cpu", "double", rejected, "cpu codegen: undefined_name")
    result = plain_warp(write_finding(tmp_path, finding), tmp_path)
    assert result.returncode == 1 and "undefined_name" in result.stdout, result.stdout + result.stderr
    # a death while loading has no launch inputs: the reproducer builds the module (it called an
    # undefined `run`, and the NameError counted as the crash reproducing)
    died = Finding("crash", "cpu", "double", DOUBLE, "the process died while loading the kernel (SIGSEGV)")
    result = plain_warp(write_finding(tmp_path, died), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
