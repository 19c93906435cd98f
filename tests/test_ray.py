"""`--engine ray` on a local Ray instance writes the bytes a local run writes."""

import pytest

from tests.test_cli import synth


def test_ray_engine_matches_local_run(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'warp-synth[ray]')")
    local, ray = tmp_path / "local", tmp_path / "ray"
    assert synth("--count", "20", "--seed", "3", "--workers", "1", "--out", str(local)).returncode == 0
    result = synth("--count", "20", "--seed", "3", "--workers", "2", "--engine", "ray", "--out", str(ray))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (ray / "dataset.jsonl").read_bytes() == (local / "dataset.jsonl").read_bytes()


def test_ray_address_needs_ray_engine(tmp_path):
    result = synth("--count", "2", "--ray-address", "auto", "--out", str(tmp_path))
    assert result.returncode == 2 and "--engine ray" in result.stderr
