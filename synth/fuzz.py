"""`python -m synth fuzz`: differential fuzzing of generated kernels, run like a test runner.

Per kernel (candidate seeds as in the main command; `candidate_kernel`): Warp's code
for it compiles (CPU clang and CUDA NVRTC); a debug build of it runs on CPU without
a failed array-bounds assertion or a signal (else the generator emitted undefined
behaviour: a `generator_defect`); a release build launches on CPU with inputs drawn
from its seed, two launches give the same bytes, its backward matches finite
differences, and, with a CUDA GPU, its GPU results match the CPU's (`check.harness`).
Kernels are checked in groups, each in a child process (`check.isolation`); after
each group its results are appended and checkpointed (`synth.fuzz_results`), so an
interrupted run continues where it stopped.  A failure that matches a known Warp
bug's signature (`check.known`) is reported as known; a new one is shrunk and written
to `OUT/findings/` as a plain-Warp reproducer.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import warp_access
from check.findings import FINDINGS_DIR, Finding, read_findings, write_finding
from check.harness import Report, check_compiles, execute_group
from check.isolation import ChildFailed, Watch, execute_isolated
from check.known import known_as
from emit.lower import DEVICES
from emit.writer import DatasetMismatch
from grammar.sample import Sample, sample
from grammar.strategies import DrawnKernel
from grammar.unparse import to_source
from synth.args import Parser, UsageError, check_writable, positive_int, seed
from synth.fuzz_report import FuzzProgress, print_summary
from synth.fuzz_results import EXIT_CODES, EXIT_HARNESS, ResultsWriter, result_line, summarize
from synth.pipeline import candidate_seed

#: Kernels checked per compiled module, per child process and per checkpoint.
GROUP = 25


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help; the epilog (exit statuses) kept line by line."""


def build_fuzz_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth fuzz",
        description="Differential fuzzing of generated Warp kernels, run like a test runner.",
        epilog="exit status:\n" + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES.items()),
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--device", choices=DEVICES, default="cuda", help="cuda: also compare GPU with CPU results (on a GPU)"
    )
    parser.add_argument("--count", type=positive_int, default=100, metavar="N", help="kernels to fuzz")
    parser.add_argument("--seed", type=seed, default=0, metavar="S", help="base seed")
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "fuzz", metavar="DIR", help="results")
    parser.add_argument(
        "--group",
        type=positive_int,
        default=GROUP,
        metavar="K",
        help="kernels per compiled module and per checkpoint (results do not depend on it)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="discard results and findings in --out instead of resuming"
    )
    parser.add_argument("--no-shrink", action="store_true", help="write new findings unshrunk")
    return parser


#: Of every DIFFERENTIABLE_EVERY candidates, the first is drawn under the dataset's policy (so
#: fuzz meets every construct) and the others under the differentiable one (float data flow
#: through differentiable operations: gradient checks that compare real derivatives).
DIFFERENTIABLE_EVERY = 3


def candidate_kernel(base_seed: int, index: int) -> Sample:
    """The kernel fuzzed as candidate `index` of a run: the one place that picks it."""
    return sample(candidate_seed(base_seed, index), differentiable=index % DIFFERENTIABLE_EVERY != 0)


