"""`python -m synth fuzz` as a user runs it: a test runner's exit statuses, durable and resumable
results, Ctrl-C without a traceback, known findings apart from new ones, progress and a summary table."""

import ast
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from check import executor
from check.findings import read_findings
from check.fuzz import campaign
from check.fuzz.results import summarize
from grammar.sample import Sample
from synth import cli
from tests.conftest import ROOT, start_synth, synth
from tests.test_fuzz import DEFECT, UNDEFINED
from tests.test_gradcheck import SQUARE, WRONG_GRAD

#: Four kernels in two groups: the smallest run with a checkpoint inside it.
ARGS = ("fuzz", "--device", "cpu", "--count", "4", "--seed", "3", "--group", "2")
INTERRUPTED = "synth: interrupted; run the same command again to resume"


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """An uninterrupted run of ARGS: what every interrupted, resumed or extended run must end as."""
    out = tmp_path_factory.mktemp("whole")
    result = synth(*ARGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_fuzz_without_gpu_says_so_and_prints_a_table(whole, tmp_path):
    result = synth("fuzz", "--device", "cuda", "--count", "2", "--seed", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "synth fuzz: no CUDA GPU on this machine; running the CPU checks only"
    assert lines[1].startswith("synth fuzz: checking 2 kernels (seed 3, 25 per group)")
    assert "synth fuzz: 2/2 kernels checked, 0 new, 0 known finding(s)" in result.stderr
    assert "{" not in result.stderr  # a table, not raw dicts
    for row in ("execution", "gradient checks", "non-trivial gradients", "CPU/GPU", "known findings"):
        assert row in result.stderr
    assert "not compared (no CUDA GPU)" in result.stderr
    summary = json.loads((tmp_path / "fuzz.json").read_text())
    assert summary["kernels"] == 2 and summary["gpu"] is False and summary["exit_status"] == 0
    assert sum(summary["gradcheck"].values()) == 2 and summary["deterministic"] == 2
    whole_lines = (whole / "results.jsonl").read_text().splitlines()
    assert (tmp_path / "results.jsonl").read_text().splitlines() == whole_lines[:2]  # --device: same checks


def test_device_cpu_does_not_talk_about_a_gpu(whole):
    result = synth(*ARGS, "--out", str(whole))  # finished: nothing to check, the summary again
    assert result.returncode == 0
    assert "no CUDA GPU" not in result.stderr and "not compared (--device cpu)" in result.stderr
    assert f"{whole} holds 4 kernels already (--count 4): nothing to check" in result.stderr


@pytest.mark.parametrize(
    "args", [["--count", "0"], ["--group", "0"], ["--device", "tpu"], ["--seed", "x"], ["--out", "/proc/no"]]
)
def test_bad_input_is_one_line_and_exit_2(args, tmp_path):
    result = synth("fuzz", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synth: error:"), result.stderr


def test_help_shows_defaults_and_exit_statuses():
    shown = synth("fuzz", "--help").stdout
    for default in (
        "(default: cpu)",
        "(default: 100)",
        "(default: 0)",
        "(default: artifacts/fuzz)",
        "(default: 25)",
    ):
        assert default in shown
    for status in ("0  no new findings", "1  new Warp findings or generator defects", "2  bad arguments"):
        assert status in shown


def _first_line_within(proc: subprocess.Popen, seconds: float) -> str:
    ready, _, _ = select.select([proc.stderr], [], [], seconds)
    assert ready, f"nothing on stderr for {seconds} s"
    return proc.stderr.readline()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _checkpointed(out: Path) -> int:
    try:
        return json.loads((out / "progress.json").read_text())["records"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _interrupt(out: Path, ready) -> str:
    """Start ARGS on `out`, Ctrl-C it (SIGINT to its process group, as a terminal does) once `ready`
    holds, and return its stderr; it must end with status 130, one line, no traceback."""
    proc = start_synth(*ARGS, "--out", str(out))
    first = _first_line_within(proc, 60)  # a log line soon after the start, not after minutes
    assert first.startswith(("synth fuzz: checking", "synth fuzz: resuming")), first
    deadline = time.monotonic() + 300
    while not ready(proc) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    children = _children(proc.pid)
    assert children and proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == INTERRUPTED
    time.sleep(0.5)
    assert not [c for c in children if Path(f"/proc/{c}").exists()], "a child outlived the run"
    return stderr


def test_ctrl_c_then_rerun_loses_and_duplicates_nothing(whole, tmp_path):
    out = tmp_path / "out"
    # early: while the first group's child starts (imports Warp), nothing checkpointed yet
    _interrupt(out, lambda proc: bool(_children(proc.pid)))
    assert _checkpointed(out) == 0
    # mid-run: the first group checkpointed, the second being checked
    _interrupt(out, lambda proc: _checkpointed(out) >= 2 and bool(_children(proc.pid)))
    assert _checkpointed(out) == 2
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    result = synth(*ARGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "synth fuzz: resuming at kernel 3 of 4" in result.stderr
    assert (out / "results.jsonl").read_bytes() == (whole / "results.jsonl").read_bytes()
    summary, expected = (json.loads((d / "fuzz.json").read_text()) for d in (out, whole))
    timing = ("seconds", "seconds_per_kernel")
    assert {k: v for k, v in summary.items() if k not in timing} == {
        k: v for k, v in expected.items() if k not in timing
    }


def test_rerun_extends_refuses_other_arguments_or_starts_fresh(whole, tmp_path):
    out = tmp_path / "out"
    two = list(ARGS)
    two[two.index("--count") + 1] = "2"
    assert synth(*two, "--out", str(out)).returncode == 0
    assert synth(*ARGS, "--out", str(out)).returncode == 0  # a larger --count continues the run
    assert (out / "results.jsonl").read_bytes() == (whole / "results.jsonl").read_bytes()
    other = synth(*ARGS, "--seed", "4", "--out", str(out))
    assert other.returncode == 2
    refused = f"synth: error: {out} holds fuzz results made with other seed; use another --out"
    assert other.stderr.strip().startswith(refused)
    fresh = synth(*two, "--seed", "4", "--fresh", "--out", str(out))
    assert fresh.returncode == 0, fresh.stderr
    seeds = [json.loads(line)["seed"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert seeds == [4 * 2**32, 4 * 2**32 + 1]


def test_a_terminal_gets_a_rich_progress_bar(tmp_path):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synth",
            "fuzz",
            "--device",
            "cpu",
            "--count",
            "1",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = shown.decode(errors="replace")
    assert "synth fuzz" in text and "%" in text and "ETA" in text and "1/1" in text
    assert "exit status" in text and "Traceback" not in text


# ----------------------------------------------------------------------------- exit statuses


def _module(source: str) -> tuple[ast.Module, str]:
    """A module's tree and its kernel's name."""
    tree = ast.parse(source)
    kernels = [
        f
        for f in tree.body
        if isinstance(f, ast.FunctionDef) and "wp.kernel" in map(ast.unparse, f.decorator_list)
    ]
    return tree, kernels[0].name


#: A tile kernel with an unused `wp.tile_transpose`: its gradient is wrong (a known Warp bug).
UNUSED_TRANSPOSE = """import warp as wp
TILE = wp.constant(4)

@wp.kernel
def spin(b: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    i, j = wp.tid()
    x = wp.tile_load(b, shape=(TILE, TILE), offset=(i * TILE, j * TILE))
    y = wp.tile_map(wp.sin, x)
    unused = wp.tile_transpose(x)
    t = wp.tile_map(wp.sin, y)
    wp.tile_store(out, t, offset=(i * TILE, j * TILE))
"""


def _fuzz_kernels(monkeypatch, tmp_path, capsys, *sources: str) -> tuple[int, dict]:
    """`fuzz` (in this process) over hand-written kernels standing for candidates 0, 1, ..."""

    def candidate(base_seed, index):
        tree, name = _module(sources[index])
        return Sample(index, tree, name, None, None, "handwritten")

    monkeypatch.setattr(campaign, "candidate_kernel", candidate)
    status = cli.main(
        ["fuzz", "--device", "cpu", "--count", str(len(sources)), "--no-shrink", "--out", str(tmp_path)]
    )
    capsys.readouterr()
    return status, json.loads((tmp_path / "fuzz.json").read_text())


def test_known_findings_pass_new_ones_and_generator_defects_fail(monkeypatch, tmp_path, capsys):
    status, summary = _fuzz_kernels(monkeypatch, tmp_path / "known", capsys, UNUSED_TRANSPOSE)
    assert status == 0 and summary["exit_status"] == 0
    assert summary["known_findings"] == {"unused_tile_transpose_gradient": 1} and not summary["new_findings"]
    assert not (tmp_path / "known" / "findings").exists()  # known: no reproducer
    line = json.loads((tmp_path / "known" / "results.jsonl").read_text())
    known = {"kind": "gradient", "known": "unused_tile_transpose_gradient", "versions": ["1.19.0"]}
    assert line["failures"] == [known]

    wrong = SQUARE.replace("GRAD", WRONG_GRAD)
    defect = DEFECT.replace("NAME", "oob").replace("BODY", UNDEFINED["out_of_bounds"])
    status, summary = _fuzz_kernels(monkeypatch, tmp_path / "new", capsys, UNUSED_TRANSPOSE, wrong, defect)
    assert status == 1 and summary["exit_status"] == 1
    assert summary["new_findings"] == {"gradient": 1} and summary["generator_defects"] == 1
    assert summary["known_findings"] == {"unused_tile_transpose_gradient": 1}
    filed = read_findings(tmp_path / "new" / "findings")
    assert sorted((f["kind"], f["seed"]) for f in filed) == [("generator_defect", 2), ("gradient", 1)]


@pytest.mark.parametrize(
    ("failures", "status"),
    [
        ([], 0),
        ([{"kind": "gradient", "known": "unused_tile_transpose_gradient"}], 0),
        ([{"kind": "gradient"}], 1),
        ([{"kind": "generator_defect"}], 1),
    ],
)
def test_exit_status_counts_new_findings_and_generator_defects(failures, status):
    line = {"failures": failures, "metadata": {"execution": "executed"}}
    assert summarize([line], gpu=False, seconds=1.0)["exit_status"] == status


def test_gradient_share_counts_only_compared_derivatives():
    statuses = ["passed", "trivial", "mismatch", "not_differentiable"]
    lines = [{"failures": [], "metadata": {"gradcheck": {"status": s}}} for s in statuses]
    summary = summarize(lines, gpu=False, seconds=1.0)
    assert summary["gradcheck_nontrivial"] == 2 and summary["gradcheck_nontrivial_share"] == 0.5
    assert summary["gradcheck"]["trivial"] == 1 and summary["gradcheck"]["passed"] == 1


def test_a_checker_that_fails_is_one_line_and_exit_3(monkeypatch, tmp_path, capsys):
    broken = tmp_path / "broken_runner.py"
    broken.write_text("import sys\nprint('cannot start')\nsys.exit(1)\n")
    monkeypatch.setattr(executor, "RUNNER", str(broken))
    status = cli.main(["fuzz", "--device", "cpu", "--count", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 3, err
    assert "synth fuzz: error: the checking process failed (exit status 1: cannot start)" in err.splitlines()
    assert "Traceback" not in err and not (tmp_path / "out" / "results.jsonl").read_bytes()


FAULTY_FUZZ = ROOT / "tests" / "faulty_fuzz.py"


def _faulty_fuzz(out: Path, fault: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """ARGS with two workers, whose worker on the group starting at candidate `fault`'s is killed."""
    command = [sys.executable, str(FAULTY_FUZZ), *ARGS, "--workers", "2", *args, "--out", str(out)]
    environment = dict(os.environ, PYTHONPATH=str(ROOT), SYNTH_FAULT=fault, **env)
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)


def test_two_workers_give_the_lines_of_one(whole, tmp_path):
    result = synth(*ARGS, "--workers", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results.jsonl").read_bytes() == (whole / "results.jsonl").read_bytes()


def test_a_worker_killed_once_costs_a_retry_not_a_line(whole, tmp_path):
    result = _faulty_fuzz(tmp_path / "out", "kill@2", SYNTH_FAULT_ONCE=str(tmp_path / "struck"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "struck").exists()  # the fault did strike
    assert (tmp_path / "out" / "results.jsonl").read_bytes() == (whole / "results.jsonl").read_bytes()


def test_a_group_whose_worker_dies_twice_is_recorded_unchecked_and_exits_3(whole, tmp_path):
    out = tmp_path / "out"
    result = _faulty_fuzz(out, "kill@2")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "synth fuzz: error: 2 kernels unchecked: their worker failed twice" in result.stderr
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (whole / "results.jsonl").read_text().splitlines()]
    assert lines[:2] == reference[:2]  # the other group: as an undisturbed run checked it
    assert [(line["index"], line["seed"]) for line in lines[2:]] == [
        (k["index"], k["seed"]) for k in reference[2:]
    ]
    for line in lines[2:]:
        assert line["failures"] == []
        assert line["metadata"]["execution"].startswith(
            "worker_failed: worker killed by SIGKILL at compiling"
        )
    summary = json.loads((out / "fuzz.json").read_text())
    assert summary["execution"]["worker_failed"] == 2 and summary["exit_status"] == 3


def test_unchecked_kernels_exit_3_even_with_new_findings():
    lines = [
        {"failures": [{"kind": "gradient"}], "metadata": {"execution": "executed"}},
        {"failures": [], "metadata": {"execution": "worker_failed: worker killed by SIGKILL"}},
    ]
    assert summarize(lines, gpu=False, seconds=1.0)["exit_status"] == 3
