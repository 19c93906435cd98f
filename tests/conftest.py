import os

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
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Hypothesis (6.170) also draws literals found in this project's own modules, so any literal added
# anywhere (an error message, a constant) changed what the derandomized searches found, and a search
# that passed could fail after an unrelated change.  Without them, a derandomized test depends only on
# its own code.  (hypothesis is pinned exactly, so this internal name is stable.)
providers._get_local_constants = providers.Constants


@pytest.fixture(scope="session", autouse=True)
def warp_ready():
    init_warp()
