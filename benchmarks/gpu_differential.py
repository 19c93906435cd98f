#!/usr/bin/env python3
"""The CPU<->GPU differential on a machine with a CUDA GPU, in one prepared run, with a report.

    python3 benchmarks/gpu_differential.py pack               # here, once: Warp packed in .gpu/
    python3 benchmarks/gpu_differential.py stage              # there, one call per part but the last
    python3 benchmarks/gpu_differential.py run --out DIR      # there: install, fuzz, report

What it needs there: a CUDA GPU, Python 3.11 or later with pip, numpy, rich, hypothesis and
setuptools (the device machine's own Python has them: its `python3`), and this checkout.  No
network: the device machine reaches no package registry, so warp-lang 1.19.0 travels with the
checkout, taken from the environment that runs `pack` (the project's venv here, which pip filled)
and packed as xz parts in `.gpu/` (ignored by git); each part is carried by one call (at most
64 MiB travel per call), and the parts wait in the warm machine's copy of the checkout for the
last call.  Where `import warp` already gives 1.19.0, no part is needed.

`run` installs the project (`pip install --no-index --no-deps --target`), with the unpacked Warp,
into a folder of its own, then runs `python -m synth fuzz --device cuda` for at most `--minutes`
(then SIGTERM: fuzz keeps every checked group), writes fuzz.json for what was checked, and writes
under `--out`: report.md (kernels checked, outcome counts, findings with their titles and
reproducer paths, device, Warp version, wall time), fuzz.json, results.jsonl, fuzz.log, and
findings.tar.gz (the reproducers and their SUMMARY.md).  Exit status: fuzz's (0 clean, 1 new
findings, 3 harness failures); 1 with one line when there is no GPU or nothing could be installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKED = ROOT / ".gpu"
WARP = "1.19.0"
ARCHIVE = f"warp-{WARP}.tar.xz"
#: Bytes per part: one call's carry (64 MiB with the checkout), with room for the checkout.
PART_BYTES = 56 * 2**20
#: What of the installed Warp the fuzzer does not need (its own tests and examples).
UNNEEDED = ("warp/tests", "warp/examples")
#: Seconds fuzz has to stop after SIGTERM (it ends its workers and keeps its checkpoint).
STOP_SECONDS = 60


class Refused(Exception):
    """Why the run cannot go on, in one line."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except Refused as e:
        print(f"gpu_differential: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True)
    sub.add_parser("pack", help="pack the installed warp-lang into .gpu/ (here)").set_defaults(command=pack)
    sub.add_parser("stage", help="check the parts carried so far (there)").set_defaults(command=stage)
    run_parser = sub.add_parser("run", help="install, fuzz, report (there)")
    run_parser.set_defaults(command=run)
    default_out = os.environ.get("OUT") or "gpu_differential_out"
    run_parser.add_argument("--out", type=Path, default=Path(default_out), help="where the report goes")
    run_parser.add_argument("--minutes", type=float, default=7.0, help="fuzzing budget, then a clean stop")
    run_parser.add_argument("--count", type=int, default=2000, help="kernels at most")
    run_parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    run_parser.add_argument("--group", type=int, default=10, help="kernels per group (and checkpoint)")
    run_parser.add_argument("--seed", type=int, default=0)
    run_parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_differential"), help="scratch")
    return parser


# ----------------------------------------------------------------------------- pack (here)


def pack(args: argparse.Namespace) -> int:
    """Warp, as installed for this interpreter, in xz parts of PART_BYTES under .gpu/."""
    import importlib.metadata

    if importlib.metadata.version("warp-lang") != WARP:
        raise Refused(f"this Python's warp-lang is not {WARP}: run pack in the project's venv")
    site = Path(importlib.metadata.distribution("warp-lang").locate_file(""))
    info = next(site.glob(f"warp_lang-{WARP}.dist-info"))
    shutil.rmtree(PACKED, ignore_errors=True)
    PACKED.mkdir()
    archive = PACKED / ARCHIVE
    excluded = [f"--exclude={p}" for p in UNNEEDED] + ["--exclude=__pycache__"]
    tar = subprocess.Popen(
        ["tar", "-C", str(site), *excluded, "-cf", "-", "warp", info.name], stdout=subprocess.PIPE
    )
    with open(archive, "wb") as f:
        subprocess.run(["xz", "-3", "-T0", "-c"], stdin=tar.stdout, stdout=f, check=True)
    if tar.wait() != 0:
        raise Refused("tar failed packing Warp")
    parts = _split(archive)
    print(f"packed warp-lang {WARP} in {len(parts)} part(s); carry one per device call:")
    for n, part in enumerate(parts):
        step = "run" if n == len(parts) - 1 else "stage"
        carry = [str(part.relative_to(ROOT)), ".gpu/parts"]
        print(f"  carry {json.dumps(carry)}, command: python3 benchmarks/gpu_differential.py {step}")
    return 0


def _split(archive: Path) -> list[Path]:
    parts = []
    with open(archive, "rb") as f:
        while chunk := f.read(PART_BYTES):
            part = PACKED / f"{ARCHIVE}.{len(parts):02d}"
            part.write_bytes(chunk)
            parts.append(part)
    archive.unlink()
    (PACKED / "parts").write_text(f"{len(parts)}\n")
    return parts


# ----------------------------------------------------------------------------- stage, run (there)


def stage(args: argparse.Namespace) -> int:
    gpu = _gpu_name()
    have = sorted(p.name for p in PACKED.glob(f"{ARCHIVE}.*"))
    print(f"gpu_differential: {gpu}; parts here: {', '.join(have) or 'none'} of {_parts_expected()}")
    return 0


def run(args: argparse.Namespace) -> int:
    gpu = _gpu_name()
    start = time.monotonic()
    site = _install(args.work)
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONUNBUFFERED="1")
    count = "import warp_access; warp_access.init_warp(); import warp; print(warp.get_cuda_device_count())"
    if _python(count, env) in ("", "0"):
        raise Refused(f"Warp sees no CUDA device beside {gpu}; nothing checked")
    fuzz_out = args.work / "fuzz"
    args.out.mkdir(parents=True, exist_ok=True)
    status = _fuzz(args, fuzz_out, env)
    checked = _lines(fuzz_out / "results.jsonl")
    if checked:  # fuzz.json of what was checked: the same arguments, nothing left to check
        status = _synth(args, fuzz_out, env, len(checked), args.out / "fuzz-summary.log").returncode
    sys.path.insert(0, str(site))
    _write_report(args.out, fuzz_out, gpu, time.monotonic() - start, status)
    print((args.out / "report.md").read_text())
    return status


