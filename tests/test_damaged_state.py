"""Damaged state in --out, and what the command says about a run: real processes, small datasets.

A damaged checkpoint is rebuilt from the records, a dataset cut short (or damaged) below its
checkpoint is cut back to its last whole record; either way one line says so, and the resumed dataset
is the one an undisturbed run writes.  Damage the records cannot repair is one line and exit 2.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from fcntl import ioctl
from pathlib import Path

import pytest

from grammar.labels import KERNEL_TYPES
from synth.cli import SUBCOMMANDS
from tests.test_cli import ROOT, synth

FIRST = ("--count", "6", "--seed", "3", "--workers", "1")
WHOLE = ("--count", "12", "--seed", "3", "--workers", "1")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A finished run of FIRST (copied by each test before damaging it)."""
    out = tmp_path_factory.mktemp("made")
    assert synth(*FIRST, "--out", str(out)).returncode == 0
    return out


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> bytes:
    """The dataset an undisturbed run of WHOLE writes."""
    out = tmp_path_factory.mktemp("whole")
    assert synth(*WHOLE, "--out", str(out)).returncode == 0
    return (out / "dataset.jsonl").read_bytes()


def _copy(made: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(made, out)
    return out


def _garbage(out: Path) -> None:
    (out / "progress.json").write_bytes(b"\x00\x17{garbage")


def _other_object(out: Path) -> None:
    (out / "progress.json").write_text(json.dumps({"records": 6, "hello": "world"}))


def _a_list(out: Path) -> None:
    (out / "progress.json").write_text("[1, 2, 3]")


def _truncated(out: Path) -> None:
    dataset = out / "dataset.jsonl"
    os.truncate(dataset, dataset.stat().st_size // 2)


def _damaged_line(out: Path) -> None:
    dataset = out / "dataset.jsonl"
    lines = dataset.read_bytes().splitlines(keepends=True)
    lines[3] = b"#" + lines[3][1:]
    dataset.write_bytes(b"".join(lines))


#: damage -> (how, what the one line says)
REPAIRABLE: dict[str, tuple[Callable[[Path], None], str]] = {
    "progress.json garbage": (_garbage, "progress.json is damaged (Expecting value"),
    "progress.json another object": (_other_object, "progress.json is damaged (unexpected field 'hello')"),
    "progress.json a list": (_a_list, "progress.json is damaged (a JSON list, not an object)"),
    "dataset.jsonl truncated": (_truncated, "dataset.jsonl is shorter than its checkpoint"),
    "dataset.jsonl damaged line": (_damaged_line, "line 4 of"),
}


@pytest.mark.parametrize("damage", list(REPAIRABLE))
def test_damage_is_repaired_in_one_line_and_the_run_resumes_to_the_same_bytes(damage, made, whole, tmp_path):
    out = _copy(made, tmp_path)
    how, says = REPAIRABLE[damage]
    how(out)
    result = synth(*WHOLE, "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("synth: repaired: ")]
    assert len(notes) == 1 and says in notes[0], result.stderr
    assert (out / "dataset.jsonl").read_bytes() == whole


@pytest.mark.parametrize("dataset", ["empty", "another seed"])
def test_a_damaged_checkpoint_without_records_of_this_run_is_refused(dataset, made, tmp_path):
    out = _copy(made, tmp_path)
    _garbage(out)
    args = FIRST if dataset == "another seed" else ("--count", "6", "--seed", "3")
    if dataset == "empty":
        (out / "dataset.jsonl").write_bytes(b"")
    else:
        args = ("--count", "6", "--seed", "4", "--workers", "1")
    before = (out / "dataset.jsonl").read_bytes()
    result = synth(*args, "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "progress.json is damaged" in line and "use --fresh" in line
    assert (out / "dataset.jsonl").read_bytes() == before


def test_a_finished_dataset_has_nothing_to_do(made, tmp_path):
    out = _copy(made, tmp_path)
    again = synth(*FIRST, "--out", str(out))
    assert again.returncode == 0
    held = f"{out} already holds the 6 records ({_mb(out)}) asked for"
    assert again.stderr.strip() == f"synth: nothing to do: {held}"
    fewer = synth("--count", "3", "--seed", "3", "--workers", "1", "--out", str(out))
    assert fewer.returncode == 0
    assert "already holds 6 records" in fewer.stderr and "more than the 3 asked for" in fewer.stderr
    assert json.loads((out / "stats.json").read_text())["records"] == 6


def _mb(out: Path) -> str:
    return f"{(out / 'dataset.jsonl').stat().st_size / 1e6:.2f} MB"


def test_a_resumed_run_says_where_it_resumed(made, tmp_path):
    out = _copy(made, tmp_path)
    result = synth(*WHOLE, "--out", str(out))
    assert result.returncode == 0
    resumed = r"^synth: 12 records, [\d.]+ MB -> .*; this run: 6 new \(resumed at 6\), [\d.]+ MB in "
    assert re.search(resumed, result.stderr, re.M), result.stderr


def test_verify_without_failures_points_at_no_findings(tmp_path):
    result = synth("--count", "2", "--workers", "1", "--verify", "compile", "--out", str(tmp_path))
    assert result.returncode == 0
    assert "0 failed to compile" in result.stderr and "findings" not in result.stderr
    assert not (tmp_path / "findings").exists()


@pytest.mark.parametrize("columns", ["50", "80"])
def test_help_lists_the_commands_and_breaks_no_word(columns):
    result = subprocess.run(
        [sys.executable, "-m", "synth", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS=columns),
    )
    text = result.stdout
    for name in SUBCOMMANDS:
        assert re.search(rf"^  {name}  ", text, re.M)
    words = set(re.findall(r"[\w.-]+", text))
    assert set(KERNEL_TYPES) <= words and "comma" not in words
    assert not [line for line in text.splitlines() if re.search(r"\w-$", line)]
    assert max(map(len, text.splitlines())) <= int(columns)


def test_progress_bar_ends_before_the_summary(tmp_path):
    """On an 80-column terminal: the last bar shows 100% and a labelled ETA, and the summary is a line
    of its own after it, printed once."""
    primary, secondary = pty.openpty()
    ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm", COLUMNS="80")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "synth", *FIRST, "--out", str(tmp_path)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    screens = [screen for line in text.split("\n") for screen in line.split("\r") if screen.strip()]
    summary = [n for n, screen in enumerate(screens) if screen.startswith("synth: 6 records")]
    assert len(summary) == 1 and summary[0] == len(screens) - 1, screens
    last_bar = screens[summary[0] - 1]
    assert "100%" in last_bar and "ETA" in last_bar and "6 records" in last_bar, last_bar
    assert all(len(bar) <= 80 for bar in screens[: summary[0]]), screens
