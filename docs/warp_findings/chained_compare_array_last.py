"""Warp 1.19.0: an array element as the last operand of a chained comparison fails to compile.

`0.0 < a[i] < 1.0` works, `0.0 < 0.5 < a[i]` raises
"Cannot chain comparisons of unequal types: float32 < wp.ref[float32]".
Found by warp-synth; the generator avoids array reads in chained comparisons.
"""

import warp as wp

wp.config.quiet = True


@wp.kernel
def chained(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    if 0.0 < 0.5 < a[i]:
        out[i] = 1.0


a = wp.array([0.25, 2.0], dtype=float)
out = wp.zeros(2, dtype=float)
wp.launch(chained, dim=2, inputs=[a, out])
print(out.numpy())  # expected [0. 1.]
