"""`export`: Parquet shards with an explicit schema, splits by structural hash, loading with `datasets`."""

import json
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import synth

from synth.dataset import split_of
from synth.schema import arrow_schema

datasets = pytest.importorskip("datasets")


def _lines(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "dataset.jsonl").read_text().splitlines()]


def _by_sha(rows) -> dict[str, dict]:
    return {row["metadata"]["source_sha1"]: row for row in rows}


@pytest.fixture(scope="module")
def exported(small_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parquet")
    result = synth(
        "export", str(small_dataset), "--format", "parquet", "--out", str(out), "--split", "0.5,0.25,0.25"
    )
    assert result.returncode == 0, result.stderr
    return out


def test_load_dataset_gives_every_record_with_the_same_fields_and_values(small_dataset, exported):
    records = _lines(small_dataset)
    parquet = datasets.load_dataset("parquet", data_dir=str(exported))
    assert isinstance(parquet, datasets.DatasetDict)
    assert set(parquet) == {"train", "validation", "test"}
    from_parquet = _by_sha(row for split in parquet.values() for row in split)
    from_json = _by_sha(
        datasets.load_dataset("json", data_files=str(small_dataset / "dataset.jsonl"))["train"]
    )
    assert from_parquet == from_json == _by_sha(records)
    assert len(from_parquet) == len(records) == 48
    # the card's configs load too: the Parquet directory as a dataset, and the run's own directory
    assert {k: len(v) for k, v in datasets.load_dataset(str(exported)).items()} == {
        k: len(v) for k, v in parquet.items()
    }
    assert len(datasets.load_dataset(str(small_dataset))["train"]) == 48


def test_shards_have_the_explicit_schema_zstd_and_hugging_face_names(exported):
    shards = sorted((exported / "data").glob("*.parquet"))
    assert [s.name for s in shards] == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    for shard in shards:
        parquet = pq.ParquetFile(shard)
        assert parquet.schema_arrow == arrow_schema()
        assert parquet.schema_arrow.field("metadata").type.num_fields == 11  # a struct, not a JSON string
        assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"


def test_splits_follow_the_structural_hash(small_dataset, exported):
    parquet = datasets.load_dataset("parquet", data_dir=str(exported))
    for name, split in parquet.items():
        for row in split:
            assert split_of(row["metadata"]["ast_shape_sha1"], (0.5, 0.25, 0.25)) == name


def test_splits_are_stable_whatever_the_order_and_shapes_never_straddle(small_dataset, tmp_path):
    # a copy read in another order, holding one kernel twice under another name (the same AST shape)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(small_dataset, shuffled)
    lines = (small_dataset / "dataset.jsonl").read_text().splitlines(keepends=True)
    twin = json.loads(lines[0])
    original_sha = twin["metadata"]["source_sha1"]
    twin["kernel_name"] += "_twin"
    twin["metadata"]["source_sha1"] = "0" * 40
    lines.append(json.dumps(twin) + "\n")
    random.Random(1).shuffle(lines)
    (shuffled / "dataset.jsonl").write_text("".join(lines))
    splits = {}
    for directory in (small_dataset, shuffled):
        out = tmp_path / f"parquet_{directory.name}"
        result = synth("export", str(directory), "--out", str(out), "--split", "0.5,0.25,0.25")
        assert result.returncode == 0, result.stderr
        splits[directory] = {
            row["metadata"]["source_sha1"]: name
            for name, split in datasets.load_dataset("parquet", data_dir=str(out)).items()
            for row in split
        }
    twin_split = splits[shuffled].pop("0" * 40)
    assert splits[shuffled] == splits[small_dataset]
    assert twin_split == splits[small_dataset][original_sha]
    assert len(set(splits[small_dataset].values())) == 3


def test_shard_size_is_settable_and_a_new_export_replaces_the_old_shards(small_dataset, tmp_path):
    out = tmp_path / "p"
    assert synth("export", str(small_dataset), "--out", str(out), "--shard-bytes", "300000").returncode == 0
    train = sorted(p.name for p in (out / "data").glob("train-*.parquet"))
    assert len(train) > 2 and train[0] == f"train-00000-of-{len(train):05d}.parquet"
    sizes = [pq.ParquetFile(out / "data" / name).metadata.num_rows for name in train]
    assert sum(sizes) == len(datasets.load_dataset("parquet", data_dir=str(out))["train"])
    assert synth("export", str(small_dataset), "--out", str(out)).returncode == 0
    assert sorted(p.name for p in (out / "data").iterdir() if p.name.startswith("train")) == [
        "train-00000-of-00001.parquet"
    ]
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]


@pytest.mark.parametrize(
    "args",
    [
        ["export", "{missing}", "--out", "{tmp}/p"],
        ["export", "{file}", "--out", "{tmp}/p"],
        ["export", "{other_warp}", "--out", "{tmp}/p"],
        ["export", "{truncated}", "--out", "{tmp}/p"],
        ["export", "{dataset}", "--out", "{tmp}/p", "--split", "0.9,0.2,0.1"],
        ["export", "{dataset}", "--out", "{tmp}/p", "--format", "csv"],
        ["export", "{dataset}"],
        ["stats", "{missing}"],
        ["show", "{file}", "--index", "0"],
        ["show", "{dataset}", "--index", "100000"],
        ["show", "{dataset}", "--seed", "5", "--index", "1"],
        ["validate", "{other_warp}"],
        ["validate", "{tmp}"],
    ],
)
def test_bad_input_is_one_line(args, small_dataset, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(small_dataset, other)
    lines = (
        (other / "dataset.jsonl").read_text().replace('"warp_version":"1.19.0"', '"warp_version":"1.18.0"')
    )
    (other / "dataset.jsonl").write_text(lines)
    (tmp_path / "notes.txt").write_text("no dataset here\n")
    truncated = tmp_path / "truncated"
    shutil.copytree(small_dataset, truncated)
    (truncated / "dataset.jsonl").write_bytes((small_dataset / "dataset.jsonl").read_bytes()[:-100])
    names = {
        "missing": tmp_path / "missing",
        "file": tmp_path / "notes.txt",
        "other_warp": other,
        "truncated": truncated,
        "dataset": small_dataset,
        "tmp": tmp_path,
    }
    result = synth(*(a.format(**names) for a in args))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("synth: error:"), (
        result.stderr
    )
    assert not (tmp_path / "p").exists()
