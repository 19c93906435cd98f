"""The fuzzer's files have a schema table each: what it writes matches them, and a damaged line of
results.jsonl or findings.jsonl is refused in one line naming the file and the line."""

import dataclasses

import pytest

from check.findings import _SCRIPT_ONLY, FINDING, Finding, read_findings, write_finding
from check.fuzz.results import FUZZ_SUMMARY, RESULT, ResultsWriter, result_line, summarize
from check.harness import Report
from emit.records import candidate_seed
from emit.schema import DamagedFile, errors
from emit.writer import DatasetMismatch

RUN = {"command": "fuzz", "device": "cpu", "seed": 0}

#: Damage of the same length as what it replaces (the checkpoint's byte count still covers it).
DAMAGE = {
    "bad JSON": ('{"', "{x", "not JSON"),
    "missing field": ('"kernel_name"', '"kernel_nbme"', "kernel_name: missing"),
    "wrong type": ('"kernel_type": "ab"', '"kernel_type": 1234', "kernel_type: expected string, got int"),
    "unknown kind": ('"kind": "crash"', '"kind": "crush"', "'crush' is none of compile, crash"),
}


def _lines() -> list[dict]:
    """Two results lines of run 0 (seeds of candidates 0 and 1), the second with a filed crash."""
    reports = [Report(candidate_seed(0, n), f"k{n}", "ab", "") for n in range(2)]
    crash = [{"kind": "crash", "versions": ["1.19.0"], "finding": "crash_0123456789.py"}]
    return [result_line(0, reports[0], []), result_line(1, reports[1], crash)]


def test_written_files_match_their_tables(tmp_path):
    lines = _lines()
    assert all(errors(line, RESULT) == [] for line in lines)
    summary = summarize(lines, gpu=False, seconds=2.0) | {"warp": {"target": "1.19.0"}}
    assert errors(summary, FUZZ_SUMMARY) == []
    assert errors({**summary, "kernels": "2"}, FUZZ_SUMMARY) == ["kernels: expected int64, got str"]
    finding = Finding("crash", "cpu", "k", "import warp as wp\n", "RuntimeError: boom", 3)
    write_finding(tmp_path, finding, {"exit_status": {"1.19.0": 1}})
    (line,) = read_findings(tmp_path / "findings")
    fields = {f.name for f in dataclasses.fields(Finding)} - set(_SCRIPT_ONLY)
    assert fields <= {f.name for f in FINDING.fields} and line["kind"] == "crash"


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_results_line_is_refused_on_resume_and_when_read(tmp_path, damage):
    results = ResultsWriter(tmp_path, RUN)
    results.append_group(_lines(), 1.0)
    assert [line["index"] for line in results.lines()] == [0, 1]  # a good file passes
    results.close()
    old, new, said = DAMAGE[damage]
    path = tmp_path / "results.jsonl"
    first, second = path.read_text().splitlines(keepends=True)
    assert old in second
    path.write_text(first + second.replace(old, new, 1))
    with pytest.raises(DatasetMismatch) as refused:
        ResultsWriter(tmp_path, RUN)
    assert f"{path} line 2: " in str(refused.value) and said in str(refused.value), refused.value
    assert "\n" not in str(refused.value)


#: The same damage of a findings line (whose wrong type is another field's).
FINDINGS_DAMAGE = DAMAGE | {
    "wrong type": ('"shrunk": false', '"shrunk": 12345', "shrunk: expected bool, got int")
}


@pytest.mark.parametrize("damage", sorted(FINDINGS_DAMAGE))
def test_a_damaged_findings_line_is_refused(tmp_path, damage):
    for n in range(2):
        write_finding(tmp_path, Finding("crash", "cpu", "k", f"import warp as wp\nX = {n}\n", "boom", n))
    assert len(read_findings(tmp_path / "findings")) == 2  # a good file passes
    index = tmp_path / "findings" / "findings.jsonl"
    first, second = index.read_text().splitlines(keepends=True)
    old, new, said = FINDINGS_DAMAGE[damage]
    assert old in second
    index.write_text(first + second.replace(old, new, 1))
    with pytest.raises(DamagedFile) as refused:
        read_findings(tmp_path / "findings")
    assert str(refused.value).startswith(f"{index} line 2: ") and said in str(refused.value), refused.value


def test_the_command_refuses_a_damaged_results_file_in_one_line(tmp_path, capsys, monkeypatch):
    from synth import cli, fuzz

    out = tmp_path / "out"
    checked = ([0], [Report(candidate_seed(0, 0), "k0", "ab", "")])  # one kernel, nothing failed
    monkeypatch.setattr(fuzz, "checked_groups", lambda *args: iter([checked]))
    assert cli.main(["fuzz", "--count", "1", "--out", str(out)]) == 0
    path = out / "results.jsonl"
    path.write_text(path.read_text().replace('"kernel_type": "ab"', '"kernel_type": 1234'))
    capsys.readouterr()
    assert cli.main(["fuzz", "--count", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path} line 1: kernel_type: expected string" in err, err
