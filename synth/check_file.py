"""`python -m synth check FILE.py`: the fuzzer's checks on the kernels of a user's own file.

The file's module-level `@wp.kernel`s (or `--kernel NAME`) are checked as `fuzz` checks a
generated kernel: Warp's code compiles (CPU clang; CUDA NVRTC with `--device cuda`, which needs no
GPU), a debug build launches on CPU without a failed bounds assertion or a signal, a release
build gives the same bytes twice, its backward matches finite differences, and on a machine with
a CUDA GPU (`--device cuda`) its GPU results match the CPU's; without one that comparison is
skipped, saying so.  Kernels are launched under the launch contract (README "Launch contract":
every array has the launch shape, inputs drawn from `--seed`) by the fuzzer's own executor
(`check.harness`, each kernel in a child process: `check.isolation`); a kernel outside the
contract (a parameter type it cannot draw, an array it cannot tell the role of) is told in one
line and not checked further.

Each kernel is checked in the file's module with the other kernels left out (and any
`if __name__ == "__main__":` block: a reproducer must not run it).  A debug build's failed
assertion or signal is the user's `undefined_behaviour` finding (for a generated kernel it would
be the generator's defect).  Findings are filed as `fuzz` files them, unshrunk (the reproducer
holds the file's code as written), in `--out`/findings/ (emptied first: they are the file's as it
is now), and the exit status is `fuzz`'s.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import warp_access
from check import execute
from check.findings import FINDINGS_DIR
from check.fuzz.campaign import Checks
from check.fuzz.filing import Filer
from check.fuzz.results import EXIT_CODES, EXIT_HARNESS, result_line, summarize
from check.harness import Failure, Report, Status, check_compiles
from check.isolation import ChildFailed
from emit.lower import DEVICES
from emit.writer import claim_output, mark_output
from synth.args import Parser, UsageError, check_writable, seed

#: The kind a debug build's failed assertion or signal is for a user's kernel (`check.isolation`
#: names it `generator_defect`, the generator's fault, for a generated one).
UNDEFINED = "undefined_behaviour"
SUMMARY = "check.json"
CHECKED = "check results"  # what the --out marker says (`emit.writer.claim_output`)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth check",
        description="Run the fuzzer's checks (compile, debug build, determinism, gradient, CPU/GPU) on the "
        "module-level @wp.kernel functions of your own file.",
        epilog="exit status:\n" + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES.items()),
    )
    parser.add_argument("file", type=Path, metavar="FILE.py", help="a Python file defining Warp kernels")
    parser.add_argument("--kernel", metavar="NAME", help="check this kernel only (default: every one)")
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu: the checks on the CPU, as the main job and fuzz do; cuda: also compile with NVRTC (no "
        "GPU needed) and, on a CUDA GPU, compare GPU with CPU results",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, metavar="S", help="seed of the launch inputs (default: 0)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts") / "check",
        metavar="DIR",
        help="findings/ and check.json (default: artifacts/check)",
    )
    return parser


# ----------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class UserKernel:
    name: str
    source: str  # the file's module with the other kernels (and any __main__ block) left out


def read_kernels(path: Path, only: str | None) -> list[UserKernel]:
    """The file's module-level kernels (or `only`), each with its module; bad input is a `UsageError`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read it ({e})") from None
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as e:
        raise UsageError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    names = kernel_names(tree)
    if not names:
        raise UsageError(f"{path}: no module-level @wp.kernel function")
    if only is not None and only not in names:
        raise UsageError(f"{path}: no kernel {only!r} (its kernels: {', '.join(names)})")
    return [UserKernel(n, _module_of(tree, n, names)) for n in names if only in (None, n)]


def kernel_names(tree: ast.Module) -> list[str]:
    """Names of the module-level functions decorated `@wp.kernel` or `@wp.kernel(...)` (warp imported
    under any name, or `kernel` imported from it)."""
    imports = [a for s in tree.body if isinstance(s, ast.Import) for a in s.names]
    warps = {a.asname or a.name for a in imports if a.name == "warp"}
    direct = {
        a.asname or a.name
        for s in tree.body
        if isinstance(s, ast.ImportFrom) and s.module == "warp"
        for a in s.names
        if a.name == "kernel"
    }
    functions = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
    return [f.name for f in functions if any(_is_kernel(d, warps, direct) for d in f.decorator_list)]


def _is_kernel(decorator: ast.expr, warps: set[str], direct: set[str]) -> bool:
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(node, ast.Name):
        return node.id in direct
    return isinstance(node, ast.Attribute) and node.attr == "kernel" and _name(node.value) in warps


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _module_of(tree: ast.Module, kernel: str, kernels: list[str]) -> str:
    """The module without the other kernels and without `if __name__ == "__main__":` blocks."""
    others = set(kernels) - {kernel}
    body = [s for s in tree.body if not _is_main_block(s) and getattr(s, "name", None) not in others]
    return ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"


