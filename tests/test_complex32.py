"""complex32 (torch.chalf) against torch 2.13's CPU: the same values bit for bit where torch's kernels round a
complex64 result (casts, add, sub, mul, neg, conj), the same dtypes, the same refusals, views and gradients."""
import warnings

import numpy as np
import pytest
import torch

import ember

warnings.filterwarnings("ignore", message="ComplexHalf support is experimental")
warnings.filterwarnings("ignore", message="Casting complex values to real")

RNG = np.random.default_rng(0)
# float16 parts over the whole range, with the edge values: zeros of both signs, the extremes, inf, nan
_PARTS = np.concatenate([(RNG.standard_normal(200) * np.exp(RNG.uniform(-9, 10, 200))).astype(np.float16),
                         np.array([0.0, -0.0, 65504, -65504, 6e-8, np.inf, -np.inf, np.nan], np.float16)])


def _pair(finite: bool = False):
    """The same complex32 values in torch and in ember (built from their float16 parts)."""
    parts = RNG.choice(_PARTS[:-3], 208) if finite else RNG.permutation(_PARTS)
    parts = parts.reshape(104, 2).copy()
    t = torch.view_as_complex(torch.from_numpy(parts))
    return t, ember.view_as_complex(ember.tensor(parts))


def _bits(x) -> np.ndarray:
    """The raw 16-bit patterns of a float16 or complex32 tensor of either library (NaNs compared as NaN)."""
    x = x.resolve_conj()
    if isinstance(x, torch.Tensor):
        a = (torch.view_as_real(x) if x.dtype is torch.complex32 else x).numpy()
    else:
        a = (ember.view_as_real(x) if x.dtype is ember.complex32 else x).numpy()
    a = np.where(np.isnan(a), np.float16(np.nan), a)  # NaN payloads and signs are not specified
    return a.view(np.uint16)


def _same(e, t) -> None:
    assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape)
    if t.dtype in (torch.complex32, torch.float16):
        np.testing.assert_array_equal(_bits(e), _bits(t))
    elif t.dtype in (torch.complex64, torch.float32):  # promoted out of complex32: ember's complex64 arithmetic,
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, equal_nan=True)  # whose last bit may differ
    else:
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_dtype_object():
    assert ember.chalf is ember.complex32 and repr(ember.complex32) == repr(torch.complex32) == "torch.complex32"
    assert ember.complex32.itemsize == torch.complex32.itemsize == 4
    assert ember.complex32.is_complex and not ember.complex32.is_floating_point
    assert ember.complex32.to_real() is ember.float16 and ember.float16.to_complex() is ember.complex32
    x = ember.zeros(3, dtype=ember.chalf)
    assert x.element_size() == 4 and x.is_complex() and not x.is_floating_point()
    assert x.type() == torch.zeros(3, dtype=torch.chalf).type() == "torch.ComplexHalfTensor"


def test_promotion_with_every_dtype():
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
                 "complex32", "complex64", "complex128"):
        for a, b in ((name, "complex32"), ("complex32", name)):
            assert str(ember.promote_types(getattr(ember, a), getattr(ember, b))) == \
                str(torch.promote_types(getattr(torch, a), getattr(torch, b))), (a, b)
    with pytest.raises(RuntimeError):
        torch.promote_types(torch.uint64, torch.complex32)
    with pytest.raises(RuntimeError):
        ember.promote_types(ember.uint64, ember.complex32)


@pytest.mark.parametrize("operand", [1, 1.5, 1 + 1j, True, "half0d", "half", "float", "int", "cfloat", "cfloat0d"])
def test_result_dtype_and_values_of_add_with_other_operands(operand):
    t, e = _pair()
    others = {"half0d": np.float16(2.5), "half": RNG.standard_normal(104).astype(np.float16),
              "float": RNG.standard_normal(104).astype(np.float32), "int": RNG.integers(-9, 9, 104),
              "cfloat": (RNG.standard_normal(104) + 1j).astype(np.complex64), "cfloat0d": np.complex64(1 - 2j)}
    if isinstance(operand, str):
        arr = np.asarray(others[operand])
        to, eo = torch.from_numpy(arr.reshape(arr.shape)), ember.tensor(arr)
    else:
        to = eo = operand
    _same(e + eo, t + to)
    _same(eo * e, to * t)
    assert ember.result_type(e, eo) is getattr(ember, str(torch.result_type(t, to)).split(".")[1])


@pytest.mark.parametrize("src", ["float64", "float32", "float16", "int64", "int16", "uint8", "bool", "complex64",
                                 "complex128"])
