"""The tolerance policy for comparing a kernel's CPU results with its GPU results.

- Integers (and bools): exactly equal.  The grammar's int arithmetic never
  overflows and never converts floats to ints, so nothing device-dependent
  reaches an int except float comparisons deciding a branch (a reproducer
  then shows it).
- Floats: `|cpu - gpu| <= RTOL[dtype] * |cpu| + ATOL[dtype] * max(1, max|cpu|)`
  elementwise; NaN matches NaN and an infinity matches the same infinity.
  Why so loose: CUDA's libdevice math differs from the CPU's libm by a few ULP
  per call, NVCC contracts `a * b + c` into FMAs and Warp may build with fast
  math, and generated kernels chain tens of operations that amplify those
  differences; 1e-3 is ~8000 float32 ULP, far below what a real miscompilation
  (a wrong operation, a wrong branch) produces; float16 gets ~10 half ULP.  The absolute part covers
  cancellation near zero, relative to the array's largest finite magnitude.
- Accumulator arrays (float atomics): the GPU adds in another order, so the
  absolute part is multiplied by the number of threads that may contribute.

Two launches on one device must agree bit for bit, except accumulator arrays on
a GPU (atomic order), which are held to the policy above.
"""

from __future__ import annotations

import numpy as np

RTOL = {"float16": 1e-2, "float32": 1e-3, "float64": 1e-9}
ATOL = {"float16": 1e-3, "float32": 1e-5, "float64": 1e-12}


def close(cpu: np.ndarray, gpu: np.ndarray, contributors: int = 1) -> bool:
    """Whether `gpu` matches `cpu` under the policy (`contributors`: threads adding into one element)."""
    if cpu.shape != gpu.shape or cpu.dtype != gpu.dtype:
        return False
    if cpu.dtype.kind != "f":
        return cpu.tobytes() == gpu.tobytes()
    finite = np.abs(cpu[np.isfinite(cpu)])
    scale = max(1.0, float(finite.max(initial=0.0)))
    atol = ATOL[cpu.dtype.name] * scale * contributors
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.allclose(gpu, cpu, rtol=RTOL[cpu.dtype.name], atol=atol, equal_nan=True))


def mismatches(
    cpu: dict[str, np.ndarray], gpu: dict[str, np.ndarray], accumulators: set[str], threads: int
) -> list[str]:
    """Names of the arrays whose results differ beyond the policy."""
    return [name for name in cpu if not close(cpu[name], gpu[name], threads if name in accumulators else 1)]


def run_to_run_differences(
    first: dict[str, np.ndarray], second: dict[str, np.ndarray], accumulators: set[str], threads: int
) -> list[str]:
    """Names of the arrays that differ between two launches on one device (see the module docstring)."""
    return [
        name
        for name in first
        if not (
            close(first[name], second[name], threads)
            if name in accumulators
            else first[name].tobytes() == second[name].tobytes()
        )
    ]
