"""The judge: every check's verdict on a kernel, from what the one executor measured.

Kernels are synthesized, lowered and compiled with the pinned Warp, as always
(`check.harness.check_compiles`); their parameters and a launch's values are read and
drawn here (no build needed).  The executor (`check.executor`: `check.runner` in a
child process under an installation's interpreter, the pinned one's by default)
builds, runs and measures them, and this module judges its numbers with the
fuzzer's policies: a debug build that ends the process is the generator's defect
(`check.isolation` names the kernel), determinism (identical bytes), the gradient
check (`check.gradcheck`), CPU against GPU and, between two installations, the
tolerance policy (`check.tolerance`) on forward outputs and on gradients.

**Unsupported or a finding.**  A kernel the pinned Warp compiles but another
installation does not build is `unsupported_by_target` when Warp's Python front end
rejects it with one of the diagnostics it gives for a construct it does not know
(`UNSUPPORTED`: a missing `wp.` name, no overload for the argument types, an unknown
keyword or syntax): the construct is newer than the target's API, never a finding.
Any other build failure (the native compiler rejecting Warp's generated code, an
internal error in the front end) is a `compile` finding of the target's version.
A launch that raises because the device lacks a feature ("Only CUDA devices are
supported for ...": `check.harness.RUNTIME_UNSUPPORTED`) is `unsupported_by_target`
too, with Warp's line; any other error at launch is a `crash` finding.

**Which side is right.**  A disagreement between installations is a `differential`
finding.  For gradients each side's own finite differences decide; for forward
outputs the kernel's float64 twin (`check.precision`) is run under both: when the
twins agree, the side whose float32 result matches them is right.  A gradient
mismatch is a finding only when the float64 twin's check confirms it or, with no
twin, when it is far above the adjoint's own noise (`gradcheck.confirmed`); else
it is `float32_rounding` or `inconclusive`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import warp_access
from check import gradcheck, runner, tolerance
from check.execute import Inputs, Param, Unsupported, describe, leaves
from check.executor import (
    HERE,
    Arrays,
    Case,
    Child,
    DeviceRun,
    Execution,
    Host,
    Options,
    environment,
    execute,
)
from check.gradcheck import GradResult
from check.harness import Failure, Report, Status, unsupported_at_run_time
from check.isolation import Died, Stalled, Watch
from check.precision import float64_inputs, float64_twin
from check.signature import by_message, normalised
from emit.lower import Kernel

#: Seconds an interpreter may take to import Warp and say its version.
VERSION_SECONDS = 120

#: Warp front-end diagnostics that mean "this Warp does not know the construct" (the target's API is
#: older than the pinned one, which built the kernel): `unsupported_by_target`, never a finding.
UNSUPPORTED = (
    r"module 'warp' has no attribute",  # a builtin or type added later (`wp.quat_twist`)
    r"has no attribute '\w+'",  # a newer attribute of a Warp object
    r"is not an attribute of '<module 'warp'",  # a builtin mapped over a tile, added later
    r"Couldn't find function overload",  # no overload for these argument types in this release
    r"Could not find function",
    r"unexpected keyword argument",  # a keyword added later (`wp.tile_load(..., shape=...)`)
    r"[Mm]issing required argument",
    r"got multiple values for argument",
    r"is not supported",  # syntax the front end does not lower yet
    r"[Nn]ot supported",
    r"[Uu]nsupported",
    r"Invalid external reference type",
    r"are expected to be of the type",  # a constructor's argument types, later relaxed (float literals)
    r"is expected to be of the type",
)
#: The front end's error classes (a native compiler's failure is reported otherwise).
FRONT_END_ERRORS = r"^(WarpCodegen\w*Error|AttributeError|TypeError|KeyError|RuntimeError|NameError)"


class TargetError(Exception):
    """An interpreter that cannot serve as an installation (one line says why)."""


@dataclass(frozen=True)
class Installation:
    """A Python interpreter with some Warp installed, and that Warp's version."""

    python: str
    version: str
    role: str  # "target" or "against": where its results go
    #: How results and findings name it: its version, unless both compared installations have the same
    #: one (`distinct`).
    name: str = ""

    @property
    def label(self) -> str:
        return f"warp {self.name or self.version}"

    @property
    def host(self) -> Child:
        """Where its kernels run: a child process under its interpreter."""
        return Child(self.python, self.version)

    @property
    def versions(self) -> tuple[str, ...]:
        """How its failures name it: not at all if it is the pinned Warp (`check.harness.Failure`)."""
        return () if self.pinned else (self.name,)

    @property
    def pinned(self) -> bool:
        """Whether it is this interpreter with the pinned Warp (the grammar's own: no front-end
        diagnostic of its means the construct is too new)."""
        return self.python == sys.executable and self.version == warp_access.PINNED_WARP_VERSION


