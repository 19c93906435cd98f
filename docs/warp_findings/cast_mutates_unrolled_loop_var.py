"""Warp 1.19.0: `wp.float64(k)` on the variable of an unrolled `range(2)` loop changes k's type.

After `x = wp.float64(k)`, `k | i` fails with "Couldn't find function overload for
'bit_or' that matched inputs with types: [float64, int32]".  `float(k)` is fine, and so
is `wp.float64(k)` on a non-loop int variable.
Found by warp-synth; the generator does not convert bare constant-loop variables.
"""

import warp as wp

wp.config.quiet = True


@wp.kernel
def cast_loop_var(out: wp.array(dtype=int)):
    i = wp.tid()
    for k in range(2):
        x = wp.float64(k)  # noqa: F841
        out[i] = k | i


out = wp.zeros(2, dtype=int)
wp.launch(cast_loop_var, dim=2, inputs=[out])
print(out.numpy())  # expected [1 1]
