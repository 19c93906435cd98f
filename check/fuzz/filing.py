"""Filing the fuzzer's failures as findings: known ones named, new ones grouped by signature and shrunk.

A failure of values (`check.races.RACY_KINDS`: a gradient, differing results) of a
kernel in which two threads or blocks write one element of an output is a `race`,
the generator's defect (`check.races`).  Each failure of a kernel is then, in this
order: a known Warp bug (`check.known`, for the pinned version), a hit of a finding
already filed (same class, and the same normalised message or every construct of
that finding's shrunk kernel: `check.signature`), or a new finding: shrunk (in the
pinned Warp, Hypothesis search then reduction; under other installations, reduction
of the kernel itself, variants checked a batch per process), checked once more (its
message, launch values and, for a differential, every version's results come from
the shrunk kernel), and written as a plain-Warp reproducer unless its signature
turns out to be filed already.

A reduction step is kept only if the variant fails as the kernel did (its class,
and its normalised message where the message names the cause) and, for a failure
of values, does not race (C-Reduce's interestingness test).  Before a finding is
filed its reproducer is run as saved, as a subprocess, under every installation
the run names (this process's Warp, and `--target-python`'s and `--against`'s);
one that does not reproduce where the finding says it does is deleted and the last
reduction before it is tried (1, 2, 4 ... steps back, then the kernel as found);
if none reproduces nothing is filed (`not_reproduced`).  Results lines name the
finding each failure counts for, and how many reproducers were dropped, so
`SUMMARY.md` gives every finding's hits and seeds.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import warp_access
from check import races
from check.execute import Unsupported
from check.findings import (
    FINDINGS_DIR,
    Finding,
    read_findings,
    reproduced,
    run_reproducer,
    save_reproducer,
    write_finding,
    write_summary,
)
from check.harness import Failure, Report
from check.kinds import KINDS
from check.known import known_as
from check.shrink import FirstFailing, reductions, shrink
from check.signature import by_message, constructs, failure_class, normalised, signature
from grammar.strategies import DrawnKernel

PINNED = warp_access.PINNED_WARP_VERSION


class Filer:
    """Files the failures of checked kernels in `out/findings/` (see the module docstring).

    `checks` checks variants of a kernel (`check.fuzz.campaign.Checks`); `versions`: every Warp version
    the run tests.
    """

    def __init__(
        self, out: Path, checks: Any, shrink: bool, status: Callable[[str], None] = lambda text: None
    ):
        self.out, self.checks, self.shrink, self.status = out, checks, shrink, status
        self.folder = out / FINDINGS_DIR

    def file(self, r: Report) -> list[dict[str, Any]]:
        """The result line's failures of `r`: each with its versions, and its known bug or its finding."""
        entries = []
        for f in self._races_told(r):
            versions = list(f.versions) or [PINNED]
            entry: dict[str, Any] = {"kind": f.kind, "versions": versions}
            known = known_as(f.kind, r.source, f.message) if self._pinned_only(f, versions) else None
            if known:
                entry["known"] = known
            else:
                entry |= self._finding(r, f, versions)
            entries.append(entry)
        return entries

    @staticmethod
    def _races_told(r: Report) -> list[Failure]:
        """`r`'s failures, those of values (`races.RACY_KINDS`) made one `race` if the kernel races
        (`check.races`: a generator defect); whether it does goes into its metadata."""
        if not any(f.kind in races.RACY_KINDS for f in r.failures) or r.inputs is None:
            return r.failures
        try:
            said = races.race(r.source, r.kernel_name, r.params, r.inputs)
        except Unsupported as e:
            r.metadata["race"] = f"unchecked: {e}"
            return r.failures
        r.metadata["race"] = said or "none"
        if said is None:
            return r.failures
        others = [f for f in r.failures if f.kind not in races.RACY_KINDS]
        return [
            *others,
            Failure("race", said, next(f.versions for f in r.failures if f.kind in races.RACY_KINDS)),
        ]

    @staticmethod
    def _pinned_only(f: Failure, versions: list[str]) -> bool:
        """Known bugs are the pinned Warp's, and never generator defects."""
        return not KINDS[f.kind].generators and versions == [PINNED]

    def _finding(self, r: Report, f: Failure, versions: list[str]) -> dict[str, Any]:
        """The result line's entry for `f`: the reproducer of the finding it counts for (`finding`: a
        filed one's, or a new one's, with how many smaller reproducers of it did not reproduce as saved:
        `reproducers_dropped`), or `not_reproduced` when none did (nothing is filed)."""
        klass = failure_class(f.kind, f.message, versions)
        filed = read_findings(self.folder)
        hit = _matching(filed, f, versions, r.source)
        if hit is not None:
            return {"finding": hit["reproducer"]}
        small = self.shrink and not KINDS[f.kind].generators
        self.status(f"{'shrinking' if small else 'writing'} a {f.kind} finding (seed {r.seed})")
        candidates = (
            self._candidates(r, f, klass) if small else iter([_finding_of(r, f, self.checks.versions)])
        )
        dropped = 0
        for finding in candidates:
            finding.signature = signature(finding.kind, finding.message, versions, finding.source)
            same = next((x for x in filed if finding.signature == x.get("signature")), None)
            same = same or next((x for x in filed if x["reproducer"] == f"{finding.key}.py"), None)
            found = {"reproducers_dropped": dropped} if dropped else {}
            if same is not None:
                return {"finding": same["reproducer"]} | found
            script = save_reproducer(self.out, finding)
            statuses = {
                v: run_reproducer(script, python) for v, python in self._interpreters(finding).items()
            }
            if reproduced(finding, statuses):
                name = write_finding(self.out, finding, {"exit_status": statuses} | found).name
                return {"finding": name} | found
            script.unlink()
            dropped += 1
        return {"not_reproduced": True, "reproducers_dropped": dropped}

    def _interpreters(self, finding: Finding) -> dict[str, str]:
        """The interpreter of each Warp installation the run names (this process's, the target's and the
        other one's), by version; none for a CUDA finding on a machine without a CUDA GPU (its
        reproducer cannot run here, and says so)."""
        if finding.device == "cuda" and warp_access.warp().get_cuda_device_count() == 0:
            return {}
        sides = (self.checks.target.target, self.checks.target.against) if self.checks.elsewhere else ()
        return {PINNED: sys.executable} | {s.name: s.python for s in sides if s is not None}

    def _candidates(self, r: Report, f: Failure, klass: str) -> Iterator[Finding]:
        """Findings of `f` from its smallest kernel on: the kernels reduction kept, from the last one back
        (`_backwards`), each checked once more (its message, launch values and, for a differential,
        every version's results come from it); at last the kernel as found."""
        first = self._first_failing(r.seed, f, klass)
        kernel = DrawnKernel(r.source, r.kernel_name, "")
        if not self.checks.elsewhere:  # the pinned Warp's checks are cheap: search the grammar first
            kernel = shrink(lambda k: first([k]) == 0) or kernel
        kept = [kernel, *reductions(kernel, first_failing=first, batch=self.checks.batch)]
        for small in _backwards(kept):
            if len(small.source) >= len(r.source):
                continue
            variant = Report(r.seed, small.kernel_name, "", small.source)
            again = self.checks.variants([variant], f.kind, device(f), quick=False)[0]
            failure = next((g for g in again.failures if _same(g, klass, f)), None)
            if failure is not None and _interesting(again, f, klass):
                yield replace(_finding_of(again, failure, self.checks.versions), shrunk=True)
        yield _finding_of(r, f, self.checks.versions)

    def _first_failing(self, seed: int, f: Failure, klass: str) -> FirstFailing:
        gradients = _needs_gradients(f, klass)

        def first(variants: Sequence[DrawnKernel]) -> int | None:
            reports = [Report(seed, k.kernel_name, "", k.source) for k in variants]
            try:
                checked = self.checks.variants(reports, f.kind, device(f), gradients=gradients)
            except Exception:  # a variant that breaks the harness: try them alone
                if len(variants) == 1:
                    return None
                return next((n for n, k in enumerate(variants) if first([k]) == 0), None)
            return next((n for n, c in enumerate(checked) if _interesting(c, f, klass)), None)

        return first

    def summarize(self, lines: list[dict[str, Any]]) -> None:
        """SUMMARY.md with each finding's hits (the seeds of the results lines naming it)."""
        hits: dict[str, list[int]] = {}
        for line in lines:
            for failure in line["failures"]:
                if "finding" in failure:
                    hits.setdefault(failure["finding"], []).append(line["seed"])
        if self.folder.exists():
            write_summary(self.folder, hits)


