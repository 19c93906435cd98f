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
        assert codegen["module_options"] == module.codegen_options()
        assert set(codegen["module_options"]) == set(warp_access.CODEGEN_OPTIONS)
    assert codegen["cuda_arch"] == (f"sm_{warp_access.CUDA_ARCH}" if device == "cuda" else None)
    assert codegen["pythonhashseed"] == HASH_SEED == "0"
    assert record["metadata"]["module_file"] == "warp_synth/kernel_module.py"


def test_codegen_options_are_the_ones_warps_code_generator_reads():
    # every option Warp's codegen reads with options.get("...") or options["..."] that a module
    # resolves is stated; a Warp that reads another one fails here
    import re
    from pathlib import Path

    codegen_py = Path(warp_access.warp().__file__).parent / "_src" / "codegen.py"
    read = set(re.findall(r'options(?:\.get\(|\[)"(\w+)"', codegen_py.read_text()))
    with warp_access.WarpModule(MODULE_NAME, "") as module:
        resolved = set(module._options("cpu"))
    assert (read & resolved) - {"output_arch"} <= set(warp_access.CODEGEN_OPTIONS)
