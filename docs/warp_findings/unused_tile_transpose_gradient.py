"""Warp 1.19.0: an unused `wp.tile_transpose` of a tile corrupts the gradient through that tile.

`x = tile_load(b); y = tile_map(sin, x); t = tile_map(sin, y); tile_store(out, t)`
back-propagates cos(sin(x)) * cos(x), as it should; adding `_ = wp.tile_transpose(x)`,
whose result is never used, changes the gradient Warp's backward computes (CPU).
Found by `python -m synth fuzz --device cuda --count 200 --seed 4` (a tile kernel
with float64 tiles), reduced by hand.  Exit status 1 while it reproduces.
"""

import math
import sys

import numpy as np
import warp as wp

wp.config.quiet = True
TILE = wp.constant(4)


@wp.kernel
def plain(b: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    x = wp.tile_load(b, shape=(TILE, TILE))
    y = wp.tile_map(wp.sin, x)
    t = wp.tile_map(wp.sin, y)
    wp.tile_store(out, t)


@wp.kernel
def with_unused_transpose(b: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    x = wp.tile_load(b, shape=(TILE, TILE))
    y = wp.tile_map(wp.sin, x)
    _unused = wp.tile_transpose(x)
    t = wp.tile_map(wp.sin, y)
    wp.tile_store(out, t)


def gradient(kernel) -> float:
    b = wp.array(np.full((4, 4), 0.5, dtype=np.float32), dtype=float, requires_grad=True)
    out = wp.zeros((4, 4), dtype=float, requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch_tiled(kernel, dim=(1, 1), inputs=[b, out], block_dim=None)
    out.grad.fill_(1.0)
    tape.backward()
    return float(b.grad.numpy()[0, 0])


expected = math.cos(math.sin(0.5)) * math.cos(0.5)
results = {k.key: gradient(k) for k in (plain, with_unused_transpose)}
print(f"expected {expected:.6f}, got {results}")
sys.exit(0 if all(abs(g - expected) < 1e-4 for g in results.values()) else 1)
