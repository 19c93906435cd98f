"""Every record states the code generation settings its code depends on."""

import pytest

import warp_access
from emit.lower import HASH_SEED, MODULE_NAME
from emit.records import build_record
from grammar.sample import sample


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_codegen_metadata_is_what_the_module_was_lowered_with(device):
    record = build_record(sample(5), device)
    codegen = record["metadata"]["codegen"]
    with warp_access.WarpModule(MODULE_NAME, record["python_source"]) as module:
        assert codegen["module_options"] == module.codegen_options(record["kernel_name"])
        assert set(codegen["module_options"]) == set(warp_access.CODEGEN_OPTIONS)
    assert codegen["kernel_options"] == dict.fromkeys(warp_access.KERNEL_OPTIONS)
    assert codegen["link_symbols"] == []
    assert codegen["cuda_arch"] == (f"sm_{warp_access.CUDA_ARCH}" if device == "cuda" else None)
    assert codegen["pythonhashseed"] == HASH_SEED == "0"
    assert record["metadata"]["module_file"] == "warp_synth/kernel_module.py"


def test_codegen_options_are_the_ones_warps_code_generator_reads():
    # every option Warp's codegen reads with options.get("...") or options["..."] that a module
    # resolves is stated; a Warp that reads another one fails here
    import re
    from pathlib import Path

    src = Path(warp_access.warp().__file__).parent / "_src"
    text = (src / "codegen.py").read_text() + (src / "builtins.py").read_text()  # builtins: tile dispatch
    read = set(re.findall(r'options(?:\.get\(|\[)"(\w+)"', text))
    with warp_access.WarpModule(MODULE_NAME, "") as module:
        resolved = set(module._options("cpu"))
    assert (read & resolved) - {"output_arch"} <= set(warp_access.CODEGEN_OPTIONS)


OPTIONED = """import warp as wp

@wp.kernel(enable_backward=False, grid_stride=False)
def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.sin(a[i])

@wp.kernel(module="unique", module_options={"block_dim": 64})
def u(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.cos(a[i])
"""


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_kernel_and_module_options_reach_the_code_and_its_metadata(device):
    from emit.lower import lower

    plain = lower(OPTIONED, "k", device)
    assert plain.backward is None  # enable_backward=False: no adjoint
    assert dict(plain.kernel_options) == {"enable_backward": False, "grid_stride": False}
    unique = lower(OPTIONED, "u", device)  # a module of its own, with its own options
    assert dict(unique.module_options)["block_dim"] == 64 and unique.backward is not None
    assert dict(plain.module_options)["block_dim"] == 256
