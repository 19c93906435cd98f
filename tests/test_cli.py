"""The command line: bad input is one line and exit 2; runs are reproducible and resumable."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, synth


@pytest.mark.parametrize(
    "args",
    [
        ["--device", "tpu"],
        ["--target-bytes", "-5"],
        ["--target-bytes", "lots"],
        ["--count", "0"],
        ["--workers", "0"],
        ["--seed", "x"],
        ["--types", "loop,bogus"],
        ["--count", "3", "--target-bytes", "100"],
        ["--out", "/proc/forbidden"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, tmp_path):
    result = synth(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synth: error:"), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "artifacts").exists()


def test_unwritable_out_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.write_text("a file, not a directory")
    result = synth("--count", "2", "--out", str(locked / "sub"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_help_documents_every_option():
    out = synth("--help").stdout
    for option in (
        "--device",
        "--target-bytes",
        "--count",
        "--out",
        "--seed",
        "--workers",
        "--types",
        "--fresh",
        "--verify",
    ):
        assert option in out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_workers_do_not_change_the_bytes(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert synth("--count", "30", "--seed", "7", "--workers", "1", "--out", str(one)).returncode == 0
    assert synth("--count", "30", "--seed", "7", "--workers", "2", "--out", str(two)).returncode == 0
    assert (one / "dataset.jsonl").read_bytes() == (two / "dataset.jsonl").read_bytes()
    stats = json.loads((one / "stats.json").read_text())
    assert stats["records"] == 30 and stats["warp_version"] == "1.19.0"
    assert sum(stats["per_type"].values()) == 30


#: The reproducer of a kernel whose code Warp 1.19 writes differently under different hash seeds;
#: no generated kernel of a short run is one.
HASH_SEED_FINDING = ROOT / "docs" / "warp_findings" / "codegen_depends_on_hash_seed.py"


def _finding_kernel(path: Path, name: str) -> str:
    """Kernel `name` of a reproducer, alone in a module of its own."""
    text = path.read_text()
    (kernel,) = [n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name]
    lines = text.splitlines()[kernel.decorator_list[0].lineno - 1 : kernel.end_lineno]
    return "import warp as wp\n\n" + "\n".join(lines) + "\n"


HASH_SEED_KERNEL = _finding_kernel(HASH_SEED_FINDING, "unrolled_around_dynamic")

#: `sitecustomize.py` for a run: every process of it (the command, re-executed or not, and its
#: workers) lowers HASH_SEED_KERNEL as candidate 0.
SUBSTITUTE = """import ast
import dataclasses

from emit.records import candidate_of
from grammar.features import extract_features
from synth import pipeline

_build_record = pipeline.build_record


def build_record(sample, device):
    if candidate_of(sample.seed)[1] == 0:
        tree = ast.parse({source!r})
        sample = dataclasses.replace(
            sample, tree=tree, kernel_name="unrolled_around_dynamic", features=extract_features(tree)
        )
    return _build_record(sample, device)


pipeline.build_record = build_record
"""


def _run(python: list[str], hash_seed: str, path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=path, PYTHONHASHSEED=hash_seed)
    return subprocess.run([sys.executable, *python], capture_output=True, text=True, env=env, timeout=600)


def _code_under(hash_seed: str) -> str:
    lowered = (
        "from emit.lower import lower; import sys; c = lower(sys.argv[1], 'unrolled_around_dynamic', 'cpu')"
    )
    result = _run(
        ["-c", f"{lowered}; print(c.forward + (c.backward or ''))", HASH_SEED_KERNEL], hash_seed, str(ROOT)
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_hash_seed_does_not_change_the_bytes(tmp_path):
    """Started under two hash seeds, a run writes the same bytes, for a kernel whose code depends on it."""
    assert _code_under("1") != _code_under("3")  # Warp writes this kernel by the hash seed
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SUBSTITUTE.format(source=HASH_SEED_KERNEL))
    outs = [tmp_path / h for h in ("1", "3")]
    for out in outs:
        args = ["-m", "synth", "--count", "2", "--workers", "1", "--out", str(out)]
        result = _run(args, out.name, f"{hook}{os.pathsep}{ROOT}")
        assert result.returncode == 0, result.stderr
    first = (outs[0] / "dataset.jsonl").read_bytes()
    assert b"unrolled_around_dynamic" in first  # the substitute was lowered
    assert first == (outs[1] / "dataset.jsonl").read_bytes()


def test_types_filter_and_byte_target(tmp_path):
    out = tmp_path / "o"
    assert (
        synth(
            "--target-bytes", "60000", "--types", "loop,atomic", "--workers", "1", "--out", str(out)
        ).returncode
        == 0
    )
    records = _lines(out / "dataset.jsonl")
    assert {r["kernel_type"] for r in records} <= {"loop", "atomic"}
    assert (out / "dataset.jsonl").stat().st_size >= 60000


def test_records_over_the_size_limit_are_skipped_and_counted(tmp_path):
    out = tmp_path / "o"
    limit = 14000  # below the median record: about half the candidates are over it
    result = synth("--count", "8", "--max-record-bytes", str(limit), "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = (out / "dataset.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 8 and max(map(len, lines)) <= limit
    stats = json.loads((out / "stats.json").read_text())
    assert stats["skipped"]["skipped_too_large"] > 0


def test_rerun_resumes_without_duplicates(tmp_path):
    out = tmp_path / "o"
    assert synth("--count", "10", "--workers", "1", "--out", str(out)).returncode == 0
    # a later run with a larger target continues the same stream
    assert synth("--count", "20", "--workers", "1", "--out", str(out)).returncode == 0
    resumed = (out / "dataset.jsonl").read_bytes()
    fresh = tmp_path / "f"
    assert synth("--count", "20", "--workers", "1", "--out", str(fresh)).returncode == 0
    assert resumed == (fresh / "dataset.jsonl").read_bytes()
    # a torn write after the last checkpoint is cut off on resume
    with open(out / "dataset.jsonl", "ab") as f:
        f.write(b'{"half a rec')
    assert synth("--count", "20", "--workers", "1", "--out", str(out)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == resumed


def test_resume_with_other_arguments_is_refused(tmp_path):
    out = tmp_path / "o"
    assert synth("--count", "3", "--workers", "1", "--out", str(out)).returncode == 0
    result = synth("--count", "3", "--seed", "9", "--workers", "1", "--out", str(out))
    assert result.returncode == 2 and "seed" in result.stderr


def test_resume_by_another_generator_version_is_refused(tmp_path):
    """Records of another generator would not regenerate from their seeds: no mixed dataset."""
    out = tmp_path / "o"
    assert synth("--count", "3", "--workers", "1", "--out", str(out)).returncode == 0
    progress = json.loads((out / "progress.json").read_text())
    progress["run"]["generator_version"] = "0.0.1"
    (out / "progress.json").write_text(json.dumps(progress))
    before = (out / "dataset.jsonl").read_bytes()
    result = synth("--count", "6", "--workers", "1", "--out", str(out))
    assert result.returncode == 2 and "generator_version" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (out / "dataset.jsonl").read_bytes() == before
