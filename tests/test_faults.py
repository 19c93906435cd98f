"""Faults a long run meets, each in real processes: a second run on the same --out, a full disk, the
output made read-only, unwritable, deleted or replaced mid-run, workers killed, crashing or hanging.

Every test checks: no traceback, the exit status, the one line that explains a stop, no broken line,
no duplicate, a checkpoint that agrees with the dataset, and the target met after resuming (the bytes
of an undisturbed run whenever no chunk had to be skipped).  Worker faults come from
tests/faulty_synth.py; mid-run changes wait for the first checkpoint while a worker is held at a gate,
so they land at a known point.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from emit.records import candidate_seed
from tests.test_cli import ROOT, synth

ARGS = ("--count", "24", "--seed", "5", "--workers", "2")
#: The candidate the injected fault strikes: in the second chunk (16..31), after the first checkpoint.
FAULT_AT = 20
SECOND_CHUNK = [16, 32]
FAULTY = ROOT / "tests" / "faulty_synth.py"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> bytes:
    """The dataset of an undisturbed run."""
    out = tmp_path_factory.mktemp("reference")
    assert synth(*ARGS, "--out", str(out)).returncode == 0
    return (out / "dataset.jsonl").read_bytes()


def _env(fault: str, **extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", SYNTH_FAULT=fault, **extra)


def faulty(out: Path, fault: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(FAULTY), *ARGS, *args, "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, env=_env(fault, **env), timeout=300)


def start_gated(out: Path, gate: Path, preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    """A run held at candidate FAULT_AT until `gate` exists, started once its first chunk is checkpointed."""
    command = [sys.executable, str(FAULTY), *ARGS, "--out", str(out)]
    env = _env(f"gate@{FAULT_AT}", SYNTH_FAULT_GATE=str(gate))
    proc = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=preexec, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while _checkpointed(out) == 0:
        assert proc.poll() is None and time.monotonic() < deadline, "ended before its first checkpoint"
        time.sleep(0.05)
    return proc


def finish(proc: subprocess.Popen) -> str:
    try:
        return proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _checkpointed(out: Path) -> int:
    try:
        return json.loads((out / "progress.json").read_text())["records"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def error_line(stderr: str) -> str:
    """The one line that explains a stop (the run's last line, and its only error)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr
    return errors[0]


def consistent(out: Path) -> list[dict]:
    """The dataset's records, checked: whole lines, no duplicate, in order, as long as its checkpoint."""
    data = (out / "dataset.jsonl").read_bytes()
    progress = json.loads((out / "progress.json").read_text())
    assert len(data) == progress["bytes"] and data.endswith(b"\n") | (not data)
    records = [json.loads(line) for line in data.splitlines()]
    seeds = [r["metadata"]["seed"] for r in records]
    assert seeds == sorted(set(seeds)) and len(records) == progress["records"]
    assert len({r["metadata"]["source_sha1"] for r in records}) == len(records)
    return records


def checkpointed_in_message(line: str, out: Path) -> None:
    """The figure a stop reports is the checkpoint's (the message does not lie)."""
    assert f"{_checkpointed(out)} records" in line and "are checkpointed" in line, line


def stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def _listing(out: Path) -> dict[str, tuple[int, int]]:
    """Every file's size and time of change, and the directory's (a file made and removed shows)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in [out, *out.iterdir()]}


def test_a_second_run_on_a_locked_out_is_refused_and_writes_nothing(tmp_path, reference):
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = start_gated(out, gate)
    before = _listing(out)
    second = synth(*ARGS, "--out", str(out))
    assert second.returncode == 1
    line = error_line(second.stderr)
    assert str(out) in line and f"pid {first.pid}" in line
    assert _listing(out) == before
    gate.touch()
    assert "Traceback" not in finish(first) and first.returncode == 0
    consistent(out)
    assert (out / "dataset.jsonl").read_bytes() == reference


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _room(reference: bytes) -> int:
    """Bytes for the dataset's first chunk but not the whole dataset: half-way between the two."""
    first = sum(
        len(line)
        for line in reference.splitlines(keepends=True)
        if json.loads(line)["metadata"]["seed"] < candidate_seed(5, SECOND_CHUNK[0])
    )
    return (first + len(reference)) // 2


#: tmpfs counts whole pages: the lock, progress.json and its temporary copy take one each.
_TMPFS_OVERHEAD = 4 * 4096


@pytest.fixture
def small_tmpfs(tmp_path, reference):
    """A file system the first chunk fits in, and not the whole dataset (skipped if not root)."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    size = f"size={(_room(reference) + _TMPFS_OVERHEAD) // 1024}k"
    if not _mount("-t", "tmpfs", "-o", size, "tmpfs", str(where)):
        pytest.skip("cannot mount a tmpfs here (not root); test_file_size_limit covers the same path")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def _stopped(out: Path, result: subprocess.CompletedProcess, says: str) -> None:
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert says in line and "run the same command to resume" in line, line
    checkpointed_in_message(line, out)
    assert 0 < len(consistent(out)) < 24


def test_full_disk_stops_with_the_checkpoint_and_resumes(small_tmpfs, reference):
    out = small_tmpfs / "out"
    full = synth(*ARGS, "--out", str(out))
    _stopped(out, full, "no space left on device")
    assert "free space and run the same command to resume" in full.stderr
    assert _mount("-o", "remount,size=16m", str(small_tmpfs))
    assert synth(*ARGS, "--out", str(out)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == reference


def test_file_size_limit_stops_with_the_checkpoint_and_resumes(tmp_path, reference):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "synth", *ARGS, "--out", str(out)]
    room = _room(reference)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, resource.RLIM_INFINITY))

    limited = subprocess.run(
        command, capture_output=True, text=True, env=env, preexec_fn=limit_file_size, timeout=300
    )
    _stopped(out, limited, "file size limit exceeded")
    assert synth(*ARGS, "--out", str(out)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == reference


#: Linux capabilities that let root write where permissions say no.
_OVERRIDES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
_PR_CAPBSET_DROP = 24


def _as_plain_user() -> None:
    """In the child before exec: drop the capabilities, so permissions apply even to root."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _OVERRIDES:
        libc.prctl(_PR_CAPBSET_DROP, cap)


def _change_read_only(out: Path, tmp: Path) -> Callable[[], None]:
    if not (_mount("--bind", str(out), str(out)) and _mount("-o", "remount,bind,ro", str(out))):
        pytest.skip("cannot bind-mount here (not root)")
    return lambda: subprocess.run(["umount", str(out)], check=True)


def _change_permissions(out: Path, tmp: Path) -> Callable[[], None]:
    out.chmod(0o555)
    return lambda: out.chmod(0o755)


def _change_deleted(out: Path, tmp: Path) -> Callable[[], None]:
    shutil.rmtree(out)
    return lambda: None


def _change_replaced(out: Path, tmp: Path) -> Callable[[], None]:
    out.rename(tmp / "moved")
    out.mkdir()
    return lambda: consistent(tmp / "moved")  # the run left the moved directory consistent too


#: change -> (how, what the one line says)
CHANGES = {
    "read-only": (_change_read_only, "read-only file system"),
    "permissions": (_change_permissions, "permission denied"),
    "deleted": (_change_deleted, "was deleted or replaced during the run"),
    "replaced": (_change_replaced, "was deleted or replaced during the run"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_output_changed_under_a_run_stops_it_consistently(change, tmp_path, reference):
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, capabilities)")
    out, gate = tmp_path / "out", tmp_path / "gate"
    how, says = CHANGES[change]
    proc = start_gated(out, gate, preexec=_as_plain_user if change == "permissions" else None)
    undo = how(out, tmp_path)
    gate.touch()
    stderr = finish(proc)
    assert proc.returncode == 1
    line = error_line(stderr)
    assert says in line and "run the same command to resume" in line, line
    if change in ("read-only", "permissions"):
        checkpointed_in_message(line, out)
        consistent(out)
    undo()
    resumed = synth(*ARGS, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "dataset.jsonl").read_bytes() == reference


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"check.supervisor" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_workers_killed_mid_run_are_replaced_and_their_chunks_redone(tmp_path, reference):
    out, gate = tmp_path / "out", tmp_path / "gate"
    proc = start_gated(out, gate)
    workers = _workers(proc.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    gate.touch()
    assert "Traceback" not in finish(proc) and proc.returncode == 0
    consistent(out)
    assert (out / "dataset.jsonl").read_bytes() == reference
    assert stats(out)["chunks_retried"] >= 1 and stats(out)["worker_failures"] == []


def test_a_worker_killed_once_costs_a_retry_not_a_byte(tmp_path, reference):
    out = tmp_path / "out"
    result = faulty(out, f"kill@{FAULT_AT}", SYNTH_FAULT_ONCE=str(tmp_path / "struck"))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert (out / "dataset.jsonl").read_bytes() == reference
    assert stats(out)["chunks_retried"] == 1 and stats(out)["worker_failures"] == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [("segv", "worker killed by SIGSEGV"), ("hang", "worker made no progress for 2 s")],
)
def test_a_chunk_whose_worker_fails_twice_is_skipped_and_listed(fault, error, tmp_path, reference):
    out = tmp_path / "out"
    result = faulty(out, f"{fault}@{FAULT_AT}", "--kernel-timeout", "2")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "16 candidates skipped" in result.stderr
    records = consistent(out)
    assert len(records) == 24  # the target is met past the skipped chunk
    s = stats(out)
    [failure] = s["worker_failures"]
    seed_at_fault = candidate_seed(5, FAULT_AT)
    assert failure["candidates"] == SECOND_CHUNK
    assert failure["seeds"] == [candidate_seed(5, k) for k in (16, 31)]
    assert error in failure["error"] and f"seed {seed_at_fault}" in failure["error"]
    assert s["skipped"]["worker_failed"] == 16 and s["chunks_retried"] == 1
    indices = [r["metadata"]["seed"] - candidate_seed(5, 0) for r in records]
    assert not [k for k in indices if 16 <= k < 32]
    # before the skipped chunk the dataset is the undisturbed one
    kept = sum(1 for k in indices if k < 16)
    assert (
        reference.splitlines(keepends=True)[:kept]
        == (out / "dataset.jsonl").read_bytes().splitlines(keepends=True)[:kept]
    )


def test_workers_that_fail_on_every_chunk_stop_the_run_in_one_line(tmp_path):
    """A worker that cannot work at all (here: every kernel segfaults) must not spin forever."""
    out = tmp_path / "out"
    result = faulty(out, "segv@*")
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "workers failed on 4 chunks in a row; last: worker killed by SIGSEGV at seed" in line, line
    assert consistent(out) == []


def _interrupted(moment: str, tmp_path: Path) -> subprocess.Popen:
    """A run of ARGS into tmp_path/out, sent SIGINT (to its process group, as a terminal's Ctrl-C) at
    `moment`: while Python starts, while its workers start (importing), or held mid-run."""
    out = tmp_path / "out"
    if moment == "generating":
        proc = start_gated(out, tmp_path / "gate")
    else:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "synth", *ARGS, "--out", str(out)]
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        time.sleep(0.3)
        while moment == "workers starting" and not _workers(proc.pid):
            time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    return proc


@pytest.mark.parametrize("moment", ["starting", "workers starting", "generating"])
def test_ctrl_c_at_any_moment_is_one_line_and_resumes(moment, tmp_path, reference):
    """Workers ignore SIGINT from birth (the parent ends them), so not even one in the middle of its
    imports prints a traceback."""
    proc = _interrupted(moment, tmp_path)
    stderr = finish(proc)
    assert "Traceback" not in stderr and "Process" not in stderr, stderr
    if proc.returncode != -signal.SIGINT:  # (killed before Python took over SIGINT: silent, no harm)
        assert proc.returncode == 130 and stderr.strip().splitlines()[-1].startswith("synth: interrupted")
    out = tmp_path / "out"
    assert synth(*ARGS, "--out", str(out)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == reference
