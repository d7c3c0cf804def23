"""ember.testing against torch.testing: the same assert_close / assert_allclose calls pass or fail alike, with
the same exception class and message, and make_tensor draws what torch's does (ranges, dtypes, layout)."""
import warnings

import numpy as np
import pytest
import torch

import ember

CALLS = [
    'L.testing.assert_close(L.tensor([1.,2.,3.]), L.tensor([1.,2.5,3.1]))',
    'L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1,2]))',
    'L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1.,2.,3.]))',
    'L.testing.assert_close(L.tensor([1,2]), L.tensor([1,3]))',
    "L.testing.assert_close(L.tensor([float('nan')]), L.tensor([float('nan')]))",
    'L.testing.assert_close(1.0, 1.1)',
    'L.testing.assert_close([1.0, L.tensor(2.)], [1.0, L.tensor(2.5)])',
    "L.testing.assert_close({'a': L.tensor(1.)}, {'a': L.tensor(2.)})",
    "L.testing.assert_close(L.tensor(1.), L.tensor(2.), msg='boom')",
    'L.testing.assert_close(L.tensor([True]), L.tensor([False]))',
    'L.testing.assert_close(L.tensor([1.]), L.tensor([1.]), rtol=1e-3)',
    'L.testing.assert_close(L.tensor([1.]), L.tensor([1.]), atol=1e-3)',
    'L.testing.assert_close(L.tensor(1., dtype=L.float64), L.tensor(1.), check_dtype=False)',
    'L.testing.assert_close(L.ones(2,3), L.ones(2,3)*1.0001)',
    'L.testing.assert_close(L.zeros(3), L.tensor([0., 1e-3, 0.]))',
    "L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1.,2.]), msg=lambda m: 'X' + m[:10])",
    "L.testing.assert_close(L.tensor([1.,float('inf')]), L.tensor([1.,float('inf')]))",
    "L.testing.assert_close(L.tensor([1.,float('inf')]), L.tensor([1.,-float('inf')]))",
    'L.testing.assert_allclose(L.tensor([1.,2.]), [1., 2.5])',
    'L.testing.assert_allclose(L.tensor([1.,2.]), [1., 2.00001])',
    'L.testing.assert_allclose(L.tensor([1.,2.]), L.tensor([1., 2.], dtype=L.float64))',
    'L.testing.assert_close(L.tensor([1.+1j]), L.tensor([1.+2j]))',
    'L.testing.assert_close(L.tensor([0., 100.]), L.tensor([1e-6, 101.]))',
    'L.testing.assert_close(L.tensor([1.]), L.tensor([2.]))',
    'L.testing.assert_close(L.tensor([1.,2.], dtype=L.float16), L.tensor([1.,2.1], dtype=L.float16))',
    'L.testing.assert_close(L.tensor([1.,2.], dtype=L.bfloat16), L.tensor([1.,2.1], dtype=L.bfloat16))',
    'L.testing.assert_close(L.tensor([0], dtype=L.uint8), L.tensor([255], dtype=L.uint8))',
    'L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1.,3.]), rtol=0, atol=0)',
    'L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1.,3.], dtype=L.float64), check_dtype=False)',
    "L.testing.assert_close(L.tensor([1.,float('nan')]), L.tensor([1.,float('nan')]), equal_nan=True)",
    'L.testing.assert_close([1,2],[1,2,3])',
    "L.testing.assert_close({'a':1},{'b':1})",
    'L.testing.assert_close(L.tensor(1.), L.tensor(2.))',
    'L.testing.assert_close(2, 3)',
    'L.testing.assert_close(True, False)',
    'L.testing.assert_close(L.ones(2,2), L.ones(2,2).t())',
    'L.testing.assert_close(L.ones(2,2), L.ones(2,2).t(), check_stride=True)',
    'L.testing.assert_close(L.ones(2,2, requires_grad=True), L.ones(2,2))',
    "L.testing.assert_close(L.tensor([1.,2.]), L.tensor([1.,3.]), msg=lambda m: 'X' + m)",
    'L.testing.assert_close((1., 2.), [1., 2.])',
    'L.testing.assert_close(L.tensor([[1.,2.],[3.,4.]]), L.tensor([[1.,2.],[3.,5.]]))',
    'L.testing.assert_close(L.empty(0), L.empty(0))',
    'L.testing.assert_close(1, 1.0)',
    'L.testing.assert_close(1, 1.0, check_dtype=False)',
    "L.testing.assert_close(L.tensor([1.0+0j]), L.tensor([float('nan')+0j]), equal_nan=True)",
    "L.testing.assert_close([1., L.tensor([1.,2.])], [1., L.tensor([1.,3.])], msg=lambda m: '<'+m+'>')",
    "L.testing.assert_close({'a': [1, {'b': 2.0}]}, {'a': [1, {'b': 3.0}]})",
    "L.testing.assert_close({'a': [1, 2]}, {'a': [1]})",
    "L.testing.assert_close('a', 'b')",
    'L.testing.assert_close(L.tensor(1.), 1.0)',
    "L.testing.assert_close(L.tensor([1., 2., float('nan')]), L.tensor([1.5, 2., 3.]))",
    'L.testing.assert_close(L.tensor([1., 2.]), L.tensor([1.00001, 2.]), rtol=1e-4, atol=0)',
    'L.testing.assert_close(L.tensor([[0, 5],[7, 8]]), L.tensor([[0, 5],[2, 9]]))',
    'L.testing.assert_close(L.tensor([1., 2.], dtype=L.float64), L.tensor([1., 2.0000001], dtype=L.float64))',
    'L.testing.assert_close(L.tensor([1., 2.], dtype=L.float64), L.tensor([1., 2.001], dtype=L.float32), check_dtype=False)',
    'L.testing.assert_close(L.tensor([0.]), L.tensor([1e-6]))',
    'L.testing.assert_close(L.tensor([0.]), L.tensor([-1.]))',
    'L.testing.assert_close(1e-8, 0.0)',
    'L.testing.assert_close(0.0, 1.0)',
    "L.testing.assert_close(float('nan'), float('nan'))",
    "L.testing.assert_close(float('nan'), float('nan'), equal_nan=True)",
    'L.testing.assert_close(1+1j, 1+2j)',
]


