"""Operands of binary ops (ember/_ops/common.py): a Python int that does not fit the tensor's integer dtype is
cast as torch casts it (wrapped, checked or exact, by op), against torch on a grid of dtypes and scalars."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close, outcome

VALUES = {"uint8": [0, 1, 127, 255], "int8": [0, 1, -1, -128, 127], "int16": [0, -1, 300], "int64": [0, -1, 5]}
SCALARS = [-1, -255, 256, 300, 200, -129, 2 ** 15, 2 ** 40, 2 ** 63, 2 ** 64, -2 ** 63, 1.5]
OPS = {
    "eq": lambda L, a, s: a == s, "ne": lambda L, a, s: L.ne(a, s), "lt": lambda L, a, s: a < s,
    "le": lambda L, a, s: L.le(a, s), "gt": lambda L, a, s: L.gt(a, s), "ge": lambda L, a, s: a >= s,
    "req": lambda L, a, s: s == a, "rlt": lambda L, a, s: s < a,
    "add": lambda L, a, s: a + s, "radd": lambda L, a, s: s + a, "sub": lambda L, a, s: a - s,
    "rsub": lambda L, a, s: s - a, "mul": lambda L, a, s: a * s, "add alpha": lambda L, a, s: L.add(a, s, alpha=2),
    "sub alpha": lambda L, a, s: L.sub(a, s, alpha=-3), "remainder": lambda L, a, s: L.remainder(a, s),
    "fmod": lambda L, a, s: L.fmod(a, s), "floor_divide": lambda L, a, s: a // s,
    "trunc div": lambda L, a, s: L.div(a, s, rounding_mode="trunc"), "div": lambda L, a, s: a / s,
    "copysign": lambda L, a, s: L.copysign(a, s), "bitwise_and": lambda L, a, s: a & s,
    "bitwise_xor": lambda L, a, s: a ^ s, "pow": lambda L, a, s: L.pow(a, s),
    "where": lambda L, a, s: L.where(a > 0, a, s), "in place add": lambda L, a, s: a.add_(s),
}


def _call(lib, dtype, s, fn):
    return lambda: fn(lib, lib.tensor(VALUES[dtype], dtype=getattr(lib, dtype)), s)


@pytest.mark.parametrize("dtype", list(VALUES))
@pytest.mark.parametrize("op", list(OPS))
def test_int_scalar_out_of_range(op, dtype):
    for s in SCALARS:
        if op == "pow" and s < -2 ** 63:  # torch reads the int before it checks the sign: OverflowError
            continue
        got, want = outcome(_call(ember, dtype, s, OPS[op])), outcome(_call(torch, dtype, s, OPS[op]))
        if isinstance(want, type) or isinstance(got, type):  # an exception class
            assert got is want, f"{dtype} {op} {s}: ember {got}, torch {want}"
            continue
        # NumPy's overflow warnings (int8 -128 // -1) are not compared: torch's integer kernels warn nothing
        assert got[:2] == want[:2], f"{dtype} {op} {s}"
        np.testing.assert_array_equal(got[2], want[2], err_msg=f"{dtype} {op} {s}")


def test_sub_refuses_bool_operands():
    for fn in (lambda L: L.tensor([1, 2]) - True, lambda L: True - L.tensor([1, 2]),
               lambda L: L.tensor([True]) - 1, lambda L: L.tensor([True]) - L.tensor([False])):
        with pytest.raises(RuntimeError, match="Subtraction"):
            fn(torch)
        with pytest.raises(RuntimeError, match="Subtraction"):
            fn(ember)


def test_cosine_embedding_loss_uint8_target():
    # op_db's case: a uint8 target compared with -1 (which torch reads as 255)
    x1, x2 = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)), torch.randn(4, 3)
    y = torch.tensor([1, 255, 0, 1], dtype=torch.uint8)
    want = torch.nn.functional.cosine_embedding_loss(x1, x2, y)
    got = ember.nn.functional.cosine_embedding_loss(ember.tensor(x1.numpy()), ember.tensor(x2.numpy()),
                                                    ember.tensor(y.numpy()))
    assert_close(got, want)