def test_conversions_both_ways(src):
    raw = np.concatenate([RNG.standard_normal(100) * np.exp(RNG.uniform(-25, 14, 100)), [0.0, -0.0, 7e4, -7e4,
                                                                                        np.inf, np.nan, 1e-9]])
    if "complex" in src:
        raw = raw + 1j * RNG.permutation(raw)
    arr = raw.astype(src) if src != "bool" else raw > 0
    if src in ("int64", "int16", "uint8"):
        arr = np.nan_to_num(raw).clip(-3e4, 3e4).astype(src)
    t, e = torch.from_numpy(arr), ember.tensor(arr)
    _same(e.chalf(), t.chalf())
    _same(e.to(ember.complex32), t.to(torch.complex32))
    _same(ember.tensor(arr, dtype=ember.chalf), torch.tensor(arr, dtype=torch.chalf))
    # and back: each part rounded to float16 first, so the way back is exact
    _same(e.chalf().to(getattr(ember, src)), t.chalf().to(getattr(torch, src)))


def test_conversion_methods_and_python_values():
    t, e = _pair()
    for name in ("cfloat", "cdouble", "float", "double", "half", "bool"):
        got, want = getattr(e, name)(), getattr(t, name)()
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert e.tolist()[:5] == t.tolist()[:5] and e[3].item() == t[3].item()
    assert isinstance(e[0].item(), complex)
    with pytest.raises(TypeError):
        t.numpy()
    with pytest.raises(TypeError, match="ComplexHalf"):
        e.numpy()


def test_factories():
    for fn in (lambda lib: lib.zeros(2, 3, dtype=lib.chalf), lambda lib: lib.ones(4, dtype=lib.complex32),
               lambda lib: lib.full((3,), 1.5 - 2j, dtype=lib.chalf), lambda lib: lib.tensor([1, 2.5, 3j], dtype=lib.chalf),
               lambda lib: lib.ones_like(lib.zeros(2, dtype=lib.chalf)), lambda lib: lib.full_like(lib.zeros(2, dtype=lib.chalf), 7),
               lambda lib: lib.zeros(2, dtype=lib.chalf).new_ones(3), lambda lib: lib.zeros(2).new_full((2,), 2j, dtype=lib.chalf)):
        _same(fn(ember), fn(torch))
    assert tuple(ember.empty(2, 5, dtype=ember.chalf).shape) == (2, 5)


SUPPORTED = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "neg": lambda x, y: -x,
    "conj": lambda x, y: x.conj(), "conj_physical": lambda x, y: x.conj_physical(), "mul_int": lambda x, y: x * 2,
    "rsub": lambda x, y: 1 - x, "add_complex": lambda x, y: x + 1.5j, "add_alpha": lambda x, y: x.add(y, alpha=2),
    "real": lambda x, y: x.real, "imag": lambda x, y: x.imag, "eq": lambda x, y: x == y, "ne": lambda x, y: x != y,
    "eq_self": lambda x, y: x == x, "eq_number": lambda x, y: x == 1, "isnan": lambda x, y: x.isnan(),
    "isfinite": lambda x, y: x.isfinite(), "isinf": lambda x, y: x.isinf(), "any": lambda x, y: x.any(),
    "all": lambda x, y: x.all(), "isclose": lambda x, y: x.isclose(y, rtol=0.1, atol=0.5), "transpose": lambda x, y: x.reshape(8, 13).t().contiguous(),
    "slice": lambda x, y: x[3:50:2], "mask": lambda x, y: x[x.real > 0], "clone": lambda x, y: x.clone(),
    "copy_": lambda x, y: x.clone().copy_(y), "fill_": lambda x, y: x.clone().fill_(2 - 1j),
    "zero_": lambda x, y: x.clone().zero_(), "expand": lambda x, y: x.unsqueeze(0).expand(2, 104),
    "mul_": lambda x, y: x.clone().mul_(y), "add_": lambda x, y: x.clone().add_(y), "neg_": lambda x, y: x.clone().neg_(),
}


# torch adds ``a + alpha * b`` with a complex product, so an inf or NaN in one part of ``b`` spreads to the
# other part of the sum; ember (complex64 too) adds the parts apart: those are compared on finite values
FINITE = {"add", "sub", "rsub", "add_", "add_alpha"}


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported_ops_bit_for_bit(name):
    t, e = _pair(name in FINITE)
    t2, e2 = _pair(name in FINITE)
    _same(SUPPORTED[name](e, e2), SUPPORTED[name](t, t2))


def test_joins_and_selection():
    t, e = _pair()
    t2, e2 = _pair()
    _same(ember.cat([e, e2]), torch.cat([t, t2]))
    _same(ember.stack([e, e2], 1), torch.stack([t, t2], 1))
    mask = t.real > 0
    _same(ember.where(ember.tensor(mask.numpy()), e, e2), torch.where(mask, t, t2))
    _same(e.masked_fill(ember.tensor(mask.numpy()), 1j), t.masked_fill(mask, 1j))
    idx = torch.tensor([5, 0, 7, 7])
    _same(e[ember.tensor(idx.numpy())], t[idx])
    _same(e.index_select(0, ember.tensor(idx.numpy())), t.index_select(0, idx))


