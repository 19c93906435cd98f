"""A run killed with SIGKILL at any moment resumes to the same bytes an uninterrupted run writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_cli import ROOT, synth

ARGS = ("--count", "48", "--seed", "5", "--workers", "2")


def _start(out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "synth", *ARGS, "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group (its workers, in groups of their own, end with it)
    )


def _records_on_disk(out: Path) -> int:
    try:
        return json.loads((out / "progress.json").read_text())["records"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _kill_when(out: Path, records: int) -> int:
    """SIGKILL a run once `records` are checkpointed (0: as soon as it started writing).

    Returns the records on disk when a live run was killed (-1 if it had ended).
    """
    proc = _start(out)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if _records_on_disk(out) >= records and (out / "dataset.jsonl").exists():
            break
        time.sleep(0.05)
    alive = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return _records_on_disk(out) if alive else -1


def test_sigkill_then_resume_gives_the_uninterrupted_bytes(tmp_path):
    whole = tmp_path / "whole"
    assert synth(*ARGS, "--out", str(whole)).returncode == 0
    out = tmp_path / "killed"
    # killed early, mid-way and late, each time resuming the last
    at_kill = [_kill_when(out, records) for records in (0, 16, 32)]
    assert any(0 < n < 48 for n in at_kill), at_kill  # at least one kill landed mid-run
    assert synth(*ARGS, "--out", str(out)).returncode == 0

    data = (out / "dataset.jsonl").read_bytes()
    lines = [json.loads(line) for line in data.splitlines()]
    seeds = [r["metadata"]["seed"] for r in lines]
    assert len(lines) == 48 and len(set(seeds)) == 48 and seeds == sorted(seeds)
    assert data == (whole / "dataset.jsonl").read_bytes()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """Running or sleeping (an exited process nobody reaped yet is a zombie: not alive)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_of_a_killed_run_exit(tmp_path):
    proc = _start(tmp_path)
    while _records_on_disk(tmp_path) == 0 and proc.poll() is None:
        time.sleep(0.05)
    workers = _children(proc.pid)
    proc.kill()  # the parent alone, as the OOM killer would
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.1)
    assert workers and not any(map(_alive, workers))
