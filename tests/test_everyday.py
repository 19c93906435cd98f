"""Everyday use: only our own files are written, fruitless runs stop, signals and summaries say what
happened, and the commands that read a dataset handle one that is unfinished or being written."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emit.writer import LOCK, MARKER
from grammar.labels import KERNEL_TYPES
from grammar.sample import aim, focus_of, sample
from synth.cli import build_parser, default_out
from tests.conftest import ROOT, synth
from tests.test_faults import ARGS, error_line, finish, start_gated

FOREIGN = {"README.md": "my project\n", "stats.json": '{"mine": true}\n'}


def _foreign_dir(path: Path) -> Path:
    path.mkdir()
    for name, text in FOREIGN.items():
        (path / name).write_text(text)
    return path


def _as_found(path: Path) -> None:
    assert sorted(p.name for p in path.iterdir()) == sorted(FOREIGN)
    assert all((path / name).read_text() == text for name, text in FOREIGN.items())


@pytest.mark.parametrize("fresh", [(), ("--fresh",)])
def test_a_directory_of_someone_elses_files_is_refused_and_left_as_it_was(fresh, tmp_path):
    out = _foreign_dir(tmp_path / "theirs")
    result = synth("--count", "2", "--workers", "1", *fresh, "--out", str(out))
    assert result.returncode == 2
    line = error_line(result.stderr)
    assert line == (
        f"synth: error: --out {out} holds files that are not warp-synth's (README.md, stats.json); "
        "nothing was written: use a new or empty directory"
    )
    _as_found(out)  # not even a lock or a marker


def test_fuzz_refuses_someone_elses_directory_too(tmp_path):
    out = _foreign_dir(tmp_path / "theirs")
    result = synth("fuzz", "--count", "1", "--workers", "1", "--out", str(out))
    assert result.returncode == 2 and "not warp-synth's" in error_line(result.stderr)
    _as_found(out)


def test_a_dataset_directory_is_not_taken_for_fuzz_results(small_dataset, tmp_path):
    result = synth("fuzz", "--count", "1", "--workers", "1", "--out", str(small_dataset))
    assert result.returncode == 2
    assert error_line(result.stderr).endswith(
        "holds a dataset of warp-synth's, not fuzz results; use another --out"
    )


def test_fresh_removes_only_what_a_run_writes_and_says_so(small_dataset, tmp_path):
    out = tmp_path / "d"
    subprocess.run(["cp", "-r", str(small_dataset), str(out)], check=True)
    (out / "notes.txt").write_text("the user's own\n")
    result = synth("--count", "2", "--seed", "9", "--workers", "1", "--fresh", "--out", str(out))
    assert result.returncode == 0, result.stderr
    removed = [line for line in result.stderr.splitlines() if "--fresh: removed" in line]
    assert len(removed) == 1 and "dataset.jsonl (" in removed[0] and "README.md" in removed[0], removed
    assert (out / "notes.txt").read_text() == "the user's own\n"
    assert len((out / "dataset.jsonl").read_text().splitlines()) == 2


def test_a_refused_run_takes_back_the_lock_it_made(small_dataset, tmp_path):
    out = tmp_path / "d"
    subprocess.run(["cp", "-r", str(small_dataset), str(out)], check=True)
    (out / LOCK).unlink()
    before = sorted(p.name for p in out.iterdir())
    result = synth("--count", "2", "--seed", "4", "--workers", "1", "--out", str(out))
    assert result.returncode == 2 and "made with other seed" in error_line(result.stderr)
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_run_that_keeps_nothing_stops_and_names_the_option(tmp_path):
    out = tmp_path / "d"
    result = synth("--max-record-bytes", "10", "--count", "3", "--workers", "1", "--out", str(out))
    assert result.returncode == 2
    line = error_line(result.stderr)
    assert "the last 512 candidates were all skipped (512 skipped_too_large)" in line, line
    assert "raise --max-record-bytes; 0 records are checkpointed" in line, line
    # nothing was kept, so other options may take the directory over without --fresh
    again = synth("--count", "1", "--workers", "1", "--out", str(out))
    assert again.returncode == 0 and "held no records of other arguments" in again.stderr


def test_types_are_drawn_not_filtered():
    """Every candidate aims at one of the asked types, and one that aims at its own focus is the kernel
    the main job draws for that seed (so --types costs the default run nothing)."""
    asked = ("loop", "atomic")
    seeds = range(200)
    assert all(aim(seed, asked) in asked for seed in seeds)
    own = [seed for seed in seeds if focus_of(seed) in asked]
    assert own and all(aim(seed, asked) == focus_of(seed) for seed in own)
    assert all(aim(seed, KERNEL_TYPES) == focus_of(seed) for seed in seeds)
    other = next(seed for seed in seeds if focus_of(seed) not in asked)
    s = sample(other, focus=aim(other, asked))
    assert s.policy.focus in asked and s.kernel_type in asked


def test_a_types_run_keeps_nearly_every_candidate_and_regenerates(tmp_path):
    out = tmp_path / "d"
    result = synth("--types", "loop,atomic", "--count", "12", "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["per_type"]) == {"loop", "atomic"} and stats["candidates"] <= 14, stats
    checked = synth("validate", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _defaults(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(list(args))


def test_the_default_out_names_what_defines_the_run():
    assert default_out(_defaults()) == Path("artifacts/datasets/cpu")
    assert default_out(_defaults("--count", "5", "--workers", "3")) == Path("artifacts/datasets/cpu")
    assert default_out(_defaults("--types", "loop,atomic", "--device", "cuda")) == Path(
        "artifacts/datasets/cuda-atomic+loop"
    )
    named = default_out(_defaults("--seed", "7", "--max-record-bytes", "9000", "--verify", "compile"))
    assert named == Path("artifacts/datasets/cpu-seed7-max9000-verify-compile")


@pytest.mark.parametrize("to_group", [False, True], ids=["parent", "process group"])
def test_sigterm_is_one_line_and_resumes(to_group, tmp_path):
    """SIGTERM (docker stop: the parent; a scheduler: the group) mid-run, as Ctrl-C: one line, exit 143."""
    out = tmp_path / "out"
    proc = start_gated(out, tmp_path / "gate")
    (os.killpg if to_group else os.kill)(proc.pid, signal.SIGTERM)
    stderr = finish(proc)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "synth: terminated (SIGTERM); run the same command again to resume"
    )
    assert synth(*ARGS, "--out", str(out)).returncode == 0
    reference = tmp_path / "reference"
    assert synth(*ARGS, "--out", str(reference)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == (reference / "dataset.jsonl").read_bytes()


def test_validate_says_a_dataset_is_unfinished_and_checks_its_checkpoint(small_dataset, tmp_path):
    out = tmp_path / "d"
    subprocess.run(["cp", "-r", str(small_dataset), str(out)], check=True)
    (out / "stats.json").unlink()
    with open(out / "dataset.jsonl", "ab") as f:
        f.write(b'{"half a record')  # a batch cut short past the checkpoint: not a problem
    result = synth("validate", str(out), "--sample", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"synth: validate: {out} is unfinished: its run stopped at 48 records" in result.stderr


def test_validate_says_a_dataset_is_being_written(small_dataset, tmp_path):
    out = tmp_path / "d"
    subprocess.run(["cp", "-r", str(small_dataset), str(out)], check=True)
    with open(out / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("4242\n")
        lock.flush()
        result = synth("validate", str(out), "--sample", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{out} is being written by a run (pid 4242); it holds 48 records" in result.stderr


def test_a_reader_that_stops_reading_is_no_error(small_dataset):
    proc = subprocess.Popen(
        [sys.executable, "-m", "synth", "show", str(small_dataset), "--index", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and stderr == ""


def test_main_help_lists_the_exit_statuses():
    result = synth("--help")
    assert result.returncode == 0
    help_text = result.stdout
    assert "exit status:" in help_text
    for code in ("0", "1", "2", "130", "143"):
        assert f"\n  {code} " in help_text


def test_export_refuses_someone_elses_directory(small_dataset, tmp_path):
    out = _foreign_dir(tmp_path / "theirs")
    result = synth("export", str(small_dataset), "--format", "parquet", "--out", str(out))
    assert result.returncode == 2 and "not warp-synth's" in error_line(result.stderr)
    _as_found(out)


def test_an_output_directory_says_whose_it_is(small_dataset):
    assert json.loads((small_dataset / MARKER).read_text())["kind"] == "a dataset"


def test_an_interpreter_that_cannot_be_executed_is_said_so(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n")  # exists, but no execute bit
    result = synth("fuzz", "--count", "1", "--target-python", str(python), "--out", str(tmp_path / "f"))
    assert result.returncode == 2
    assert error_line(result.stderr).endswith(
        f"{python}: not executable (chmod +x it, or name the interpreter itself)"
    )
