"""Specs of the comparison, logical and bitwise ops (ember/_ops/compare.py): bool results, no gradient."""
import numpy as np

from opinfo import OpSpec, Sample, BINARY_SHAPES


def _ties(rng, shape, dtype):
    """Small integers as floats, so that equal elements occur."""
    return np.asarray(rng.integers(-2, 3, size=shape)).astype(dtype)


def _tensor_samples(rng, dtype):
    return ([Sample((_ties(rng, a, dtype), _ties(rng, b, dtype)), name=f"{a}x{b}") for a, b in BINARY_SHAPES]
            + [Sample((_ties(rng, (4,), np.int32), _ties(rng, (4,), dtype)), name="int vs float tensor")])


def _cmp_samples(rng, dtype):
    out = _tensor_samples(rng, dtype)
    out += [Sample((_ties(rng, (5,), dtype), s), name=f"scalar {s}") for s in (1, 0.5, True)]
    out += [Sample((_ties(rng, (4,), np.int64), 0.5), name="int vs float")]
    return out


def _int_samples(rng, dtype):
    ints = lambda s, dt=np.int64: np.asarray(rng.integers(-8, 8, size=s)).astype(dt)  # noqa: E731
    bools = lambda s: np.asarray(rng.random(s) > 0.5)  # noqa: E731
    return [Sample((ints((3, 4)), ints((3, 4))), name="int"), Sample((ints((2, 3)), ints((3,), np.int32)), name="mixed"),
            Sample((bools((3, 4)), bools((4,))), name="bool"), Sample((bools((3,)), ints((3,))), name="bool,int"),
            Sample((ints((3,), np.int8), 3), name="scalar"), Sample((bools((3,)), True), name="bool scalar")]


def _shift_samples(rng, dtype):
    return [Sample((np.asarray(rng.integers(-50, 50, size=(3, 4))), np.asarray(rng.integers(0, 5, size=(4,)))),
                   name="shift"), Sample((np.asarray(rng.integers(0, 50, size=(3,))), 2), name="scalar")]


def _close_samples(rng, dtype):
    a = rng.standard_normal((4, 5)).astype(dtype)
    b = a + rng.choice([0.0, 1e-9, 1e-6, 1e-3], size=a.shape).astype(dtype) * np.abs(a)
    a[0, :3] = [np.nan, np.inf, -np.inf]
    b[0, :3] = [np.nan, np.inf, np.inf]
    return [Sample((a, b), name="mixed"), Sample((a[1:], a[1:].copy()), name="same")]


def _special_samples(rng, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    x[0] = [np.nan, np.inf, -np.inf, -0.0]
    return [Sample((x,), name="specials"), Sample((np.asarray(rng.integers(-3, 3, size=(4,))),), name="int")]


def _binary(name, samples=_cmp_samples):
    return OpSpec(name, lambda lib, a, b: getattr(lib, name)(a, b), samples, differentiable=False)


def _bit(name, samples=_int_samples):
    return OpSpec(name, lambda lib, a, b: getattr(lib, name)(a, b), samples, differentiable=False)


def _special(name):
    return OpSpec(name, lambda lib, x: getattr(lib, name)(x), _special_samples, differentiable=False)


SPECS = [
    *[_binary(n) for n in ("eq", "ne", "lt", "le", "gt", "ge")],
    *[_binary(n, _tensor_samples) for n in ("logical_and", "logical_or", "logical_xor")],
    OpSpec("eq_op", lambda lib, a, b: a == b, _cmp_samples, differentiable=False),
    OpSpec("ne_op", lambda lib, a, b: a != b, _cmp_samples, differentiable=False),
    OpSpec("lt_op", lambda lib, a, b: a < b, _cmp_samples, differentiable=False),
    OpSpec("le_op", lambda lib, a, b: a <= b, _cmp_samples, differentiable=False),
    OpSpec("gt_op", lambda lib, a, b: a > b, _cmp_samples, differentiable=False),
    OpSpec("ge_op", lambda lib, a, b: a >= b, _cmp_samples, differentiable=False),
    OpSpec("rlt_op", lambda lib, a, b: 0.5 < a, _cmp_samples, differentiable=False),
    OpSpec("logical_not", lambda lib, a, b: lib.logical_not(a), _cmp_samples, differentiable=False),
    *[_bit(n) for n in ("bitwise_and", "bitwise_or", "bitwise_xor")],
    OpSpec("and_op", lambda lib, a, b: a & b, _int_samples, differentiable=False),
    OpSpec("or_op", lambda lib, a, b: a | b, _int_samples, differentiable=False),
    OpSpec("xor_op", lambda lib, a, b: a ^ b, _int_samples, differentiable=False),
    OpSpec("invert_op", lambda lib, a, b: ~a, _int_samples, differentiable=False),
    OpSpec("bitwise_not", lambda lib, a, b: lib.bitwise_not(a), _int_samples, differentiable=False),
    _bit("bitwise_left_shift", _shift_samples),
    _bit("bitwise_right_shift", _shift_samples),
    OpSpec("isclose", lambda lib, a, b: lib.isclose(a, b), _close_samples, differentiable=False),
    OpSpec("isclose_nan", lambda lib, a, b: lib.isclose(a, b, rtol=1e-4, atol=0.0, equal_nan=True), _close_samples,
           differentiable=False),
    OpSpec("allclose", lambda lib, a, b: lib.allclose(a, b), _close_samples, differentiable=False),
    OpSpec("equal", lambda lib, a, b: lib.equal(a, b), _close_samples, differentiable=False),
    *[_special(n) for n in ("isnan", "isinf", "isposinf", "isneginf", "isfinite", "signbit")],
]
