"""``torch.testing``: ``assert_close`` with torch's per-dtype tolerances and messages, ``make_tensor``, and the
deprecated ``assert_allclose``."""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

from . import _dtype
from ._tensor import Tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# (rtol, atol) when neither is given; other dtypes (integers, bool) compare exactly
_TOLERANCES = {
    _dtype.float16: (1e-3, 1e-5), _dtype.bfloat16: (1.6e-2, 1e-5), _dtype.float32: (1.3e-6, 1e-5),
    _dtype.float64: (1e-7, 1e-7), _dtype.complex32: (1e-3, 1e-5), _dtype.complex64: (1.3e-6, 1e-5),
    _dtype.complex128: (1e-7, 1e-7),
}


class _Mismatch(AssertionError):
    """A mismatch, and where in the nested inputs it was found."""
    path: tuple = ()


def _tolerances(dtypes, rtol, atol) -> tuple[float, float]:
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    if rtol is not None:
        return rtol, atol
    pairs = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _allowed(tol: float, exact: bool) -> str:
    return "" if exact else f" (up to {tol} allowed)"


def _compare_numbers(actual, expected, rtol, atol, equal_nan: bool, check_dtype: bool) -> None:
    if isinstance(actual, bool) and isinstance(expected, bool):
        if actual is not expected:
            raise _Mismatch(f"Booleans mismatch: {actual} is not {expected}")
        return
    if check_dtype and type(actual) is not type(expected):
        raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    kinds = {_dtype.float64 if isinstance(v, float) else _dtype.complex128 if isinstance(v, complex)
             else _dtype.int64 for v in (actual, expected)}
    rtol, atol = _tolerances(kinds, rtol, atol)
    if actual == expected or (equal_nan and _isnan(actual) and _isnan(expected)):
        return
    diff = abs(actual - expected)
    if diff <= atol + rtol * abs(expected):
        return
    exact = rtol == 0 and atol == 0
    rel = diff / abs(expected) if expected != 0 else math.inf if diff else math.nan
    raise _Mismatch(f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {expected} but got {actual}.\n"
                    f"Absolute difference: {diff}{_allowed(atol, exact)}\n"
                    f"Relative difference: {rel}{_allowed(rtol, exact)}")


def _isnan(v) -> bool:
    return isinstance(v, (float, complex)) and v != v