def run_fuzz(args: argparse.Namespace) -> int:
    check_writable(args.out)
    identity = {"command": "fuzz", "device": args.device, "seed": args.seed}
    try:
        results = ResultsWriter(args.out, identity, fresh=args.fresh)
    except DatasetMismatch as e:
        raise UsageError(str(e)) from None
    warp_access.init_warp()
    gpu = _gpu(args.device)
    session_start, earlier = time.perf_counter(), results.progress.seconds
    try:
        with FuzzProgress(args.count, results.progress.records) as progress:
            progress.start(_start_line(args, results.progress.records))
            for indices in results.pending(args.count, args.group):
                reports = check_group(args.seed, indices, gpu, progress.watch)
                lines = [
                    result_line(k, r, file_findings(args.out, r, gpu, not args.no_shrink, progress.status))
                    for k, r in zip(indices, reports, strict=True)
                ]
                results.append_group(lines, earlier + time.perf_counter() - session_start)
                progress.group_done(results.progress.records, results.progress.counters)
    except ChildFailed as e:
        print(f"synth fuzz: error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    finally:
        results.close()
    summary = summarize(results.lines(), gpu, results.progress.seconds)
    results.write_stats(summary)
    print_summary(summary, args.device, str(args.out))
    return summary["exit_status"]


def _gpu(device: str) -> bool:
    """Whether CPU/GPU comparisons run; with `--device cuda` and no GPU, says so in one line."""
    if device != "cuda":
        return False
    import warp as wp

    if wp.get_cuda_device_count() == 0:
        print("synth fuzz: no CUDA GPU on this machine; running the CPU checks only", file=sys.stderr)
        return False
    return True


def _start_line(args: argparse.Namespace, done: int) -> str:
    if done >= args.count:
        return f"{args.out} holds {done} kernels already (--count {args.count}): nothing to check"
    where = f"resuming at kernel {done + 1} of {args.count}" if done else f"checking {args.count} kernels"
    return f"{where} (seed {args.seed}, {args.group} per group) -> {args.out}"


# ----------------------------------------------------------------------------- checks


def check_group(base_seed: int, indices: range, gpu: bool, watch: Watch | None = None) -> list[Report]:
    """Every check on candidates `indices`: compiled on both backends here, executed in a child."""
    reports = []
    for k in indices:
        s = candidate_kernel(base_seed, k)
        policy = {"policy": "differentiable" if s.policy and s.policy.differentiable else "dataset"}
        reports.append(Report(s.seed, s.kernel_name, s.kernel_type, to_source(s.tree), metadata=policy))
    check_compiles(reports, "cpu")
    check_compiles(reports, "cuda")
    return execute_isolated(reports, gpu, watch)


def fails_like(kind: str, device: str, seed: int, gpu: bool) -> Callable[[DrawnKernel], bool]:
    """Whether a module on its own shows failure `kind` (the shrinking predicate)."""

    def fails(k: DrawnKernel) -> bool:
        report = Report(seed, k.kernel_name, "", k.source)
        try:
            if kind == "compile":
                check_compiles([report], device)
            elif kind == "crash":  # only a crash needs a process of its own per try
                report = execute_isolated([report], gpu)[0]
            else:  # in this process: no debug build (its assertions end the process that meets them)
                execute_group([report], gpu, debug=False)
        except Exception:  # a drawn kernel that breaks the harness is not the failure being shrunk
            return False
        return any(found == kind for found, _ in report.failures)

    return fails


# ----------------------------------------------------------------------------- findings


def file_findings(
    out: Path, r: Report, gpu: bool, shrink: bool, status: Callable[[str], None] = lambda text: None
) -> list[dict[str, str]]:
    """The result line's failures of `r`, known ones named; new ones (and generator defects) written to
    `out/findings/` unless an earlier, interrupted session filed them.

    Generator defects are written as found: the seed regenerates them, and each shrinking try
    would cost a process and a debug build.
    """
    failures = []
    for kind, message in r.failures:
        known = None if kind == "generator_defect" else known_as(kind, r.source, message)
        failures.append({"kind": kind} | ({"known": known} if known else {}))
        device = "cuda" if kind == "cpu_gpu_mismatch" or message.startswith("cuda") else "cpu"
        if known is None and not _filed(out, kind, device, r.seed):
            small = shrink and kind != "generator_defect"
            status(f"{'shrinking' if small else 'writing'} a {kind} finding (seed {r.seed})")
            found = Finding(kind, device, r.kernel_name, r.source, message, r.seed, False, r.inputs, r.params)
            write_finding(out, _shrunk(found, gpu) if small else found)
    return failures


def _filed(out: Path, kind: str, device: str, seed: int) -> bool:
    filed = read_findings(out / FINDINGS_DIR)
    return any((f["kind"], f["device"], f["seed"]) == (kind, device, seed) for f in filed)


def _shrunk(finding: Finding, gpu: bool) -> Finding:
    from check.shrink import shrink_failure

    assert finding.seed is not None
    return shrink_failure(finding, fails_like(finding.kind, finding.device, finding.seed, gpu))
