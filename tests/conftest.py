import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from warp_access import init_warp

# Generating and lowering a kernel takes milliseconds, compiling a batch seconds:
# no deadline, and few, large examples.  CI derandomizes so a red build reproduces.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# `datasets` caches what it loads: keep that out of the home directory (set before it is imported)
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="hf_datasets_"))
atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session", autouse=True)
def warp_ready():
    init_warp()


ROOT = Path(__file__).resolve().parents[1]


def run_synth(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """`python -m synth ARGS` in a real process (it re-executes itself with PYTHONHASHSEED=0)."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "synth", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=600,
    )


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A 48-record CPU dataset written by the main command (with its card); tests copy it to change it."""
    out = tmp_path_factory.mktemp("small") / "d"
    result = run_synth("--count", "48", "--seed", "3", "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def synth():
    return run_synth
