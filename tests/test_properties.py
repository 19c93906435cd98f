"""Every drawn kernel lowers on both backends and compiles with Warp's toolchains."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check.compile import compile_codes
from emit.lower import DEVICES, lower
from grammar.labels import KERNEL_TYPES, label_source
from grammar.sample import focus_of, sample
from grammar.strategies import kernels
from grammar.unparse import to_source


@settings(max_examples=60)
@given(kernels())
def test_every_kernel_lowers_forward_and_backward_on_both_backends(k):
    """Backward code too, unless the kernel is `@wp.kernel(enable_backward=False)`."""
    for device in DEVICES:
        code = lower(k.source, k.kernel_name, device)
        assert code.forward
        assert (code.backward is None) == (("enable_backward", False) in code.kernel_options)
        assert k.kernel_name in code.forward


@pytest.mark.parametrize("focus", KERNEL_TYPES)
@settings(max_examples=4)
@given(data=st.data())
def test_each_focus_lowers(focus, data):
    k = data.draw(kernels(focus))
    for device in DEVICES:
        lower(k.source, k.kernel_name, device)


@pytest.mark.parametrize("focus", KERNEL_TYPES)
def test_a_sampled_kernel_is_labelled_the_type_its_seed_aims_at(focus):
    """The label of the source as written (not of the generator's tree) is the seed's focus."""
    seeds = [seed for seed in range(1000) if focus_of(seed) == focus][:6]
    assert len(seeds) == 6
    for seed in seeds:
        assert label_source(to_source(sample(seed).tree)) == focus, seed


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=2)
@given(batch=st.lists(kernels(), min_size=10, max_size=10))
def test_batches_compile(device, batch):
    # CPU with Warp's clang, CUDA with NVRTC (no driver or GPU needed)
    compile_codes([lower(k.source, k.kernel_name, device) for k in batch], device)


#: Constructs of the full kernel language, and how a module's source shows each.
CONSTRUCTS = {
    "tile kernel": "wp.tile_load(",
    "struct": "@wp.struct",
    "constant": "wp.constant(",
    "static loop": "wp.static(",
    "random": "wp.rand_init(",
    "where": "wp.where(",
    "quaternion": "wp.quat",
    "transform": "wp.transform",
    "spatial": "wp.spatial_",
    "multi-result builtin": "= wp.svd",
    "narrow dtype": "wp.uint8(",
}


def test_every_construct_lowers_and_compiles_on_both_backends():
    found = {}
    for seed in range(600):
        s = sample(seed)
        source = to_source(s.tree)
        for construct, marker in CONSTRUCTS.items():
            if construct not in found and marker in source:
                found[construct] = (source, s.kernel_name)
        if len(found) == len(CONSTRUCTS):
            break
    assert set(found) == set(CONSTRUCTS)
    for device in DEVICES:
        compile_codes([lower(source, name, device) for source, name in found.values()], device)
