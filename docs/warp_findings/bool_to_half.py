"""Warp 1.19.0: `wp.float16(b)` on a bool `b` lowers, but the adjoint fails to compile.

Warp registers a float16(bool) overload; its generated adjoint instantiates
`adj_float16<bool>`, which does `T(adj_ret)` on a half: clang reports "ambiguous conversion
for functional-style cast from 'float16' (aka 'half') to 'bool'", NVRTC "more than one
conversion function from wp::float16 to bool".  `wp.float32(b)` is fine.
Found by warp-synth; the generator does not convert bools to float16.
"""

import numpy as np
import warp as wp

wp.config.quiet = True


@wp.kernel
def bool_to_half(a: wp.array(dtype=float), out: wp.array(dtype=wp.float16)):
    i = wp.tid()
    out[i] = wp.float16(a[i] > 0.5)


a = wp.array(np.array([0.25, 1.0], dtype=np.float32), dtype=float)
out = wp.zeros(2, dtype=wp.float16)
wp.launch(bool_to_half, dim=2, inputs=[a, out])  # module build fails here
print(out.numpy())  # expected [0. 1.]