def _gpu_name() -> str:
    """The first GPU's name; `Refused` on a machine without one."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        listed = None
    names = [line for line in (listed.stdout if listed else "").splitlines() if line.startswith("GPU ")]
    if not names:
        raise Refused("no CUDA GPU on this machine (nvidia-smi lists none); nothing checked")
    return names[0].split(": ", 1)[1].split(" (UUID")[0]


def _parts_expected() -> int | str:
    count = PACKED / "parts"
    return int(count.read_text()) if count.exists() else "? (run pack here first)"


def _install(work: Path) -> Path:
    """The project and Warp in `work/site`, from this checkout and the carried parts."""
    site = work / "site"
    shutil.rmtree(work, ignore_errors=True)
    site.mkdir(parents=True)
    if _python("import warp; print(warp.__version__)", dict(os.environ)) != WARP:
        _unpack(site)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*pip, "--target", str(site), str(ROOT)], capture_output=True, text=True)
    if done.returncode != 0:
        raise Refused(f"installing the project failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    return site


def _unpack(site: Path) -> None:
    expected = _parts_expected()
    parts = sorted(PACKED.glob(f"{ARCHIVE}.*"))
    if not isinstance(expected, int) or len(parts) != expected:
        raise Refused(
            f"warp-lang {WARP} is not installed and {len(parts)} of {expected} packed parts are here "
            "(each earlier call carries one and runs stage; a machine given back between calls loses them)"
        )
    archive = site.parent / ARCHIVE
    with open(archive, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    with tarfile.open(archive) as tar:
        tar.extractall(site, filter="data")
    archive.unlink()


def _python(code: str, env: dict[str, str]) -> str:
    """The last line `code` prints in this interpreter (environment `env`), or '' if it fails."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""


