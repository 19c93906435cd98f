"""Warp 1.19.0: the generated C++ depends on Python's string-hash seed (PYTHONHASHSEED).

`Adjoint._promote_mutated_iter_constants` copies the names a dynamic loop reassigns
out of a set (`mutated = {n.id ...}`), so when two or more names left over from unrolled
`range(constant)` loops are reassigned in a later dynamic loop, the order of their
`wp::copy` statements, and so the variable numbering, changes from process to process.
The kernel's module hash does not change, so a kernel cache can hold any of the orders.
Run this file: it lowers the kernel below in processes with different hash seeds and
prints how many distinct sources came out (expected 1).
warp-synth runs its workers with PYTHONHASHSEED=0 so its records are the same everywhere.
"""

import subprocess
import sys

import warp as wp

wp.config.quiet = True


@wp.kernel
def carried(a: wp.array(dtype=int), n: int):
    i = wp.tid()
    for p in range(2):
        for q in range(2):
            a[i] = a[i] + p + q
    for _t in range(n):
        p = p + 1
        q = q + 2
    a[i] = p + q


def generated_cpp() -> str:
    from warp._src.context import ModuleBuilder

    module = carried.module
    return ModuleBuilder(module, module.options, target="cpu").codegen("cpu")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(generated_cpp())
        sys.exit()
    sources = {
        subprocess.run(
            [sys.executable, __file__, "print"],
            env={"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    print(f"{len(sources)} distinct C++ sources from 8 hash seeds (expected 1)")
