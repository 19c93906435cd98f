"""The table of failure kinds: one row per kind a check reports, everything said of it in one place.

A row gives what the kind means, what was expected, the title of its finding, which
check produces it, its reproducer's check (`reproduces()`) and exit-status sentence,
whether it is warp-synth's fault rather than Warp's, how its hits are grouped
(`check.signature`), and what its check compares.  `check.findings` writes
reproducers and summaries from it, `check.signature` groups by it, and the fuzzer
counts by it (`check.fuzz.results`); a new kind is a new row (`tests/test_kinds.py`
fails until every kind any code reports has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: A reproducer's exit statuses: its kind's failure shows (for a kind that `dies`, a signal may end it
#: instead), it does not, and its own code failed (an error raised outside Warp: it says nothing of Warp).
REPRODUCES, FIXED, BROKEN = 1, 0, 3

#: How the hits of a kind are grouped (`check.signature`): by the failure's normalised message (its
#: words name the cause), by the shrunk kernel's constructs, or by message for a Python exception and
#: by constructs for a death by signal (`the process died`).
Grouping = Literal["message", "constructs", "exception"]


@dataclass(frozen=True)
class Kind:
    """One kind of failure.  `expected` may name `{as_with}` (the unaffected versions, said as
    " (as with Warp X)"); `title` names `{using}` (the constructs) and may name `{wrong}`."""

    name: str
    meaning: str  # one line: what the failure is
    expected: str  # what should have happened (a finding's "Expected:")
    title: str  # what fails, in the finding's title
    found_by: str  # the check that reports it
    check: str  # the reproducer's `reproduces()`: true while the failure shows
    exit: str = "Exit status 1 while it reproduces, 0 once fixed."
    dies: bool = False  # its reproducer may die by a signal while it reproduces
    generators: bool = False  # warp-synth's own defect (the generator's), never a Warp finding
    grouped_by: Grouping = "constructs"
    compares: tuple[str, ...] = ()  # what its check compares: "forward" results, "gradient"s

    @property
    def in_debug_build(self) -> bool:
        """Whether a debug build shows it (shrinking must then build variants in debug mode too)."""
        return self.check == _DEBUG


def _raising(call: str, before: str = "") -> str:
    """A reproducer's check that reproduces when `call` raises inside Warp (an error of the script's own
    code is raised on: the script is broken, not Warp)."""
    return f"""def reproduces():
{before}    try:
        {call}
    except Exception as e:
        if not raised_by_warp(e):
            raise
        print(e)
        return True
    return False
"""


_COMPILE = _raising(
    "wp.load_module(device=DEVICE)",
    """    if DEVICE == "cuda" and wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU (Warp builds CUDA modules only for a device)")
        return False
""",
)
_KILLS = "    # a kernel that kills the process ends the script with that signal instead\n"
_CRASH = _raising("run(DEVICE)", _KILLS)

_DEBUG = """def reproduces():
    # Warp's debug build asserts array bounds (a failed assertion ends the process) and keeps
    # traps such as an integer division by zero (SIGFPE) that a release build may hide
    wp.config.mode = "debug"
    run("cpu")
    return False
"""

_NONDETERMINISTIC = """def reproduces():
    # on a CPU every array must be bit-identical; on a GPU accumulators (float atomics add in
    # any order) are held to the tolerance policy
    first, second = run(DEVICE), run(DEVICE)
    accumulators = set(ACCUMULATORS) if DEVICE == "cuda" else set()
    differing = run_to_run_differences(first, second, accumulators, THREADS)
    print("arrays differing between launches:", differing)
    return bool(differing)
"""

_GRADIENT = """def reproduces():
    return gradient_check() == "mismatch"
"""

_DIFFERENTIAL = """def reproduces():
    # exit status 1 while this Warp's results are the wrong ones: they differ from the expected
    # (float64 re-execution, finite differences) or, with no expectation, from the other version's
    print("this interpreter runs Warp", wp.__version__, "; recorded:", ", ".join(VERSIONS))
    others = [v for v in VERSIONS if v != wp.__version__] or VERSIONS
    wrong = False
    if "forward" in PART:
        ours = run("cpu")
        for name in sorted(RECORDED[VERSIONS[0]]):
            if name == "adjoint":
                continue
            contributors = THREADS if name in ACCUMULATORS else 1
            for version in VERSIONS:
                print(f"Warp {version} (recorded): {name} = {RECORDED[version][name].tolist()}")
            print(f"Warp {wp.__version__} (this run): {name} = {ours[name].tolist()}")
            if name in EXPECTED:
                print(f"float64 re-execution: {name} = {EXPECTED[name].tolist()}")
                wrong |= not close(EXPECTED[name].astype(ours[name].dtype), ours[name], contributors)
            else:
                wrong |= any(not close(RECORDED[v][name], ours[name], contributors) for v in others)
    if "gradient" in PART:
        for version in VERSIONS:
            print(f"Warp {version} (recorded): adjoint {RECORDED[version]['adjoint']!r}")
        wrong |= gradient_check() == "mismatch"
    return wrong
