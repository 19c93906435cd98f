"""Lowering shortcuts change nothing: the overload memo gives exactly Warp's own resolution."""

import contextlib

import pytest

import warp_access
from emit.lower import DEVICES, lower
from grammar.sample import sample
from grammar.unparse import to_source

SEEDS = range(40, 70)


@pytest.mark.parametrize("device", DEVICES)
def test_memoized_lowering_equals_plain_warp(device, monkeypatch):
    kernels = [(to_source(s.tree), s.kernel_name) for s in map(sample, SEEDS)]
    memoized = [lower(source, name, device) for source, name in kernels]  # memo warm from here on
    monkeypatch.setattr(warp_access, "_builtin_overloads_memoized", contextlib.nullcontext)
    assert [lower(source, name, device) for source, name in kernels] == memoized


def test_memo_stays_bounded():
    for seed in range(20):
        lower(to_source(sample(seed).tree), sample(seed).kernel_name, "cpu")
    assert 0 < len(warp_access._resolved) <= warp_access._RESOLVED_MAX