def _fuzz_args(args: argparse.Namespace, out: Path, count: int) -> list[str]:
    return [
        sys.executable, "-m", "synth", "fuzz", "--device", "cuda", "--count", str(count), "--seed",
        str(args.seed), "--group", str(args.group), "--workers", str(args.workers), "--out", str(out),
    ]  # fmt: skip


def _fuzz(args: argparse.Namespace, out: Path, env: dict[str, str]) -> int:
    """fuzz for at most `args.minutes`, then SIGTERM (it keeps what it checked); its exit status."""
    with open(args.out / "fuzz.log", "wb") as log:
        proc = subprocess.Popen(
            _fuzz_args(args, out, args.count), stdout=log, stderr=log, env=env, start_new_session=True
        )
        try:
            return proc.wait(timeout=args.minutes * 60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()


def _synth(
    args: argparse.Namespace, out: Path, env: dict[str, str], count: int, log: Path
) -> subprocess.CompletedProcess:
    with open(log, "wb") as f:
        return subprocess.run(_fuzz_args(args, out, count), stdout=f, stderr=f, env=env)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _write_report(out: Path, fuzz_out: Path, gpu: str, seconds: float, status: int) -> None:
    """report.md and the files it names, under `out`."""
    from check.findings import FINDINGS_DIR, INDEX

    summary = json.loads((fuzz_out / "fuzz.json").read_text()) if (fuzz_out / "fuzz.json").exists() else {}
    findings = _lines(fuzz_out / FINDINGS_DIR / INDEX)
    for name in ("fuzz.json", "results.jsonl"):
        if (fuzz_out / name).exists():
            shutil.copy(fuzz_out / name, out / name)
    if (fuzz_out / FINDINGS_DIR).exists():
        with tarfile.open(out / "findings.tar.gz", "w:gz") as tar:
            tar.add(fuzz_out / FINDINGS_DIR, arcname=FINDINGS_DIR)
    (out / "report.md").write_text("\n".join(_report(summary, findings, gpu, seconds, status)) + "\n")


def _report(
    summary: dict[str, Any], findings: list[dict[str, Any]], gpu: str, seconds: float, status: int
) -> list[str]:
    from check.findings import FINDINGS_DIR, title

    warp = ", ".join(f"{k} {v}" for k, v in summary.get("warp", {}).items()) or "?"
    counts = [
        ("execution", summary.get("execution", {})),
        ("gradient checks", summary.get("gradcheck", {})),
        ("new findings", summary.get("new_findings", {})),
        ("known findings", summary.get("known_findings", {})),
    ]
    lines = [
        "# CPU/GPU differential",
        "",
        f"- device: {gpu}",
        f"- Warp: {warp}",
        f"- wall time: {seconds:.0f} s (fuzzing {summary.get('seconds', 0)} s, "
        f"{summary.get('seconds_per_kernel', 0)} s per kernel)",
        f"- kernels checked: {summary.get('kernels', 0)}, "
        f"CPU/GPU compared: {summary.get('cpu_gpu_compared', 0)}",
        f"- generator defects: {summary.get('generator_defects', 0)}, not reproduced: "
        f"{summary.get('not_reproduced', 0)}",
        f"- fuzz exit status: {status}",
        "",
        "| outcome | counts |",
        "| --- | --- |",
        *(f"| {what} | {', '.join(f'{k}: {v}' for k, v in c.items()) or 'none'} |" for what, c in counts),
        "",
        f"## Findings ({len(findings)})",
        "",
    ]
    lines += [f"- {title(f)}: `{FINDINGS_DIR}/{f['reproducer']}` (seed {f['seed']})" for f in findings]
    return lines + ([] if findings else ["none"])


if __name__ == "__main__":
    sys.exit(main())
