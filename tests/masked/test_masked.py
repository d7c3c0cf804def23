"""ember.masked against torch.masked: values (fully masked-out slices included), gradients and double
gradients, dtypes, signatures and errors, every case run the same way on both libraries."""
import inspect

import numpy as np
import pytest
import torch

import ember

NAMES = ["amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp", "logsumexp", "mean",
         "median", "norm", "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
# row 1 and column 2 are fully masked out; the (2, 1) mask broadcasts over columns
MASK = np.array([[True, False, False, True], [False, False, False, False], [True, True, False, False]])
MASK_ROW = np.array([[True], [False], [True]])

# (name, positional args after the input, keyword arguments); every call also gets a mask
CASES = [(n, a, k) for n in ("sum", "prod", "amax", "amin", "mean", "logsumexp")
         for a, k in [((), {}), ((0,), {}), ((1,), {"keepdim": True}), (((0, 1),), {}), ((-1,), {})]]
CASES += [(n, (d,), {}) for n in ("cumsum", "cumprod", "softmax", "log_softmax", "softmin", "median") for d in (0, 1)]
CASES += [(n, a, {}) for n in ("argmax", "argmin") for a in ((), (0,), (1,))]
CASES += [("norm", (o, 1), {}) for o in (2.0, 1.0, float("inf"), float("-inf"))] + [("norm", (3.0,), {})]
CASES += [("normalize", (o, d), {}) for o in (2.0, 1.0) for d in (0, 1)]
CASES += [(n, a, k) for n in ("var", "std") for a, k in
          [((), {}), ((1,), {}), ((0,), {"unbiased": False}), ((1,), {"correction": 2, "keepdim": True})]]


def _lib_tensor(lib, arr, requires_grad=False):
    t = lib.tensor(arr)
    return t.requires_grad_(True) if requires_grad else t


def _call(lib, name, x, args, kw, mask):
    return getattr(lib.masked, name)(x, *args, mask=lib.tensor(mask), **kw)


def _same(e, t):
    assert isinstance(e, ember.Tensor)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    torch.testing.assert_close(torch.from_numpy(np.array(e.detach().numpy(), copy=True)), t.detach(),
                               equal_nan=True)


@pytest.mark.parametrize("mask", [MASK, MASK_ROW], ids=["mask", "broadcast"])
@pytest.mark.parametrize("name,args,kw", CASES, ids=lambda v: str(v))
def test_values_and_gradients(name, args, kw, mask):
    tx = _lib_tensor(torch, X, True)
    ex = _lib_tensor(ember, X, True)
    t, e = _call(torch, name, tx, args, kw, mask), _call(ember, name, ex, args, kw, mask)
    _same(e, t)
    if not t.requires_grad:  # argmax, argmin
        return
    cot = torch.from_numpy(RNG.standard_normal(t.shape))
    tg, = torch.autograd.grad(t, tx, cot, create_graph=True)
    eg, = ember.autograd.grad(e, ex, ember.tensor(cot.numpy()), create_graph=True)
    _same(eg, tg)
    if tg.requires_grad:
        cot2 = torch.from_numpy(RNG.standard_normal(tg.shape))
        tgg, = torch.autograd.grad(tg, tx, cot2, allow_unused=True)
        # a gradient that is piecewise constant (norm with ord 1 or inf) may carry no graph in ember
        egg = (ember.autograd.grad(eg, ex, ember.tensor(cot2.numpy()), allow_unused=True)[0]
               if eg.requires_grad else None)
        _same(ember.zeros(X.shape, dtype=ember.float64) if egg is None else egg,
              torch.zeros(X.shape, dtype=torch.float64) if tgg is None else tgg)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8"])
def test_integer_inputs(dtype):
    x = RNG.integers(0, 9, (3, 4))
    for name, args, kw in [("sum", (1,), {}), ("prod", (0,), {}), ("amax", (1,), {}), ("amin", (), {}),
                           ("argmax", (1,), {}), ("argmin", (0,), {}), ("cumsum", (1,), {}), ("cumprod", (0,), {}),
                           ("logsumexp", (1,), {}), ("var", (1,), {}), ("std", (), {"keepdim": True}),
                           ("median", (0,), {})]:
        m = MASK_ROW if name == "median" else MASK  # an integer median refuses fully masked-out slices
        t = _call(torch, name, torch.tensor(x, dtype=getattr(torch, dtype)), args, kw, m)
        e = _call(ember, name, ember.tensor(x, dtype=getattr(ember, dtype)), args, kw, m)
        _same(e, t)


def test_no_mask_and_dtype_argument():
    for name, args, kw in [("sum", (1,), {"dtype": "float64"}), ("mean", (), {}), ("softmax", (1,), {}),
                           ("norm", (2.0,), {"dtype": "float64"}), ("var", (0,), {})]:
        kw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
        t = getattr(torch.masked, name)(torch.tensor(X, dtype=torch.float32), *args, **kw)
        kw = {k: getattr(ember, str(v).split(".")[1]) if k == "dtype" else v for k, v in kw.items()}
        e = getattr(ember.masked, name)(ember.tensor(X, dtype=ember.float32), *args, **kw)
        _same(e, t)


def test_logaddexp_masks():
    y = RNG.standard_normal((3, 4))
    out = []
    for lib in (torch, ember):
        a, b = _lib_tensor(lib, X, True), _lib_tensor(lib, y, True)
        r = lib.masked.logaddexp(a, b, input_mask=lib.tensor(MASK), other_mask=lib.tensor(~MASK | MASK_ROW))
        out.append((r,) + lib.autograd.grad(r.sum(), (a, b)))
    for e, t in zip(out[1], out[0]):
        _same(e, t)


@pytest.mark.parametrize("name", NAMES)
def test_signature(name):
    tp = inspect.signature(getattr(torch.masked, name)).parameters
    ep = inspect.signature(getattr(ember.masked, name)).parameters
    assert list(ep) == list(tp)
    for p in tp:
        assert (ep[p].kind, ep[p].default) == (tp[p].kind, tp[p].default), p


ERRORS = [("sum", (2,), {}), ("amax", ((0, 0),), {}), ("prod", ((1, -1),), {}), ("mean", (-3,), {}),
          ("softmax", (5,), {}), ("sum", (), {"mask": np.ones((1, 3, 4), bool)}),
          ("median", (1,), {"int": True}), ("mean", (), {"int": True}), ("var", (), {"unbiased": True,
                                                                                    "correction": 1})]


@pytest.mark.parametrize("name,args,kw", ERRORS, ids=lambda v: str(v))
def test_errors(name, args, kw):
    def call(lib):
        kwargs = dict(kw)
        x = lib.tensor(X.round() if kwargs.pop("int", False) else X)
        x = x.long() if x.dtype == lib.float64 and kw.get("int") else x
        mask = lib.tensor(kwargs.pop("mask", MASK))
        return getattr(lib.masked, name)(x, *args, mask=mask, **kwargs)
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)):
        call(ember)
