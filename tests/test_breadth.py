"""Breadth II: tiles, geometry on handles, custom gradients, kernel options, bfloat16, address_of."""

import ast
from functools import cache

import numpy as np
import pytest

from check import execute, executor, handles
from check.compile import failing, record_code
from check.executor import Case
from check.judge import gradient_check
from emit.lower import lower
from emit.records import build_record
from grammar import geometry, gradients, tile_blocks
from grammar.astnodes import wp_name
from grammar.builtins import GEOMETRY_BUILTINS, TILE_BUILTINS
from grammar.choices import SeededChoices
from grammar.context import Gen, Handle
from grammar.kernel import kernel_parameters, prologue
from grammar.policy import Policy
from grammar.sample import sample
from grammar.statements import draw_weights, loop_body
from grammar.tiles import TileScope, tile_constants, tile_kernel
from grammar.types import FLOAT32, FLOAT64, INT32, VEC3
from grammar.unparse import to_source

#: What lowering `t[r, c] += x` and `t[r, c] -= x` calls (no name in the source spells them).
TILE_LOWERED = {"tile_add_inplace", "tile_sub_inplace"}


def _names(tree: ast.AST) -> set[str]:
    return {n for node in ast.walk(tree) if isinstance(node, ast.Call) and (n := wp_name(node.func))}


def _tile_body(seed: int, op: tile_blocks.TileOp) -> tuple[Gen, list[ast.stmt]]:
    """A tile kernel's body of loads and repeated applications of one operation."""
    policy = Policy("math", frozenset({"tiles", "vectors"}), statements=3, types=(FLOAT32,))
    g = Gen(SeededChoices(seed), policy)
    shape = (4, 8)
    sides, _ = tile_constants(g, shape)
    ts = TileScope(g, FLOAT32, shape, sides)
    _, body = tile_kernel(g, ts, lambda scope: op.make(scope) or tile_blocks.op_map(scope))
    return g, [*ts.module_helpers, *body]


def test_tile_operations_emit_exactly_the_listed_tile_builtins():
    emitted: set[str] = set()
    for op in tile_blocks.TILE_OPS:
        for seed in range(25):
            _, body = _tile_body(seed, op)
            emitted |= {n for stmt in body for n in _names(stmt)}
    tile_names = {n for n in emitted if n.startswith(("tile", "untile")) or n == "block_dim"}
    assert tile_names == set(TILE_BUILTINS) - TILE_LOWERED


def test_tile_element_updates_lower_to_the_listed_inplace_builtins():
    found = set()
    for seed in range(4000):
        s = sample(seed)
        kernel = s.tree.body[-1]
        updates = [
            n
            for n in ast.walk(kernel)
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Subscript)
        ]
        if "tile_load" in _names(kernel) and updates:
            code = lower(to_source(s.tree), s.kernel_name, "cpu")
            found |= {n for n in TILE_LOWERED if f"{n}(" in code.forward}
        if found == TILE_LOWERED:
            break
    assert found == TILE_LOWERED


def _geometry_names(seed: int, query: geometry.Query) -> set[str]:
    policy = Policy("vector", frozenset({"vectors", "geometry", "loops"}), types=(FLOAT32, INT32, VEC3))
    g = Gen(SeededChoices(seed), policy)
    g.weights = draw_weights(g.ch, policy)
    g.scope = g.new_scope(kernel=True)
    kernel_parameters(g)
    prologue(g)
    detail = ("f", "v", "i")[seed % 3] if query.kind == "volume" else ""
    h = Handle(f"h{seed}", query.kind, detail)
    g.handles = [h]
    made = query.make(g, h, loop_body) if query.loop else query.make(g, h)
    return {n for stmt in made for n in _names(stmt)}


def test_geometry_queries_emit_exactly_the_listed_geometry_builtins():
    emitted = set().union(*(_geometry_names(seed, q) for q in geometry.QUERIES for seed in range(30)))
    prefixes = ("mesh_", "bvh_", "hash_grid_", "volume_", "texture_")
    assert {n for n in emitted if n.startswith(prefixes)} == set(GEOMETRY_BUILTINS)


# ----------------------------------------------------------------------------- custom gradients


class _Numpy:
    """`wp.` as numpy, to evaluate spelled terms (`wp.float64(2.0)` is a float)."""

    sin, cos, tanh, sqrt = np.sin, np.cos, np.tanh, np.sqrt
    float64 = float


def _evaluate(node: ast.expr, values: dict[str, float]) -> float:
    return eval(ast.unparse(node), {"wp": _Numpy}, dict(values))


