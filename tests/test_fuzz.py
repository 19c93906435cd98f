"""Fuzzing: failures shrink to small plain-Warp reproducers; the fuzz command runs without a GPU."""

import json
import os
import subprocess
import sys

import numpy as np

from check import execute
from check.findings import Finding, read_findings, write_finding
from check.shrink import reduce, shrink
from grammar.sample import sample
from grammar.unparse import to_source
from synth import fuzz
from synth.fuzz import Report, check_execution, compare_devices, execute_isolated
from tests.test_cli import synth
from tests.test_execute import WIDENED
from tests.test_gradcheck import SQUARE, WRONG_GRAD


def _plain_warp(script, cwd):
    """Run a reproducer with plain Warp: no warp-synth on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=cwd, env=env)


def test_injected_failure_shrinks_to_a_small_reproducer(tmp_path):
    def fails(k):  # the injected "bug": any kernel calling wp.sin
        return "wp.sin(" in k.source

    found = shrink(fails, max_examples=100, seconds=5, focus="math")
    assert found is not None and fails(found)
    small = reduce(found, fails)
    assert fails(small) and len(small.source) <= len(found.source)
    # one statement left; a struct parameter it reads (the widened grammar) costs four more lines
    assert len(small.source.splitlines()) <= 10, small.source
    ((_, kernel),) = execute.load_kernels([(small.source, small.kernel_name)])
    params = execute.kernel_params(kernel)
    finding = Finding(
        "nondeterministic",
        "cpu",
        small.kernel_name,
        small.source,
        "injected: calls wp.sin",
        shrunk=True,
        inputs=execute.draw_inputs(params, 0),
        params=params,
    )
    script = write_finding(tmp_path, finding)
    assert "wp.sin(" in script.read_text()
    result = _plain_warp(script, tmp_path)
    assert result.returncode == 0, result.stderr  # runs with plain Warp; the injected bug is not real
    assert read_findings(tmp_path / "findings")[0]["shrunk"] is True


def test_gradient_reproducer_reproduces_with_plain_warp(tmp_path):
    source = SQUARE.replace("GRAD", WRONG_GRAD)
    ((_, kernel),) = execute.load_kernels([(source, "apply_square")])
    params = execute.kernel_params(kernel)
    values = {p.name: np.linspace(-0.9, 0.8, 6).astype(p.numpy_dtype) for p in params}
    finding = Finding(
        "gradient",
        "cpu",
        "apply_square",
        source,
        "custom gradient 3x instead of 2x",
        inputs=execute.Inputs((6,), values),
        params=params,
    )
    result = _plain_warp(write_finding(tmp_path, finding), tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    fixed = Finding(**{**vars(finding), "source": SQUARE.replace("GRAD", "")})
    assert _plain_warp(write_finding(tmp_path, fixed), tmp_path).returncode == 0


SHIFT = """import warp as wp

