"""`python -m synth`: the command line.

Exit status: 0 done (or nothing to do), 1 stopped by a fault (another run holds
--out, a full disk, ...: the one line says how to resume), 2 bad input (an
argument, or an --out this run cannot use), 130 interrupted.  Never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emit.lower import DEVICES
from grammar.labels import KERNEL_TYPES
from synth.args import Parser, UsageError, positive_int, positive_number, seed
from synth.pipeline import ENGINES, KERNEL_TIMEOUT, MAX_RECORD_BYTES

DEFAULT_TARGET_BYTES = 213_476_688


@dataclass(frozen=True)
class Subcommand:
    """`python -m synth NAME ...`: `module.parser()` builds its parser, `module.run(args)` runs it.

    The module is imported only when the command is named.
    """

    module: str
    parser: str
    run: str
    summary: str  # its line in the main --help
    fault_status: int = 1  # exit status when it stops on a fault (a full disk, a busy --out ...)


#: Every subcommand, in the order the main --help lists them.
SUBCOMMANDS = {
    "fuzz": Subcommand(
        "synth.fuzz",
        "build_fuzz_parser",
        "run_fuzz",
        "compile, run and gradient-check kernels; findings as reproducers",
        fault_status=3,  # fuzz's own 1 means "new findings": a fault is its EXIT_HARNESS
    ),
    "check": Subcommand(
        "synth.check_file",
        "build_parser",
        "run",
        "fuzz's checks on the kernels of your own file",
        fault_status=3,
    ),
    "export": Subcommand(
        "synth.export", "build_parser", "run", "write a dataset as Parquet shards, with splits and a card"
    ),
    "stats": Subcommand("synth.inspect", "build_stats_parser", "run_stats", "print a dataset's figures"),
    "show": Subcommand("synth.inspect", "build_show_parser", "run_show", "print one record of a dataset"),
    "validate": Subcommand(
        "synth.validate", "build_parser", "run", "check a dataset: schema, re-lowering, regeneration"
    ),
}


#: The main job's exit statuses (its --help lists them).
EXIT_CODES = {
    0: "done, or nothing to do",
    1: "stopped by a fault (another run holds --out, a full disk, ...): one line says how to resume",
    2: "bad input: an argument, an --out this run cannot use, or options that keep no record",
    130: "interrupted (Ctrl-C): run the same command to resume",
    143: "terminated (SIGTERM): run the same command to resume",
}


def _epilog() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {sub.summary}" for name, sub in SUBCOMMANDS.items()]
    codes = [f"  {code:<3}  {what}" for code, what in EXIT_CODES.items()]
    return "\n".join(
        ["commands (python -m synth COMMAND --help for their options):", *lines, "", "exit status:", *codes]
    )


def _types(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in names if t not in KERNEL_TYPES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown kernel type(s) {unknown}; choose from {','.join(KERNEL_TYPES)}"
        )
    return tuple(t for t in KERNEL_TYPES if t in names)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth",
        usage="%(prog)s [COMMAND] [options]",
        description="Generate a dataset of random Warp kernels paired with the C++/CUDA code\n"
        "Warp generates for them (no COMMAND), or run one of the commands below.",
        epilog=_epilog(),
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="backend to lower for: cpu (C++) or cuda (CUDA C++; no GPU needed). Default: cpu",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--target-bytes",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"write records until dataset.jsonl holds at least N bytes (default {DEFAULT_TARGET_BYTES})",
    )
    size.add_argument(
        "--count",
        type=positive_int,
        default=None,
        metavar="N",
        help="write exactly N records instead of a byte target",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory: new, empty, or a dataset of this command's (default "
        "artifacts/datasets/DEVICE, with the run's other defining options in the name: "
        "cpu-seed7-loop+atomic)",
    )
    parser.add_argument(
        "--seed",
        type=seed,
        default=0,
        metavar="S",
        help="base seed of the run; the same seed gives a byte-identical dataset (default 0)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="K",
        help="worker processes (default: all cores); output does not depend on K",
    )
    parser.add_argument(
        "--types",
        type=_types,
        default=KERNEL_TYPES,
        metavar="a,b",
        # listed with spaces, so help wraps between names, not inside one
        help=f"only these kernel types, separated by commas (default: all): {', '.join(KERNEL_TYPES)}",
    )
    parser.add_argument(
        "--engine",
        choices=tuple(ENGINES),
        default="local",
        help="where workers run: local processes, or a Ray cluster (pip install 'warp-synth[ray]'); "
        "output is the same. Default: local",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --engine ray: the cluster to join (ray.init(address=ADDR)); default: start a local one",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="discard an existing dataset in --out instead of resuming it"
    )
    parser.add_argument(
        "--kernel-timeout",
        type=positive_number,
        default=KERNEL_TIMEOUT,
        metavar="SECONDS",
        help="a worker that spends longer on one kernel is stopped; its chunk of candidates is retried "
        f"once, then skipped and listed in stats.json (default {KERNEL_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-record-bytes",
        type=positive_int,
        default=MAX_RECORD_BYTES,
        metavar="N",
        help=f"skip candidates whose record is larger (counted in stats.json; default {MAX_RECORD_BYTES})",
    )
    parser.add_argument(
        "--verify",
        choices=("compile",),
        default=None,
        help="compile: compile every record (CPU: Warp's clang, CUDA: NVRTC) before it is written; "
        "records that fail go to DIR/findings/",
    )
    return parser


def _check_engine(args: argparse.Namespace) -> None:
    if args.ray_address is not None and args.engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    if args.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--engine ray needs Ray: pip install 'warp-synth[ray]'") from None


def default_out(args: argparse.Namespace) -> Path:
    """`artifacts/datasets/DEVICE` for the main job; a run that other arguments define writes beside it
    (`cpu-seed7-loop+atomic`), so that it never meets the main job's dataset."""
    parts = [args.device]
    if args.seed:
        parts.append(f"seed{args.seed}")
    if args.types != KERNEL_TYPES:
        parts.append("+".join(args.types))
    if args.max_record_bytes != MAX_RECORD_BYTES:
        parts.append(f"max{args.max_record_bytes}")
    if args.verify:
        parts.append(f"verify-{args.verify}")
    return Path("artifacts") / "datasets" / "-".join(parts)


