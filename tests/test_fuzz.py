"""Fuzzing: failures shrink to small plain-Warp reproducers; kernels that end the process are isolated."""

import re

import numpy as np

from check import execute, isolation
from check.executor import Case, DeviceRun, Options
from check.executor import execute as run_cases
from check.findings import Finding, read_findings, write_finding
from check.harness import Report, check_compiles
from check.isolation import Died
from check.judge import TargetCheck, compare_devices, execute_isolated, installation
from check.shrink import reduce, shrink
from grammar.sample import sample
from grammar.strategies import DrawnKernel
from grammar.unparse import to_source
from tests.conftest import plain_warp
from tests.test_execute import WIDENED
from tests.test_gradcheck import SQUARE, WRONG_GRAD

#: The injected "bug": a kernel calling a trigonometric function.  A family, not one builtin: which
#: builtins 100 draws meet varies (the draws differ with the process's import history, measured:
#: `import check.compile` before the search changed the 5th draw on), one of six is met either way.
TRIGONOMETRIC = re.compile(r"wp\.a?(sin|cos|tan)\(")


def test_injected_failure_shrinks_to_a_small_reproducer(tmp_path):
    def fails(k):
        return TRIGONOMETRIC.search(k.source) is not None

    found = shrink(fails, max_examples=100, seconds=5, focus="math")
    assert found is not None and fails(found)
    small = reduce(found, fails)
    assert fails(small) and len(small.source) <= len(found.source)
    # one statement left; a struct parameter it reads (the widened grammar) costs four more lines
    assert len(small.source.splitlines()) <= 10, small.source
    params, _ = execute.describe(small.source, small.kernel_name, 0)
    finding = Finding(
        "nondeterministic",
        "cpu",
        small.kernel_name,
        small.source,
        "injected: calls a trigonometric function",
        shrunk=True,
        inputs=execute.draw_inputs(params, 0),
        params=params,
    )
    script = write_finding(tmp_path, finding)
    assert TRIGONOMETRIC.search(script.read_text())
    result = plain_warp(script, tmp_path)
    assert result.returncode == 0, result.stderr  # runs with plain Warp; the injected bug is not real
    assert read_findings(tmp_path / "findings")[0]["shrunk"] is True


def test_reduction_stops_at_its_time_budget():
    kernel = DrawnKernel(SQUARE.replace("GRAD", WRONG_GRAD), "apply_square", "")
    tried = []

    def fails(k):
        tried.append(k)
        return True  # every variant "fails": unbounded, reduction would go on to the smallest

    assert reduce(kernel, fails, seconds=0) == kernel and not tried
    assert len(reduce(kernel, fails).source) < len(kernel.source) and tried


