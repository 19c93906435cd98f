"""benchmarks/gpu_differential.py where there is no GPU (CI's machine, a developer's): one line, exit 1."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_differential.py"


def _has_gpu() -> bool:
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return "GPU " in listed.stdout


def test_without_a_gpu_it_says_so_in_one_line_and_exits_non_zero(tmp_path):
    if _has_gpu():
        pytest.skip("this machine has a GPU: the script would run the differential")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "run", "--out", str(out), "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    line = "gpu_differential: no CUDA GPU on this machine (nvidia-smi lists none); nothing checked"
    assert done.stderr.splitlines() == [line]
    assert not out.exists() and not (tmp_path / "work").exists()  # nothing installed, nothing written
