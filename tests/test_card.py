"""The dataset card: written at the end of a run and by export, Hugging Face conventions, true figures."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import synth

from emit.records import GENERATOR_VERSION
from synth.card import CARD, warp_findings
from synth.schema import arrow_schema

datasets = pytest.importorskip("datasets")
ROOT = Path(__file__).resolve().parents[1]


def _front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1))


def _records(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "dataset.jsonl").read_text().splitlines()]


def test_run_writes_a_hugging_face_card(small_dataset):
    card = (small_dataset / CARD).read_text()
    meta = _front_matter(card)
    assert meta["license"] and meta["task_categories"] == ["text-generation"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "dataset.jsonl"}]}
    ]
    # the features are exactly what `datasets` makes of the Parquet schema
    assert (
        meta["dataset_info"]["features"]
        == datasets.Features.from_arrow_schema(arrow_schema())._to_yaml_list()
    )
    assert meta["dataset_info"]["splits"] == [
        {"name": "train", "num_bytes": (small_dataset / "dataset.jsonl").stat().st_size, "num_examples": 48}
    ]
    from huggingface_hub import DatasetCard

    assert DatasetCard.load(small_dataset / CARD).data.to_dict()["license"] == meta["license"]


def test_card_states_how_it_was_made_and_the_command_reproduces_the_bytes(small_dataset, tmp_path):
    card = (small_dataset / CARD).read_text()
    command = re.search(r"- Command: `python -m synth (.*?)`", card).group(1)
    assert command == "--device cpu --seed 3 --count 48"
    assert "warp-lang 1.19.0" in card and f"Generator version {GENERATOR_VERSION}" in card
    assert "PYTHONHASHSEED=0" in card and "module file `warp_synth/kernel_module.py`" in card
    assert "block_dim=256" in card and "max_unroll=16" in card
    out = tmp_path / "again"
    assert synth(*command.split(), "--workers", "1", "--out", str(out)).returncode == 0
    assert (out / "dataset.jsonl").read_bytes() == (small_dataset / "dataset.jsonl").read_bytes()


def _table(card: str, title: str) -> dict[str, list[str]]:
    section = card.split(f"### {title}\n\n", 1)[1].split("\n\n", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()[2:]]
    return {row[0]: row[1:] for row in rows}


def test_card_figures_agree_with_the_records(small_dataset):
    card = (small_dataset / CARD).read_text()
    records = _records(small_dataset)
    kernel_types = _table(card, "kernel_type")
    for kernel_type in {r["kernel_type"] for r in records}:
        assert int(kernel_types[kernel_type][0]) == sum(r["kernel_type"] == kernel_type for r in records)
    assert _table(card, "device") == {"cpu": ["48"]}
    types = _table(card, "Warp types")
    assert int(types["float32"][0]) == sum("float32" in r["metadata"]["types"] for r in records)
    splits = _table(card, "Splits")
    assert sum(int(v[0]) for v in splits.values()) == 48 and set(splits) == {"train", "validation", "test"}
    sizes = _table(card, "Sizes (bytes, UTF-8; record: the JSON line)")
    source = [len(r["python_source"].encode()) for r in records]
    p50 = int(np.percentile(source, 50, method="nearest"))
    assert sizes["python_source"][2] == f"{p50:,}" and sizes["python_source"][5] == f"{max(source):,}"
    families = _table(card, "Builtin families (Warp registry groups)")
    assert int(families["Scalar Math"][2]) == 56  # Warp 1.19.0's registry group
    for name in ("python_source", "code_backward", "metadata.codegen.cuda_arch", "metadata.ast_shape_sha1"):
        assert f"- `{name}` (" in card  # one schema line per field


def test_card_counts_the_options_records_were_lowered_with(small_dataset):
    """Module options at their most common value, the others and kernel options with their records."""
    card = (small_dataset / CARD).read_text()
    records = _records(small_dataset)
    codegen = [r["metadata"]["codegen"] for r in records]
    (usual,) = [line for line in card.splitlines() if line.startswith("- Warp module options of most")]
    assert "block_dim=256" in usual and 'mode="release"' in usual
    kernel_options = {k for c in codegen for k, v in c["kernel_options"].items() if v is not None}
    assert kernel_options  # 4 of these 48 records set some
    for name in kernel_options:
        values = {json.dumps(c["kernel_options"][name]) for c in codegen} - {"null"}
        for value in values:
            n = sum(json.dumps(c["kernel_options"][name]) == value for c in codegen)
            assert f"{name}={value} ({n:,})" in card


def test_card_lists_the_warp_findings(small_dataset):
    card = (small_dataset / CARD).read_text()
    findings = warp_findings()
    assert len(findings) >= 8
    for name, text in findings:
        assert f"`{name}`: {text}" in card


def test_export_card_links_readable_plots(small_dataset, tmp_path):
    import matplotlib.image

    out = tmp_path / "p"
    assert synth("export", str(small_dataset), "--out", str(out), "--split", "0.5,0.25,0.25").returncode == 0
    card = (out / CARD).read_text()
    meta = _front_matter(card)
    assert meta["configs"][0]["data_files"] == [
        {"split": s, "path": f"data/{s}-*.parquet"} for s in ("train", "validation", "test")
    ]
    assert sum(s["num_examples"] for s in meta["dataset_info"]["splits"]) == 48
    assert "- Then: `python -m synth export DIR --format parquet --out PDIR" in card
    links = re.findall(r"!\[([^\]]+)\]\((plots/[\w.]+\.png)\)", card)
    assert [title for title, _ in links] == [
        "label distribution",
        "size histograms (log scale)",
        "builtin-family coverage",
        "python source vs generated code size",
    ]
    for _, path in links:
        image = matplotlib.image.imread(out / path)
        assert image.shape[0] > 200 and image.shape[1] > 200 and image.std() > 0.01


def test_the_main_job_writes_its_card_without_the_export_extra(tmp_path):
    # pyarrow, matplotlib and datasets made unimportable: the main job and its card need none
    script = (
        "import sys; sys.modules.update(pyarrow=None, matplotlib=None, datasets=None)\n"
        "from synth.cli import main\n"
        "sys.exit(main(['--count', '3', '--workers', '1', '--out', sys.argv[1]]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0")
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "3 random NVIDIA Warp kernels" in (tmp_path / CARD).read_text()
