"""Factories and samplers given ``out=``: the values land in ``out`` (which is returned), drawn or made in its dtype,
and a ``dtype=`` other than ``out``'s is refused, each as torch 2.13 does (the same calls run on both)."""
import warnings

import numpy as np
import pytest
import torch

import ember

# (name, call(lib, out)), with the out each case passes: (shape, dtype name)
WRITES = [
    ("rand", lambda L, o: L.rand(2, 2, out=o), ((4,), "float32")),
    ("randn float64 out", lambda L, o: L.randn(3, out=o), ((3,), "float64")),
    ("randn size=", lambda L, o: L.randn(size=(2, 3), out=o), ((0,), "float32")),
    ("randint float out", lambda L, o: L.randint(0, 5, (3,), out=o), ((3,), "float32")),
    ("randint low high", lambda L, o: L.randint(3, 9, (2, 2), out=o), ((4,), "int64")),
    ("randperm int32", lambda L, o: L.randperm(6, out=o), ((2,), "int32")),
    ("normal numbers", lambda L, o: L.normal(2.0, 3.0, size=(4,), out=o), ((1,), "float64")),
    ("normal tensor mean", lambda L, o: L.normal(L.arange(3.0), 1.0, out=o), ((3,), "float64")),
    ("normal tensor std", lambda L, o: L.normal(0.5, L.ones(3), out=o), ((3,), "float32")),
    ("normal both tensors", lambda L, o: L.normal(L.zeros(2, 3), L.full((3,), 2.0), out=o), ((2, 3), "float32")),
    ("zeros", lambda L, o: L.zeros(2, 3, out=o), ((5,), "int64")),
    ("ones", lambda L, o: L.ones(3, out=o), ((3,), "float64")),
    ("full", lambda L, o: L.full((2,), 3, out=o), ((2,), "int64")),
    ("arange", lambda L, o: L.arange(1, 7, 2, out=o), ((3,), "float64")),
    ("linspace", lambda L, o: L.linspace(0, 1, 5, out=o), ((5,), "float64")),
    ("logspace", lambda L, o: L.logspace(0, 2, 3, out=o), ((3,), "float64")),
    ("eye", lambda L, o: L.eye(2, 3, out=o), ((6,), "float32")),
]


@pytest.mark.parametrize("name,call,spec", WRITES, ids=[w[0] for w in WRITES])
def test_result_lands_in_out(name, call, spec):
    shape, dtype = spec
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        out = lib.zeros(shape, dtype=getattr(lib, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (a resized out warns in some of torch's factories)
            result = call(lib, out)
        assert result is out, f"{lib.__name__}.{name} returned a new tensor instead of out"
        found[lib] = (out.numpy().copy(), str(out.dtype).split(".")[-1])
    assert found[ember][1] == found[torch][1]
    np.testing.assert_array_equal(found[ember][0], found[torch][0])


def test_out_keeps_its_memory_when_large_enough():
    # out of 6 elements written as (2, 3): a view made before the call sees the draws, as torch's does
    for lib in (torch, ember):
        lib.manual_seed(0)
        out = lib.zeros(6)
        head = out[:2]
        lib.randn(2, 3, out=out)
        assert head.tolist() == out.view(-1)[:2].tolist() != [0.0, 0.0]


REFUSED = [
    ("zeros", lambda L: L.zeros(3, dtype=L.float64, out=L.empty(3))),
    ("ones", lambda L: L.ones(3, dtype=L.int64, out=L.empty(3))),
    ("full", lambda L: L.full((2,), 3.0, dtype=L.float64, out=L.empty(2))),
    ("empty", lambda L: L.empty(3, dtype=L.float64, out=L.empty(3))),
    ("arange", lambda L: L.arange(5, dtype=L.int32, out=L.empty(2))),
    ("linspace", lambda L: L.linspace(0, 1, 3, dtype=L.float64, out=L.empty(3))),
    ("logspace", lambda L: L.logspace(0, 1, 3, dtype=L.float64, out=L.empty(3))),
    ("eye", lambda L: L.eye(3, dtype=L.float64, out=L.empty(3, 3))),
    ("randn", lambda L: L.randn(3, dtype=L.float64, out=L.empty(3))),
    ("rand", lambda L: L.rand(3, dtype=L.float16, out=L.empty(3))),
    ("randint", lambda L: L.randint(0, 5, (3,), dtype=L.int32, out=L.empty(3, dtype=L.int64))),
    ("randperm", lambda L: L.randperm(3, dtype=L.int32, out=L.empty(3, dtype=L.int64))),
    ("normal", lambda L: L.normal(0.0, 1.0, size=(3,), dtype=L.float64, out=L.empty(3))),
]


@pytest.mark.parametrize("name,call", REFUSED, ids=[r[0] for r in REFUSED])
def test_dtype_other_than_outs_is_refused(name, call):
    with pytest.raises(RuntimeError, match="does not match dtype of out parameter") as t_err:
        call(torch)
    with pytest.raises(RuntimeError, match="does not match dtype of out parameter") as e_err:
        call(ember)
    # the same dtype names as torch's message, e.g. "dtype Double does not match dtype of out parameter (Float)"
    assert str(t_err.value).split("dtype ", 1)[1] in str(e_err.value)


def test_sampler_out_refusals_match_torch():
    # a float sampler into an integer out, and autograd through out=
    for call, kind in [(lambda L: L.rand(3, out=L.empty(3, dtype=L.int64)), NotImplementedError),
                       (lambda L: L.normal(L.zeros(3, requires_grad=True), 1.0, out=L.empty(3)), RuntimeError)]:
        for lib in (torch, ember):
            with pytest.raises(kind):
                call(lib)
