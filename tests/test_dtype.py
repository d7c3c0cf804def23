"""dtypes and torch's promotion rules: result_type over (dtype, dim/0-dim, scalar) combinations, vs torch."""
import itertools

import numpy as np
import pytest
import torch

import ember

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SCALARS = [True, 3, -2, 2.5]


def make(lib, dt, zero_dim):
    shape = () if zero_dim else (2,)
    return lib.ones(shape, dtype=getattr(lib, dt))


def name(dt):
    return str(dt).split(".")[1]


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types(a, b):
    assert name(ember.promote_types(getattr(ember, a), getattr(ember, b))) == \
        name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("dims", [(False, False), (False, True), (True, False), (True, True)])
def test_result_type_tensor_tensor(a, b, dims):
    ea, eb = make(ember, a, dims[0]), make(ember, b, dims[1])
    ta, tb = make(torch, a, dims[0]), make(torch, b, dims[1])
    expected = name(torch.result_type(ta, tb))
    assert name(ember.result_type(ea, eb)) == expected
    if a != "bool" or b != "bool":  # bool + bool is logical or in both, dtype bool
        assert name((ea + eb).dtype) == name((ta + tb).dtype) == expected
        assert name((ea * eb).dtype) == expected


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("s", SCALARS)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_result_type_tensor_scalar(a, s, zero_dim):
    e, t = make(ember, a, zero_dim), make(torch, a, zero_dim)
    expected = name(torch.result_type(t, s))
    assert name(ember.result_type(e, s)) == expected
    assert name(ember.result_type(s, e)) == name(torch.result_type(s, t))
    if not (a == "bool" and isinstance(s, bool)) and not (a == "uint8" and s == -2):
        assert name((e * s).dtype) == name((t * s).dtype)
        assert name((s + e).dtype) == name((s + t).dtype)


@pytest.mark.parametrize("a", DTYPES)
def test_true_division_promotes_to_float(a):
    e, t = make(ember, a, False), make(torch, a, False)
    assert name((e / e).dtype) == name((t / t).dtype)
    assert name((e / 2).dtype) == name((t / 2).dtype)


@pytest.mark.parametrize("frm,to", list(itertools.product(DTYPES, DTYPES)))
def test_can_cast(frm, to):
    assert ember.can_cast(getattr(ember, frm), getattr(ember, to)) == torch.can_cast(getattr(torch, frm),
                                                                                     getattr(torch, to))


def test_dtype_properties():
    for dt in DTYPES:
        e, t = getattr(ember, dt), getattr(torch, dt)
        assert e.is_floating_point == t.is_floating_point
        assert e.is_signed == t.is_signed
        assert e.itemsize == t.itemsize
        assert repr(e).replace("ember", "torch") == repr(t)
    assert ember.float is ember.float32 and ember.double is ember.float64 and ember.long is ember.int64
    assert ember.half is ember.float16 and ember.int is ember.int32 and ember.short is ember.int16


def test_default_dtype():
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.get_default_dtype() is ember.float64
        assert ember.tensor([1.0]).dtype is ember.float64
        assert ember.tensor([1]).dtype is ember.int64
        assert name(ember.result_type(ember.tensor([1]), 1.5)) == "float64"
    finally:
        ember.set_default_dtype(ember.float32)
    for lib in (ember, torch):
        with pytest.raises(TypeError):
            lib.set_default_dtype(lib.int64)


def test_numpy_dtype_round_trip():
    for dt in (d for d in DTYPES if d != "bfloat16"):  # torch.from_numpy has no bfloat16
        arr = np.zeros(2, dtype=np.dtype(dt if dt != "bool" else np.bool_))
        assert name(ember.from_numpy(arr).dtype) == name(torch.from_numpy(arr).dtype)
    with pytest.raises(TypeError):
        ember.from_numpy(np.zeros(2, dtype=np.clongdouble))


def _bf16(lib):
    a = lib.tensor([1.3, -2.7, 3.1, 1e-3, 60.0, -0.0]).bfloat16()
    h = lib.tensor([0.5, 1.25, 2.0, 3.0, 1.0, 2.0]).half()
    i = lib.tensor([1, 2, 3, 4, 5, 6])
    return [a, a + h, a * 1.5, a + i, a / i, a / 2, i * a[0], -a, a.exp(), a.abs().sqrt(), a.tanh(), a ** 2,
            a.clamp(0, 2), a.sum(), a.max(), a > 0, a.double(), a.float(), a.to(lib.int32), i.bfloat16(),
            a.mean(), a.var(), a.std(), a.softmax(0), a.log_softmax(0), a @ a, a.reshape(2, 3) @ a.reshape(3, 2)]


def test_bfloat16_values_and_dtypes_as_torch():
    """Rounding to bfloat16 (nearest, ties to even) and torch's bfloat16 arithmetic: each op computed in float32
    and rounded, float16 with bfloat16 promoting to float32."""
    for k, (e, t) in enumerate(zip(_bf16(ember), _bf16(torch))):
        assert str(e.dtype) == str(t.dtype), k
        np.testing.assert_array_equal(e.float().numpy(), t.float().numpy(), err_msg=str(k))
    assert repr(ember.tensor([1.3, -2.7]).bfloat16()) == repr(torch.tensor([1.3, -2.7]).bfloat16())


def test_bfloat16_gradients_through_casts_as_torch():
    res = []
    for lib in (torch, ember):
        x = lib.tensor([0.3, -1.7, 2.9], dtype=lib.float64, requires_grad=True)
        y = (x.bfloat16() * x.bfloat16()).exp().float().sum()
        (g,) = lib.autograd.grad(y, x)
        assert g.dtype == lib.float64
        res.append(g.numpy())
    np.testing.assert_array_equal(res[1], res[0])


def test_bfloat16_without_ml_dtypes_fails_where_used():
    """ml_dtypes is optional: ember imports without it, and a bfloat16 tensor raises NotImplementedError."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import ember\n"
            "assert repr(ember.bfloat16) == 'torch.bfloat16' and ember.tensor([1.0]).float().dtype is ember.float32\n"
            "try:\n    ember.zeros(2, dtype=ember.bfloat16)\nexcept NotImplementedError as e:\n"
            "    assert 'ml_dtypes' in str(e)\nelse:\n    raise SystemExit('no error')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_uint64_as_torch():
    # torch's uint64 is a bare type: made, converted and compared, promoted only with floating types
    for lib in (torch, ember):
        u = lib.tensor([2 ** 64 - 1, 2 ** 63 + 5], dtype=lib.uint64)
        assert (u == -1).tolist() == [True, False] and u.tolist() == [2 ** 64 - 1, 2 ** 63 + 5]
        assert u.to(lib.int64).tolist() == [-1, -2 ** 63 + 5]
        assert lib.tensor([-1]).to(lib.uint64).tolist() == [2 ** 64 - 1]
        assert not lib.uint64.is_signed and lib.uint64.itemsize == 8 and lib.iinfo(lib.uint64).max == 2 ** 64 - 1
    for other in ("bool", "uint8", "int64", "float16", "float32", "float64", "complex64"):
        for pair in ((other, "uint64"), ("uint64", other)):
            try:
                want = name(torch.promote_types(*(getattr(torch, d) for d in pair)))
            except RuntimeError as exc:
                with pytest.raises(RuntimeError, match=str(exc)):
                    ember.promote_types(*(getattr(ember, d) for d in pair))
                continue
            assert name(ember.promote_types(*(getattr(ember, d) for d in pair))) == want
    assert name(ember.result_type(ember.tensor([1], dtype=ember.uint64), 1.5)) == "float32"
