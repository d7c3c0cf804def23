"""ember.random.fork_rng: the same code under ember and torch 2.13.0 (CPU)."""
import pytest
import torch

import ember


def _run(lib):
    lib.manual_seed(5)
    first = lib.rand(2)
    with lib.random.fork_rng():
        inside = lib.randn(3)
    after = lib.rand(2)
    with lib.random.fork_rng(enabled=False):
        lib.rand(4)
    unforked = lib.rand(1)
    with lib.random.fork_rng(devices=[]):
        lib.rand(7)
    with pytest.raises(KeyError):
        with lib.random.fork_rng():
            lib.rand(9)
            raise KeyError("restored even on an exception")
    restored = lib.rand(1)
    with lib.random.fork_rng(device_type="meta"):
        lib.rand(2)
    return [t.tolist() for t in (first, inside, after, unforked, restored, lib.rand(1))]


def test_fork_rng_restores_the_cpu_generator():
    assert _run(ember) == _run(torch)


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_fork_rng_cuda_devices_need_cuda(lib):
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        with lib.random.fork_rng(devices=[0]):
            pass
