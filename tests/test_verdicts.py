"""Verdicts that are right: a race is the generator's defect, a gradient mismatch a finding only when
confirmed, a feature the device lacks unsupported, a reduction keeps the failure it reduces."""

import ast
import subprocess
import sys
from dataclasses import replace

import pytest

from check import execute, races
from check.execute import Unsupported
from check.executor import Case, Execution
from check.executor import execute as execute_cases
from check.findings import Finding, read_findings, reproduced, run_reproducer
from check.fuzz.campaign import Checks
from check.fuzz.filing import Filer, _backwards, _interesting, _needs_gradients
from check.gradcheck import GradResult, confirmed
from check.harness import Failure, Report
from check.judge import Installation, judge_run
from check.shrink import _variants
from emit.lower import Kernel
from grammar.sample import sample
from grammar.strategies import DrawnKernel
from grammar.unparse import to_source

#: The issue's race, reduced: a (1, 1) tile broadcast to (1, COLS) and stored at the block's index, so
#: neighbouring blocks write the same elements of `y_out`.
TILE_RACE = """import warp as wp
COLS = wp.constant(16)

@wp.kernel
def spread(x: wp.array2d(dtype=float), y_out: wp.array2d(dtype=float)):
    i, j = wp.tid()
    t = wp.tile_load(x, shape=(1, 1), offset=(i, j))
    wp.tile_store(y_out, wp.tile_broadcast(t, shape=(1, COLS)), offset=(i, j))
"""

#: Threads writing one element: `wp.min(i, 2)` clamps the index (a reduction's leaf would do the same).
THREAD_RACE = """import warp as wp

@wp.kernel
def clamp_store(x: wp.array(dtype=float), y_out: wp.array(dtype=float)):
    i = wp.tid()
    y_out[wp.min(i, 2)] = x[i] * 2.0
"""


def _race(source: str, kernel_name: str, seed: int = 4) -> str | None:
    params, inputs = execute.describe(source, kernel_name, seed)
    return races.race(source, kernel_name, params, inputs)


def test_blocks_or_threads_writing_one_element_race_and_own_elements_do_not():
    assert "write element" in _race(TILE_RACE, "spread")
    assert "of `y_out`" in _race(THREAD_RACE, "clamp_store", seed=3)
    assert _race(THREAD_RACE.replace("wp.min(i, 2)", "i"), "clamp_store", seed=3) is None


def test_the_grammars_outputs_never_race():
    """Tile stores cover exactly their own block's region, thread stores their own index: over many
    seeds of both policies, no race (the probes built merged, in one module)."""
    drawn = [sample(n, differentiable=n % 2 == 1) for n in range(200)]
    tiles = [s for s in drawn if s.policy.on("tiles")][:10]
    kernels = tiles + [s for s in drawn if not s.policy.on("tiles")][:6]
    assert len(tiles) >= 8
    cases = []
    for s in kernels:
        source = to_source(s.tree)
        try:
            params, inputs = execute.describe(source, s.kernel_name, s.seed)
        except Unsupported:
            continue
        cases.append(
            (races.probe_source(Kernel(source, s.kernel_name), len(inputs.shape)), s, params, inputs)
        )
    assert sum(bool(inputs.tile) for *_, inputs in cases) >= 8
    watched = [tuple(p.name for p in races.outputs(params)) for _, _, params, _ in cases]
    probes = [
        Case(probe, s.kernel_name, tuple(params), inputs, alone=w)
        for (probe, s, params, inputs), w in zip(cases, watched, strict=True)
    ]
    checked = 0
    for (_, s, _, _), run in zip(cases, execute_cases(probes), strict=True):
        if run.ran:
            assert run.race is None, s.seed
            checked += 1
    assert checked >= len(cases) - 2


def test_a_racing_kernel_s_gradient_failure_is_filed_as_a_race_whose_reproducer_reproduces(tmp_path):
    params, inputs = execute.describe(TILE_RACE, "spread", 4)
    failure = Failure("gradient", '{"adjoint": 1.0, "finite_difference": 0.0}')
    report = Report(4, "spread", "tile", TILE_RACE, [failure], params=params, inputs=inputs)
    entries = Filer(tmp_path, Checks.pinned(False), shrink=False).file(report)
    assert [e["kind"] for e in entries] == ["race"] and report.metadata["race"].startswith("threads")
    script = tmp_path / "findings" / entries[0]["finding"]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "both write element" in done.stdout


def _grad(adjoint: float, fd: float, tolerance: float, status: str = "mismatch", reasons=()) -> GradResult:
    return GradResult(status, list(reasons), adjoint=adjoint, finite_difference=fd, tolerance=tolerance)


