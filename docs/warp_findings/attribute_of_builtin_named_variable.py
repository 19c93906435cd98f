"""Warp 1.19.0: a variable named like a Warp builtin (`pos`, unary plus), whose attribute is
passed to a builtin Warp defines in Python (`wp.norm_l2(pos.p)`), fails to lower.

Typing the generic function's argument, Warp resolves the name `pos` to its builtin function:
"Failed to determine type code for argument 'v' of function norm_l2: Unrecognized type
'<Function pos(x: bfloat16)>'".  `wp.norm_l2(pos)` and `wp.norm_l2(pos + pos)` lower, and so
does `wp.norm_l2(xf.p)` for a variable named `xf`.  Found by warp-synth (one candidate of a
213 MB run failed to lower); the generator's name pools hold no Warp builtin name.
"""

import warp as wp

wp.config.quiet = True


@wp.kernel
def builtin_named(a: wp.array(dtype=wp.transform), out: wp.array(dtype=float)):
    i = wp.tid()
    pos = a[i]
    out[i] = wp.norm_l2(pos.p)


a = wp.zeros(2, dtype=wp.transform)
out = wp.zeros(2, dtype=float)
wp.launch(builtin_named, dim=2, inputs=[a, out])  # fails to lower here
print(out.numpy())  # expected [0. 0.]
