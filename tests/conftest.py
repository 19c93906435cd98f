import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers

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

# Hypothesis (6.170) also draws literals found in this project's own modules, so any literal added
# anywhere (an error message, a constant) changed what the derandomized searches found, and a search
# that passed could fail after an unrelated change.  Without them, a derandomized test depends only on
# its own code.  (hypothesis is pinned exactly, so this internal name is stable.)
providers._get_local_constants = providers.Constants


@pytest.fixture(scope="session", autouse=True)
def warp_ready():
    init_warp()


# ----------------------------------------------------------------------------- shared helpers

ROOT = Path(__file__).resolve().parents[1]


def synth(*args: str, cwd: Path = ROOT, hash_seed: str = "random", **env: str) -> subprocess.CompletedProcess:
    """`python -m synth ARGS` in a real process, as a user runs it (it pins the hash seed itself);
    `env`: more environment variables (COLUMNS="200" ...)."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=hash_seed, **env)
    command = [sys.executable, "-m", "synth", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=600)


def start_synth(*args: str) -> subprocess.Popen:
    """`python -m synth ARGS` started in a session of its own (its process group stands for a
    terminal's foreground group: signal it with os.killpg), stdout and stderr captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "synth", *args],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def plain_warp(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run a reproducer with plain Warp: no warp-synth on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A 48-record CPU dataset written by the main command (with its card); tests copy it to change it."""
    out = tmp_path_factory.mktemp("small") / "d"
    result = synth("--count", "48", "--seed", "3", "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out
