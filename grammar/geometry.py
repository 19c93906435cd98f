"""Geometry through handle parameters: meshes, BVHs, hash grids, volumes and textures.

    handle := kernel parameter `mesh: wp.uint64` | `bvh: wp.uint64` | `grid: wp.uint64`
              | `volume: wp.uint64` | `tex: wp.Texture2D` | `tex: wp.Texture3D`
    geometry := query(handle, live point ...) -> pending values
              | q = *_query_*(handle, ...); item = int(0); while *_next(q, item): block

A handle is an object the host builds and passes in (the fuzzer builds it from
the kernel's seed, `check/handles.py`); it never comes from arithmetic: handles
are no variables, only the productions here read them, and each is pending
until one does (every parameter is read).  Queries take live points, distances
and indices from the kernel's data; their results (closest points, hit
distances, sampled values, face normals) are pending values, so they flow into
the outputs.  Query loops visit finite result sets: an object holds at most
`MAX_ITEMS` faces, boxes or points (the launch contract), which bounds the trips.
Geometry builtins take and return 3-vectors: they count as vector builtins for labels.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from dataclasses import dataclass

from grammar import safety
from grammar.astnodes import call, load, number, same, store, wp_attr
from grammar.choices import choice
from grammar.context import Expr, Gen, Handle, Var
from grammar.expressions import expression
from grammar.names import VAR_NAMES
from grammar.simple import declare, declare_value
from grammar.types import BY_WARP_NAME, FLOAT32, INT32, VEC3, WType

#: A query loop's body, one loop of `trips` deeper: what `prelude` returns (the item's value), then a
#: block of statements.  The statements' module passes it in (`grammar.statements.loop_body`): it
#: draws geometry among its statements, so this module cannot import it.
LoopBody = Callable[[Gen, Callable[[], list[ast.stmt]], int], list[ast.stmt]]

#: Most faces, boxes, points of one object (launch contract): a query loop's trip bound.
MAX_ITEMS = 64
VEC2 = BY_WARP_NAME["vec2f"]

#: Handle kinds: the parameter's annotation and names, and the volume value types (`_f`, `_v`, `_i`).
ANNOTATIONS = {
    "mesh": "wp.uint64",
    "bvh": "wp.uint64",
    "hash_grid": "wp.uint64",
    "volume": "wp.uint64",
    "texture2d": "wp.Texture2D",
    "texture3d": "wp.Texture3D",
}
HANDLE_NAMES = {
    "mesh": ("mesh", "surface", "mesh_id"),
    "bvh": ("bvh", "tree", "bvh_id"),
    "hash_grid": ("grid", "hash_grid", "neighbors"),
    "volume": ("volume", "sdf", "vol"),
    "texture2d": ("tex", "image", "texture"),
    "texture3d": ("tex3", "field_tex", "voxels"),
}
VOLUME_TYPES = {"f": FLOAT32, "v": VEC3, "i": INT32}
#: How often each kind is drawn (textures are rarer: one family of one builtin).
KIND_WEIGHTS = {"mesh": 2.0, "bvh": 1.0, "hash_grid": 1.0, "volume": 1.5, "texture2d": 0.6, "texture3d": 0.4}
QUERY_NAMES = ("q", "query", "hit", "res")
ITEM_NAMES = {"mesh": ("face", "tri"), "bvh": ("item", "box"), "hash_grid": ("nbr", "neighbor")}


def draw_handles(g: Gen) -> list[Handle]:
    """One or two handles of kinds this kernel may query (loops need a loop-friendly policy)."""
    kinds = [k for k in ANNOTATIONS if k not in ("bvh", "hash_grid") or loops_ok(g)]
    weights = [KIND_WEIGHTS[k] for k in kinds]
    handles = []
    for kind in dict.fromkeys(g.ch.weighted(kinds, weights) for _ in range(1 + g.ch.boolean(0.25))):
        name = g.names.fresh(HANDLE_NAMES[kind])
        details = ["f", "v"] if g.policy.differentiable else sorted(VOLUME_TYPES)  # int: no gradient
        detail = choice(g.ch, details) if kind == "volume" else ""
        handles.append(Handle(name, kind, detail))
        g.scope.pending[name] = None
    g.handles = handles
    return handles


def loops_ok(g: Gen) -> bool:
    """A query loop may appear: the policy has loops, or one more feature keeps the label
    (two of loop, conditional, math, atomic, vector/matrix make no `combined` kernel)."""
    p = g.policy
    if p.differentiable:  # a dynamic loop carrying a value is outside Warp's autodiff contract
        return False
    if p.on("loops") or p.on("whiles"):
        return True
    return 1 + p.on("math") + p.on("ifs") + p.on("atomics") + 1 < 3


# ----------------------------------------------------------------------------- pieces


def point(g: Gen) -> Expr:
    return expression(g, VEC3, max(1, g.policy.max_expr_depth - 1), live=True)


def distance(g: Gen) -> Expr:
    """A positive float (`wp.abs(x) + 1.0`), or a round literal."""
    value = expression(g, FLOAT32, 1, live=g.ch.boolean(0.5))
    if not value.live:
        return Expr(number(FLOAT32, choice(g.ch, (0.5, 1.0, 2.0, 4.0))), FLOAT32)
    node, _ = safety.guard("positive", value.node, FLOAT32, 0)  # type: ignore[misc]
    return Expr(node, FLOAT32, 0, value.reads, True, value.tainted)


def index(g: Gen) -> Expr:
    return expression(g, INT32, 1, live=g.ch.boolean(0.7))


def _query(g: Gen, fn: str, handle: Handle, args: list[Expr], **keywords: ast.expr) -> tuple[str, ast.stmt]:
    """`q = wp.fn(handle, args...)`: a query object, not a variable of the grammar."""
    name = g.names.fresh(QUERY_NAMES)
    node = call(f"wp.{fn}", load(handle.name), *(g.use(a) for a in args), **keywords)
    return name, ast.Assign(targets=[store(name)], value=node)


def _field(name: str, attr: str) -> ast.expr:
    return ast.Attribute(value=load(name), attr=attr, ctx=ast.Load())


def _value(node: ast.expr, ty: WType, parts: list[Expr], bound: int = 0) -> Expr:
    """A result that depends on `parts` (and on the object: a runtime value)."""
    tainted = any(p.tainted for p in parts)
    return Expr(node, ty, bound, frozenset(), True, tainted)


# ----------------------------------------------------------------------------- meshes

POINT_QUERIES = (
    "mesh_query_point",
    "mesh_query_point_no_sign",
    "mesh_query_point_sign_normal",
    "mesh_query_point_sign_winding_number",
    "mesh_query_point_sign_parity",
    "mesh_query_furthest_point_no_sign",
)


def mesh_point(g: Gen, h: Handle) -> list[ast.stmt]:
    """`q = wp.mesh_query_point(mesh, p, d)`, then `x = wp.mesh_eval_position(mesh, q.face, q.u, q.v)`
    (a face of the mesh even without a result: face 0)."""
    p, d = point(g), distance(g)
    fn = choice(g.ch, POINT_QUERIES[:2] if g.policy.differentiable else POINT_QUERIES)
    q, stmt = _query(g, fn, h, [p, d])
    at = choice(g.ch, ("mesh_eval_position", "mesh_eval_velocity"))
    where = call(f"wp.{at}", load(h.name), _field(q, "face"), _field(q, "u"), _field(q, "v"))
    stmts = [stmt, *declare_value(g, _value(where, VEC3, [p, d]))]
    if "sign" in fn or fn == "mesh_query_point":
        signed = call("wp.where", _field(q, "result"), _field(q, "sign"), number(FLOAT32, 0.0))
        stmts += declare_value(g, _value(signed, FLOAT32, [p]))
    return stmts


def mesh_ray(g: Gen, h: Handle) -> list[ast.stmt]:
    """`r = wp.mesh_query_ray(mesh, p, dir, t)`: the hit distance (or `t`), its normal or point."""
    p, direction, t = point(g), point(g), distance(g)
    q, stmt = _query(g, "mesh_query_ray", h, [p, direction, t])
    hit = call("wp.where", _field(q, "result"), _field(q, "t"), number(FLOAT32, -1.0))
    stmts = [stmt, *declare_value(g, _value(hit, FLOAT32, [p, direction]))]
    if g.ch.boolean(0.5):
        normal = _field(q, "normal")
    else:
        normal = call(
            "wp.mesh_eval_position", load(h.name), _field(q, "face"), _field(q, "u"), _field(q, "v")
        )
    return stmts + declare_value(g, _value(normal, VEC3, [p, direction]))


def mesh_ray_count(g: Gen, h: Handle) -> list[ast.stmt]:
    """`int(wp.mesh_query_ray_anyhit(mesh, p, dir, t))` or `wp.mesh_query_ray_count_intersections(...)`."""
    p, direction = point(g), point(g)
    mesh = load(h.name)
    if g.ch.boolean(0.5):
        t = distance(g)
        node = call("int", call("wp.mesh_query_ray_anyhit", mesh, g.use(p), g.use(direction), g.use(t)))
        return declare_value(g, _value(node, INT32, [p, direction], 1))
    node = call("wp.mesh_query_ray_count_intersections", mesh, g.use(p), g.use(direction))
    return declare_value(g, _value(node, INT32, [p, direction], MAX_ITEMS))


def _mesh_item(g: Gen, h: Handle, face: str) -> Expr:
    """A value of face `face`: its normal, or one of its corners (or their velocity)."""
    if g.ch.boolean(0.5):
        return _value(call("wp.mesh_eval_face_normal", load(h.name), load(face)), VEC3, [])
    corner = ast.BinOp(
        left=ast.BinOp(left=load(face), op=ast.Mult(), right=ast.Constant(3)),
        op=ast.Add(),
        right=ast.Constant(g.ch.integer(0, 2)),
    )
    vertex = call("wp.mesh_get_index", load(h.name), corner)
    getter = choice(g.ch, ("mesh_get_point", "mesh_get_velocity"))
    return _value(call(f"wp.{getter}", load(h.name), vertex), VEC3, [])


def mesh_overlaps(g: Gen, h: Handle, loop_body: LoopBody) -> list[ast.stmt]:
    """Faces whose bounds overlap a box (`mesh_query_aabb`) or a sphere (`mesh_query_sphere`)."""
    p, r = point(g), distance(g)
    if g.ch.boolean(0.6):  # the box p - r .. p + r
        center, spread = g.use(p), call("wp.vec3", g.use(r))
        low = ast.BinOp(left=center, op=ast.Sub(), right=spread)
        high = ast.BinOp(left=load_again(center), op=ast.Add(), right=load_again(spread))
        q = g.names.fresh(QUERY_NAMES)
        stmt: ast.stmt = ast.Assign(
            targets=[store(q)], value=call("wp.mesh_query_aabb", load(h.name), low, high)
        )
        step = "mesh_query_aabb_next"
    else:
        q, stmt = _query(g, "mesh_query_sphere", h, [p, r])
        step = "mesh_query_next"
    return [stmt, *_loop(g, h, q, step, lambda face: _mesh_item(g, h, face), loop_body)]


# ----------------------------------------------------------------------------- BVHs, hash grids


def bvh_overlaps(g: Gen, h: Handle, loop_body: LoopBody) -> list[ast.stmt]:
    """Boxes a box, ray, sphere or capsule overlaps: `while wp.bvh_query_next(q, item)`."""
    kind = choice(g.ch, ("aabb", "ray", "sphere", "capsule"))
    p = point(g)
    if kind == "aabb":
        other = point(g)
        if same(other.node, p.node):  # a box with two corners drawn
            shifted = ast.BinOp(left=p.node, op=ast.Add(), right=call("wp.vec3", number(FLOAT32, 1.0)))
            other = Expr(shifted, VEC3)
        low = call("wp.min", g.use(p), g.use(other))
        high = call("wp.max", load_again(low.args[0]), load_again(low.args[1]))
        q = g.names.fresh(QUERY_NAMES)
        stmt: ast.stmt = ast.Assign(
            targets=[store(q)], value=call("wp.bvh_query_aabb", load(h.name), low, high)
        )
    else:
        args = (
            [p, point(g), distance(g)]
            if kind == "capsule"
            else [p, point(g) if kind == "ray" else distance(g)]
        )
        q, stmt = _query(g, f"bvh_query_{kind}", h, args)
    item = lambda name: _value(call("float", load(name)), FLOAT32, [])  # noqa: E731
    return [stmt, *_loop(g, h, q, "bvh_query_next", item, loop_body)]


def load_again(node: ast.expr) -> ast.expr:
    """The same expression once more (a pure one: read twice, `wp.min(a, b)` and `wp.max(a, b)`)."""
    return copy.deepcopy(node)


def grid_neighbors(g: Gen, h: Handle, loop_body: LoopBody) -> list[ast.stmt]:
    """Points within a radius: `while wp.hash_grid_query_next(q, index)`, with their ids."""
    p, r = point(g), distance(g)
    q, stmt = _query(g, "hash_grid_query", h, [p, r])

    def neighbor(index: str) -> Expr:
        return _value(call("wp.hash_grid_point_id", load(h.name), load(index)), INT32, [], MAX_ITEMS)

    return [stmt, *_loop(g, h, q, "hash_grid_query_next", neighbor, loop_body)]


def _loop(
    g: Gen, h: Handle, q: str, step: str, value: Callable[[str], Expr], loop_body: LoopBody
) -> list[ast.stmt]:
    """`item = int(0)`, then `while wp.<step>(q, item):` with a value of each item and a block."""
    item = g.names.fresh(ITEM_NAMES[h.kind])

    def prelude() -> list[ast.stmt]:
        g.scope.declare(Var(item, INT32, mutable=False, bound=MAX_ITEMS), pending=False)
        return declare_value(g, value(item))

    stmts = loop_body(g, prelude, MAX_ITEMS)
    init = ast.Assign(targets=[store(item)], value=call("int", ast.Constant(0)))
    test = call(f"wp.{step}", load(q), load(item))
    return [*g.take_prelude(), init, ast.While(test=test, body=stmts, orelse=[])]


# ----------------------------------------------------------------------------- volumes, textures

SAMPLING = ("CLOSEST", "LINEAR")


def volume_sample(g: Gen, h: Handle) -> list[ast.stmt]:
    """`wp.volume_sample_f(vol, wp.volume_world_to_index(vol, p), wp.Volume.LINEAR)` (or `_v`, `_i`,
    or generic with `dtype=`); for a float volume maybe with its gradient (`volume_sample_grad_f`)."""
    p = point(g)
    ty = VOLUME_TYPES[h.detail]
    uvw: ast.expr = g.use(p)
    if g.ch.boolean(0.6):
        uvw = call("wp.volume_world_to_index", load(h.name), uvw)
    mode = ast.Attribute(value=wp_attr("Volume"), attr=choice(g.ch, SAMPLING), ctx=ast.Load())
    if h.detail == "f" and g.ch.boolean(0.3):
        grad = Var(g.names.fresh(VAR_NAMES["vector"]), VEC3)
        stmts = [ast.Assign(targets=[store(grad.name)], value=call("wp.vec3"))]  # zero
        if g.ch.boolean(0.5):
            node = call("wp.volume_sample_grad_f", load(h.name), uvw, mode, load(grad.name))
        else:
            node = call(
                "wp.volume_sample_grad", load(h.name), uvw, mode, load(grad.name), dtype=load("float")
            )
        stmts += declare_value(g, _value(node, FLOAT32, [p]))
        g.scope.declare(grad)  # its value is the sample's gradient: pending from here on
        g.assigned(grad, _value(load(grad.name), VEC3, [p]))
        return stmts
    if h.detail == "i":
        node = call("wp.volume_sample_i", load(h.name), uvw)
    elif g.ch.boolean(0.7):
        node = call(f"wp.volume_sample_{h.detail}", load(h.name), uvw, mode)
    else:
        node = call("wp.volume_sample", load(h.name), uvw, mode, dtype=_dtype(ty))
    return declare_value(g, _value(node, ty, [p], safety.ARRAY_INT_BOUND if ty is INT32 else 0))


def volume_lookup(g: Gen, h: Handle) -> list[ast.stmt]:
    """`wp.volume_lookup_f(vol, i, j, k)` (or generic with `dtype=`) at live integer coordinates."""
    coords = [index(g) for _ in range(3)]
    if not any(c.live for c in coords):
        coords[0] = expression(g, INT32, 1, live=True)
    ty = VOLUME_TYPES[h.detail]
    args = [g.use(c) for c in coords]
    if g.ch.boolean(0.7):
        node = call(f"wp.volume_lookup_{h.detail}", load(h.name), *args)
    else:
        node = call("wp.volume_lookup", load(h.name), *args, dtype=_dtype(ty))
    return declare_value(g, _value(node, ty, coords, safety.ARRAY_INT_BOUND if ty is INT32 else 0))


def volume_transform(g: Gen, h: Handle) -> list[ast.stmt]:
    """A point or direction between world and index space, or the volume's voxel count."""
    if g.ch.boolean(0.15) and not g.policy.differentiable:
        return declare_value(g, _value(call("wp.volume_voxel_count", load(h.name)), INT32, [], 4096))
    p = point(g)
    fn = choice(g.ch, ("world_to_index", "index_to_world", "world_to_index_dir", "index_to_world_dir"))
    return declare_value(g, _value(call(f"wp.volume_{fn}", load(h.name), g.use(p)), VEC3, [p]))