"""

_RACE = """def reproduces():
    # every thread (every block of a tile kernel) runs on its own, in the kernel's probe: a copy of
    # the kernel whose other threads return at once; an element two threads write is a race
    def run_thread(thread, fill):
        values = {n: np.full_like(v, fill) if n in OUTPUTS else v for n, v in INPUTS.items()}
        args = arguments("cpu", inputs=values)
        launch_probe([*args, *thread], "cpu")
        wp.synchronize_device("cpu")
        arrays = held(args)
        return {n: arrays[n].numpy().reshape(*arrays[n].shape, -1) for n in OUTPUTS}

    said = first_race(run_thread, SHAPE, FILLS)
    print(said or "no element of an output is written by two threads")
    return said is not None
"""

_CPU_GPU = """def reproduces():
    if wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU")
        return False
    cpu, gpu = run("cpu"), run("cuda")
    differing = mismatches(cpu, gpu, set(ACCUMULATORS), THREADS)
    for name in differing:
        print(name, "max difference", np.nanmax(np.abs(cpu[name].astype(np.float64) - gpu[name])))
    return bool(differing)
"""

_DYING = "Dies (a signal: SIGILL for a failed assertion, SIGFPE ...) while it reproduces."
_DEBUG_EXPECTED = "no assertion or signal under Warp's debug mode"

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "compile",
            "Warp's generated code for the kernel does not compile",
            "the kernel builds{as_with}",
            "kernel{using} fails to build",
            "the compile check (`check.harness.check_compiles`; `check.judge` for another Warp's build)",
            _COMPILE,
            grouped_by="message",
        ),
        Kind(
            "crash",
            "launching the kernel raises",
            "the launch completes",
            "launching a kernel{using} fails",
            "the release launch (`check.judge.judge_run`), or the child process dying (`check.isolation`)",
            _CRASH,
            exit="Dies (a signal) or exits 1 while it reproduces, exits 0 once fixed.",
            dies=True,
            grouped_by="exception",
        ),
        Kind(
            "nondeterministic",
            "two CPU launches with identical inputs give different bytes",
            "two launches give identical bytes",
            "two launches of a kernel{using} differ",
            "two release launches compared (`check.judge.judge_run`)",
            _NONDETERMINISTIC,
            compares=("forward",),
        ),
        Kind(
            "gradient",
            "the wp.Tape backward disagrees with finite differences (inside the autodiff contract)",
            "the adjoint matches central finite differences",
            "wrong gradient (wp.Tape) of a kernel{using}",
            "the gradient check (`check.gradcheck`, via `check.judge`)",
            _GRADIENT,
            compares=("gradient",),
        ),
        Kind(
            "cpu_gpu_mismatch",
            "CPU and CUDA results differ beyond the tolerance policy",
            "CPU and CUDA agree within the tolerance policy",
            "CPU and CUDA results of a kernel{using} differ",
            "the device comparison (`check.judge.compare_devices`)",
            _CPU_GPU,
            compares=("forward",),
        ),
        Kind(
            "differential",
            "two Warp versions give different results for the same kernel and inputs, beyond the "
            "tolerance policy",
            "both versions give the same results within the tolerance policy",
            "a kernel{using} gives {wrong} results",
            "the version comparison (`check.judge`, `fuzz --against`)",
            _DIFFERENTIAL,
            compares=("forward", "gradient"),  # its message says which differ
        ),
        Kind(
            "generator_defect",
            "under Warp's debug mode the kernel fails an array-bounds assertion or dies with a signal: the "
            "generator emitted undefined behaviour (a warp-synth bug, not Warp's)",
            _DEBUG_EXPECTED,
            "(warp-synth) generated kernel{using} has undefined behaviour",
            "the debug build in a child process (`check.isolation`)",
            _DEBUG,
            exit=_DYING,
            dies=True,
            generators=True,
            grouped_by="message",
        ),
        Kind(
            "debug_crash",
            "the target Warp's debug build of the kernel dies, while the pinned Warp's debug build runs it "
            "(no undefined behaviour there: the target's debug code is at fault)",
            _DEBUG_EXPECTED,
            "the debug build of a kernel{using} dies",
            "the debug build under another installation, told from a generator defect by the pinned "
            "Warp's (`check.judge.TargetCheck`)",
            _DEBUG,
            exit=_DYING,
            dies=True,
            grouped_by="message",
        ),
        Kind(
            "undefined_behaviour",
            "under Warp's debug mode the kernel fails an array-bounds assertion or dies with a signal: the "
            "kernel (a user's, `synth check`) has undefined behaviour",
            _DEBUG_EXPECTED,
            "kernel{using} has undefined behaviour (debug mode)",
            "the debug build of a user's kernel (`synth check`, from `check.isolation`'s generator_defect)",
            _DEBUG,
            exit=_DYING,
            dies=True,
            grouped_by="message",
        ),
        Kind(
            "race",
            "two threads (or tile blocks) write the same element of an output other than through an "
            "atomic: the generator emitted a data race (a warp-synth bug, not Warp's)",
            "each element of an output written by one thread at most",
            "(warp-synth) generated kernel{using} has a data race",
            "the race probe of a kernel whose values failed (`check.races`, via `check.fuzz.filing`)",
            _RACE,
            generators=True,
        ),
    )
}
