"""`python -m synth fuzz`: differential fuzzing of generated kernels, run like a test runner.

The command line of a campaign (`check.fuzz.campaign`: which kernels, how they are
checked, by how many workers): its options, its progress and summary (`synth.fuzz_report`).
After each group its results are appended and checkpointed (`check.fuzz.results`), so
an interrupted run continues where it stopped.  A failure that matches a known Warp
bug's signature (`check.known`) is reported as known; a new one is shrunk and written
to `OUT/findings/` as a plain-Warp reproducer, once that reproducer, run as saved
under every installation the run names, reproduces (`check.fuzz.filing`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import warp_access
from check.fuzz.campaign import GROUP, Checks, checked_groups
from check.fuzz.filing import Filer
from check.fuzz.results import (
    EXIT_CODES,
    EXIT_HARNESS,
    RESULTS,
    WORKER_FAILED,
    ResultsWriter,
    result_line,
    summarize,
)
from check.isolation import ChildFailed
from check.judge import Installation, TargetCheck, TargetError, distinct, installation
from emit.lower import DEVICES
from emit.writer import DatasetMismatch
from synth.args import Parser, UsageError, positive_int, seed
from synth.fuzz_report import FuzzProgress, print_summary


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
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu: the checks on the CPU, as the main job does; cuda: also compare GPU with CPU "
        "results (on a machine with a GPU)",
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
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="K",
        help="groups checked at once, each by a worker process (results do not depend on it)",
    )
    parser.add_argument(
        "--target-python",
        default=None,
        metavar="PATH",
        help="build, run and check the kernels with the Warp of this interpreter (another environment's: "
        "a release from 1.5 on, or a source checkout installed there) instead of the pinned one",
    )
    parser.add_argument(
        "--against",
        default=None,
        metavar="PATH",
        help="version-differential: also run every kernel under this interpreter's Warp and compare "
        "results and gradients with the target's (--target-python, or the pinned Warp)",
    )
    return parser


def run_fuzz(args: argparse.Namespace) -> int:
    warp_access.init_warp()
    checks = _checks(args)
    identity = {"command": "fuzz", "device": args.device, "seed": args.seed} | checks.identity
    try:
        results = ResultsWriter(args.out, identity, fresh=args.fresh)
    except DatasetMismatch as e:
        raise UsageError(str(e)) from None
    for note in results.notes:
        print(f"synth fuzz: {note}", file=sys.stderr)
    session_start, earlier = time.perf_counter(), results.progress.seconds
    try:
        with FuzzProgress(args.count, results.progress.records) as progress:
            progress.start(_start_line(args, results.progress.records, checks))
            filer = Filer(args.out, checks, not args.no_shrink, progress.status)
            watch = progress.watch if args.workers == 1 else None
            pending = results.pending(args.count, args.group)
            for indices, reports in checked_groups(checks, args.seed, pending, args.workers, watch):
                lines = [result_line(k, r, filer.file(r)) for k, r in zip(indices, reports, strict=True)]
                results.append_group(lines, earlier + time.perf_counter() - session_start)
                filer.summarize(results.lines())
                progress.group_done(results.progress.records, results.progress.counters)
    except ChildFailed as e:
        print(f"synth fuzz: error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    finally:
        results.close()
    summary = summarize(results.lines(), checks.gpu, results.progress.seconds) | {"warp": checks.warp}
    results.write_stats(summary)
    print_summary(summary, args.device, str(args.out))
    unchecked = summary["execution"].get(WORKER_FAILED)
    if unchecked:
        print(
            f"synth fuzz: error: {unchecked} kernels unchecked: their worker failed twice "
            f"({WORKER_FAILED} in {args.out / RESULTS} says how)",
            file=sys.stderr,
        )
    return summary["exit_status"]


def _checks(args: argparse.Namespace) -> Checks:
    """The checks `args` ask for; an interpreter that cannot serve is a bad argument (one line)."""
    if args.target_python is None and args.against is None:
        return Checks.pinned(_gpu(args.device))
    target = _installation(args.target_python, "target", "--target-python")
    against = _installation(args.against, "against", "--against") if args.against else None
    if against is not None:
        target, against = distinct(target, against)
    return Checks(False, TargetCheck(target, against))


def _installation(python: str | None, role: str, option: str) -> Installation:
    try:
        return installation(python, role)
    except TargetError as e:
        raise UsageError(f"{option} {e}") from None


def _gpu(device: str) -> bool:
    """Whether CPU/GPU comparisons run; with `--device cuda` and no GPU, says so in one line."""
    if device != "cuda":
        return False
    import warp as wp

    if wp.get_cuda_device_count() == 0:
        print("synth fuzz: no CUDA GPU on this machine; running the CPU checks only", file=sys.stderr)
        return False
    return True


def _start_line(args: argparse.Namespace, done: int, checks: Checks) -> str:
    if done >= args.count:
        return f"{args.out} holds {done} kernels already (--count {args.count}): nothing to check"
    where = f"resuming at kernel {done + 1} of {args.count}" if done else f"checking {args.count} kernels"
    under = f" under {checks.describe()}" if checks.elsewhere else ""
    return f"{where}{under} (seed {args.seed}, {args.group} per group) -> {args.out}"


# ----------------------------------------------------------------------------- checks