def test_custom_gradient_adjoints_are_the_exact_derivative():
    policy = Policy("math", frozenset({"math", "custom_grads"}), types=(FLOAT64,))
    rng = np.random.default_rng(0)
    for seed in range(200):
        g = Gen(SeededChoices(seed), policy)
        params = ["x", "y", "z"][: 1 + seed % 3]
        e = gradients.expression(g, params)
        at = {p: float(v) for p, v in zip(params, rng.uniform(-1.5, 1.5, len(params)), strict=False)}
        for p in params:
            h = 1e-6
            up, down = dict(at, **{p: at[p] + h}), dict(at, **{p: at[p] - h})
            numeric = (
                _evaluate(gradients.spell(e, FLOAT64), up) - _evaluate(gradients.spell(e, FLOAT64), down)
            ) / (2 * h)
            exact = _evaluate(gradients.spell(gradients.derivative(e, p), FLOAT64), at)
            assert abs(numeric - exact) <= 1e-5 * max(1.0, abs(exact)), ast.unparse(
                gradients.spell(e, FLOAT64)
            )


@cache
def _sources(differentiable: bool) -> tuple[str, ...]:
    """The sources of the first seeds (sampled once for every test here)."""
    return tuple(to_source(sample(s, differentiable).tree) for s in range(3000))


def _seeds_with(marker: str, count: int, differentiable: bool = False) -> list[int]:
    return [s for s, source in enumerate(_sources(differentiable)) if marker in source][:count]


def _prepared(seed: int, differentiable: bool = False):
    s = sample(seed, differentiable)
    source = to_source(s.tree)
    params, inputs = execute.describe(source, s.kernel_name, seed)
    return s, source, params, inputs


def _objects(inputs: execute.Inputs) -> dict[str, str]:
    """The kinds of the objects (meshes, volumes ...) a launch's handle parameters take, by name."""
    return {name: v.kind for name, v in inputs.values.items() if isinstance(v, handles.Recipe)}


def test_generated_custom_gradients_pass_the_gradient_check():
    statuses = []
    for seed in _seeds_with("wp.func_grad", 4, differentiable=True):
        s, source, params, inputs = _prepared(seed, True)
        statuses.append(gradient_check(source, s.kernel_name, params, inputs).status)
    assert "passed" in statuses and "mismatch" not in statuses, statuses


# ----------------------------------------------------------------------------- geometry on handles

GEOMETRY = """import warp as wp

@wp.kernel
def probe(pts: wp.array(dtype=wp.vec3), out: wp.array(dtype=float), mesh: wp.uint64, tree: wp.uint64,
          grid: wp.uint64, vol: wp.uint64, vecs: wp.uint64, tex: wp.Texture2D):
    i = wp.tid()
    p = pts[i]
    q = wp.mesh_query_point_no_sign(mesh, p, 10.0)
    x = wp.mesh_eval_position(mesh, q.face, q.u, q.v)
    b = wp.bvh_query_aabb(tree, p - wp.vec3(1.0), p + wp.vec3(1.0))
    n = int(0)
    acc = float(0.0)
    while wp.bvh_query_next(b, n):
        acc += float(n)
    h = wp.hash_grid_query(grid, p, 1.0)
    k = int(0)
    while wp.hash_grid_query_next(h, k):
        acc += float(wp.hash_grid_point_id(grid, k))
    s = wp.volume_sample_f(vol, wp.volume_world_to_index(vol, p), wp.Volume.LINEAR)
    v = wp.volume_lookup(vecs, i, 1, 2, dtype=wp.vec3)
    out[i] = wp.length(x) + acc + s + v[0] + wp.texture_sample(tex, p[0], p[1], dtype=float)
"""


def test_handles_are_recognised_by_use_and_built_from_the_seed():
    params, inputs = execute.describe(GEOMETRY, "probe", 3)
    assert _objects(inputs) == {
        "mesh": "mesh",
        "tree": "bvh",
        "grid": "hash_grid",
        "vol": "volume_f",
        "vecs": "volume_v",
        "tex": "texture2d",
    }
    _, other = execute.describe(GEOMETRY, "probe", 4)  # another seed: other objects (and points)
    run, run_other = executor.execute([Case(GEOMETRY, "probe", tuple(params), i) for i in (inputs, other)])
    assert run.deterministic and np.isfinite(run.outputs["out"]).all()
    assert not np.array_equal(run_other.outputs["out"], run.outputs["out"])


