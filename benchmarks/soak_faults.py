"""Soak: a long run whose workers are SIGKILLed every N seconds, the run itself killed once mid-way, then
resumed to completion.  Measures what the faults cost.

    PYTHONPATH=. python benchmarks/soak_faults.py --target-bytes 213476688 --kill-every 20 --out /tmp/soak

It first makes the same dataset undisturbed (unless --no-reference), then the soak run; it reports:
  - records lost (in the undisturbed dataset, not in the soak's) and duplicated (seeds or sources
    twice), and whether the two datasets are byte-identical (they are unless a chunk was skipped);
  - re-done work: chunks computed again after a worker kill (stats.json `chunks_retried`), and
    candidates computed again after the run kill (those past its last checkpoint);
  - skipped chunks (stats.json `worker_failures`; 0 unless the same chunk lost two workers);
  - peak memory: the largest process's peak RSS and the peak RSS of the whole process tree;
  - wall time of both runs (their ratio is the faults' cost; the machine's load is printed with it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from synth.pipeline import CHUNK

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.5


@dataclass
class Watch:
    """What the soak saw of the process tree."""

    worker_kills: int = 0
    peak_tree_rss: int = 0  # bytes, sum over the tree at one moment
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM seen last (bytes)


def _status(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _workers(pid: int) -> list[int]:
    def is_worker(c: int) -> bool:
        try:
            return b"check.supervisor" in Path(f"/proc/{c}/cmdline").read_bytes()
        except FileNotFoundError:
            return False

    return [c for c in _children(pid) if is_worker(c)]


def _checkpoint(out: Path) -> dict:
    try:
        return json.loads((out / "progress.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"bytes": 0, "records": 0, "next_index": 0}


def _command(args: argparse.Namespace, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "synth",
        "--target-bytes",
        str(args.target_bytes),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--device",
        args.device,
        "--out",
        str(out),
    ]


def run(
    args: argparse.Namespace, out: Path, watch: Watch | None, kill_run_at: float | None
) -> tuple[float, bool]:
    """One session of the command.  With `watch`, it samples memory, kills a worker every --kill-every
    seconds and, once `kill_run_at` of the target is checkpointed, the whole run (process group).
    Returns its wall time, and whether the run was killed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    proc = subprocess.Popen(_command(args, out), env=env, cwd=ROOT, start_new_session=True)
    next_kill = start + args.kill_every
    rng = random.Random(args.seed)
    while proc.poll() is None:
        time.sleep(SAMPLE_SECONDS)
        if watch is None:
            continue
        tree = _tree(proc.pid)
        watch.peak_tree_rss = max(watch.peak_tree_rss, sum(_status(p, "VmRSS") for p in tree))
        for p in tree:
            watch.peak_rss[p] = max(watch.peak_rss.get(p, 0), _status(p, "VmHWM"))
        if kill_run_at is not None and _checkpoint(out)["bytes"] >= kill_run_at * args.target_bytes:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return time.monotonic() - start, True
        if time.monotonic() >= next_kill:
            workers = _workers(proc.pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                watch.worker_kills += 1
            next_kill += args.kill_every
    if proc.returncode != 0:
        sys.exit(f"soak: the run exited with status {proc.returncode}")
    return time.monotonic() - start, False


def _seeds(dataset: Path) -> tuple[list[int], list[str]]:
    seeds, sources = [], []
    with open(dataset, "rb") as f:
        for line in f:
            meta = json.loads(line)["metadata"]
            seeds.append(meta["seed"])
            sources.append(meta["source_sha1"])
    return seeds, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-bytes", type=int, default=213_476_688)
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds between worker kills")
    parser.add_argument(
        "--kill-run-at",
        type=float,
        default=0.5,
        help="share of the target at which the whole run is SIGKILLed once, then resumed (0: never)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, required=True, help="a fresh directory (soak/ and reference/)")
    parser.add_argument("--no-reference", action="store_true", help="skip the undisturbed run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=False)
    soak, reference = args.out / "soak", args.out / "reference"
    print(f"soak: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)

    reference_seconds = None if args.no_reference else run(args, reference, None, None)[0]
    watch = Watch()
    soak_seconds, killed = run(args, soak, watch, args.kill_run_at or None)
    # the resumed session starts at the checkpoint's next_index: what the killed one had computed
    # past it (at most the chunks in flight) is computed again
    killed_at = _checkpoint(soak) if killed else None
    if killed:
        soak_seconds += run(args, soak, watch, None)[0]

    stats = json.loads((soak / "stats.json").read_text())
    seeds, sources = _seeds(soak / "dataset.jsonl")
    report = {
        "target_bytes": args.target_bytes,
        "records": stats["records"],
        "bytes": stats["bytes"],
        "duplicated_seeds": len(seeds) - len(set(seeds)),
        "duplicated_sources": len(sources) - len(set(sources)),
        "worker_kills": watch.worker_kills,
        "chunks_retried": stats["chunks_retried"],
        "candidates_retried": stats["chunks_retried"] * CHUNK,
        "skipped_chunks": stats["worker_failures"],
        "run_killed_at": killed_at and {k: killed_at[k] for k in ("records", "bytes", "next_index")},
        "peak_rss_largest_process_mb": round(max(watch.peak_rss.values(), default=0) / 1e6, 1),
        "peak_rss_process_tree_mb": round(watch.peak_tree_rss / 1e6, 1),
        "soak_seconds": round(soak_seconds, 1),
        "load_average_end": round(os.getloadavg()[0], 2),
    }
    if reference_seconds is not None:
        ref_seeds, _ = _seeds(reference / "dataset.jsonl")
        report |= {
            "records_lost": len(set(ref_seeds) - set(seeds)),
            "byte_identical_to_undisturbed": (soak / "dataset.jsonl").read_bytes()
            == (reference / "dataset.jsonl").read_bytes(),
            "reference_seconds": round(reference_seconds, 1),
            "soak_over_reference_wall": round(soak_seconds / reference_seconds, 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