#: `wp.quat_slerp` of unnormalized quaternions (the issue's): an adjoint of 3.96e7 against finite
#: differences of 1.18e3, the adjoint's noise 6.9e7, the float64 twin's check inconclusive.
SLERP = _grad(3.96e7, 1.18e3, 7.9e5)
SLERP_TWIN = _grad(2.0e7, 1.0e3, 4.0e5, "inconclusive", ["finite differences unstable (kink or jump)"])
KINK = _grad(-5.096966397534327, -4.727971129348063, 0.11826841703296129)
KINK_TWIN = _grad(-5.096966371458465, -5.0969663707434165, 5.400891865106879e-06, "passed")


@pytest.mark.parametrize(
    ("grad", "noise", "twin", "status", "why"),
    [
        (SLERP, 6.9e7, SLERP_TWIN, "inconclusive", "the float64 twin does not confirm it: inconclusive"),
        (SLERP, 6.9e7, None, "inconclusive", "no float64 twin"),
        (_grad(1.0, 0.5, 0.01), 1e-6, None, "mismatch", None),  # far above the noise
        (_grad(1.0, 0.5, 0.01), 1e-6, _grad(1.0, 0.5, 1e-6), "mismatch", None),  # the twin confirms it
        (_grad(1.0, 0.5, 0.01), 1e-6, _grad(0.5, 0.5, 1e-6, "passed"), "mismatch", None),  # float32 only
        (_grad(1.0, 0.5, 0.01), 0.1, _grad(0.5, 0.5, 1e-6, "passed"), "inconclusive", "not far above"),
        # the 1.10.0 run's gradient_b8cb867917 (a `wp.max(s, 0.058)` kink within the float32 step): the
        # twin's derivative is the float32 adjoint, the float32 finite differences are what is off
        (KINK, 0.0, KINK_TWIN, "inconclusive", "matches the adjoint"),
    ],
)
def test_a_gradient_mismatch_is_a_finding_only_when_confirmed(grad, noise, twin, status, why):
    told = confirmed(grad, noise, twin)
    assert told.status == status, told
    assert why is None or why in told.reasons[0], told.reasons
    assert told.adjoint_noise == noise


def test_a_feature_the_device_lacks_at_run_time_is_unsupported_by_the_target_with_warps_line():
    said = "RuntimeError: Only CUDA devices are supported for allocate_by_tiles"
    report = Report(0, "k", "", "", run=Execution("raised", "1.10.0", said))
    judge_run(report, Installation(sys.executable, "1.10.0", "target", "1.10.0"))
    assert report.failures == [] and report.metadata["execution"] == f"unsupported_by_target: {said}"
    report = Report(0, "k", "", "", run=Execution("raised", "1.10.0", "RuntimeError: boom"))
    judge_run(report, Installation(sys.executable, "1.10.0", "target", "1.10.0"))
    assert [f.kind for f in report.failures] == ["crash"]


GAIN = """import warp as wp
GAIN = wp.constant(2.0)

@wp.kernel
def scale(x: wp.array(dtype=float), y_out: wp.array(dtype=float)):
    i = wp.tid()
    y_out[i] = x[i] * GAIN
"""


def test_reduction_never_proposes_a_module_that_reads_a_name_it_deleted():
    variants = list(_variants(DrawnKernel(GAIN, "scale", "")))
    assert variants and all("GAIN" not in v.source or "GAIN =" in v.source for v in variants)
    assert all(not _read_undefined(v.source) for v in variants)


def _read_undefined(source: str) -> bool:
    tree = ast.parse(source)
    return any(isinstance(n, ast.Name) and n.id == "GAIN" for n in ast.walk(tree)) and "GAIN =" not in source


#: A kernel whose gradient Warp gets right: a "gradient" failure said of it is not Warp's.
RIGHT = """import warp as wp

@wp.kernel
def double(x: wp.array(dtype=float), y_out: wp.array(dtype=float)):
    i = wp.tid()
    y_out[i] = wp.sin(x[i]) * 2.0
"""


def test_a_reproducer_that_does_not_reproduce_as_saved_is_never_filed(tmp_path):
    params, inputs = execute.describe(RIGHT, "double", 1)
    failure = Failure("gradient", '{"adjoint": 1.0, "finite_difference": 0.0}')
    report = Report(1, "double", "math", RIGHT, [failure], params=params, inputs=inputs)
    entries = Filer(tmp_path, Checks.pinned(False), shrink=False).file(report)
    assert entries == [
        {"kind": "gradient", "versions": ["1.19.0"], "not_reproduced": True, "reproducers_dropped": 1}
    ]
    assert not list((tmp_path / "findings").glob("*.py")) and read_findings(tmp_path / "findings") == []