def _backwards(kept: list[DrawnKernel]) -> list[DrawnKernel]:
    """The last of `kept`, then those 1, 2, 4 ... steps before it: a reproducer that does not reproduce
    is replaced by the last reduction that does, found in few checks."""
    places, back = [], 1
    while len(kept) - back >= 0:
        places.append(len(kept) - back)
        back *= 2
    return [kept[n] for n in dict.fromkeys([*places, 0])]


def _interesting(variant: Report, f: Failure, klass: str) -> bool:
    """C-Reduce's interestingness test: a variant is kept only if it fails as `f` did (its class and, for
    a cause named by message, the message) and, for a failure of values, does not race (a race is the
    generator's defect, another failure; a probe that cannot tell counts as one)."""
    if not any(_same(g, klass, f) for g in variant.failures):
        return False
    if f.kind not in races.RACY_KINDS:
        return True
    try:
        return (
            variant.inputs is not None
            and races.race(variant.source, variant.kernel_name, variant.params, variant.inputs) is None
        )
    except Unsupported:
        return False


def _needs_gradients(f: Failure, klass: str) -> bool:
    """Whether variants must be built with adjoints to show `f`: gradient failures, crashes (the
    backward pass may be what raises) and compile failures (the adjoint's code may be what does not
    compile: `no matching function for call to 'adj_cbrt'`; built without it, no variant failed)."""
    return "gradient" in klass or f.kind in ("crash", "compile")


