"""`stats` prints the card's figures; `show` prints one record, highlighted on a terminal."""

import json
import re
import shutil

from conftest import synth


def _records(directory):
    return [json.loads(line) for line in (directory / "dataset.jsonl").read_text().splitlines()]


def test_stats_prints_the_cards_figures(small_dataset):
    result = synth("stats", str(small_dataset), COLUMNS="200")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "48 records" in out and "--device cpu --seed 3 --count 48" in out
    for title in ("Splits", "kernel_type", "device", "Builtin families", "Warp types", "Sizes"):
        assert title in out
    records = _records(small_dataset)
    kernel_type = records[0]["kernel_type"]
    count = sum(r["kernel_type"] == kernel_type for r in records)
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]
    assert [kernel_type, str(count)] in rows


def test_show_prints_a_record_by_index_or_seed(small_dataset):
    records = _records(small_dataset)
    index = next(n for n, r in enumerate(records) if r["code_backward"] is not None)
    record = records[index]
    by_index = synth("show", str(small_dataset), "--index", str(index))
    by_seed = synth("show", str(small_dataset), "--seed", str(record["metadata"]["seed"]))
    assert by_index.returncode == by_seed.returncode == 0, by_index.stderr + by_seed.stderr
    assert by_index.stdout == by_seed.stdout
    assert record["python_source"] in by_index.stdout and record["code_forward"] in by_index.stdout
    backward = synth("show", str(small_dataset), "--index", str(index), "--field", "code_backward").stdout
    assert record["code_backward"] in backward and record["code_forward"] not in backward


def test_show_says_when_a_kernel_has_no_backward_code(small_dataset, tmp_path):
    """`@wp.kernel(enable_backward=False)` records hold null `code_backward` (here: set on a copy)."""
    out = tmp_path / "d"
    shutil.copytree(small_dataset, out)
    records = _records(out)
    records[0]["code_backward"] = None
    (out / "dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    shown = synth("show", str(out), "--index", "0", "--field", "code_backward")
    assert shown.returncode == 0, shown.stderr
    assert "(null: Warp emits no backward code" in shown.stdout


def test_show_highlights_on_a_terminal(small_dataset):
    result = synth("show", str(small_dataset), "--index", "0", FORCE_COLOR="1", COLUMNS="200")
    assert result.returncode == 0
    source = result.stdout.split("python_source")[1].split("code_forward")[0]
    assert source.count("\x1b[") > 20  # rich's syntax highlighting
    assert "@wp.kernel" in re.sub(r"\x1b\[[0-9;]*m", "", source)
