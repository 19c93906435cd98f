"""Objects for handle parameters: meshes, BVHs, hash grids, volumes and textures, built from a seed.

A geometry kernel's `wp.uint64` parameters are object handles.  Which object each
one is, is read from the kernel's source: the geometry builtin it is passed to
(`mesh_*`, `bvh_*`, `hash_grid_*`, `volume_*`, a volume's value type from the
builtin's `_f`/`_v`/`_i` or its `dtype=`); a texture parameter is known by its
annotation.  The objects are drawn from the launch's seed as plain numpy data (a
`Recipe`, the same for every device) and built on the device of each launch,
inside the launch contract (`grammar.geometry.MAX_ITEMS` faces, boxes or points
at most; coordinates in the inputs' range):

- a `wp.Mesh` of 8..32 random triangles (three distinct corners each) over 12..24
  points in [-2, 2]^3, with velocities, built to answer winding-number queries;
- a `wp.Bvh` over 8..32 random boxes;
- a `wp.HashGrid` (8^3 cells) over 8..32 random points;
- a `wp.Volume` from a dense 8^3 numpy grid (floats, 3-vectors or ints) over [-2, 2]^3;
- a `wp.Texture2D` (8 x 8) or `wp.Texture3D` (4^3) of floats, sampled closest (CUDA's
  hardware linear filtering has 8-bit weights: CPU and GPU would differ beyond the tolerance).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import warp_access
from grammar.astnodes import wp_name
from grammar.geometry import ANNOTATIONS, MAX_ITEMS

#: The handle kind of a parameter passed first to a builtin of each prefix.
CALL_PREFIXES = (("mesh_", "mesh"), ("bvh_", "bvh"), ("hash_grid_", "hash_grid"), ("volume_", "volume"))
#: A texture parameter's kind by its annotation.
TEXTURES = {v.removeprefix("wp."): k for k, v in ANNOTATIONS.items() if k.startswith("texture")}
#: A volume's value type by a `dtype=` spelling.
VOLUME_DTYPES = {"float": "f", "float32": "f", "vec3": "v", "vec3f": "v", "int": "i", "int32": "i"}
#: World box objects live in, and the side of a volume's dense grid.
WORLD = 2.0
VOLUME_SIDE = 8


@dataclass(eq=False)
class Recipe:
    """An object drawn from a seed: its kind (mesh, bvh, hash_grid, volume_f/_v/_i, texture2d/3d)
    and its data."""

    kind: str
    data: dict[str, np.ndarray] = field(default_factory=dict)


class HandleArgument(int):
    """An object's id as a launch argument, holding the object (and its arrays) alive meanwhile."""

    owners: tuple[Any, ...] = ()


def build_source() -> str:
    """The source of `HandleArgument` and `build`: what reproducers and other Warp installations'
    runners (`check/runner.py`) execute to build objects with plain Warp."""
    import inspect

    sources = (inspect.getsource(HandleArgument), inspect.getsource(build))
    return "\n\n".join(["from typing import Any", *sources])


def handle_kinds(kernel: Any) -> dict[str, str]:
    """Parameter name -> kind for a kernel's handle parameters (none for other kernels)."""
    tree = ast.parse(textwrap.dedent(warp_access.kernel_source(kernel)))
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    kinds: dict[str, str] = {}
    params = {arg.arg for arg in func.args.args}  # not the query objects `*_next` is given
    for arg in func.args.args:
        annotation = wp_name(arg.annotation) if arg.annotation is not None else None
        if annotation in TEXTURES:
            kinds[arg.arg] = TEXTURES[annotation]
    for node in ast.walk(tree):
        name = wp_name(node.func) if isinstance(node, ast.Call) else None
        if not name or not node.args or not isinstance(node.args[0], ast.Name):  # type: ignore[attr-defined]
            continue
        param = node.args[0].id  # type: ignore[attr-defined]
        for prefix, kind in CALL_PREFIXES if param in params else ():
            if name.startswith(prefix):
                detail = _volume_type(node) if kind == "volume" else ""  # type: ignore[arg-type]
                if kinds.get(param, "volume") == "volume":  # a volume's value type once known
                    kinds[param] = f"volume_{detail}" if detail else kinds.get(param, kind)
    return {p: ("volume_f" if k == "volume" else k) for p, k in kinds.items()}


