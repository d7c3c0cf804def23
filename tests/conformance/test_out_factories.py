"""Factories and samplers given ``out=``: the values land in ``out`` (which is returned), drawn or made in its dtype,
and a ``dtype=`` other than ``out``'s is refused; an ``out`` too small grows in its own memory, so the tensors that
share it see the result. Each as torch 2.13 does (the same calls run on both)."""
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
    ("normal tensor mean, out broadcast", lambda L, o: L.normal(L.arange(3.0), 0.5, out=o), ((2, 3), "float32")),
    ("normal both tensors", lambda L, o: L.normal(L.zeros(2, 3), L.full((3,), 2.0), out=o), ((2, 3), "float32")),
    ("zeros", lambda L, o: L.zeros(2, 3, out=o), ((5,), "int64")),
    ("ones", lambda L, o: L.ones(3, out=o), ((3,), "float64")),
    ("full", lambda L, o: L.full((2,), 3, out=o), ((2,), "int64")),
    ("arange", lambda L, o: L.arange(1, 7, 2, out=o), ((3,), "float64")),
    ("linspace", lambda L, o: L.linspace(0, 1, 5, out=o), ((5,), "float64")),
    ("logspace", lambda L, o: L.logspace(0, 2, 3, out=o), ((3,), "float64")),
    ("eye", lambda L, o: L.eye(2, 3, out=o), ((6,), "float32")),
    ("empty", lambda L, o: L.empty(2, 3, out=o).zero_(), ((4,), "float64")),
    ("range", lambda L, o: L.range(0, 1, 0.25, out=o), ((2,), "float64")),
    ("range tenths", lambda L, o: L.range(-0.3, 1.05, 0.1, out=o), ((14,), "float32")),
    ("range int out", lambda L, o: L.range(-2, 5, 3, out=o), ((0,), "int32")),
    ("bernoulli", lambda L, o: L.bernoulli(L.full((2, 3), 0.5), out=o), ((6,), "float32")),
    ("bernoulli int out", lambda L, o: L.bernoulli(L.full((5,), 0.5, dtype=L.float64), out=o), ((2,), "int64")),
    ("multinomial", lambda L, o: L.multinomial(L.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0]]), 2, out=o),
     ((1,), "int64")),
    ("randperm float16", lambda L, o: L.randperm(2049, out=o), ((0,), "float16")),
    # the range factories keep an out of as many elements in its shape (arange, range, linspace, logspace)
    ("arange into (2, 3)", lambda L, o: L.arange(6, out=o), ((2, 3), "int64")),
    ("range into (2, 2)", lambda L, o: L.range(1, 4, out=o), ((2, 2), "float32")),
    ("linspace into (3, 2)", lambda L, o: L.linspace(-1, 1, 6, out=o), ((3, 2), "float64")),
    ("logspace into (2, 2)", lambda L, o: L.logspace(0, 3, 4, out=o), ((2, 2), "float32")),
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
        found[lib] = (out.numpy().copy(), str(out.dtype).split(".")[-1], tuple(out.shape))
    assert found[ember][1:] == found[torch][1:]
    np.testing.assert_array_equal(found[ember][0], found[torch][0])


COMPLEX = [
    ("normal numbers", lambda L, o: L.normal(2.0, 3.0, size=(20,), out=o), "complex64"),
    ("normal tensor mean", lambda L, o: L.normal(L.full((20,), 2.0), 3.0, out=o.resize_(20)), "complex64"),
    ("normal tensor std", lambda L, o: L.normal(1.5, L.full((5,), 2.0, dtype=L.float64), out=o), "complex128"),
    ("normal both tensors", lambda L, o: L.normal(L.arange(17.0), L.full((17,), 2.0), out=o), "complex64"),
    ("randn", lambda L, o: L.randn(2, 9, out=o), "complex64"),
    ("rand", lambda L, o: L.rand(3, out=o), "complex128"),
    ("rand dtype", lambda L, o: L.rand(2, 3, dtype=L.complex64, out=o), "complex64"),
]