def outcome(L, code):
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            eval(code, {"L": L})
        return "ok", [(w.category.__name__, str(w.message)) for w in seen]
    except Exception as err:  # noqa: BLE001  (class and message are compared)
        # the one place the libraries differ by name: the tensor class in a TypeError
        text = str(err).replace("ember._tensor.Tensor", "torch.Tensor").replace("ember.", "torch.")
        return type(err).__name__, text


@pytest.mark.parametrize("code", CALLS)
def test_assert_close_as_torch(code):
    assert outcome(ember, code) == outcome(torch, code)


def test_importable_as_torch():
    import ember.testing as et
    assert et.assert_close is ember.testing.assert_close
    from ember.testing import assert_close, make_tensor  # noqa: F401


def draws(L, **kw):
    return L.testing.make_tensor(4000, device="cpu", **kw)


@pytest.mark.parametrize("dtype", ["int64", "int8", "uint8", "int16", "float32", "float64", "float16", "bfloat16",
                                   "complex64", "bool"])
def test_make_tensor_ranges_as_torch(dtype):
    for low, high in ((None, None), (-3, 5), (1.5, 4.5), (-200, 200)):
        if dtype == "bool" and low is not None:
            continue
        ranges = []
        for L in (torch, ember):
            L.manual_seed(0)
            x = draws(L, dtype=getattr(L, dtype), low=low, high=high)
            assert str(x.dtype).split(".")[1] == dtype and tuple(x.shape) == (4000,)
            parts = [x.real, x.imag] if dtype.startswith("complex") else [x]
            vals = np.concatenate([p.float().numpy().ravel() for p in parts])
            ranges.append((vals.min(), vals.max(), np.unique(vals).size > 1))
        (tlo, thi, tvar), (elo, ehi, evar) = ranges
        assert tvar == evar
        if dtype.startswith(("int", "uint", "bool")):  # 4000 integer draws cover the whole range
            assert (elo, ehi) == (tlo, thi), (low, high)
        else:  # float draws reach within 1 percent of the ends, never past them
            span = thi - tlo
            assert tlo - 1e-6 <= elo <= tlo + 0.01 * span and thi - 0.01 * span <= ehi <= thi + 1e-6, (low, high)


@pytest.mark.parametrize("call", [
    lambda L: L.testing.make_tensor(2, 3, dtype=L.float32, device="cpu").shape,
    lambda L: L.testing.make_tensor((2, 3), dtype=L.float32, device="cpu").shape,
    lambda L: L.testing.make_tensor([2, 3], dtype=L.float32, device="cpu", requires_grad=True).requires_grad,
    lambda L: L.testing.make_tensor(4, 6, dtype=L.float32, device="cpu", noncontiguous=True).is_contiguous(),
    lambda L: L.testing.make_tensor(4, 6, dtype=L.float32, device="cpu", noncontiguous=True).stride(),
    lambda L: L.testing.make_tensor(1, dtype=L.float32, device="cpu", noncontiguous=True).is_contiguous(),
    lambda L: L.testing.make_tensor(300, dtype=L.int64, device="cpu", low=0, high=1, exclude_zero=True).tolist(),
    lambda L: L.testing.make_tensor(3, dtype=L.float32, device="cpu", low=0, high=0, exclude_zero=True).tolist(),
    lambda L: L.testing.make_tensor(3, dtype=L.int64, device="cpu", low=2, high=3).tolist(),
    lambda L: L.testing.make_tensor(3, dtype=L.float32, device="cpu", low=3, high=2),
    lambda L: L.testing.make_tensor(3, dtype=L.int64, device="cpu", requires_grad=True),
    lambda L: L.testing.make_tensor(3, dtype=L.float32, device="cpu", low=float("nan")),
    lambda L: L.testing.make_tensor(3, dtype=L.float32),
    lambda L: L.testing.make_tensor(3, device="cpu"),
], ids=range(14))
def test_make_tensor_options_as_torch(call):
    out = []
    for L in (torch, ember):
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                r = call(L)
            out.append(("ok", tuple(r) if isinstance(r, (torch.Size, ember.Size)) else r,
                        [w.category.__name__ for w in seen]))
        except Exception as err:  # noqa: BLE001
            out.append(("raise", type(err).__name__, str(err).replace("torch.", "").replace("ember.", "")))
    assert out[1] == out[0]
