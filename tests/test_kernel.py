"""A kernel value is parsed once and lowered once per device, whichever checks ask."""

import pickle

import pytest

from check import gradcheck
from check.execute import describe
from check.harness import Report, check_compiles
from emit import lower as lowering
from tests.test_gradcheck import SQUARE


def test_the_checks_lower_a_kernel_once_per_device(monkeypatch):
    calls = []
    real = lowering.lower

    def counted(source, name, device):
        calls.append(device)
        return real(source, name, device)

    monkeypatch.setattr(lowering, "lower", counted)
    source = SQUARE.replace("GRAD", "")
    report = Report(0, "apply_square", "", source)
    check_compiles([report], "cpu")
    check_compiles([report], "cuda")
    params, _ = describe(source, "apply_square", 0)
    assert gradcheck.gradient_contract(params, report.kernel) == (None, [])  # reads the CPU code again
    assert sorted(calls) == ["cpu", "cuda"] and not report.failures


def test_a_lowering_error_is_raised_again_without_lowering_again(monkeypatch):
    calls = []

    def failing(source, name, device):
        calls.append(device)
        raise RuntimeError("no")

    monkeypatch.setattr(lowering, "lower", failing)
    kernel = lowering.Kernel("import warp as wp\n", "k")
    for _ in range(2):
        with pytest.raises(RuntimeError, match="no"):
            kernel.code("cpu")
    assert calls == ["cpu"]


def test_a_pickled_kernel_is_its_source_and_name():
    kernel = lowering.Kernel(SQUARE.replace("GRAD", ""), "apply_square")
    kernel.code("cpu")
    again = pickle.loads(pickle.dumps(kernel))
    assert again == kernel and again._code == {} and len(pickle.dumps(kernel)) < 2 * len(kernel.source)
