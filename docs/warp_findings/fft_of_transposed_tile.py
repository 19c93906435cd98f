"""Warp 1.19.0: `wp.tile_fft(c)` on a tile that is transposed afterwards does not compile for a
block of more than one thread (CPU with `enable_cpu_blocks`, and CUDA alike).

The transpose aliases `c`, so Warp keeps `c` in shared memory (`tile_shared_t`); `tile_fft`
for a block of several threads then instantiates `tile_fft_gpu_impl`, which reads
`Xinout.data[reg]` as if the tile were held in registers: clang reports "type 'Storage' does
not provide a subscript operator" (tile_fft.h:282).  Without the transpose (the tile stays in
registers), or with one thread per block, it compiles.  Found by warp-synth
(`--verify compile`, a record with `module_options={"block_dim": 2}`); the generator does not
transpose or view a tile it takes an FFT of.
"""

import numpy as np
import warp as wp

wp.config.quiet = True
wp.config.enable_cpu_blocks = True  # CPU blocks of several threads (on CUDA a block always has them)


@wp.func
def cplx(re: float, im: float) -> wp.vec2:
    return wp.vec2(re, im)


@wp.kernel
def fft_then_transpose(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    i, j = wp.tid()
    t = wp.tile_load(a, shape=(4, 8), offset=(i * 4, j * 8))
    c = wp.tile_map(cplx, t, wp.tile_zeros(shape=(4, 8), dtype=float))
    wp.tile_fft(c)
    ct = wp.tile_transpose(c)
    wp.tile_store(out, wp.tile_transpose(wp.tile_map(wp.length, ct)), offset=(i * 4, j * 8))


a = wp.array(np.ones((4, 8), dtype=np.float32), dtype=float, device="cpu")
out = wp.zeros((4, 8), dtype=float, device="cpu")
wp.launch_tiled(fft_then_transpose, dim=(1, 1), inputs=[a, out], block_dim=2, device="cpu")  # fails to build
print(out.numpy()[0])  # expected [8. 0. 0. 0. 0. 0. 0. 0.]