@pytest.mark.parametrize("name,call,dtype", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_complex_out_takes_complex_draws(name, call, dtype):
    # torch draws (real, imaginary) pairs of std / sqrt(2) into a complex out; a tensor mean shifts the real parts
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        out = lib.zeros(0, dtype=getattr(lib, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert call(lib, out) is out
        found[lib] = out.numpy().copy()
    assert found[ember].dtype == found[torch].dtype
    # (torch's vectorised float Box-Muller moves the last bits)
    np.testing.assert_allclose(found[ember], found[torch], rtol=4e-7, atol=1e-6)


def test_like_samplers_draw_complex():
    # rand_like and randn_like of a complex tensor draw as rand and randn into a complex out
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        z = lib.zeros(2, 3, dtype=lib.complex64)
        found[lib] = [lib.rand_like(z).numpy(), lib.randn_like(z).numpy(),
                      lib.rand_like(z, dtype=lib.complex128).numpy()]
    for mine, theirs in zip(found[ember], found[torch]):
        assert mine.dtype == theirs.dtype
        np.testing.assert_allclose(mine, theirs, rtol=4e-7, atol=1e-6)


def test_out_keeps_its_memory_when_large_enough():
    # out of 6 elements written as (2, 3): a view made before the call sees the draws, as torch's does
    for lib in (torch, ember):
        lib.manual_seed(0)
        out = lib.zeros(6)
        head = out[:2]
        lib.randn(2, 3, out=out)
        assert head.tolist() == out.view(-1)[:2].tolist() != [0.0, 0.0]


def test_empty_only_resizes_out():
    # torch's empty(out=) leaves out's values; only a resize moves its version
    found = {}
    for lib in (torch, ember):
        out = lib.arange(6.0)
        v = out._version
        same = lib.empty(6, out=out).tolist(), out._version - v
        lib.empty(2, 2, out=out)
        found[lib] = same, out[0].tolist(), out._version - v
    assert found[ember] == found[torch]


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
    ("range", lambda L: L.range(0, 2, dtype=L.float64, out=L.empty(3))),
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


# calls torch refuses, each with the exception type it raises and a fragment of its message
REFUSED_OTHERWISE = [
    ("normal tensor mean into int out", lambda L: L.normal(L.ones(3), 2.0, out=L.empty(3, dtype=L.int64)),
     NotImplementedError, "not implemented for 'Long'"),
    ("normal tensor mean, out not broadcastable", lambda L: L.normal(L.zeros(2, 2), 1.0, out=L.empty(0)),
     RuntimeError, "The size of tensor a (2) must match the size of tensor b (0) at non-singleton dimension 1"),
    ("normal integer mean", lambda L: L.normal(L.ones(3, dtype=L.int64), 2.0), NotImplementedError,
     "not implemented for 'Long'"),
    ("bernoulli into complex", lambda L: L.bernoulli(L.full((3,), 0.5), out=L.empty(3, dtype=L.complex64)),
     NotImplementedError, "not implemented for 'ComplexFloat'"),
    ("randperm into bool", lambda L: L.randperm(3, out=L.empty(3, dtype=L.bool)), NotImplementedError,
     "\"randperm\" not implemented for 'Bool'"),
    ("randperm complex", lambda L: L.randperm(3, dtype=L.complex64), NotImplementedError, "randperm"),
    ("randperm past float16", lambda L: L.randperm(2050, out=L.empty(0, dtype=L.float16)), RuntimeError,
     "n cannot be greater than 2049 for Half type."),
    ("randperm past float32", lambda L: L.randperm(2 ** 24 + 2, dtype=L.float32), RuntimeError,
     "n cannot be greater than 2^24+1 for Float type."),
    ("range zero step", lambda L: L.range(0, 3, 0), RuntimeError, "step must be nonzero"),
    ("range wrong sign", lambda L: L.range(0, 3, -1), RuntimeError, "upper bound and lower bound inconsistent"),
    # torch's functions without out=: TypeError
    ("bernoulli with p", lambda L: L.bernoulli(L.ones(3), 0.5, out=L.empty(3)), TypeError, "bernoulli()"),
    ("poisson", lambda L: L.poisson(L.ones(3), out=L.empty(3)), TypeError, "out"),
    ("full_like", lambda L: L.full_like(L.ones(3), 2.0, out=L.empty(3)), TypeError, "out"),
    ("rand_like", lambda L: L.rand_like(L.ones(3), out=L.empty(3)), TypeError, "rand_like()"),
    ("zeros_like", lambda L: L.zeros_like(L.ones(3), out=L.empty(3)), TypeError, "out"),
    ("empty_strided", lambda L: L.empty_strided((3,), (1,), out=L.empty(3)), TypeError, "out"),
    ("tril_indices", lambda L: L.tril_indices(3, 3, out=L.empty(2, 6, dtype=L.int64)), TypeError, "out"),
    ("triu_indices", lambda L: L.triu_indices(3, 3, out=L.empty(2, 6, dtype=L.int64)), TypeError, "out"),
]


@pytest.mark.parametrize("name,call,kind,text", REFUSED_OTHERWISE, ids=[r[0] for r in REFUSED_OTHERWISE])
def test_refusals_match_torch(name, call, kind, text):
    for lib in (torch, ember):
        with pytest.raises(kind, match=None) as err, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (torch.range's deprecation)
            call(lib)
        assert text in str(err.value), f"{lib.__name__}: {err.value}"


def _grow_scenarios():
    """(name, scenario(lib) -> what the caller can see afterwards) for outs whose memory must grow or move."""
    def brief(L):  # the example the divergence was found with: a view of an uninitialised out
        o = L.empty(2, 3)
        v = o[0]
        L.add(L.ones(3, 3), 1, out=o)
        return v.tolist(), o.tolist()

    def sampler(L):  # a sampler's draws seen through a view made before the call
        L.manual_seed(0)
        o = L.zeros(2, 3)
        v = o[1]
        L.randn(3, 3, out=o)
        return v.tolist(), o.tolist()

    def offset_view(L):  # a view out keeps its offset in the grown memory; its base sees its own elements
        base = L.zeros(4)
        o = base[2:4]
        L.add(L.ones(6), 1, out=o)
        return base.tolist(), o.tolist(), o.storage_offset()

    def strided_view(L):  # a column of a matrix becomes 6 contiguous elements from where it started
        base = L.arange(4.0).reshape(2, 2)
        o = base[:, 1]
        L.mul(L.ones(2, 3), 5, out=o)
        return base.tolist(), o.tolist(), o.stride(), o.storage_offset()

    def detached(L):  # a detach() shares the memory, and so the growth
        base = L.arange(4.0)
        d = base.detach()
        L.sub(L.zeros(6), 1, out=base)
        return d.tolist(), base.tolist()

    def bytes_view(L):  # a view of another dtype keeps the bytes it saw
        base = L.full((2,), 1.5, dtype=L.float64)
        b = base.view(L.int32)
        L.add(L.ones(4, dtype=L.float64), 1, out=base)
        return b.tolist(), base.tolist()

    def no_grad_views(L):  # views made without recording (no_grad, inference_mode) share the memory too
        seen = []
        for mode in (L.no_grad, L.inference_mode):
            with mode():
                base = L.arange(3.0)
                v = base[1:]
                L.add(L.ones(5), 1, out=base)
                seen.append(v.tolist())
        return seen

    def twice(L):  # a second growth of grown memory, and the tensors of the first
        o = L.zeros(2)
        v = o[:1]
        L.add(L.ones(3), 1, out=o)
        w = o[1:]
        L.add(L.ones(5), 2, out=o)
        return v.tolist(), w.tolist(), o.tolist()

    def shrink(L):  # memory large enough: the result lands where out starts, views see it
        o = L.zeros(2, 3)
        v = o[1]
        L.add(L.ones(2, 2), 1, out=o)
        L.linspace(0, 1, 5, out=o)
        return v.tolist(), o.tolist()

    def bernoulli_into_view(L):  # bernoulli resizes silently, in out's memory
        L.manual_seed(0)
        base = L.zeros(6)
        L.bernoulli(L.full((2, 2), 0.5), out=base[1:])
        return base.tolist()

    def empty_out(L):  # the usual out: empty, grown without a warning
        o = L.empty(0)
        L.exp(L.zeros(2, 2), out=o)
        return o.tolist()

    return [(f.__name__, f) for f in (brief, sampler, offset_view, strided_view, detached, bytes_view, no_grad_views,
                                      twice, shrink, bernoulli_into_view, empty_out)]


@pytest.mark.parametrize("name,scenario", _grow_scenarios(), ids=[g[0] for g in _grow_scenarios()])
def test_resized_out_shares_its_memory_as_torch(name, scenario):
    found = {}
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found[lib] = scenario(lib)
        found[lib, "warnings"] = sorted(str(w.message).split(". ")[0] for w in caught)
    assert found[ember] == found[torch]
    assert found[ember, "warnings"] == found[torch, "warnings"]


def test_resize_warnings_as_torch():
    # a non-empty out resized warns (the op's own arange warning for arange), an empty one does not, factories never
    calls = [lambda L: L.arange(4.0, out=L.zeros(2, 3)), lambda L: L.arange(4.0, out=L.zeros(0)),
             lambda L: L.add(L.ones(3), 1, out=L.zeros(2)), lambda L: L.add(L.ones(3), 1, out=L.zeros(0)),
             lambda L: L.zeros(4, out=L.ones(2, 3)), lambda L: L.full((4,), 2.0, out=L.ones(3)),
             lambda L: L.linspace(0, 1, 4, out=L.ones(3)), lambda L: L.randn(4, out=L.ones(3)),
             lambda L: L.normal(L.zeros(2, 3), 1.0, out=L.ones(3)), lambda L: L.normal(0.0, L.ones(2), out=L.ones(3)),
             lambda L: L.multinomial(L.ones(4), 2, out=L.ones(3, dtype=L.int64)),
             lambda L: L.bernoulli(L.ones(2), out=L.ones(3))]
    for i, call in enumerate(calls):
        texts = {}
        for lib in (torch, ember):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                call(lib)
            texts[lib] = [str(w.message).split(" (Triggered internally")[0] for w in caught]
        assert texts[ember] == texts[torch], i