def test_gradient_reproducer_reproduces_with_plain_warp(tmp_path):
    source = SQUARE.replace("GRAD", WRONG_GRAD)
    params, _ = execute.describe(source, "apply_square", 0)
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
    result = plain_warp(write_finding(tmp_path, finding), tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    fixed = Finding(**{**vars(finding), "source": SQUARE.replace("GRAD", "")})
    assert plain_warp(write_finding(tmp_path, fixed), tmp_path).returncode == 0


SHIFT = """import warp as wp

@wp.kernel
def shift(a: wp.array(dtype=float), out: wp.array(dtype=float), hist: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.exp(a[i]) + DELTA
    wp.atomic_add(hist, 0, a[i])
"""


def test_device_comparison_applies_the_policy():
    # the CUDA path without a GPU: the "other device" is the CPU, running an exact or a perturbed kernel
    sources = [SHIFT.replace("DELTA", d) for d in ("0.0", "0.0", "0.01")]
    params, inputs = execute.describe(sources[0], "shift", 5)
    # the executor launches a kernel on a job's second device too (twice: `again`)
    cases = [Case(source, "shift", tuple(params), inputs) for source in sources]
    kernel, same, perturbed = run_cases(cases, options=Options(devices=("cpu", "cpu")))
    assert all(r.ran for r in (kernel, same, perturbed)), [r.message for r in (kernel, same, perturbed)]
    assert kernel.devices["cpu"].outputs.keys() == kernel.outputs.keys() == kernel.devices["cpu"].again.keys()
    report = Report(5, "shift", "atomic", sources[0], params=params, inputs=inputs, run=kernel)
    compare_devices(report, "cpu", kernel.devices["cpu"])
    assert report.metadata["cpu_gpu"] == {"compared": True, "differing": [], "unstable": []}
    assert not report.failures
    compare_devices(report, "cpu", DeviceRun("ran", "", same.outputs, perturbed.outputs))
    assert report.failures == [("nondeterministic", "cpu: arrays ['out'] differ between launches")]
    report.failures.clear()
    compare_devices(report, "cpu", DeviceRun("ran", "", perturbed.outputs, perturbed.outputs))
    assert report.failures == [("cpu_gpu_mismatch", "arrays ['out'] differ beyond the tolerance")]


def _checked(reports: list[Report]) -> list[Report]:
    """The fuzzer's checks with the pinned Warp (a child process per group, `check.judge`)."""
    return TargetCheck(installation(None, "target")).check(reports)


#: Undefined behaviour a generator must never emit, each caught by Warp's debug build on CPU:
#: an out-of-bounds store (bounds assertion: SIGILL), an integer division by zero (SIGFPE),
#: and `wp.pnoise` with period 0 (an integer division by zero in Warp's noise code: SIGFPE;
#: the grammar emitted it, `grammar.sample.sample(75)`).
UNDEFINED = {
    "out_of_bounds": "out[i + 1000000000] = a[i]",
    "division_by_zero": "out[i] = float(n[i] // (i - i))",
    "period_zero": "out[i] = wp.pnoise(wp.uint32(7), a[i], 0)",
}
DEFECT = """import warp as wp

@wp.kernel
def NAME(a: wp.array(dtype=float), n: wp.array(dtype=int), out: wp.array(dtype=float)):
    i = wp.tid()
    BODY
"""


def _defective(name):
    return Report(
        seed=1,
        kernel_name=name,
        kernel_type="",
        source=DEFECT.replace("NAME", name).replace("BODY", UNDEFINED[name]),
    )


def test_undefined_behaviour_is_a_generator_defect_and_the_others_are_checked(tmp_path):
    good = sample(3)
    reports = [
        _defective("out_of_bounds"),
        Report(seed=3, kernel_name=good.kernel_name, kernel_type="", source=to_source(good.tree)),
        _defective("division_by_zero"),
        _defective("period_zero"),
    ]
    checked = _checked(reports)
    assert [r.kernel_name for r in checked] == [r.kernel_name for r in reports]
    defects = [checked[n] for n in (0, 2, 3)]
    assert all([kind for kind, _ in r.failures] == ["generator_defect"] for r in defects), defects
    assert "SIGILL: Assertion failed" in defects[0].failures[0][1]  # the bounds assertion's own words
    assert "SIGFPE" in defects[1].failures[0][1] and "SIGFPE" in defects[2].failures[0][1]
    assert all(r.metadata["execution"] == "generator_defect: debug build" for r in defects)
    assert checked[1].failures == [] and checked[1].metadata["debug"] == "passed"
    assert checked[1].metadata["deterministic"]
    # the reproducer dies the same way with plain Warp
    r = checked[0]
    finding = Finding("generator_defect", "cpu", r.kernel_name, r.source, "", 1, False, r.inputs, r.params)
    result = plain_warp(write_finding(tmp_path, finding), tmp_path)
    assert result.returncode < 0 and "Assertion failed" in result.stdout + result.stderr, result


def test_the_debug_build_reaches_a_kernel_in_a_module_of_its_own():
    # `@wp.kernel(module="unique")` puts the kernel in a Warp module of its own: debug mode must
    # reach that one, not only the module loaded
    source = DEFECT.replace("@wp.kernel", '@wp.kernel(module="unique")').replace("NAME", "shifted")
    report = Report(
        seed=1, kernel_name="shifted", kernel_type="", source=source.replace("BODY", "out[i] = a[i + 5]")
    )
    (checked,) = _checked([report])
    assert [kind for kind, _ in checked.failures] == ["generator_defect"], checked.metadata
    assert "SIGILL: Assertion failed" in checked.failures[0].message


def test_a_death_in_the_release_build_is_a_crash_finding(monkeypatch):
    # a kernel that passes the debug build and dies in the release one is Warp's (an optimiser) bug:
    # no valid kernel shows it on purpose, so the child's death is simulated
    calls = []

    def run(group, watch):
        calls.append([r.kernel_name for r in group])
        if len(calls) == 1:
            raise Died("release", 1, "SIGSEGV")
        return group

    reports = [Report(seed=n, kernel_name=f"k{n}", kernel_type="", source="") for n in range(4)]
    checked = execute_isolated(reports, run)
    assert [r.kernel_name for r in checked] == ["k0", "k1", "k2", "k3"]
    assert calls == [["k0", "k1", "k2", "k3"], ["k0"], ["k2", "k3"]]  # the others checked again
    message = "release build: the process died checking the kernel (SIGSEGV)"
    assert checked[1].failures == [("crash", message)] and not checked[0].failures


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
    check_compiles(reports, "cpu")
    assert [kind for kind, _ in reports[0].failures] == ["compile"]
    assert "codegen" in reports[0].failures[0][1]
    assert reports[1].failures == []


STRUCT_AND_TILE = (WIDENED["struct"], WIDENED["tile"])


def test_struct_and_tile_reproducers_run_with_plain_warp(tmp_path):
    # a struct parameter is rebuilt field by field, a tile kernel launched tiled
    sources = [(to_source(sample(seed).tree), sample(seed).kernel_name) for seed in STRUCT_AND_TILE]
    for source, name in sources:
        params, inputs = execute.describe(source, name, 0)
        finding = Finding("nondeterministic", "cpu", name, source, "a check", inputs=inputs, params=params)
        script = write_finding(tmp_path, finding)
        assert ("struct(" in script.read_text()) == any(p.is_struct for p in params)
        result = plain_warp(script, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


HANG = """import warp as wp

@wp.kernel
def hang(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    for k in range(2000000000):
        out[i] = out[i] * a[i] + 1.0
"""


def test_a_kernel_that_runs_too_long_is_labelled_and_the_others_checked(monkeypatch):
    monkeypatch.setattr(isolation, "STALL_SECONDS", 15)
    good = sample(3)
    reports = [
        Report(seed=1, kernel_name="hang", kernel_type="loop", source=HANG),
        Report(seed=3, kernel_name=good.kernel_name, kernel_type="", source=to_source(good.tree)),
    ]
    checked = _checked(reports)
    assert checked[0].metadata == {
        "execution": "unsupported: checks ran longer than 15 s",
        "warp": {"target": "1.19.0"},
    }
    assert not checked[0].failures and checked[1].metadata["deterministic"]


def test_generated_kernels_show_no_undefined_behaviour_under_debug_mode():
    seeds = range(64, 96)
    reports = [Report(s.seed, s.kernel_name, s.kernel_type, to_source(s.tree)) for s in map(sample, seeds)]
    checked = _checked(reports)
    defects = {r.seed: message for r in checked for kind, message in r.failures if kind == "generator_defect"}
    assert defects == {}
    assert all(
        r.metadata.get("debug") == "passed" for r in checked if "unsupported" not in r.metadata["execution"]
    )