@wp.kernel
def shift(a: wp.array(dtype=float), out: wp.array(dtype=float), hist: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.exp(a[i]) + DELTA
    wp.atomic_add(hist, 0, a[i])
"""


def test_device_comparison_applies_the_policy():
    # the CUDA path without a GPU: the "other device" is the CPU, running an exact or a perturbed kernel
    sources = [(SHIFT.replace("DELTA", d), "shift") for d in ("0.0", "0.0", "0.01")]
    (_, kernel), (_, same), (_, perturbed) = execute.load_kernels(sources)
    report = Report(seed=5, kernel_name="shift", kernel_type="atomic", source=sources[0][0])
    check_execution(report, kernel)
    cpu = execute.launch(kernel, report.params, report.inputs)
    compare_devices(report, same, cpu, device="cpu")
    assert report.metadata["cpu_gpu"] == {"compared": True, "differing": [], "unstable": []}
    assert not report.failures
    compare_devices(report, perturbed, cpu, device="cpu")
    assert report.failures == [("cpu_gpu_mismatch", "arrays ['out'] differ beyond the tolerance")]


def test_fuzz_without_gpu_says_so_and_runs_cpu_checks(tmp_path):
    result = synth("fuzz", "--device", "cuda", "--count", "4", "--seed", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (
        result.stderr.splitlines()[0]
        == "synth fuzz: no CUDA GPU on this machine; running the CPU checks only"
    )
    assert "synth fuzz: 4/4 kernels checked" in result.stderr
    summary = json.loads((tmp_path / "fuzz.json").read_text())
    assert summary["kernels"] == 4 and summary["gpu"] is False
    assert summary["deterministic"] == 4 and sum(summary["gradcheck"].values()) == 4
    assert summary["execution"] == {"executed": 4}
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 4


def test_fuzz_bad_input_is_one_line(tmp_path):
    result = synth("fuzz", "--count", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("synth: error:") and len(result.stderr.strip().splitlines()) == 1


CRASH = """import warp as wp

@wp.kernel
def crash(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i + 1000000000] = a[i]
"""


def test_a_kernel_that_kills_the_process_is_a_crash_finding():
    good = sample(3)
    reports = [
        Report(seed=1, kernel_name="crash", kernel_type="arithmetic", source=CRASH),
        Report(seed=3, kernel_name=good.kernel_name, kernel_type="", source=to_source(good.tree)),
    ]
    checked = execute_isolated(reports, gpu=False)
    assert [r.kernel_name for r in checked] == ["crash", good.kernel_name]
    assert checked[0].failures == [("crash", "the process died while checking the kernel (signal)")]
    assert checked[1].failures == [] and checked[1].metadata["deterministic"]


REJECTED_BY_CODEGEN = """import warp as wp

@wp.kernel
def rejected(out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = undefined_name
"""


def test_a_kernel_warp_cannot_lower_is_a_compile_failure_not_a_crash():
    good = sample(3)
    reports = [
        Report(seed=1, kernel_name="rejected", kernel_type="", source=REJECTED_BY_CODEGEN),
        Report(seed=3, kernel_name=good.kernel_name, kernel_type="", source=to_source(good.tree)),
    ]
    fuzz._check_compiles(reports, "cpu")
    assert [kind for kind, _ in reports[0].failures] == ["compile"]
    assert "codegen" in reports[0].failures[0][1]
    assert reports[1].failures == []


STRUCT_AND_TILE = (WIDENED["struct"], WIDENED["tile"])


def test_struct_and_tile_reproducers_run_with_plain_warp(tmp_path):
    # a struct parameter is rebuilt field by field, a tile kernel launched tiled
    sources = [(to_source(sample(seed).tree), sample(seed).kernel_name) for seed in STRUCT_AND_TILE]
    for (source, name), (_, kernel) in zip(sources, execute.load_kernels(sources), strict=True):
        params, inputs = execute.prepare(kernel, 0)
        finding = Finding("nondeterministic", "cpu", name, source, "a check", inputs=inputs, params=params)
        script = write_finding(tmp_path, finding)
        assert ("struct(" in script.read_text()) == any(p.is_struct for p in params)
        result = _plain_warp(script, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


HANG = """import warp as wp

@wp.kernel
def hang(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    for k in range(2000000000):
        out[i] = out[i] * a[i] + 1.0
"""


def test_a_kernel_that_runs_too_long_is_labelled_and_the_others_checked(monkeypatch):
    monkeypatch.setattr(fuzz, "STALL_SECONDS", 15)
    good = sample(3)
    reports = [
        Report(seed=1, kernel_name="hang", kernel_type="loop", source=HANG),
        Report(seed=3, kernel_name=good.kernel_name, kernel_type="", source=to_source(good.tree)),
    ]
    checked = execute_isolated(reports, gpu=False)
    assert checked[0].metadata == {"execution": "unsupported: checks ran longer than 15 s"}
    assert not checked[0].failures and checked[1].metadata["deterministic"]