def _compare_tensors(actual: Tensor, expected: Tensor, rtol, atol, equal_nan: bool, check_device: bool,
                     check_dtype: bool, check_layout: bool, check_stride: bool) -> None:
    checks = [("shape", lambda t: t.shape, True), ("device", lambda t: t.device, check_device),
              ("dtype", lambda t: t.dtype, check_dtype), ("layout", lambda t: t.layout, check_layout),
              ("stride()", lambda t: t.stride(), check_stride)]
    for name, get, wanted in checks:
        if wanted and get(actual) != get(expected):
            raise _Mismatch(f"The values for attribute '{name}' do not match: {get(actual)} != {get(expected)}.")
    rtol, atol = _tolerances((actual.dtype, expected.dtype), rtol, atol)
    a, e = actual.detach(), expected.detach()
    if a.dtype != e.dtype:
        common = _dtype.promote_types(a.dtype, e.dtype)
        a, e = a.to(common), e.to(common)
    if not (a.dtype.is_floating_point or a.dtype.is_complex):
        a, e = a.to(_dtype.int64), e.to(_dtype.int64)  # no unsigned wrap-around in the differences
    if a.ndim == 0:
        return _compare_numbers(a.item(), e.item(), rtol, atol, equal_nan, check_dtype=False)
    close = a.isclose(e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if bool(close.all()):
        return
    exact = rtol == 0 and atol == 0
    abs_diff = (a - e).abs()
    rel_diff = abs_diff / e.abs()
    abs_diff[close], rel_diff[close] = 0, 0  # only the mismatches are reported
    mismatched, total = int((~close).sum()), close.numel()
    lines = [f"Tensor-likes are not {'equal' if exact else 'close'}!", "",
             f"Mismatched elements: {mismatched} / {total} ({mismatched / total:.1%})"]
    for label, diff, tol in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        flat = diff.flatten()
        at = int(flat.isnan().to(_dtype.int64).argmax()) if bool(flat.isnan().any()) else int(flat.argmax())
        index = tuple(int(i) for i in _unravel(at, tuple(a.shape)))
        lines.append(f"Greatest {label} difference: {flat[at].item()} at index {index}{_allowed(tol, exact)}")
    raise _Mismatch("\n".join(lines))


def _unravel(flat: int, shape: tuple) -> list:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return index[::-1]


def _compare(actual, expected, path: tuple, **options) -> None:
    try:
        _compare_pair(actual, expected, path, **options)
    except _Mismatch as err:
        err.path = err.path or path
        raise


def _compare_pair(actual, expected, path: tuple, **options) -> None:
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        return _compare_tensors(actual, expected, **options)
    numbers = (bool, int, float, complex)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        return _compare_numbers(actual, expected, options["rtol"], options["atol"], options["equal_nan"],
                                options["check_dtype"])
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        missing, extra = [k for k in expected if k not in actual], [k for k in actual if k not in expected]
        if missing or extra:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                            f"{sorted(missing, key=str)}\nAdditional keys in the actual mapping: "
                            f"{sorted(extra, key=str)}")
        for key in expected:
            _compare(actual[key], expected[key], path + (key,), **options)
        return
    if (isinstance(actual, Sequence) and isinstance(expected, Sequence)
            and not isinstance(actual, str) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + (i,), **options)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False, msg=None) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` (tensors, numbers, or nested sequences and
    mappings of them) are close: ``|actual - expected| <= atol + rtol * |expected|``, as torch.testing's."""
    try:
        _compare(actual, expected, (), rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                 check_dtype=check_dtype, check_layout=check_layout, check_stride=check_stride)
    except _Mismatch as err:
        text = str(err)
        if err.path:
            text += "\n\nThe failure occurred for item " + "".join(f"[{key!r}]" for key in err.path)
        if callable(msg):
            text = msg(text)
        elif msg is not None:
            text = msg
        raise AssertionError(text) from None


def assert_allclose(actual, expected, rtol: float | None = None, atol: float | None = None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """Deprecated (FutureWarning): ``assert_close`` with ``expected`` converted to ``actual``'s dtype and the
    looser tolerances torch's old helper used."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    from ._factories import as_tensor
    if not isinstance(actual, Tensor):
        actual = as_tensor(actual)
    if not isinstance(expected, Tensor):
        expected = as_tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        old = {_dtype.float16: (1e-3, 1e-3), _dtype.float32: (1e-4, 1e-5), _dtype.float64: (1e-5, 1e-8)}
        rtol, atol = max((old.get(t.dtype, (0.0, 0.0)) for t in (actual, expected)), key=lambda p: p[0])
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True, check_dtype=False,
                 check_stride=False, msg=msg or None)


def make_tensor(*shape, dtype: _dtype.dtype, device, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A random tensor for tests: integers uniform in ``[low, high)`` (default ``[-9, 10)``, ``[0, 10)`` unsigned),
    floats and complex parts uniform in ``[low, high)`` (default ``[-9, 9)``), booleans at random."""
    from . import complex as complex_, empty, randint
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    dtype = _dtype.as_dtype(dtype)
    floating = dtype.is_floating_point or dtype.is_complex
    if requires_grad and not floating:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    if dtype is _dtype.bool_:
        result = randint(0, 2, shape, device=device).to(_dtype.bool_)
    else:
        info = _dtype.finfo(dtype) if floating else _dtype.iinfo(dtype)
        default_low = 0 if not floating and info.min == 0 else -9
        low, high = _range(low, high, default_low, 9 if floating else 10, info, dtype)
        if floating:
            real = dtype.to_real() if dtype.is_complex else dtype
            parts = [empty(*shape, dtype=real, device=device).uniform_(low, high)
                     for _ in range(2 if dtype.is_complex else 1)]
            if dtype is _dtype.complex32:  # ember.complex pairs float32 parts; the cast rounds them back exactly
                parts = [part.float() for part in parts]
            result = (parts[0] if len(parts) == 1 else complex_(*parts)).to(dtype)
        else:
            result = randint(math.ceil(low), math.ceil(high), shape, dtype=dtype, device=device)
    if exclude_zero:
        tiny = _dtype.finfo(dtype).tiny if floating else 1
        result[result == 0] = tiny
    if noncontiguous and result.numel() > 1:
        result = result.repeat_interleave(2, dim=-1)[..., ::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if requires_grad:
        result.requires_grad_(True)
    return result


def _range(low, high, default_low, default_high, info, dtype) -> tuple[float, float]:
    """torch's checks and clamps of ``low``/``high`` to the dtype's range."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if _isnan(float(low)) or _isnan(float(high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and (dtype.is_floating_point or dtype.is_complex):
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                      FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    # integer draws are ``[low, high)``: the dtype's largest value stays reachable
    return max(low, info.min), min(high, info.max if dtype.is_floating_point or dtype.is_complex else info.max + 1)
