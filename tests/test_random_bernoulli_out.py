"""bernoulli(..., out=) (ember/random.py) against torch: shapes, dtypes, deterministic draws and refused outs."""
import pytest
import torch

import ember
from conftest import outcome


def _cases(L):
    p = L.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])  # draws that do not depend on the generator
    return {
        "same shape": lambda: L.bernoulli(p, out=L.empty(2, 3)),
        "resized silently": lambda: L.bernoulli(p, out=L.empty(5)),
        "empty out": lambda: L.bernoulli(p, out=L.empty(0)),
        "int64 out": lambda: L.bernoulli(p, out=L.empty(2, 3, dtype=L.int64)),
        "transposed out": lambda: L.bernoulli(p, out=L.empty(3, 2).t()),
        "out is the input": lambda: L.bernoulli(p, out=p),
        "expanded out": lambda: L.bernoulli(p, out=L.empty(1, 3).expand(2, 3)),
        "input requires grad": lambda: L.bernoulli(p.clone().requires_grad_(), out=L.empty(2, 3)),
    }


@pytest.mark.parametrize("case", list(_cases(torch)))
def test_bernoulli_out(case):
    assert outcome(_cases(ember)[case]) == outcome(_cases(torch)[case])


def test_bernoulli_out_is_returned():
    out = ember.empty(4)
    assert ember.bernoulli(ember.full((4,), 0.5), out=out) is out
    assert set(out.tolist()) <= {0.0, 1.0}
