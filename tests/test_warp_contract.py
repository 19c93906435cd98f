"""The Warp this generator was written against: a changed Warp fails here, loudly."""

import warp_access
from grammar.builtins import (
    EXCLUDED,
    EXCLUDED_GROUPS,
    PRODUCTIONS,
    all_builtins,
    builtin_table,
    exclusion_report,
    math_builtin_names,
)


def test_pinned_version_and_private_api_present():
    warp_access.check_warp()  # raises WarpChanged naming what moved


def test_registry_yields_a_rich_builtin_table():
    names = {b.name for b in builtin_table()}
    assert len(names) >= 60
    for expected in ("sin", "sqrt", "dot", "cross", "determinant", "transpose", "add", "mod", "clamp"):
        assert expected in names
    assert names.isdisjoint(EXCLUDED)
    assert {"sin", "exp", "log"} <= math_builtin_names()


def test_excluded_builtins_are_real_registry_names():
    # an exclusion that no longer names a builtin is stale: the registry changed
    registry = set(warp_access.builtin_names())
    assert set(EXCLUDED) <= registry


def test_every_registry_builtin_not_generated_has_an_explicit_reason():
    # the reason must come from a table (EXCLUDED by name, EXCLUDED_GROUPS by registry group), not
    # from a fallback: a builtin that is neither generated nor listed fails here until it is one of both
    generated = {b.name for b in all_builtins()} | set(PRODUCTIONS)
    groups = warp_access.builtin_groups()
    unexplained = sorted(
        name
        for name in warp_access.builtin_names()
        if name not in generated and name not in EXCLUDED and groups[name] not in EXCLUDED_GROUPS
    )
    assert unexplained == [], f"neither generated nor excluded with a reason: {unexplained}"
    report = exclusion_report()
    assert set(report) == set(warp_access.builtin_names()) - generated
    for name, reason in report.items():
        assert reason == EXCLUDED.get(name, EXCLUDED_GROUPS.get(groups[name])), name
    assert len(generated) >= 140
    for family in (
        "quat_rotate",
        "transform_point",
        "spatial_dot",
        "svd3",
        "randf",
        "noise",
        "where",
        "atomic_cas",
    ):
        assert family in generated