def run_generate(args: argparse.Namespace) -> int:
    from emit.writer import DatasetMismatch, UnusableOutput
    from synth.pipeline import Run, RunConfig
    from synth.progress import Reporter

    out = args.out or default_out(args)
    _check_engine(args)
    # --count and --target-bytes exclude each other; with neither, the main job's byte target
    target = None if args.count is not None else (args.target_bytes or DEFAULT_TARGET_BYTES)
    config = RunConfig(
        device=args.device,
        out=out,
        seed=args.seed,
        target_bytes=target,
        count=args.count,
        workers=args.workers,
        types=args.types,
        fresh=args.fresh,
        verify=args.verify,
        engine=args.engine,
        ray_address=args.ray_address,
        kernel_timeout=args.kernel_timeout,
        max_record_bytes=args.max_record_bytes,
    )
    reporter = Reporter(target_bytes=target, count=args.count)
    try:
        run = Run(config, report=reporter.update)
    except (DatasetMismatch, UnusableOutput) as e:
        raise UsageError(str(e)) from None
    for note in run.writer.notes:
        reporter.say(note)
    reporter.start = start = run.writer.progress
    if run.done(start):
        run.execute()  # writes stats.json (a run killed after its last checkpoint may lack it)
        reporter.say(reporter.nothing_to_do(start, out))
        _write_card(out)
        return 0
    with reporter:
        stats = run.execute()
    reporter.finish(stats, out, run.session_seconds)
    _write_card(out)
    return 0


def _write_card(out: Path) -> None:
    from synth.card import write_jsonl_card

    write_jsonl_card(out)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `docker stop`, `kill`): unwound like Ctrl-C, so the checkpoint is kept."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    from check.supervisor import WorkersFailing
    from emit.schema import DamagedFile
    from emit.writer import OutputError, UnusableOutput

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = SUBCOMMANDS.get(argv[0]) if argv else None
    try:
        if sub is not None:
            module = importlib.import_module(sub.module)
            return getattr(module, sub.run)(getattr(module, sub.parser)().parse_args(argv[1:]))
        return run_generate(build_parser().parse_args(argv))
    except (UsageError, UnusableOutput, DamagedFile) as e:
        print(f"synth: error: {e}", file=sys.stderr)
        return 2
    except (OutputError, WorkersFailing) as e:
        print(f"synth: error: {e}", file=sys.stderr)
        return sub.fault_status if sub else 1
    except BrokenPipeError:  # `show ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Terminated:
        print("synth: terminated (SIGTERM); run the same command again to resume", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("synth: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
