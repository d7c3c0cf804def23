"""complex32 (torch's ComplexHalf): what torch 2.13's CPU kernels support of it, and nothing more.

A complex32 array is a NumPy record of two float16 (``_dtype.CHALF``), torch's memory layout: copies, views,
indexing, joins and record comparisons work on it as NumPy has them. NumPy has no arithmetic for records,
so an op on one fails in NumPy (a TypeError) and lands in ``retry``: the few ops torch computes for
ComplexHalf (add, sub, mul, neg, conj, abs, isnan, ...) run in complex64 and round each part back to
float16 (torch does the same, so add, sub and mul agree bit for bit); every other op raises torch's
NotImplementedError. No op checks for complex32 on its way: only the failure path and the places where
ember already branches on a dtype (casts, factories, the complex views) know about it.
"""
from __future__ import annotations

from ._backend import ndarray, xp
from ._dtype import CHALF, complex32, complex64, float16, float32

_NARROWER = {complex64: complex32, float32: float16}

# the ops (ember's Op classes and elementwise kernels) torch's CPU build computes for ComplexHalf
COMPUTED = {"Add", "Sub", "Mul", "AddScalar", "MulScalar", "AddTensors", "SubTensors", "Neg", "Conj", "Abs",
            "Where", "Sgn", "isnan", "isfinite", "isinf", "eq", "ne", "isclose", "any", "all", "Compare"}


def is_chalf(a) -> bool:
    """Whether ``a`` is a complex32 array."""
    return isinstance(a, ndarray) and a.dtype == CHALF


def widen(a: ndarray) -> ndarray:
    """A complex32 array as complex64 (exact)."""
    out = xp.empty(a.shape, xp.complex64)
    out.real, out.imag = a["real"], a["imag"]
    return out


def narrow(a) -> ndarray:
    """Any numeric array (or number) as complex32: each part rounded to float16 from its complex64/float32
    value, as torch converts (a float64 is rounded twice, like torch's)."""
    a = xp.asarray(a)
    if a.dtype == CHALF:
        return a.copy()
    out = xp.empty(a.shape, CHALF)
    with xp.errstate(over="ignore", invalid="ignore"):  # torch rounds to inf silently
        if a.dtype.kind == "c":
            c = a.astype(xp.complex64)
            out["real"], out["imag"] = c.real, c.imag
        else:
            out["real"], out["imag"] = a.astype(xp.float32), 0
    return out


def cast(x: ndarray, dt) -> ndarray:
    """``x`` cast to the ember dtype ``dt`` where either side is complex32 (NumPy would copy a number into both
    fields of the record, or refuse the record)."""
    if dt.np == CHALF:
        return narrow(x)
    z = widen(x)
    return (z if dt._cat == 3 or dt._cat == 0 else z.real).astype(dt.np)  # bool: either part nonzero


def unsupported(op: str) -> NotImplementedError:
    """torch's error for an op its CPU build lacks for ComplexHalf."""
    return NotImplementedError(f'"{op}" not implemented for \'ComplexHalf\'')


def _back(out):
    """An op's complex64 (or, from abs, float32) result on arrays rounded back as torch's ComplexHalf kernel's."""
    if type(out) is tuple:
        return tuple(_back(o) for o in out)
    if isinstance(out, ndarray) and out.dtype == xp.complex64:
        return narrow(out)
    if isinstance(out, ndarray) and out.dtype == xp.float32:
        return out.astype(xp.float16)
    return out


def _rounded(t):
    """A tensor result computed in complex64 (or float32) cast back to complex32 (or float16)."""
    return t.to(_NARROWER.get(t.dtype, t.dtype))


def fallback(name: str, fn, operands, err: TypeError, **kwargs):
    """The failure path of a non-differentiable op whose NumPy call ``fn(*operands)`` raised ``err``: computed
    in complex64 if a complex32 record among the operands (tensors or arrays) is why and torch computes
    ``name`` for ComplexHalf, torch's NotImplementedError if it does not, else ``err`` as it was."""
    arrays = [getattr(a, "_data", a) for a in operands]
    if not any(is_chalf(a) for a in arrays):
        raise err
    if name not in COMPUTED:
        raise unsupported(name.lower())
    return _back(fn(*(widen(a) if is_chalf(a) else a for a in arrays), **kwargs))


def retry(op, args: tuple, err: TypeError):
    """The failure path of ``Op.apply``: an op whose NumPy forward refused a complex32 record runs again on
    complex64 tensors and its result is cast back. The casts are ops, so gradients flow as torch's do (each
    rounded back to complex32), and the op's own backward runs on complex64."""
    if not any(is_chalf(getattr(a, "_data", None)) for a in args):
        raise err
    if op.__name__ not in COMPUTED:
        raise unsupported(op.__name__.lower())
    out = op.apply(*(a.cfloat() if is_chalf(getattr(a, "_data", None)) else a for a in args))
    return tuple(_rounded(o) for o in out) if type(out) is tuple else _rounded(out)


def unary(name: str, fn, x):
    """An elementwise op of ember's on a complex32 tensor: through complex64 (differentiable: the casts are
    ops), the result rounded back (abs gives float16), if torch's CPU computes it; refused otherwise."""
    if name.capitalize() not in COMPUTED:
        raise unsupported(name)
    return _rounded(fn(x.cfloat()))


def add(a: ndarray, b: ndarray) -> ndarray:
    """Two gradient arrays summed where one is complex32 (the engine's failure path), rounded back."""
    return narrow((widen(a) if is_chalf(a) else a) + (widen(b) if is_chalf(b) else b))


def refuse(x, op: str) -> None:
    """torch's NotImplementedError when ``x`` is a complex32 tensor (in the bfloat16 branches of ops that
    compute bfloat16 through float32, which would silently drop complex32's imaginary parts)."""
    if x._data.dtype.names:
        raise unsupported(op)
