"""`validate`: every line's schema, stats.json, records re-lowered and regenerated, optionally compiled."""

import json
import shutil

import pytest
from conftest import synth


@pytest.fixture
def copy(small_dataset, tmp_path):
    out = tmp_path / "d"
    shutil.copytree(small_dataset, out)
    return out


def test_a_written_dataset_validates(small_dataset):
    result = synth("validate", str(small_dataset))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "48 records; 48 regenerated, re-lowered; 0 problem(s)" in result.stderr


def test_a_code_field_altered_by_one_character_is_caught(copy):
    lines = (copy / "dataset.jsonl").read_text().splitlines(keepends=True)
    record = json.loads(lines[20])
    at = record["code_forward"].index("var_")
    record["code_forward"] = record["code_forward"][:at] + "w" + record["code_forward"][at + 1 :]
    lines[20] = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    (copy / "dataset.jsonl").write_text("".join(lines))
    result = synth("validate", str(copy))
    assert result.returncode == 1
    seed = record["metadata"]["seed"]
    assert result.stdout.splitlines() == [
        f"{copy}/dataset.jsonl:21 (seed {seed}): code_forward differs from a fresh lowering of python_source "
        f"(at character {at})"
    ]


def test_a_truncated_last_line_is_caught(copy):
    data = (copy / "dataset.jsonl").read_bytes()
    (copy / "dataset.jsonl").write_bytes(data[:-500])
    result = synth("validate", str(copy), "--sample", "3")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{copy}/dataset.jsonl:48: truncated line (no newline at the end of the file)"
    # stats.json no longer agrees with the file: one line per figure that differs
    assert f"{copy}/stats.json: records is 48, the file has 47" in lines
    assert any(line.startswith(f"{copy}/stats.json: bytes is ") for line in lines)


def test_a_line_of_another_schema_and_regenerated_source_are_checked(copy):
    lines = (copy / "dataset.jsonl").read_text().splitlines(keepends=True)
    bad_schema = json.loads(lines[3])
    del bad_schema["metadata"]["codegen"]
    lines[3] = json.dumps(bad_schema) + "\n"
    other_source = json.loads(lines[5])
    other_source["python_source"] = other_source["python_source"].replace("wp.tid()", "wp.tid() ")
    lines[5] = json.dumps(other_source) + "\n"
    (copy / "dataset.jsonl").write_text("".join(lines))
    result = synth("validate", str(copy))
    assert result.returncode == 1
    out = [line for line in result.stdout.splitlines() if line.startswith(f"{copy}/dataset.jsonl")]
    assert out[0] == f"{copy}/dataset.jsonl:4: not a record of this schema: metadata.codegen: missing"
    assert out[1].startswith(f"{copy}/dataset.jsonl:6 (seed {other_source['metadata']['seed']}): ")
    assert "python_source differs from the one grammar.sample.sample(seed) gives" in out[1]
    assert len(out) == 2


def test_compile_compiles_quietly(small_dataset):
    result = synth("validate", str(small_dataset), "--sample", "4", "--compile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"synth: validate {small_dataset}/dataset.jsonl: 48 records; 4 regenerated, re-lowered and compiled; "
        "0 problem(s)"
    ]


def test_compile_reports_code_that_does_not_compile(copy):
    lines = (copy / "dataset.jsonl").read_text().splitlines(keepends=True)[:3]
    record = json.loads(lines[0])
    body = "    // argument vars"  # inside the forward kernel's body
    record["code_forward"] = record["code_forward"].replace(body, "    undeclared_name = 1;\n" + body, 1)
    lines[0] = json.dumps(record) + "\n"
    (copy / "dataset.jsonl").write_text("".join(lines))
    result = synth("validate", str(copy), "--compile")
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if ":1 " in line]
    assert "code_forward differs" in line and "does not compile:" in line and "undeclared_name" in line
