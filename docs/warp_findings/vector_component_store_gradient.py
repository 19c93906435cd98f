"""Warp 1.19.0: a component store into a local vector leaves the overwritten component's gradient in place.

    v = src[i]
    v[2] = 1.0
    out[i] = v

d sum(out) / d src is [1, 1, 0] (component 2 is overwritten by a constant);
Warp's backward gives [1, 1, 1].  A single write per component is inside the
documented contract (`wp.config.enable_vector_component_overwrites` is only
needed for *multiple* writes), and with that flag set the gradient is right.
Found by `python -m synth fuzz --count 600 --seed 1` (two findings, shrunk to
`vel[2] = 6.829` and `u[0] = u[0]` on vectors read from arrays).  The native
`adj_assign_inplace` adds the component's adjoint to the value without zeroing
it; NVIDIA/warp#1697 (closed) describes this root cause for `v[i] = v[i] + x`,
and it still reproduces with 1.19.0 for a plain single store.

Run: python vector_component_store_gradient.py  (exit status 1 while it reproduces).
"""

import sys

import numpy as np
import warp as wp

if "--overwrites" in sys.argv:  # the workaround: gradient correct
    wp.config.enable_vector_component_overwrites = True


@wp.kernel
def store_component(src: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    v = src[i]
    v[2] = 1.0
    out[i] = v


if __name__ == "__main__":
    wp.init()
    src = wp.array([[0.5, -0.25, 2.0]], dtype=wp.vec3, device="cpu", requires_grad=True)
    out = wp.zeros(1, dtype=wp.vec3, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(store_component, dim=1, inputs=[src, out], device="cpu")
    tape.backward(grads={out: wp.array([[1.0, 1.0, 1.0]], dtype=wp.vec3, device="cpu")})
    grad = src.grad.numpy()[0]
    print("gradient", grad, "expected [1. 1. 0.]")
    sys.exit(0 if np.allclose(grad, [1.0, 1.0, 0.0]) else 1)