def _volume_type(node: ast.Call) -> str:
    """f, v or i from `volume_sample_f(...)` or `volume_lookup(..., dtype=wp.vec3)`; "" if neither says."""
    name = wp_name(node.func) or ""
    suffix = name.rpartition("_")[2]
    if suffix in ("f", "v", "i"):
        return suffix
    dtype = next((k.value for k in node.keywords if k.arg == "dtype"), None)
    if dtype is None:
        return ""
    spelled = wp_name(dtype) or (dtype.id if isinstance(dtype, ast.Name) else "")
    return VOLUME_DTYPES.get(spelled, "")


# ----------------------------------------------------------------------------- drawing


def recipe(kind: str, rng: np.random.Generator) -> Recipe:
    """The data of an object of `kind`, drawn from `rng`."""
    n = int(rng.integers(8, min(32, MAX_ITEMS) + 1))
    if kind == "mesh":
        points = rng.uniform(-WORLD, WORLD, size=(int(rng.integers(12, 25)), 3)).astype(np.float32)
        faces = np.stack([rng.choice(len(points), size=3, replace=False) for _ in range(n)]).astype(np.int32)
        velocities = rng.uniform(-1.0, 1.0, size=points.shape).astype(np.float32)
        return Recipe(kind, {"points": points, "indices": faces.flatten(), "velocities": velocities})
    if kind == "bvh":
        centers = rng.uniform(-WORLD, WORLD, size=(n, 3))
        half = rng.uniform(0.05, 0.5, size=(n, 3))
        return Recipe(
            kind,
            {"lowers": (centers - half).astype(np.float32), "uppers": (centers + half).astype(np.float32)},
        )
    if kind == "hash_grid":
        return Recipe(kind, {"points": rng.uniform(-WORLD, WORLD, size=(n, 3)).astype(np.float32)})
    if kind.startswith("volume_"):
        side = (VOLUME_SIDE,) * 3
        values = {
            "volume_f": lambda: rng.uniform(-1.0, 1.0, size=side).astype(np.float32),
            "volume_v": lambda: rng.uniform(-1.0, 1.0, size=(*side, 3)).astype(np.float32),
            "volume_i": lambda: rng.integers(-1000, 1001, size=side).astype(np.int32),
        }[kind]()
        origin = np.full(3, -WORLD, dtype=np.float32)
        voxel = np.array(2 * WORLD / VOLUME_SIDE, dtype=np.float32)
        return Recipe(kind, {"values": values, "origin": origin, "voxel_size": voxel})
    shape = (8, 8) if kind == "texture2d" else (4, 4, 4)
    return Recipe(kind, {"values": rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)})


# ----------------------------------------------------------------------------- building


def instance(r: Recipe, device: str) -> Any:
    """The object of recipe `r` built on `device`: a `HandleArgument` id, or a texture."""
    return build(r.kind, r.data, device, warp_access.warp())


def build(kind: str, d: dict, device: str, wp: Any) -> Any:
    """An object of `kind` from its data `d` on `device`, with Warp module `wp`.

    Self-contained (numpy, Warp and `HandleArgument`): reproducers embed its source."""
    if kind.startswith("texture"):
        texture = wp.Texture2D if kind == "texture2d" else wp.Texture3D
        return texture(d["values"], filter_mode=wp.TextureFilterMode.CLOSEST, device=device)
    if kind == "mesh":
        arrays = [
            wp.array(d["points"], dtype=wp.vec3, device=device),
            wp.array(d["indices"], dtype=wp.int32, device=device),
            wp.array(d["velocities"], dtype=wp.vec3, device=device),
        ]
        made = wp.Mesh(points=arrays[0], indices=arrays[1], velocities=arrays[2], support_winding_number=True)
    elif kind == "bvh":
        arrays = [wp.array(d[k], dtype=wp.vec3, device=device) for k in ("lowers", "uppers")]
        made = wp.Bvh(*arrays)
    elif kind == "hash_grid":
        arrays = [wp.array(d["points"], dtype=wp.vec3, device=device)]
        made = wp.HashGrid(8, 8, 8, device=device)
        made.build(arrays[0], radius=0.5)
    else:
        background = {"volume_f": 0.0, "volume_v": wp.vec3(0.0), "volume_i": 0}[kind]
        arrays = []
        made = wp.Volume.load_from_numpy(
            d["values"],
            min_world=tuple(d["origin"].tolist()),
            voxel_size=float(d["voxel_size"]),
            bg_value=background,
            device=device,
        )
    handle = HandleArgument(made.id)
    handle.owners = (made, *arrays)
    return handle
