"""cat(..., out=) (ember/_ops/shape.py) against torch: results, resizing, dtypes and the refused outs."""
import numpy as np
import pytest
import torch

import ember
from conftest import outcome


def _cases(L):
    a, b = L.ones(5, 5), L.arange(25.).reshape(5, 5)
    x, y, z = L.zeros(0), L.ones(4, 6), L.zeros(4, 6)
    s = L.arange(50.).reshape(10, 5)
    return {
        "contiguous out": lambda: L.cat([a, b], out=L.empty(10, 5)),
        "dim 1": lambda: L.cat([a, b], 1, out=L.empty(5, 10)),
        "transposed out": lambda: L.cat([a, b], out=L.empty(5, 10).t()),
        "float64 out": lambda: L.cat([a, b], out=L.empty(10, 5, dtype=L.float64)),
        "int into float out": lambda: L.cat([L.ones(2, dtype=L.int64)], out=L.empty(2)),
        "bool into uint8 out": lambda: L.cat([L.ones(2, dtype=L.bool)], out=L.empty(2, dtype=L.uint8)),
        "resized": lambda: L.cat([a, b], out=L.empty(3)),
        "empty out": lambda: L.cat([a, b], out=L.empty(0)),
        "expanded, wrong shape": lambda: L.cat([a, b], out=L.ones(1, 5).expand(3, 5)),
        "beside its input": lambda: L.cat([s[:5]], out=s[5:]),
        # refused
        "expanded out": lambda: L.cat([a, b], out=L.ones(1, 5).expand(10, 5)),
        "out is an input": lambda: L.cat((x, y), 0, out=x),
        "out is the other input": lambda: L.cat((x, y), 0, out=y),
        "out a view of an input": lambda: L.cat((y, z), out=z[:2, :]),
        "out overlaps its input": lambda: L.cat([s[:5]], out=s[3:8]),
        "float into int out": lambda: L.cat([a, b], out=L.empty(10, 5, dtype=L.int64)),
        "float into bool out": lambda: L.cat([a], out=L.empty(5, 5, dtype=L.bool)),
        "input requires grad": lambda: L.cat([a.clone().requires_grad_(), b], out=L.empty(10, 5)),
        "a tensor, not a list": lambda: L.cat(a, out=L.empty(2, 3)),
    }


@pytest.mark.parametrize("case", list(_cases(torch)))
def test_cat_out(case):
    assert outcome(_cases(ember)[case]) == outcome(_cases(torch)[case])


def test_cat_out_is_returned_and_written():
    out = ember.empty(4, 3).t()
    r = ember.cat([ember.ones(3, 2), ember.zeros(3, 2)], 1, out=out)
    assert r is out
    np.testing.assert_array_equal(out.numpy(), np.hstack([np.ones((3, 2)), np.zeros((3, 2))]))
