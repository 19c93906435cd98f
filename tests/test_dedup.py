"""Exact (source) and structural (AST shape) duplicates are dropped, counted, and stay dropped on resume."""

import ast
import json

from emit.records import ast_shape
from synth import pipeline
from synth.pipeline import Outcome, Run, RunConfig


def _outcome(index: int, source: str, shape: str) -> Outcome:
    """A record with what a resumed run reads back (kept small)."""
    meta = {"seed": index, "source_sha1": source, "ast_shape_sha1": shape, "builtins": [], "types": []}
    line = json.dumps({"device": "cpu", "kernel_type": "arithmetic", "metadata": meta}) + "\n"
    return Outcome(index, "ok", line.encode(), "arithmetic", source_sha1=source, shape_sha1=shape)


#: candidate index -> (source hash, shape hash); 1 repeats 0's source, 3 repeats 2's shape
STREAM = [("s0", "h0"), ("s0", "h0"), ("s2", "h2"), ("s3", "h2"), ("s4", "h4"), ("s5", "h5")]


class FakeEngine:
    """Hands out STREAM in chunks of two, from any start (as a resumed run asks)."""

    retries = 0

    def __init__(self, config: RunConfig):
        pass

    def chunks(self, start: int):
        for lo in range(start, len(STREAM), 2):
            yield [_outcome(k, *STREAM[k]) for k in range(lo, min(lo + 2, len(STREAM)))]

    def close(self) -> None:
        pass


def _run(monkeypatch, out, count: int) -> dict:
    monkeypatch.setitem(pipeline.ENGINES, "local", FakeEngine)
    return Run(RunConfig(device="cpu", out=out, count=count, types=("arithmetic",))).execute()


def test_duplicates_are_dropped_and_counted(monkeypatch, tmp_path):
    stats = _run(monkeypatch, tmp_path, count=4)
    seeds = [json.loads(line)["metadata"]["seed"] for line in (tmp_path / "dataset.jsonl").open()]
    assert seeds == [0, 2, 4, 5]
    assert stats["skipped"] == {"duplicate_exact": 1, "duplicate_structural": 1}
    assert json.loads((tmp_path / "stats.json").read_text())["skipped"] == stats["skipped"]


def test_resume_still_knows_what_was_written(monkeypatch, tmp_path):
    _run(monkeypatch, tmp_path, count=1)  # stops after the first chunk: records 0, candidate 1 dropped
    stats = _run(monkeypatch, tmp_path, count=4)
    seeds = [json.loads(line)["metadata"]["seed"] for line in (tmp_path / "dataset.jsonl").open()]
    assert seeds == [0, 2, 4, 5] and stats["skipped"]["duplicate_structural"] == 1


def test_shape_ignores_names_and_numbers_but_not_structure():
    def shape(src: str) -> str:
        return ast_shape(ast.parse(src))

    assert shape("x = wp.sin(a[i]) + 1.0") == shape("y = wp.sin(b[j]) + 2.5")
    assert shape("x = wp.sin(a[i])") != shape("x = wp.cos(a[i])")
    assert shape("x = a + 1") != shape("x = a + 1.0")
    assert shape("x = a + b") != shape("x = a * b")
