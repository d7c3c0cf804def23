"""hash_tensor (ember/_ops/compare.py) against torch: the xor of 64-bit patterns over dims, every dtype torch
takes, keepdim, out=, and the refused inputs."""
import pytest
import torch

import ember
from conftest import outcome


def _cases(L):
    x = L.arange(24.).reshape(2, 3, 4) - 7.5
    return {
        "all": lambda: L.hash_tensor(x), "dim": lambda: L.hash_tensor(x, 1), "dims": lambda: L.hash_tensor(x, (0, 2)),
        "keepdim": lambda: L.hash_tensor(x, (0, 2), keepdim=True), "dim ()": lambda: L.hash_tensor(x, dim=()),
        "negative dim": lambda: L.hash_tensor(x, -1, keepdim=True), "method": lambda: x.hash_tensor(1),
        "transposed": lambda: L.hash_tensor(x.transpose(0, 2), 0),
        "nan, -nan, -0, inf": lambda: L.hash_tensor(L.tensor([float("nan"), -float("nan"), -0.0, float("inf")])),
        "float16": lambda: L.hash_tensor(L.tensor([1.5, -3.0], dtype=L.float16)),
        "bfloat16": lambda: L.hash_tensor(L.tensor([1.5, -3.0], dtype=L.bfloat16)),
        "float64": lambda: L.hash_tensor(L.tensor([0.1, 1e300], dtype=L.float64)),
        "int8": lambda: L.hash_tensor(L.tensor([[-8, 3], [127, -128]], dtype=L.int8), 0),
        "uint8": lambda: L.hash_tensor(L.tensor([[250, 3], [127, 1]], dtype=L.uint8)),
        "int32": lambda: L.hash_tensor(L.tensor([-5, 7], dtype=L.int32)),
        "int64": lambda: L.hash_tensor(L.tensor([-2 ** 63, 5, -1])),
        "bool": lambda: L.hash_tensor(L.tensor([[True, False], [True, True]]), 1),
        "0-dim": lambda: L.hash_tensor(L.tensor(-2.5)),
        "0-dim, dim 0": lambda: L.hash_tensor(L.tensor(-2.5), 0, keepdim=True),
        "out": lambda: L.hash_tensor(x, 1, out=L.empty(0, dtype=L.uint64)),
        "requires grad": lambda: L.hash_tensor(x.clone().requires_grad_()),
        "along an empty dim's neighbour": lambda: L.hash_tensor(L.empty(2, 0), dim=0),
        # refused
        "empty, no dim": lambda: L.hash_tensor(L.empty(0)),
        "along an empty dim": lambda: L.hash_tensor(L.empty(2, 0), dim=1),
        "mode 1": lambda: L.hash_tensor(x, mode=1), "dim out of range": lambda: L.hash_tensor(x, 3),
        "0-dim, dim 1": lambda: L.hash_tensor(L.tensor(-2.5), 1),
        "repeated dim": lambda: L.hash_tensor(x, [0, 0]), "positional keepdim": lambda: L.hash_tensor(x, 1, True),
        "complex": lambda: L.hash_tensor(x.to(L.complex64)),
        "uint64": lambda: L.hash_tensor(L.tensor([1], dtype=L.uint64)),
    }


@pytest.mark.parametrize("case", list(_cases(torch)))
def test_hash_tensor(case):
    assert outcome(_cases(ember)[case]) == outcome(_cases(torch)[case])


def test_hash_tensor_is_the_xor_of_float64_bits():
    # hand-derived: 1.0 and -2.0 as float64 are 0x3FF0... and 0xC000...; their xor is 0xFFF0...
    assert ember.hash_tensor(ember.tensor([1.0, -2.0])).item() == 0xFFF0000000000000
