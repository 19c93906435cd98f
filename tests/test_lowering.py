"""Lowering shortcuts change nothing: the overload memo gives exactly Warp's own resolution, and
CUDA code that declares MathDx device functions is the same without libmathdx building their LTO-IR."""

import contextlib
import os
from typing import NoReturn

import pytest

import warp_access
from emit.lower import DEVICES, lower, module_source
from grammar.sample import sample
from grammar.unparse import to_source

SEEDS = range(40, 70)


@pytest.mark.parametrize("device", DEVICES)
def test_memoized_lowering_equals_plain_warp(device, monkeypatch):
    kernels = [(to_source(s.tree), s.kernel_name) for s in map(sample, SEEDS)]
    memoized = [lower(source, name, device) for source, name in kernels]  # memo warm from here on
    monkeypatch.setattr(warp_access, "_builtin_overloads_memoized", contextlib.nullcontext)
    assert [lower(source, name, device) for source, name in kernels] == memoized


def test_memo_stays_bounded():
    for seed in range(20):
        lower(to_source(sample(seed).tree), sample(seed).kernel_name, "cpu")
    assert 0 < len(warp_access._resolved) <= warp_access._RESOLVED_MAX


MATMUL = """import warp as wp

@wp.kernel
def k(a: wp.array2d(dtype={dt}), b: wp.array2d(dtype={dt}), c: wp.array2d(dtype={dt})):
    i, j = wp.tid()
    x = wp.tile_load(a, shape=({m}, {k}))
    y = wp.tile_load(b, shape=({k}, {n}))
    wp.tile_store(c, wp.tile_matmul(x, y))
"""

CHOLESKY = """import warp as wp

@wp.kernel
def k(a: wp.array2d(dtype={dt}), c: wp.array1d(dtype={dt})):
    i, j = wp.tid()
    x = wp.tile_load(a, shape=({n}, {n}))
    s = wp.tile_diag_add(wp.tile_matmul(x, wp.tile_transpose(x)), wp.tile_ones(shape=({n},), dtype={dt}))
    f = wp.tile_cholesky(s)
    wp.tile_store(c, wp.tile_cholesky_solve(f, wp.tile_sum(x, axis=1)))
"""

FFT = """import warp as wp

@wp.func
def cplx(re: {dt}, im: {dt}) -> wp.vec2{s}:
    return wp.vec2{s}(re, im)

@wp.kernel(module="unique", module_options={{"block_dim": {bd}}})
def k(a: wp.array2d(dtype={dt}), c: wp.array2d(dtype=wp.vec2{s})):
    i, j = wp.tid()
    x = wp.tile_load(a, shape=(2, {n}))
    t = wp.tile_map(cplx, x, x)
    wp.tile_{fft}(t)
    wp.tile_store(c, t)
"""

#: MathDx-backed kernels of a few shapes and types.  The real builds they are checked against take
#: libmathdx a minute or so each on an empty Warp cache (about 25 of them, once per machine).
MATHDX_KERNELS = {
    "matmul_f32": MATMUL.format(dt="wp.float32", m=8, k=16, n=8),
    "matmul_f64": MATMUL.format(dt="wp.float64", m=4, k=8, n=4),
    "cholesky_f32": CHOLESKY.format(dt="wp.float32", n=8),
    **{
        f"{fft}_{n}_{dt}": FFT.format(dt=f"wp.float{dt}", s="fd"[dt == 64], n=n, fft=fft, bd=2)
        for n, fft in ((4, "fft"), (8, "ifft"), (16, "fft"))
        for dt in (32, 64)
    },
}


#: Compared with a real build in every run of the suite: a matmul, and an FFT whose shared memory
#: size comes from `warp_access.FFT_SHARED_MEMORY`.  The others cost a cold machine minutes of
#: libmathdx each: `SYNTH_ALL_MATHDX=1 python -m pytest tests/test_lowering.py` compares them all.
ALWAYS_BUILT = ("matmul_f32", "fft_16_64")


@pytest.mark.parametrize("name", MATHDX_KERNELS)
def test_cuda_code_is_the_same_without_mathdx_lto_ir(name, monkeypatch):
    if name not in ALWAYS_BUILT and not os.environ.get("SYNTH_ALL_MATHDX"):
        pytest.skip("a real libmathdx build, minutes on an empty Warp cache: SYNTH_ALL_MATHDX=1 runs it")
    source = MATHDX_KERNELS[name]
    declared = lower(source, "k", "cuda"), module_source(source, "cuda")
    assert declared[0].link_symbols
    monkeypatch.setattr(warp_access, "_lto_ir_skipped", contextlib.nullcontext)  # libmathdx builds
    assert (lower(source, "k", "cuda"), module_source(source, "cuda")) == declared


def test_every_known_fft_shared_memory_size_is_checked_against_a_build():
    symbols = {
        s
        for name, source in MATHDX_KERNELS.items()
        if "fft" in name
        for s in lower(source, "k", "cuda").link_symbols
    }
    assert symbols == set(warp_access.FFT_SHARED_MEMORY)


def _libmathdx_refused(*args: object) -> NoReturn:
    raise AssertionError("libmathdx was asked to build LTO-IR")


def _nothing_cached_and_libmathdx_refused(monkeypatch, tmp_path) -> None:
    wp = warp_access.warp()
    monkeypatch.setattr(wp.config, "kernel_cache_dir", str(tmp_path))
    core = wp._src.context.runtime.core
    for build in ("wp_cuda_compile_dot", "wp_cuda_compile_solver", "wp_cuda_compile_fft"):
        monkeypatch.setattr(core, build, _libmathdx_refused)


@pytest.mark.parametrize("name", ["matmul_f64", "cholesky_f32", "fft_16_64"])
def test_lowering_builds_no_lto_ir(name, monkeypatch, tmp_path):
    _nothing_cached_and_libmathdx_refused(monkeypatch, tmp_path)
    assert lower(MATHDX_KERNELS[name], "k", "cuda").link_symbols
    assert module_source(MATHDX_KERNELS[name], "cuda")
    assert not list(tmp_path.rglob("*.lto"))


def test_an_fft_of_unknown_shared_memory_size_is_built(monkeypatch, tmp_path):
    _nothing_cached_and_libmathdx_refused(monkeypatch, tmp_path)
    fft_on_4_threads = FFT.format(dt="wp.float32", s="f", n=8, fft="fft", bd=4)
    with pytest.raises(AssertionError, match="libmathdx was asked"):
        lower(fft_on_4_threads, "k", "cuda")
