"""The Warp this generator was written against: a changed Warp fails here, loudly."""

import warp_access
from grammar.builtins import (
    EXCLUDED,
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


def test_exclusion_report_gives_every_unused_registry_builtin_a_reason():
    report = exclusion_report()
    generated = {b.name for b in all_builtins()} | set(PRODUCTIONS)
    assert set(report) | generated == set(warp_access.builtin_names())
    assert set(report).isdisjoint(generated)
    assert len(generated) >= 140
    assert all(reason for reason in report.values())
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