def test_abs_and_sgn_within_one_float16_step():
    # torch's complex64 abs differs from NumPy's hypot in the last float32 bit, which can move the float16
    # rounding by one step: the same tolerance as torch.testing's for float16
    t, e = _pair()
    for fn in (lambda x: x.abs(), lambda x: x.sgn()):
        got, want = fn(e), fn(t)
        assert str(got.dtype) == str(want.dtype)
        g = got.cfloat().numpy() if got.dtype is ember.complex32 else got.numpy()
        w = want.cfloat().numpy() if want.dtype is torch.complex32 else want.numpy()
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("op", [
    lambda lib, x: x.sum(), lambda lib, x: x.mean(), lambda lib, x: x.exp(), lambda lib, x: x.sqrt(),
    lambda lib, x: x / x, lambda lib, x: x / 2, lambda lib, x: x @ x, lambda lib, x: x.angle(), lambda lib, x: x.prod(),
    lambda lib, x: x.reciprocal(), lambda lib, x: x.sigmoid(), lambda lib, x: x.log(), lambda lib, x: x.tanh(),
    lambda lib, x: x ** 2, lambda lib, x: x.cumsum(0), lambda lib, x: x.softmax(0),
])
def test_ops_torch_lacks_raise_not_implemented(op):
    t, e = _pair()
    with pytest.raises(NotImplementedError, match="ComplexHalf"):
        op(torch, t)
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexHalf'"):
        op(ember, e)


def test_view_as_real_real_and_imag_alias_the_tensor():
    t, e = _pair()
    vt, ve = torch.view_as_real(t), ember.view_as_real(e)
    _same(ve, vt)
    ve[0, 1] = 3.0
    vt[0, 1] = 3.0
    e.real[1] = -2.0
    t.real[1] = -2.0
    e.imag.mul_(2)
    t.imag.mul_(2)
    _same(e, t)
    # and view_as_complex of float16 parts is a complex32 view of them
    h = torch.randn(5, 2, dtype=torch.float16)
    eh = ember.tensor(h.numpy())
    c, ec = torch.view_as_complex(h), ember.view_as_complex(eh)
    ec.mul_(2j)
    c.mul_(2j)
    _same(eh, h)
    _same(ec, c)


def test_autograd_through_chalf_and_its_arithmetic():
    x = torch.randn(6, dtype=torch.float32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    w = torch.randn(6, dtype=torch.complex64, generator=torch.Generator().manual_seed(1)).chalf().requires_grad_()
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    ew = ember.view_as_complex(ember.tensor(torch.view_as_real(w.detach()).numpy())).requires_grad_()
    outs = []
    for lib, a, b in ((torch, x, w), (ember, ex, ew)):
        c = a.chalf()
        y = (c * b + c - b.conj() * 2).abs().float().sum() + lib.view_as_real(-c).float().sum()
        outs.append(lib.autograd.grad(y, (a, b)))
    (gx, gw), (egx, egw) = outs
    assert egx.dtype is ember.float32 and egw.dtype is ember.complex32
    np.testing.assert_allclose(egx.numpy(), gx.numpy(), rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(egw.cfloat().numpy(), gw.cfloat().numpy(), rtol=2e-3, atol=1e-4)
    # the gradient of .chalf() is cast back: a complex32 cotangent reaches a float32 input as its real part
    cot = torch.tensor([1 + 2j, -3 + 4j, 0.5j, 1, 2, 3]).chalf()
    g, = torch.autograd.grad(x.chalf(), x, cot)
    eg, = ember.autograd.grad(ex.chalf(), ex, ember.tensor(cot.cfloat().numpy()).chalf())
    _same(eg, g)


def test_printing_matches_torch():
    for values in ([1 + 2j, 3 - 1j, 0.5 + 0.25j], [1e4 + 1j, -0.001j, float("nan")], 1 + 2j, []):
        assert repr(ember.tensor(values).chalf()) == repr(torch.tensor(values).chalf())


def test_checkpoints_carry_complex32_both_ways(tmp_path):
    # torch writes complex32 as bytes + dtype (_rebuild_tensor_v3); safetensors has no code for it
    t, e = _pair()
    ember.save({"z": e}, tmp_path / "e.pt")
    torch.save({"z": t}, tmp_path / "t.pt")
    np.testing.assert_array_equal(_bits(torch.load(tmp_path / "e.pt", weights_only=True)["z"]), _bits(t))
    assert ember.load(tmp_path / "t.pt")["z"].dtype is ember.chalf
    np.testing.assert_array_equal(_bits(ember.load(tmp_path / "t.pt")["z"]), _bits(e))
    with pytest.raises(KeyError, match="complex32"):
        ember.save({"z": e}, tmp_path / "e.safetensors")
