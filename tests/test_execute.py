"""Kernels launch on CPU with inputs drawn from their seed, inside the launch contract, deterministically."""

import ast

import numpy as np

from check import execute, handles
from grammar import safety
from grammar.geometry import MAX_ITEMS
from grammar.sample import sample
from grammar.tiles import TILE_SIDES
from grammar.unparse import to_source

SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)


def _sources(seeds):
    return [(to_source(s.tree), s.kernel_name) for s in map(sample, seeds)]


def test_merged_module_renames_every_top_level_name():
    sources = _sources((2, 2))  # the same module twice: names must not clash
    merged, names = execute.merge_modules(sources)
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
    loaded = dict(execute.load_kernels(_sources(seeds)))
    assert sorted(loaded) == list(range(len(seeds)))
    for n, kernel in loaded.items():
        params, inputs = execute.prepare(kernel, seeds[n])
        _check_within_contract(params, inputs)
        assert execute.deterministic(kernel, params, inputs)
        # inputs are a function of the seed
        assert repr(execute.prepare(kernel, seeds[n])) == repr((params, inputs))
        yield params, inputs


def test_kernels_launch_deterministically_within_the_contract():
    assert len(list(_launches_deterministically(SEEDS))) == len(SEEDS)


def test_widened_kernels_launch_deterministically():
    kinds, seeds = zip(*WIDENED.items(), strict=True)
    for kind, (params, inputs) in zip(kinds, _launches_deterministically(seeds), strict=True):
        assert _is(kind, params, inputs), kind


def test_struct_arrays_and_tile_shapes():
    (params, inputs), *_ = _launches_deterministically((WIDENED["tile"],))
    rows, cols = inputs.tile
    assert rows in TILE_SIDES and cols in TILE_SIDES and len(inputs.shape) == 2
    expected = (inputs.shape[0] * rows, inputs.shape[1] * cols)
    assert all(inputs.array_shape(p) == expected for p in params if p.ndim == 2)
    (params, inputs), *_ = _launches_deterministically((WIDENED["struct"],))
    struct = next(p for p in params if p.is_struct)
    held = {p.name for p in execute.leaves(struct.fields) if p.is_array}
    assert held and held <= set(execute.launch(*_load_one(WIDENED["struct"]), params, inputs))


def _load_one(seed):
    ((_, kernel),) = execute.load_kernels(_sources((seed,)))
    return (kernel,)


def test_a_module_that_fails_to_build_is_isolated():
    good = _sources((1, 2))
    bad = (
        "import warp as wp\n\n@wp.kernel\ndef bad(a: wp.array(dtype=float)):\n    a[0] = undefined_name\n",
        "bad",
    )
    loaded = dict(execute.load_kernels([good[0], bad, good[1]]))
    assert isinstance(loaded[1], execute.LoadFailed)
    assert not isinstance(loaded[0], execute.LoadFailed) and not isinstance(loaded[2], execute.LoadFailed)


UNIQUE_KERNEL = """import warp as wp

@wp.kernel(module="unique")
def bump(a: wp.array(dtype=float)):
    i = wp.tid()
    a[i] = a[i] + 1.0
"""


def test_a_unique_kernel_gets_a_module_of_its_own_in_each_load():
    """Warp hands a later load of a unique kernel the first load's module (its debug mode, and once
    released its unloaded binary: a release check then ran debug code, or crashed)."""
    from check import execute

    with execute.loaded(UNIQUE_KERNEL, "cpu", "debug") as debug:
        first = debug.bump.module
        assert first.options["mode"] == "debug"
        with execute.loaded(UNIQUE_KERNEL, "cpu", "release") as release:  # (a merged module's halves
            assert release.bump.module is not first  # can overlap so, as can the loads of a group)
            assert release.bump.module.options["mode"] == "release"
        assert first.options["mode"] == "debug"
