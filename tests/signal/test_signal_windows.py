"""ember.signal.windows against torch.signal.windows: values, signatures and errors."""
import inspect
import re

import numpy as np
import pytest
import torch

import ember

NAMES = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
         "hamming", "hann", "kaiser", "nuttall"]
# each window's own keyword, with values away from its default
EXTRA = {"exponential": [{"tau": 0.5}, {"tau": 3.0}], "gaussian": [{"std": 0.7}, {"std": 4.5}],
         "kaiser": [{"beta": 0.0}, {"beta": 5.5}, {"beta": 100.0}],
         "general_cosine": [{"a": [0.46, 0.23, 0.31]}, {"a": (1.0,)}],
         "general_hamming": [{"alpha": 0.9}, {"alpha": 0.05}]}


def _same(e, t):
    assert isinstance(e, ember.Tensor)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    torch.testing.assert_close(torch.from_numpy(np.array(e.numpy(), copy=True)), t, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_values(name):
    for kw in EXTRA.get(name, [{}]):
        for M in (0, 1, 2, 3, 6, 7, 64):
            for sym in (True, False):
                for dt in ("float32", "float64"):
                    t = getattr(torch.signal.windows, name)(M, sym=sym, dtype=getattr(torch, dt), **kw)
                    e = getattr(ember.signal.windows, name)(M, sym=sym, dtype=getattr(ember, dt), **kw)
                    _same(e, t)


def test_default_dtype_and_requires_grad():
    _same(ember.signal.windows.hann(5), torch.signal.windows.hann(5))
    e = ember.signal.windows.gaussian(4, requires_grad=True)
    assert e.requires_grad and e.is_leaf
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.signal.windows.cosine(3).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)


def test_exponential_center():
    for M, c in ((7, 1.0), (8, 5.5)):
        _same(ember.signal.windows.exponential(M, sym=False, center=c, tau=2.0),
              torch.signal.windows.exponential(M, sym=False, center=c, tau=2.0))


@pytest.mark.parametrize("name", NAMES)
def test_signature(name):
    """Same parameter names, kinds and defaults as torch (layout's default is each library's strided)."""
    tp = inspect.signature(getattr(torch.signal.windows, name)).parameters
    ep = inspect.signature(getattr(ember.signal.windows, name)).parameters
    assert list(ep) == list(tp)
    for p in tp:
        assert ep[p].kind == tp[p].kind, p
        if p != "layout":
            assert ep[p].default == tp[p].default, p
    assert ep["layout"].default is ember.strided


ERRORS = [  # (name, M, kwargs), run on both
    ("hann", -1, {}), ("hamming", 3, {"dtype": "int64"}), ("bartlett", 3, {"dtype": "float16"}),
    ("exponential", 3, {"tau": -1}), ("exponential", 3, {"tau": 0}), ("exponential", 3, {"center": 1}),
    ("gaussian", 3, {"std": 0}), ("kaiser", 3, {"beta": -1}), ("general_cosine", 3, {"a": None}),
    ("general_cosine", 3, {"a": []}), ("nuttall", -2, {}),
]


@pytest.mark.parametrize("name,M,kw", ERRORS)
def test_errors(name, M, kw):
    def call(lib):
        args = {k: getattr(lib, v) if k == "dtype" else v for k, v in kw.items()}
        getattr(lib.signal.windows, name)(M, **args)
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value), match=re.escape(str(te.value).replace("torch.", "ember."))):
        call(ember)


def test_layout_must_be_strided():
    with pytest.raises(ValueError, match="strided tensors only"):
        ember.signal.windows.hann(3, layout="sparse")