def distinct(target: Installation, against: Installation) -> tuple[Installation, Installation]:
    """The two installations named apart: by version, and by role too when their versions are equal."""
    if target.version != against.version:
        return replace(target, name=target.version), replace(against, name=against.version)
    return tuple(replace(i, name=f"{i.version} ({i.role})") for i in (target, against))  # type: ignore[return-value]


def installation(python: str | None, role: str) -> Installation:
    """The installation of interpreter `python` (None: this one, with the pinned Warp); `TargetError`."""
    if python is None:
        version = warp_access.PINNED_WARP_VERSION
        return Installation(sys.executable, version, role, version)
    found = shutil.which(python)
    if found is None and os.path.isfile(python):
        raise TargetError(f"{python}: not executable (chmod +x it, or name the interpreter itself)")
    if found is None:
        raise TargetError(f"{python}: no such interpreter")
    found = os.path.abspath(found)
    with tempfile.TemporaryDirectory(prefix="synth_target_") as folder:
        script = Path(folder) / "runner.py"
        shutil.copyfile(runner.__file__, script)
        try:
            done = subprocess.run(
                [found, str(script), "--version"],
                capture_output=True,
                text=True,
                timeout=VERSION_SECONDS,
                env=environment(),
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TargetError(f"{python}: cannot run it ({e})") from None
    said = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode != 0 or not said:
        raise TargetError(f"{python}: cannot import warp ({said[-1] if said else 'no output'})")
    return Installation(found, said[-1].strip(), role, said[-1].strip())


# ----------------------------------------------------------------------------- running


def case_of(report: Report, noise: bool = False) -> Case:
    """The executor's case for a report's kernel and launch (its params and inputs drawn already);
    `noise`: the adjoint's noise measured too."""
    assert report.inputs is not None
    return Case(report.source, report.kernel_name, tuple(report.params), report.inputs, True, noise)


def run_under(
    installation: Installation,
    reports: list[Report],
    debug: bool = False,
    watch: Watch | None = None,
    gradients: bool = True,
    devices: Sequence[str] = ("cpu",),
    isolated: bool = True,
    noise: bool = False,
) -> None:
    """Every report's kernel built, run and measured under `installation` (`report.run`), failures of
    its own process (`crash`, `generator_defect`) recorded with its version.  Not `isolated` (the pinned
    Warp only, no debug build): in this process, for quick checks of kernels that ran already."""
    options = Options(debug, tuple(devices), gradients)
    host: Host = HERE if installation.pinned and not (isolated or debug) else installation.host

    def run(group: list[Report], watch: Watch | None) -> list[Report]:
        executions = execute([case_of(r, noise) for r in group], host, options, watch)
        for r, e in zip(group, executions, strict=True):
            r.run = e
        return group

    execute_isolated(reports, run, watch, installation.versions)


#: Runs a group of reports' kernels in a child process (`Died`, `Stalled` or `ChildFailed` if that
#: ends badly).
Run = Callable[[list[Report], "Watch | None"], list[Report]]


def execute_isolated(
    group: list[Report], run: Run, watch: Watch | None = None, versions: Sequence[str] = ()
) -> list[Report]:
    """`run` the group (in a child process); a kernel that ends or stalls the child is reported (its
    failure names `versions`), the others are run again.

    A death in the debug phase is a `generator_defect` (the grammar emitted undefined behaviour: an
    out-of-bounds access, an integer division by zero), elsewhere a `crash` (Warp's).  A death while
    loading (a compiler crash) is narrowed down by halving the group.  A kernel whose checks run longer
    than `check.isolation.STALL_SECONDS` is labelled unsupported (no generated kernel should run that
    long: the grammar bounds its loops).
    """
    if not group:
        return group
    try:
        return run(group, watch)
    except Died as e:
        if e.index is None:  # while loading: a compiler's crash, narrowed down to one kernel
            if len(group) > 1:
                return _halves(group, run, watch, versions)
            message = f"the process died while loading the kernel ({e.how})"
            group[0].failures.append(Failure("crash", message, versions))
            return group
        n = e.index
        kind = "generator_defect" if e.phase == "debug" else "crash"
        message = f"{e.phase} build: the process died checking the kernel ({e.how})"
        group[n].failures.append(Failure(kind, message, versions))
        group[n].status = Status(kind, f"{e.phase} build")
    except Stalled as e:
        if e.index is None and len(group) > 1:  # stalled while loading
            return _halves(group, run, watch, versions)
        n = e.index or 0
        group[n].status = Status("unsupported", f"checks ran longer than {e.seconds} s")
    before = execute_isolated(group[:n], run, watch, versions)
    return [*before, group[n], *execute_isolated(group[n + 1 :], run, watch, versions)]


def _halves(group: list[Report], run: Run, watch: Watch | None, versions: Sequence[str]) -> list[Report]:
    mid = len(group) // 2
    return [
        *execute_isolated(group[:mid], run, watch, versions),
        *execute_isolated(group[mid:], run, watch, versions),
    ]


# ----------------------------------------------------------------------------- judging one side


def unsupported(message: str) -> bool:
    """Whether a build failure is an API-availability error (see the module docstring)."""
    front_end = re.search(FRONT_END_ERRORS, message) is not None
    return front_end and any(re.search(pattern, message) for pattern in UNSUPPORTED)


def judge_run(report: Report, installation: Installation) -> None:
    """Turn the executor's numbers (`report.run`) into the report's metadata and failures."""
    run, versions = report.run, installation.versions
    meta = report.metadata
    if run is None:  # the runner died on it: `execute_isolated` said how
        return
    if run.status == "build_failed":
        if not installation.pinned and unsupported(run.message):
            report.status = Status("unsupported_by_target", run.message)
        else:
            report.status = Status("build_failed")
            report.failures.append(Failure("compile", _said(installation, run.message), versions))
        return
    if run.status == "raised":
        if unsupported_at_run_time(run.message):
            report.status = Status("unsupported_by_target", run.message)
            return
        report.status = Status("executed")
        report.failures.append(Failure("crash", _said(installation, run.message), versions))
        return
    report.status = Status("executed")
    if run.debug_passed:
        meta["debug"] = "passed"
    meta["deterministic"] = run.deterministic
    if not run.deterministic:
        said = _said(installation, "two CPU launches differ")
        report.failures.append(Failure("nondeterministic", said, versions))
    grad = judge_gradient(report.kernel, report.params, run)
    meta["gradcheck"] = grad.as_dict()
    if grad.status == "mismatch":
        report.failures.append(Failure("gradient", json.dumps(grad.as_dict()), versions))
    for device, other in run.devices.items():
        compare_devices(report, device, other, versions)


def _said(installation: Installation, message: str) -> str:
    """A failure's message, naming the installation unless it is the pinned one."""
    return message if installation.pinned else f"{installation.label}: {message}"


def compare_devices(report: Report, device: str, other: DeviceRun, versions: Sequence[str] = ()) -> None:
    """The kernel's launches on `device` against the first device's, under the tolerance policy; and
    against each other (a GPU's float atomics may reorder: within the tolerance too)."""
    assert report.run is not None and report.inputs is not None
    if other.status == "build_failed":
        report.failures.append(Failure("compile", f"{device}: {other.message}", versions))
        return
    if other.status == "raised":
        report.failures.append(Failure("crash", f"{device}: {other.message}", versions))
        return
    threads = report.inputs.threads
    accumulators = {p.name for p in leaves(report.params) if p.role == "accumulator"}
    differing = tolerance.mismatches(report.run.outputs, other.outputs, accumulators, threads)
    unstable = tolerance.run_to_run_differences(other.outputs, other.again, accumulators, threads)
    report.metadata["cpu_gpu"] = {"compared": True, "differing": differing, "unstable": unstable}
    if differing:
        message = f"arrays {differing} differ beyond the tolerance"
        report.failures.append(Failure("cpu_gpu_mismatch", message, versions))
    if unstable:
        message = f"{device}: arrays {unstable} differ between launches"
        report.failures.append(Failure("nondeterministic", message, versions))


def judge_gradient(kernel: Kernel, params: Sequence[Param], run: Execution) -> GradResult:
    """The gradient check's result from the executor's numbers (the contract first)."""
    early, reasons = gradcheck.gradient_contract(params, kernel)
    if early is not None:
        return early
    if not run.measured_gradient:
        return GradResult("not_measured", ["built without adjoints (shrinking a forward failure)"])
    return gradcheck.judged(
        run.adjoint,  # type: ignore[arg-type]
        list(run.finite_differences),
        list(run.scales),
        gradcheck.gradient_precision(*gradcheck.float_arrays(params)),
        reasons,
    )


def gradient_check(
    source: str, kernel_name: str, params: Sequence[Param], inputs: Inputs, contract: bool = True
) -> GradResult:
    """One kernel's gradient check, run in this process; without `contract`, measured whatever the
    contract says (what the check would say of a kernel outside it)."""
    (run,) = execute([Case(source, kernel_name, tuple(params), inputs, gradient=True)])
    if contract:
        return judge_gradient(Kernel(source, kernel_name), params, run)
    if not run.measured_gradient:
        return GradResult("not_measured", [run.message or "no gradient measured"])
    precision = gradcheck.gradient_precision(*gradcheck.float_arrays(params))
    return gradcheck.judged(run.adjoint, list(run.finite_differences), list(run.scales), precision, [])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class TargetCheck:
    """Kernels checked under `target` (on `devices`: the first runs every check, the others repeat the
    launches for comparison), and compared with `against` when given."""

    target: Installation
    against: Installation | None = None
    devices: tuple[str, ...] = ("cpu",)

    @property
    def versions(self) -> dict[str, str]:
        sides = (self.target, self.against) if self.against else (self.target,)
        return {s.role: s.name for s in sides}

    def check(
        self,
        reports: list[Report],
        watch: Watch | None = None,
        quick: bool = False,
        gradients: bool = True,
        isolated: bool = True,
        debug: bool = False,
    ) -> list[Report]:
        """Every check on `reports` (compiled by the pinned Warp already: those that failed stay so);
        `quick` (for shrinking): no debug build unless `debug`, and no float64 twins to say which side
        is right;
        without `gradients` (shrinking a failure of forward results), no adjoints built or measured;
        not `isolated`: the pinned Warp's run in this process (see `run_under`)."""
        for r in reports:
            r.metadata["warp"] = self.versions
        ready = [r for r in reports if not r.failures and _described(r)]
        sides = [(self.target, ready)]
        if self.against is not None:  # checked at the same time, without a debug build
            sides.append((self.against, [fresh(r) for r in ready]))
        first = {"debug": debug or not quick, "watch": watch, "devices": self.devices}
        _at_once(
            *(
                partial(run_under, *side, gradients=gradients, isolated=isolated, **(first if n == 0 else {}))
                for n, side in enumerate(sides)
            )
        )
        if (debug or not quick) and not self.target.pinned:
            debug_deaths_told(ready)
        for installation, checked in sides:
            for r in checked:
                judge_run(r, installation)
        _at_once(*(partial(rounding, i, [r for r in c if _mismatch(r)]) for i, c in sides))
        if self.against is not None:
            self._compare(ready, sides[1][1], twins=not quick)
        return reports

    def _compare(self, reports: list[Report], others: list[Report], twins: bool) -> None:
        """Each kernel's results under the two installations compared; its failures under the other
        one added (one failure where both show it)."""
        assert self.against is not None
        for r, other in zip(reports, others, strict=True):
            r.failures = merged(r.failures, other.failures)
            r.metadata["against"] = other.metadata
        ran = [
            (r, o)
            for r, o in zip(reports, others, strict=True)
            if r.run is not None and o.run is not None and r.run.ran and o.run.ran
        ]
        differing = [(r, o, d) for r, o in ran if (d := disagreements(r, o))]
        float64 = self._twins([r for r, _, d in differing if d.get("forward")]) if twins else {}
        for r, o, d in differing:
            verdict = _verdict(r, o, d, float64.get(id(r)), self.target, self.against)
            r.against = o.run
            if id(r) in float64:
                r.float64 = float64[id(r)][0]
            r.metadata["differential"] = verdict
            if _told_already(r, verdict):
                continue
            tested = [self.target.name, self.against.name]  # which are affected: the verdict's
            r.failures.append(Failure("differential", json.dumps(verdict, sort_keys=True), tested))

    def _twins(self, reports: list[Report]) -> dict[int, tuple[Arrays, Arrays]]:
        """The float64 twins' outputs under (target, against), by id of the report, where both ran."""
        assert self.against is not None
        twins = {id(r): t for r in reports if (t := twin_report(r)) is not None}
        copies = [{k: fresh(t) for k, t in twins.items()} for _ in range(2)]
        sides = zip((self.target, self.against), copies, strict=True)
        _at_once(*(partial(run_under, side, list(c.values()), gradients=False) for side, c in sides))
        outputs = {k: [_outputs(c[k]) for c in copies] for k in twins}
        return {k: (ours, theirs) for k, (ours, theirs) in outputs.items() if ours and theirs}


def debug_deaths_told(reports: list[Report]) -> None:
    """A debug build that died under another installation is a generator defect only if the pinned
    Warp's debug build dies on the kernel too (the grammar's reference for undefined behaviour: it
    asserts every array access); if that one runs it, the target's debug code is at fault, a
    `debug_crash` of its version (Warp 1.10's debug build of a `@wp.func` returning a tuple dies with
    SIGSEGV, measured: not the generator's)."""
    dying = [r for r in reports if any(f.kind == "generator_defect" for f in r.failures)]
    if not dying:
        return
    again = [fresh(r) for r in dying]
    run_under(installation(None, "target"), again, debug=True, gradients=False)
    for r, pinned in zip(dying, again, strict=True):
        if any(f.kind == "generator_defect" for f in pinned.failures):
            continue
        told = [
            Failure("debug_crash", f.message, f.versions) for f in r.failures if f.kind == "generator_defect"
        ]
        r.failures = [f for f in r.failures if f.kind != "generator_defect"] + told
        r.status = Status("crash", "debug build (the pinned Warp's debug build runs the kernel)")


def _outputs(report: Report) -> Arrays | None:
    """The first launch's arrays of a report's kernel, if it ran."""
    return report.run.outputs if report.run is not None and report.run.ran else None


def _told_already(report: Report, verdict: dict[str, Any]) -> bool:
    """Whether differing gradients are the wrong side's own gradient finding, found already."""
    if verdict["part"] != ["gradient"] or not verdict["affected"]:
        return False
    return any(f.kind == "gradient" and verdict["affected"][0] in f.versions for f in report.failures)


def _at_once(*actions: Callable[[], Any]) -> None:
    """Run `actions` at the same time (each waits on processes of its own), raising the first error; one
    action runs in this thread (its child is this thread's: a terminal's Ctrl-C and Linux's
    parent-death signal treat it as the process's own)."""
    if len(actions) == 1:
        actions[0]()
        return
    with ThreadPoolExecutor(len(actions)) as pool:
        for future in [pool.submit(a) for a in actions]:
            future.result()


def merged(ours: list[Failure], theirs: list[Failure]) -> list[Failure]:
    """Both installations' failures, one failure (naming both versions) for a kind both show alike."""
    result = list(ours)
    for f in theirs:
        n = next((n for n, g in enumerate(result) if _alike(f, g)), None)
        if n is None:
            result.append(f)
        else:
            result[n] = Failure(result[n].kind, result[n].message, [*result[n].versions, *f.versions])
    return result


def _alike(f: Failure, g: Failure) -> bool:
    if f.kind != g.kind:
        return False
    return not by_message(f.kind, f.message) or normalised(f.message) == normalised(g.message)


def fresh(report: Report) -> Report:
    """A report of the same kernel and launch, nothing checked yet."""
    return Report(
        report.seed,
        report.kernel_name,
        report.kernel_type,
        report.source,
        params=report.params,
        inputs=report.inputs,
    )


def _described(report: Report) -> bool:
    """Draw the report's params and inputs with the pinned Warp (no build); label what cannot run."""
    try:
        report.params, report.inputs = describe(report.source, report.kernel_name, report.seed)
    except Unsupported as e:
        report.status = Status("unsupported", str(e))
        return False
    return True


def _mismatch(report: Report) -> bool:
    return report.metadata.get("gradcheck", {}).get("status") == "mismatch"


def twin_report(report: Report) -> Report | None:
    """A report for the float64 twin of `report`'s kernel, on the same (widened) inputs, or None."""
    twin = float64_twin(report.kernel)
    if twin is None or report.inputs is None:
        return None
    try:
        params, _ = describe(twin.source, twin.name, report.seed)
    except Unsupported:
        return None
    inputs = float64_inputs(params, report.inputs)
    checked = Report(report.seed, twin.name, report.kernel_type, twin.source, params=params, inputs=inputs)
    checked.kernel = twin  # lowered already
    return checked


def rounding(installation: Installation, reports: list[Report]) -> None:
    """Each gradient mismatch judged with its float64 twin's check under `installation` and the adjoint's
    noise (`gradcheck.confirmed`): only a confirmed one stays a failure."""
    twins = {id(r): t for r in reports if (t := twin_report(r)) is not None}
    noisy = {id(r): fresh(r) for r in reports}
    run_under(installation, [*twins.values(), *noisy.values()], noise=True)
    for r in reports:
        t = twins.get(id(r))
        grad64 = _gradient(t) if t is not None and t.run is not None and t.run.ran else None
        noise = noisy[id(r)].run.adjoint_noise if noisy[id(r)].run is not None else None
        if noise is None:  # the second run did not measure it (it did not run again): nothing is confirmed
            noise = float("inf")
        told = gradcheck.confirmed(GradResult(**r.metadata["gradcheck"]), noise, grad64)
        r.metadata["gradcheck"] = told.as_dict()
        others = [f for f in r.failures if f.kind != "gradient"]
        ours = [
            Failure("gradient", json.dumps(told.as_dict()), f.versions)
            for f in r.failures
            if f.kind == "gradient"
        ]
        r.failures[:] = others + ours if told.status == "mismatch" else others


def _gradient(report: Report) -> GradResult:
    assert report.run is not None
    return judge_gradient(report.kernel, report.params, report.run)


# ----------------------------------------------------------------------------- comparing two sides


def disagreements(ours: Report, theirs: Report) -> dict[str, Any]:
    """Where two installations' results for one kernel differ beyond the tolerance policy: the forward
    arrays that differ, and the adjoints if they do (kernels inside the autodiff contract only)."""
    assert ours.inputs is not None and ours.run is not None and theirs.run is not None
    a, b = ours.run.outputs, theirs.run.outputs
    accumulators = {p.name for p in leaves(ours.params) if p.role == "accumulator"}
    found: dict[str, Any] = {}
    differing = tolerance.mismatches(a, b, accumulators, ours.inputs.threads)
    if differing:
        found["forward"] = differing
    grads = [r.metadata.get("gradcheck", {}) for r in (ours, theirs)]
    if all("adjoint" in g for g in grads):  # measured inside the contract on both sides
        ad, other = ours.run.adjoint, theirs.run.adjoint
        precision = gradcheck.gradient_precision(*gradcheck.float_arrays(ours.params))
        scales = [*ours.run.scales, *theirs.run.scales]
        tol = gradcheck.tolerance([ad, other], scales, precision)
        if abs(ad - other) > tol:
            found["gradient"] = {"adjoints": [ad, other], "tolerance": tol}
    return found


#: Gradient-check outcomes in which the adjoint agrees with finite differences.
AGREEING = ("passed", "float32_rounding", "trivial")


def _verdict(
    ours: Report,
    theirs: Report,
    differing: dict[str, Any],
    float64: tuple[Arrays, Arrays] | None,
    target: Installation,
    against: Installation,
) -> dict[str, Any]:
    """What differs, and which side is right (`right`, by `decided_by`; `affected`: the wrong ones).

    Differing forward results are decided by the float64 twins when they agree with each other (the
    side matching them is right), or else, for float64 results, when one side's are the other's rounded
    to float32 (it lost precision).  Differing gradients alone (the forward results agree) are decided
    by each side's own finite differences.  Otherwise the verdict is open (`right` empty).
    """
    sides = {target.name: ours, against.name: theirs}
    verdict: dict[str, Any] = {"versions": [target.name, against.name], "part": sorted(differing)}
    right: list[str] = []
    if "forward" in differing:
        names = differing["forward"]
        outputs = {v: r.run.outputs for v, r in sides.items() if r.run is not None}
        verdict["arrays"] = names
        verdict["max_difference"] = {
            n: float(np.nanmax(np.abs(outputs[target.name][n].astype(np.float64) - outputs[against.name][n])))
            for n in names
        }
        if float64 is None:
            verdict["float64"] = "no float64 twin (or it did not run)"
        elif tolerance.mismatches(*float64, set(), 1):
            verdict["float64"] = "the float64 twins differ too: the versions compute different functions"
        else:
            verdict["float64"] = "the float64 twins agree"
            right = [v for v in sides if all(_close_to(float64[0][n], outputs[v][n]) for n in names)]
            verdict["agrees_with_float64"] = right
            verdict["decided_by"] = "float64"
        lost = [
            v for v, w in (tuple(sides), tuple(sides)[::-1]) if _lost_precision(outputs[v], outputs[w], names)
        ]
        if not right and len(lost) == 1:
            right = [v for v in sides if v not in lost]
            verdict["decided_by"] = "precision"
            verdict["precision"] = (
                f"Warp {lost[0]}'s float64 results are Warp {right[0]}'s rounded to float32"
            )
    if "gradient" in differing:
        verdict["adjoints"] = dict(zip(sides, differing["gradient"]["adjoints"], strict=True))
        passed = [v for v, r in sides.items() if r.metadata["gradcheck"].get("status") in AGREEING]
        verdict["agrees_with_finite_differences"] = passed
        if "forward" not in differing:  # else each side's differences are of its own forward results
            right = passed
            verdict["decided_by"] = "finite_differences"
    right = right if len(right) == 1 else []
    verdict["right"] = right
    verdict["affected"] = [v for v in sides if v not in right] if right else []
    return verdict


def _lost_precision(mine: dict[str, np.ndarray], theirs: dict[str, np.ndarray], names: list[str]) -> bool:
    """Whether every differing array is float64 and `mine` holds `theirs` rounded to float32."""
    pairs = [(mine[n], theirs[n]) for n in names]
    return all(
        a.dtype == np.float64 and np.array_equal(a, b.astype(np.float32).astype(np.float64), equal_nan=True)
        for a, b in pairs
    )


def _close_to(reference: np.ndarray, value: np.ndarray) -> bool:
    """A float32 (or integer) result matches a float64 reference under the tolerance policy of its type."""
    return tolerance.close(reference.astype(value.dtype), value)