def test_generated_geometry_kernels_execute():
    for marker in ("wp.mesh_", "wp.bvh_", "wp.hash_grid_", "wp.volume_", "wp.texture_"):
        (seed,) = _seeds_with(marker, 1)
        s, source, params, inputs = _prepared(seed)
        (run,) = executor.execute([Case(source, s.kernel_name, tuple(params), inputs)])
        assert _objects(inputs) and run.ran and run.deterministic, (marker, run.message)


# ----------------------------------------------------------------------------- tiles


def test_tile_kernels_compute_the_same_for_any_block_size():
    """Per-thread tile operations enter a block from its last lane only, or are undone: a CPU block
    of one thread and a cooperative CPU block of four compute the same."""
    seeds = _seeds_with("wp.block_dim()", 2) + _seeds_with("wp.untile(", 1)
    for seed in seeds:
        s, source, params, inputs = _prepared(seed)
        results = []
        for block_dim in (1, 4):
            case = Case(source, s.kernel_name, tuple(params), inputs, block_dim=block_dim)
            (run,) = executor.execute([case], options=executor.Options(cpu_blocks=block_dim > 1))
            assert run.ran, run.message
            results.append(run.outputs)
        for name, value in results[0].items():
            np.testing.assert_allclose(value, results[1][name], rtol=1e-4, atol=1e-4, err_msg=str(seed))


# ----------------------------------------------------------------------------- every family compiles

FAMILIES = {
    "tile_matmul": "wp.tile_matmul(",
    "tile_cholesky": "wp.tile_cholesky",
    "tile_fft": "wp.tile_fft(",
    "tile_sort": "wp.tile_sort(",
    "tile_stack": "wp.tile_stack(",
    "mesh": "wp.mesh_query",
    "bvh": "wp.bvh_query",
    "hash_grid": "wp.hash_grid_query",
    "volume": "wp.volume_",
    "texture": "wp.texture_sample",
    "func_grad": "wp.func_grad",
    "options": "@wp.kernel(",
    "bfloat16": "wp.bfloat16(",
    "address_of": "wp.address_of(",
}


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_family_lowers_and_its_records_compile(device):
    seeds = [seed for marker in FAMILIES.values() for seed in _seeds_with(marker, 1)]
    assert len(seeds) == len(FAMILIES)
    records = [build_record(sample(seed), device) for seed in seeds]
    assert failing([record_code(r) for r in records], device) == {}


def test_kernel_options_are_in_the_code_and_the_record():
    (seed,) = _seeds_with("enable_backward=False", 1)
    record = build_record(sample(seed), "cpu")
    assert record["code_backward"] is None
    assert record["metadata"]["codegen"]["kernel_options"]["enable_backward"] is False
    s, source, params, inputs = _prepared(seed)
    assert gradient_check(source, s.kernel_name, params, inputs).status in (
        "not_differentiable",
        "not_checked",
    )
    (seed,) = _seeds_with("module_options=", 1)
    record = build_record(sample(seed), "cuda")
    options = ast.literal_eval(record["python_source"].split("module_options=")[1].split(")\n")[0])
    assert all(record["metadata"]["codegen"]["module_options"][k] == v for k, v in options.items())


def test_fft_records_link_mathdx_and_state_it():
    (seed,) = _seeds_with("wp.tile_fft(", 1)
    record = build_record(sample(seed), "cuda")
    symbols = record["metadata"]["codegen"]["link_symbols"]
    assert symbols and all(f"{s}(" in record["code_helpers"] for s in symbols)


def test_geometry_reproducers_rebuild_their_objects_with_plain_warp(tmp_path):
    from check.findings import Finding, write_finding
    from tests.conftest import plain_warp

    params, inputs = execute.describe(GEOMETRY, "probe", 3)
    finding = Finding("nondeterministic", "cpu", "probe", GEOMETRY, "two launches", 3, False, inputs, params)
    script = write_finding(tmp_path, finding)
    ran = plain_warp(script, tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]  # deterministic: the finding does not reproduce


def test_no_generated_name_is_a_warp_builtin():
    """Warp resolves `pos.p` to its builtin `pos` (docs/warp_findings): no pool holds such a name
    (`tid`, the int `wp.tid()` returns, is never given an attribute)."""
    import warp_access
    from grammar import names

    pools = [v for k, v in vars(names).items() if k.endswith("_NAMES")]
    pools += [geometry.HANDLE_NAMES, geometry.ITEM_NAMES, {"q": geometry.QUERY_NAMES}]
    spelled: set[str] = set()
    for pool in pools:
        for entry in pool.values() if isinstance(pool, dict) else pool:
            spelled |= {entry} if isinstance(entry, str) else set(entry)
    assert spelled & set(warp_access.builtin_names()) == {"tid"}
