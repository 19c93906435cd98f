"""Warp 1.19.0: `wp.int64(C)` on a `wp.constant` int C changes C's type for the rest of the kernel.

After `x = wp.int64(C)`, `C + i` fails with "Input types must be the same, got
['int64', 'int32']" (and helper calls taking C no longer match their int overload).
Same family as `cast_mutates_unrolled_loop_var.py`: a conversion of a compile-time
constant rewrites the constant's type instead of producing a new value.
Found by warp-synth; the generator does not convert bare constants or constant-loop variables.
"""

import warp as wp

wp.config.quiet = True

C = wp.constant(3)


@wp.kernel
def cast_constant(out: wp.array(dtype=int)):
    i = wp.tid()
    x = wp.int64(C)  # noqa: F841
    out[i] = C + i


out = wp.zeros(2, dtype=int)
wp.launch(cast_constant, dim=2, inputs=[out])
print(out.numpy())  # expected [3 4]
