"""Warp 1.19.0: a `wp.constant` passed as the state of a random builtin does not compile.

`wp.randn(S)` with `S = wp.constant(wp.uint32(10))` lowers, but the random builtins take
their state by reference (`uint32& state`), and the constant is a `const wp::uint32`:
clang reports "binding reference of type 'uint32' to value of type 'const wp::uint32'
drops 'const' qualifier" (NVRTC likewise).  A literal (`wp.randn(wp.uint32(10))`) or a
variable works.
Found by warp-synth; the generator never passes a constant as a random state.
"""

import warp as wp

wp.config.quiet = True

S = wp.constant(wp.uint32(10))


@wp.kernel
def random_from_constant(out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.randn(S)


out = wp.zeros(2, dtype=float)
wp.launch(random_from_constant, dim=2, inputs=[out])  # module build fails here
print(out.numpy())  # expected two equal normal samples