def device(f: Failure) -> str:
    """The device a failure shows on."""
    return "cuda" if f.kind == "cpu_gpu_mismatch" or f.message.startswith("cuda") else "cpu"


def _same(g: Failure, klass: str, f: Failure) -> bool:
    """Whether failure `g` of a variant is of class `klass` and, for a cause named by message, `f`'s."""
    if failure_class(g.kind, g.message, list(g.versions) or [PINNED]) != klass:
        return False
    return not by_message(f.kind, f.message) or normalised(g.message) == normalised(f.message)


def _matching(
    filed: list[dict[str, Any]], f: Failure, versions: list[str], source: str
) -> dict[str, Any] | None:
    """A filed finding `f` is a hit of: the same class, and its message or its shrunk kernel's constructs."""
    if by_message(f.kind, f.message):
        wanted = signature(f.kind, f.message, versions, source)
        return next((x for x in filed if x.get("signature") == wanted), None)
    klass = failure_class(f.kind, f.message, versions) + "|"
    ours = constructs(source)
    return next(
        (x for x in filed if x.get("signature", "").startswith(klass) and constructs(x["source"]) <= ours),
        None,
    )


def _finding_of(r: Report, f: Failure, tested: list[str]) -> Finding:
    """The finding of failure `f` of checked kernel `r`: versions, and for a differential what each
    version gave and what was expected."""
    affected = list(f.versions) or [PINNED]
    recorded: dict[str, dict[str, Any]] = {}
    expected: dict[str, Any] = {}
    if f.kind == "differential":
        verdict = json.loads(f.message)
        affected = verdict["affected"]
        recorded, expected = _recorded(r, verdict)
    versions = {
        "tested": tested,
        "affected": affected,
        "unaffected": [v for v in tested if v not in affected] if affected else [],
    }
    return Finding(
        f.kind,
        device(f),
        r.kernel_name,
        r.source,
        f.message,
        r.seed,
        False,
        r.inputs,
        r.params,
        versions=versions,
        recorded=recorded,
        expected=expected,
    )


def _recorded(r: Report, verdict: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Each version's results a differential compares (the differing arrays, the adjoint), and the float64
    re-execution's arrays where the versions' float64 twins agree."""
    assert r.run is not None and r.against is not None
    runs = {verdict["versions"][0]: r.run, verdict["versions"][1]: r.against}
    recorded: dict[str, dict[str, Any]] = {}
    for version, run in runs.items():
        recorded[version] = {n: run.outputs[n] for n in verdict.get("arrays", [])}
        if "gradient" in verdict["part"]:
            recorded[version]["adjoint"] = run.adjoint
    decided_by, names = verdict.get("decided_by"), verdict.get("arrays", [])
    expected = {}
    if decided_by == "float64":
        assert r.float64 is not None
        expected = {n: r.float64[n] for n in names}
    elif decided_by == "precision":
        expected = {n: recorded[verdict["right"][0]][n] for n in names}
    return recorded, expected
