"""Kernels launch on CPU with inputs drawn from their seed, inside the launch contract, deterministically."""

import ast
import pickle

import numpy as np

from check import execute, executor, handles, runner
from check.executor import Case
from grammar import safety
from grammar.geometry import MAX_ITEMS
from grammar.sample import sample
from grammar.tiles import TILE_SIDES
from grammar.unparse import to_source
from warp_access import WarpModule

SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)


def _sources(seeds):
    return [(to_source(s.tree), s.kernel_name) for s in map(sample, seeds)]


def test_merged_module_renames_every_top_level_name():
    sources = _sources((2, 2))  # the same module twice: names must not clash
    merged, names = runner.merge_modules(sources)
    tree = ast.parse(merged)
    defs = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert len(defs) == len(set(defs)) and names[0] != names[1] and set(names) <= set(defs)


def _has(kind: str, tree: ast.Module) -> bool:
    """Whether the kernel of `tree` has a parameter (or array) of that kind (a struct: holding an array)."""
    source = to_source(tree)  # numbers the statements, which ast.unparse needs
    signature = ast.unparse(tree.body[-1].args)
    structs = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    holds_array = any("wp.array" in ast.unparse(n) for n in structs)
    return {
        "struct": holds_array and any(f": {n.name}" in signature for n in structs),
        "tile": "wp.tile_load" in source,
        "narrow_int": any(f"dtype=wp.{t})" in signature for t in ("int8", "uint8", "int16", "uint16")),
        "float16": "wp.float16" in signature,
    }[kind]


def _first_seed(kind: str) -> int:
    """The first seed (of base seed 3) whose kernel has a parameter of that kind."""
    return next(s.seed for s in (sample(3 * 2**32 + k) for k in range(400)) if _has(kind, s.tree))


#: Seeds of kernels of the widened grammar (checked below to be what they are said to be).
WIDENED = {kind: _first_seed(kind) for kind in ("struct", "tile", "narrow_int", "float16")}


def _is(kind, params, inputs):
    values = [p for p in execute.leaves(params) if not isinstance(inputs.values[p.name], handles.Recipe)]
    dtypes = {p.numpy_dtype for p in values}
    return {
        "struct": any(p.is_struct for p in params),
        "tile": bool(inputs.tile),
        "narrow_int": any(d.kind in "iu" and d.itemsize < 4 for d in dtypes),
        "float16": np.dtype(np.float16) in dtypes,
    }[kind]


def _check_within_contract(params, inputs):
    assert all(1 <= d <= safety.MAX_EXTENT for d in inputs.shape)
    for p in execute.leaves(params):
        value = inputs.values[p.name]
        if isinstance(value, handles.Recipe):  # an object: at most MAX_ITEMS faces, boxes or points
            counted = {"mesh": ("indices", 3), "bvh": ("lowers", 1), "hash_grid": ("points", 1)}
            key, per_item = counted.get(value.kind, ("", 1))
            assert len(value.data.get(key, ())) // per_item <= MAX_ITEMS
            continue
        if p.is_array:
            assert value.shape == inputs.array_shape(p) + p.element_shape
            assert all(1 <= d <= safety.MAX_EXTENT for d in value.shape)
        if p.numpy_dtype.kind in "iu":
            bound = safety.ARRAY_INT_BOUND if p.is_array else safety.MAX_EXTENT
            assert np.abs(np.asarray(value)).max() <= bound


def _launches_deterministically(seeds):
    """Each seed's kernel run by the executor in this process: within the contract, deterministic."""
    sources = _sources(seeds)
    launches = [
        execute.describe(source, name, seed) for (source, name), seed in zip(sources, seeds, strict=True)
    ]
    cases = [Case(s, n, tuple(p), i) for (s, n), (p, i) in zip(sources, launches, strict=True)]
    runs = executor.execute(cases)
    for (source, name), seed, (params, inputs), run in zip(sources, seeds, launches, runs, strict=True):
        _check_within_contract(params, inputs)
        assert run.ran and run.deterministic, run.message
        # inputs are a function of the seed
        again = execute.describe(source, name, seed)  # (a struct's class is each module's own)
        assert pickle.dumps(again) == pickle.dumps((params, inputs))
        yield params, inputs, run


