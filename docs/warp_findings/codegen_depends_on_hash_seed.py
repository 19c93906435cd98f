"""Warp 1.19.0: the generated C++ of a kernel depends on PYTHONHASHSEED.

An unrolled loop whose body holds a dynamic loop that reassigns the iterator
variables of two inner unrolled loops: on the second unrolled iteration Warp
copies those iterator constants into mutable locals (`_promote_mutated_iter_constants`)
iterating over a Python `set` of names, so the order of the copies, and the
variable numbering after them, changes with the process' string hash seed.
Correctness is unaffected; reproducibility of the generated code is not.

Run: python codegen_depends_on_hash_seed.py  (exit status 1 while it reproduces).
"""

import glob
import os
import subprocess
import sys
import tempfile

import warp as wp


@wp.kernel
def unrolled_around_dynamic(a: wp.array(dtype=int), out: wp.array(dtype=int)):
    tid = wp.tid()
    for _s in range(2):
        for _it in range(a.shape[0]):
            for p in range(2):
                out[tid] = p
            for q in range(2):
                out[tid] = q
            for r in range(2):
                out[tid] = r


def generated_cpp() -> str:
    """This module's C++ as Warp writes it to a fresh kernel cache."""
    wp.config.kernel_cache_dir = tempfile.mkdtemp()
    wp.config.quiet = True
    wp.init()
    wp.load_module(device="cpu")
    (path,) = glob.glob(os.path.join(wp.config.kernel_cache_dir, "**", "*.cpp"), recursive=True)
    with open(path) as f:
        return f.read()


if __name__ == "__main__":
    if len(sys.argv) > 1:  # child: write the generated code to the given file
        with open(sys.argv[1], "w") as f:
            f.write(generated_cpp())
        sys.exit(0)
    outputs = set()
    for seed in (0, 0, 1, 2, 3, 4):  # seed 0 twice: the same seed gives the same code
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        with tempfile.NamedTemporaryFile("r", suffix=".cpp") as out:
            subprocess.run([sys.executable, __file__, out.name], capture_output=True, env=env, check=True)
            outputs.add(out.read())
    print(f"{len(outputs)} different translation units from 5 hash seeds")
    sys.exit(1 if len(outputs) > 1 else 0)