def test_a_reproducer_reproduces_with_exit_status_1_or_for_a_crash_a_signal_never_a_traceback(tmp_path):
    finding = Finding("crash", "cpu", "k", "", "", versions={"tested": ["a", "b"], "affected": ["a"]})
    assert reproduced(finding, {"a": 1, "b": 0}) and reproduced(finding, {"a": -11, "b": 0})
    assert not reproduced(finding, {"a": 0, "b": 1}) and not reproduced(finding, {"a": "traceback", "b": 1})
    assert not reproduced(replace(finding, kind="gradient"), {"a": -11})
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit(1)\n")
    assert run_reproducer(script, sys.executable) == 1
    script.write_text("import sys\nundefined_name\n")
    assert run_reproducer(script, sys.executable) == "traceback"


def test_a_reproducer_not_reproducing_is_replaced_by_the_last_reduction_before_it_then_earlier_ones():
    kept = [DrawnKernel(str(n), "k", "") for n in range(10)]
    assert [k.source for k in _backwards(kept)] == ["9", "8", "6", "2", "0"]
    assert [k.source for k in _backwards(kept[:1])] == ["0"]


def test_compile_failures_are_reduced_with_adjoints_built():
    """A compile failure in the adjoint's code (`adj_cbrt` missing, Warp 1.10): built without adjoints
    no variant fails, and the finding went unshrunk."""
    assert _needs_gradients(
        Failure("compile", "no matching function for call to 'adj_cbrt'"), "compile@1.10.0"
    )


def test_reduction_keeps_no_variant_that_races():
    """The issue's `i * ROWS` reduced to `i` (a race) fails the gradient check too: not kept."""
    failure = Failure("gradient", '{"adjoint": 1.0, "finite_difference": 0.0}')
    for source, kept in ((THREAD_RACE, False), (THREAD_RACE.replace("wp.min(i, 2)", "i"), True)):
        params, inputs = execute.describe(source, "clamp_store", 3)
        variant = Report(3, "clamp_store", "", source, [failure], params=params, inputs=inputs)
        assert _interesting(variant, failure, "gradient@1.19.0") is kept


def test_a_debug_death_the_pinned_debug_build_does_not_share_is_the_targets_not_the_generators():
    """Warp 1.10's debug build of a `@wp.func` returning a tuple dies with SIGSEGV (fuzz seed 5,
    candidate 2): that is 1.10's debug code, since the pinned Warp's debug build (which asserts every
    array access) runs the kernel.  A death the pinned debug build shares stays a generator defect."""
    from check.judge import debug_deaths_told
    from tests.test_fuzz import _defective

    said = "debug build: the process died checking the kernel (SIGSEGV)"
    sound = sample(3)
    reports = [
        Report(
            3, sound.kernel_name, "", to_source(sound.tree), [Failure("generator_defect", said, ["1.10.0"])]
        ),
        _defective("out_of_bounds"),
    ]
    reports[1].failures.append(Failure("generator_defect", said, ["1.10.0"]))
    for r in reports:  # described, as the checks' reports are
        r.params, r.inputs = execute.describe(r.source, r.kernel_name, r.seed)
    debug_deaths_told(reports)
    assert reports[0].failures == [("debug_crash", said)] and reports[0].failures[0].versions == ("1.10.0",)
    assert reports[0].status.kind == "crash"
    assert reports[1].failures == [("generator_defect", said)]


def test_shrinking_a_debug_build_failure_checks_its_variants_in_a_debug_build():
    """A generator defect (or a target's debug_crash) shows only in a debug build: the variants a
    reduction tries must be built so, else no variant fails and the reproducer stays unshrunk."""
    from tests.test_fuzz import _defective

    (checked,) = Checks.pinned(False).variants([_defective("out_of_bounds")], "generator_defect")
    assert [f.kind for f in checked.failures] == ["generator_defect"], checked.metadata


def test_a_variant_checked_in_full_runs_its_debug_build_in_a_child():
    """Filing checks each kept reduction in full (`quick=False`: a debug build too), whatever its kind:
    with the pinned Warp that must go to a child process, never this one."""
    sound = sample(3)
    report = Report(3, sound.kernel_name, "", to_source(sound.tree))
    (checked,) = Checks.pinned(False).variants([report], "gradient", quick=False)
    assert checked.metadata["debug"] == "passed" and not checked.failures