def test_kernels_launch_deterministically_within_the_contract():
    assert len(list(_launches_deterministically(SEEDS))) == len(SEEDS)


def test_widened_kernels_launch_deterministically():
    kinds, seeds = zip(*WIDENED.items(), strict=True)
    for kind, (params, inputs, _) in zip(kinds, _launches_deterministically(seeds), strict=True):
        assert _is(kind, params, inputs), kind


def test_struct_arrays_and_tile_shapes():
    (params, inputs, _), *_ = _launches_deterministically((WIDENED["tile"],))
    rows, cols = inputs.tile
    assert rows in TILE_SIDES and cols in TILE_SIDES and len(inputs.shape) == 2
    expected = (inputs.shape[0] * rows, inputs.shape[1] * cols)
    assert all(inputs.array_shape(p) == expected for p in params if p.ndim == 2)
    (params, inputs, run), *_ = _launches_deterministically((WIDENED["struct"],))
    struct = next(p for p in params if p.is_struct)
    held = {p.name for p in execute.leaves(struct.fields) if p.is_array}
    assert held and held <= set(run.outputs)


BAD = "import warp as wp\n\n@wp.kernel\ndef bad(a: wp.array(dtype=float)):\n    a[0] = undefined_name\n"


def test_a_module_that_fails_to_build_is_isolated():
    (one, name1), (two, name2) = _sources((1, 2))
    cases = [
        Case(s, n, tuple(p), i)
        for s, n in ((one, name1), (BAD, "bad"), (two, name2))
        for p, i in [execute.describe(s, n, 0)]
    ]
    runs = executor.execute(cases)
    assert [r.status for r in runs] == ["ran", "build_failed", "ran"]
    assert "undefined_name" in runs[1].message


UNIQUE_KERNEL = """import warp as wp

@wp.kernel(module="unique")
def bump(a: wp.array(dtype=float)):
    i = wp.tid()
    a[i] = a[i] + 1.0
"""


def test_a_unique_kernel_gets_a_module_of_its_own_in_each_load():
    """Warp hands a later load of a unique kernel the first load's module (its debug mode, and once
    released its unloaded binary: a release check then ran debug code, or crashed): the executor keys
    each load's unique kernels apart."""
    keyed = [runner.keyed_unique(UNIQUE_KERNEL, f"load_{n}") for n in range(2)]
    assert keyed[0] != keyed[1] and 'name="load_0_u0"' in keyed[0]
    with WarpModule("unique_0", keyed[0]) as first, WarpModule("unique_1", keyed[1]) as second:
        assert first.py_module.bump.module is not second.py_module.bump.module


OFFSET = """import warp as wp

@wp.kernel
def shift(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i] + DELTA
"""


OFFSET = """import warp as wp

@wp.kernel
def shift(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i] + DELTA
"""


def test_jobs_in_one_process_do_not_share_their_modules():
    """Warp keeps a module by its name: two jobs (or a job's two devices) in one process that named
    their builds alike would run each other's kernels."""
    sources = [OFFSET.replace("DELTA", d) for d in ("0.0", "1.0")]
    params, inputs = execute.describe(sources[0], "shift", 5)
    both = executor.Options(devices=("cpu", "cpu"))
    first, second = (
        executor.execute([Case(s, "shift", tuple(params), inputs)], options=both)[0] for s in sources
    )
    np.testing.assert_allclose(second.outputs["out"] - first.outputs["out"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(second.devices["cpu"].outputs["out"] - first.outputs["out"], 1.0, rtol=1e-6)
