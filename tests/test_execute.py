"""Kernels launch on CPU with inputs drawn from their seed, inside the launch contract, deterministically."""

import ast

import numpy as np

from emit import execute
from emit.unparse import to_source
from grammar import safety
from grammar.sample import sample

SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)


def _sources(seeds):
    return [(to_source(s.tree), s.kernel_name) for s in map(sample, seeds)]


def test_merged_module_renames_every_top_level_name():
    sources = _sources((2, 2))  # the same module twice: names must not clash
    merged, names = execute.merge_modules(sources)
    tree = ast.parse(merged)
    defs = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert len(defs) == len(set(defs)) and names[0] != names[1] and set(names) <= set(defs)


def test_kernels_launch_deterministically_within_the_contract():
    sources = _sources(SEEDS)
    loaded = dict(execute.load_kernels(sources))
    assert sorted(loaded) == list(range(len(SEEDS)))
    for n, kernel in loaded.items():
        params = execute.kernel_params(kernel)
        inputs = execute.draw_inputs(params, SEEDS[n])
        assert all(1 <= d <= safety.MAX_EXTENT for d in inputs.shape)
        for p in params:
            value = inputs.values[p.name]
            if p.is_array:
                assert value.shape[: len(inputs.shape)] == inputs.shape
                if not p.is_float:
                    assert np.abs(value).max() <= safety.ARRAY_INT_BOUND
            elif not p.is_float:
                assert abs(value) <= safety.MAX_EXTENT
        assert execute.deterministic(kernel, params, inputs)
        # inputs are a function of the seed
        assert repr(execute.draw_inputs(params, SEEDS[n])) == repr(inputs)


def test_a_module_that_fails_to_build_is_isolated():
    good = _sources((1, 2))
    bad = (
        "import warp as wp\n\n@wp.kernel\ndef bad(a: wp.array(dtype=float)):\n    a[0] = undefined_name\n",
        "bad",
    )
    loaded = dict(execute.load_kernels([good[0], bad, good[1]]))
    assert isinstance(loaded[1], execute.LoadFailed)
    assert not isinstance(loaded[0], execute.LoadFailed) and not isinstance(loaded[2], execute.LoadFailed)