def _is_main_block(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "__name__" in ast.unparse(stmt.test)


def refuse_unimportable(path: Path, kernel: UserKernel) -> None:
    """A `UsageError` if running the kernel's module raises (a Python error of the file's, not Warp's)."""
    try:
        with warp_access.WarpModule(f"synth_check_{kernel.name}", kernel.source):
            pass
    except (Exception, SystemExit) as e:
        said = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
        raise UsageError(f"{path}: running it for kernel {kernel.name} raised {said}") from None


# ----------------------------------------------------------------------------- the checks


def run(args: argparse.Namespace) -> int:
    kernels = read_kernels(args.file, args.kernel)
    claim_output(args.out, CHECKED)
    check_writable(args.out)
    mark_output(args.out, CHECKED)
    shutil.rmtree(args.out / FINDINGS_DIR, ignore_errors=True)  # a run's findings are the file's of now
    warp_access.init_warp()
    for k in kernels:
        refuse_unimportable(args.file, k)
    gpu = _gpu(args.device)
    named = ", ".join(k.name for k in kernels)
    print(
        f"synth check: {args.file}: {named} (warp {warp_access.PINNED_WARP_VERSION}) -> {args.out}",
        file=sys.stderr,
    )
    start = time.perf_counter()
    reports = [Report(args.seed, k.name, "", k.source, metadata={"file": str(args.file)}) for k in kernels]
    try:
        checked = check_reports(reports, args.device, gpu)
    except ChildFailed as e:
        print(f"synth check: error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    filer = Filer(args.out, Checks.pinned(gpu), shrink=False)
    lines = [result_line(n, r, filer.file(r)) for n, r in enumerate(checked)]
    summary = summarize(lines, gpu, time.perf_counter() - start)
    filer.summarize(lines)
    (args.out / SUMMARY).write_text(json.dumps({"summary": summary, "kernels": lines}, indent=1) + "\n")
    for report, line in zip(checked, lines, strict=True):
        print("\n".join(kernel_lines(report, line, args.device, gpu, args.out)))
    status = summary["exit_status"]
    print(f"exit status {status}: {EXIT_CODES[status]}")
    return status


def _gpu(device: str) -> bool:
    """Whether CPU/GPU comparisons run: `--device cuda` on a machine with a CUDA GPU."""
    import warp as wp

    return device == "cuda" and wp.get_cuda_device_count() > 0


def check_reports(reports: list[Report], device: str, gpu: bool) -> list[Report]:
    """The fuzzer's checks on the reports' kernels (`check.fuzz.campaign.Checks.group` for a user's kernels);
    a kernel outside the launch contract is labelled and not checked."""
    fitting = [r for r in reports if fits_contract(r)]
    for compiled in ("cpu", "cuda") if device == "cuda" else ("cpu",):
        check_compiles(fitting, compiled)
    checked = dict(zip(map(id, fitting), Checks.pinned(gpu).target.check(fitting), strict=True))
    for r in checked.values():
        r.failures = [_users(f, r.kernel_name) for f in r.failures]
        if r.status is not None and r.status.kind == "generator_defect":
            r.status = Status(UNDEFINED, r.status.reason)
    return [checked.get(id(r), r) for r in reports]


def fits_contract(report: Report) -> bool:
    """Whether the executor can draw the kernel's arguments (read off its Python definition, unbuilt);
    if not, the report says why.  A module that does not load is the checks' to report."""
    try:
        execute.describe(report.source, report.kernel_name, report.seed)
    except execute.Unsupported as e:
        report.status = Status("unsupported", str(e))
        return False
    except Exception:
        return True
    return True


def _users(f: Failure, kernel: str) -> Failure:
    """A debug build's failure is the user's undefined behaviour, not a generator defect; its message
    names the kernel (findings of this kind are grouped by message: each kernel's is its own)."""
    return Failure(UNDEFINED, f"{kernel}: {f.message}", f.versions) if f.kind == "generator_defect" else f


# ----------------------------------------------------------------------------- the report


def kernel_lines(report: Report, line: dict[str, Any], device: str, gpu: bool, out: Path) -> list[str]:
    """What the checks said of one kernel: a line per check, then one per failure with its finding."""
    meta, failed = report.metadata, {f.kind for f in report.failures}
    status = report.status
    if status is not None and status.kind.startswith("unsupported"):
        reason = status.reason
        return [f"{report.kernel_name}: not checked, outside the launch contract: {reason}"]
    compiled = "cpu, cuda" if device == "cuda" else "cpu"
    rows = [
        ("compile", "FAILED" if "compile" in failed else f"passed ({compiled})"),
        ("debug build", _outcome(meta.get("debug") == "passed", UNDEFINED in failed)),
        ("determinism", _outcome(meta.get("deterministic") is True, "nondeterministic" in failed)),
        ("gradient", _gradient(meta.get("gradcheck"))),
        ("CPU/GPU", _cpu_gpu(meta.get("cpu_gpu"), device, gpu)),
    ]
    lines = [report.kernel_name, *(f"  {check:<12} {outcome}" for check, outcome in rows)]
    for f, entry in zip(report.failures, line["failures"], strict=True):
        known = entry.get("known")
        filed = f"known Warp bug {known}" if known else out / "findings" / entry["finding"]
        lines.append(f"  {f.kind}: {' '.join(f.message.split())[:300]} -> {filed}")
    return lines


def _outcome(passed: bool, failed: bool) -> str:
    return "passed" if passed else "FAILED" if failed else "not run"


def _gradient(grad: dict[str, Any] | None) -> str:
    if grad is None:
        return "not run"
    status = "FAILED (mismatch)" if grad["status"] == "mismatch" else grad["status"]
    reasons = grad.get("reasons", [])
    return f"{status}: {'; '.join(reasons)}" if reasons and status != "passed" else status


def _cpu_gpu(compared: dict[str, Any] | None, device: str, gpu: bool) -> str:
    if device == "cpu":
        return "skipped: --device cpu"
    if not gpu:
        return "skipped: no CUDA device"
    if compared is None:
        return "not run"
    return "FAILED" if compared["differing"] or compared["unstable"] else "passed"