def _dtype(ty: WType) -> ast.expr:
    return {FLOAT32: load("float"), INT32: load("int")}.get(ty) or wp_attr("vec3")


def texture_sample(g: Gen, h: Handle) -> list[ast.stmt]:
    """`wp.texture_sample(tex, uv, dtype=float)`: at a point (`wp.vec2`/`wp.vec3`) or coordinates."""
    n = 2 if h.kind == "texture2d" else 3
    if g.ch.boolean(0.5) and (n == 3 or VEC2 in g.type_set):
        parts = [point(g) if n == 3 else expression(g, VEC2, 1, live=True)]
    else:
        parts = [expression(g, FLOAT32, 1, live=k == 0) for k in range(n)]
    node = call("wp.texture_sample", load(h.name), *(g.use(p) for p in parts), dtype=load("float"))
    return declare_value(g, _value(node, FLOAT32, parts))


@dataclass(frozen=True)
class Query:
    kind: str  # the handle kind it reads
    make: Callable[..., list[ast.stmt]]  # (g, handle), and a loop's body for a loop (`LoopBody`)
    loop: bool = False  # a while loop over results
    differentiable: bool = True  # Warp differentiates every builtin it calls


#: The geometry productions, by handle kind.
QUERIES: tuple[Query, ...] = (
    Query("mesh", mesh_point),
    Query("mesh", mesh_ray),
    Query("mesh", mesh_ray_count, differentiable=False),
    Query("mesh", mesh_overlaps, loop=True, differentiable=False),
    Query("bvh", bvh_overlaps, loop=True, differentiable=False),
    Query("hash_grid", grid_neighbors, loop=True, differentiable=False),
    Query("volume", volume_sample),
    Query("volume", volume_lookup, differentiable=False),
    Query("volume", volume_transform),
    Query("texture2d", texture_sample),
    Query("texture3d", texture_sample),
)


def geometry_statement(g: Gen, loop_body: LoopBody) -> list[ast.stmt]:
    """A query of one of the kernel's handles (a pending one first); a query loop's body from
    `loop_body`."""
    pending = [h for h in g.handles if h.name in g.scope.pending]
    loop_room = loops_ok(g) and g.scope.trips * MAX_ITEMS <= safety.MAX_TRIPS
    usable = [h for h in pending or g.handles if loop_room or h.kind not in ("bvh", "hash_grid")]
    if not usable:  # no handle, or only loop queries where no loop fits
        return declare(g)
    h = choice(g.ch, usable)
    rows = [
        q
        for q in QUERIES
        if q.kind == h.kind
        and (q.differentiable or not g.policy.differentiable)
        and (loop_room or not q.loop)
    ]
    g.scope.consume([h.name])
    query = choice(g.ch, rows)
    return query.make(g, h, loop_body) if query.loop else query.make(g, h)


def unread_handles(g: Gen, loop_body: LoopBody) -> list[ast.stmt]:
    """A query of every handle still pending (before the final stores, at the top level, where
    every handle has a query: its kind was drawn where a loop fits)."""
    stmts: list[ast.stmt] = []
    while any(h.name in g.scope.pending for h in g.handles):
        stmts += geometry_statement(g, loop_body)
    return stmts
