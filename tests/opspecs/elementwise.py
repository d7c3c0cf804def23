"""Specs of the elementwise ops (ember/_ops/elementwise.py)."""
import numpy as np

from opinfo import (OpSpec, Sample, arr, positive, away_from_ints, unary_samples, binary_samples, BINARY_SHAPES)


def _in(low, high):
    """Uniform values in (low, high): a domain away from an op's poles and kinks."""
    return lambda rng, shape, dtype: arr(rng, shape, dtype, low, high)


def _away(rng, shape, dtype):
    # away_from_ints gives a NumPy scalar for shape (); the harness needs arrays
    return np.asarray(away_from_ints(rng, shape, dtype))


def _binary(gen_a=arr, gen_b=arr, right=(2.5,), left=()):
    """binary_samples plus Python scalars as the first operand."""
    base = binary_samples(gen_a, gen_b, scalars=right)

    def samples(rng, dtype):
        return base(rng, dtype) + [Sample((s, gen_b(rng, (3,), dtype)), name=f"{s} left") for s in left]
    return samples


def _bool(rng, shape):
    return np.asarray(rng.random(shape) > 0.5)


# name, domain of the input (unary ops called as lib.<name>(x))
UNARY = [
    ("exp2", arr), ("expm1", arr), ("log2", positive), ("log10", positive), ("log1p", _in(-0.5, 2.0)),
    ("sqrt", positive), ("rsqrt", positive), ("reciprocal", positive), ("square", arr),
    ("sin", arr), ("cos", arr), ("tan", _in(-1.2, 1.2)), ("asin", _in(-0.9, 0.9)), ("acos", _in(-0.9, 0.9)),
    ("atan", arr), ("sinh", arr), ("cosh", arr), ("asinh", arr), ("acosh", _in(1.2, 3.0)),
    ("atanh", _in(-0.9, 0.9)), ("sigmoid", _in(-6, 6)), ("erf", _in(-3, 3)), ("erfc", _in(-3, 3)),
    ("erfinv", _in(-0.95, 0.95)), ("abs", arr), ("relu", arr), ("sign", arr), ("floor", _away), ("ceil", _away),
    ("trunc", _away), ("round", _away), ("frac", _away),
]


def _unary_spec(name, gen):
    return OpSpec(name, lambda lib, x: getattr(lib, name)(x), unary_samples(gen))


def _where_samples(rng, dtype):
    out = [Sample((_bool(rng, c), arr(rng, a, dtype), arr(rng, b, dtype)), name=f"{c},{a},{b}")
           for c, a, b in [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), (2, 1)), ((), (), ()), ((4,), (), (4,)),
                           ((0, 3), (3,), (0, 3))]]
    return out


def _clamp_tensor_samples(rng, dtype):
    return [Sample((arr(rng, s, dtype), arr(rng, lo, dtype, -2.0, -0.4), arr(rng, hi, dtype, 0.4, 2.0)),
                   name=f"{s},{lo},{hi}")
            for s, lo, hi in [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), (2, 1)), ((), (), ()), ((0, 3), (3,), ())]]


def _lerp_samples(rng, dtype):
    shapes = [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), (2, 1)), ((), (), ()), ((0, 3), (3,), ())]
    return [Sample((arr(rng, a, dtype), arr(rng, b, dtype), arr(rng, w, dtype, 0, 1)), name=f"{a},{b},{w}")
            for a, b, w in shapes]


def _pow_scalar_samples(rng, dtype):
    return ([Sample((arr(rng, s, dtype), e), name=f"{s}**{e}") for s in [(3, 4), (), (0, 2)] for e in (2, 3, 0, -1)]
            + [Sample((positive(rng, (5,), dtype), e), name=f"pos**{e}") for e in (0.5, -1.5, 2.5)])


def _nan_to_num_samples(rng, dtype):
    x = arr(rng, (3, 4), dtype)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    return [Sample((x,), name="specials"), Sample((arr(rng, (), dtype),), name="0-dim")]


SPECS = [
    OpSpec("add", lambda lib, a, b: lib.add(a, b), binary_samples()),
    OpSpec("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=0.5), binary_samples()),
    OpSpec("sub", lambda lib, a, b: a - b, binary_samples()),
    OpSpec("rsub", lambda lib, a, b: 3.0 - a, binary_samples()),
    OpSpec("mul", lambda lib, a, b: a * b, binary_samples()),
    OpSpec("rmul", lambda lib, a, b: 2 * a, binary_samples()),
    OpSpec("div", lambda lib, a, b: a / b, binary_samples(gen_b=positive)),
    OpSpec("rdiv", lambda lib, a, b: 2.0 / b if hasattr(b, "shape") else 2.0 / a,
           binary_samples(gen_a=positive, gen_b=positive)),
    OpSpec("neg", lambda lib, x: -x, unary_samples()),
    OpSpec("exp", lambda lib, x: lib.exp(x), unary_samples()),
    OpSpec("tanh", lambda lib, x: lib.tanh(x), unary_samples()),
    OpSpec("log", lambda lib, x: lib.log(x), unary_samples(positive)),
    OpSpec("sum", lambda lib, x: x.sum(), unary_samples()),
    OpSpec("sum_dim", lambda lib, x: x.sum(-1, keepdim=True), unary_samples(shapes=[(5,), (3, 4), (2, 3, 4)])),
    *[_unary_spec(n, g) for n, g in UNARY],
    OpSpec("abs_op", lambda lib, x: abs(x), unary_samples()),
    OpSpec("round_decimals", lambda lib, x: lib.round(x * 100, decimals=1), unary_samples(_away)),
    OpSpec("round_neg_decimals", lambda lib, x: lib.round(x * 1000, decimals=-2), unary_samples(_away)),
    OpSpec("logit", lambda lib, x: lib.logit(x), unary_samples(_in(0.05, 0.95))),
    OpSpec("logit_eps", lambda lib, x: lib.logit(x, eps=0.2), unary_samples(_in(0.05, 0.95))),
    OpSpec("nan_to_num", lambda lib, x: lib.nan_to_num(x, nan=1.5, posinf=9.0), _nan_to_num_samples),
    OpSpec("pow", lambda lib, a, b: a ** b, _binary(positive, arr, right=(2.5, 2), left=(2.5,))),
    OpSpec("pow_scalar", lambda lib, a, e: lib.pow(a, e), _pow_scalar_samples),
    OpSpec("rpow", lambda lib, b: 2 ** b, unary_samples()),
    OpSpec("atan2", lambda lib, a, b: lib.atan2(a, b), _binary(right=())),
    OpSpec("hypot", lambda lib, a, b: lib.hypot(a, b), _binary(right=())),
    OpSpec("maximum", lambda lib, a, b: lib.maximum(a, b), _binary(right=())),
    OpSpec("minimum", lambda lib, a, b: lib.minimum(a, b), _binary(right=())),
    OpSpec("fmax", lambda lib, a, b: lib.fmax(a, b), _binary(right=())),
    OpSpec("fmin", lambda lib, a, b: lib.fmin(a, b), _binary(right=())),
    OpSpec("remainder", lambda lib, a, b: a % b, _binary(gen_b=positive)),
    # torch has no derivative for a scalar dividend
    OpSpec("rremainder", lambda lib, b: 5.5 % b, unary_samples(positive), differentiable=False),
    OpSpec("remainder_neg", lambda lib, a, b: lib.remainder(a, b), _binary(gen_b=_in(-2.5, -0.5), right=(-1.5,))),
    OpSpec("fmod", lambda lib, a, b: lib.fmod(a, b), _binary(gen_b=_in(-2.5, -0.5), right=(1.5,))),
    OpSpec("floor_divide", lambda lib, a, b: a // b, _binary(gen_b=positive, left=(5.5,)), differentiable=False),
    OpSpec("div_floor", lambda lib, a, b: lib.div(a, b, rounding_mode="floor"), _binary(gen_b=positive)),
    OpSpec("div_trunc", lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"), _binary(gen_b=positive)),
    OpSpec("true_divide", lambda lib, a, b: lib.true_divide(a, b), _binary(gen_b=positive)),
    OpSpec("where", lambda lib, c, a, b: lib.where(c, a, b), _where_samples),
    OpSpec("where_scalar", lambda lib, c, a, b: lib.where(c, a, 0.5), _where_samples),
    OpSpec("where_method", lambda lib, c, a, b: a.where(c, b), _where_samples),
    OpSpec("clamp", lambda lib, x: lib.clamp(x, -0.5, 0.7), unary_samples()),
    OpSpec("clamp_min", lambda lib, x: lib.clamp(x, min=-0.5), unary_samples()),
    OpSpec("clamp_max_kw", lambda lib, x: x.clamp(max=0.7), unary_samples()),
    OpSpec("clip", lambda lib, x: lib.clip(x, -0.5, 0.7), unary_samples()),
    OpSpec("clamp_min_fn", lambda lib, x: lib.clamp_min(x, 0.3), unary_samples()),
    OpSpec("clamp_max_fn", lambda lib, x: lib.clamp_max(x, 0.3), unary_samples()),
    OpSpec("clamp_tensor", lambda lib, x, lo, hi: lib.clamp(x, lo, hi), _clamp_tensor_samples),
    OpSpec("clamp_tensor_min", lambda lib, x, lo, hi: lib.clamp(x, min=lo), _clamp_tensor_samples),
    OpSpec("clamp_tensor_max", lambda lib, x, lo, hi: lib.clamp(x, max=hi), _clamp_tensor_samples),
    OpSpec("lerp", lambda lib, a, b, w: lib.lerp(a, b, w), _lerp_samples),
    OpSpec("lerp_scalar", lambda lib, a, b, w: lib.lerp(a, b, 0.3), _lerp_samples),
]


def _addc_samples(gen_c=arr):
    def samples(rng, dtype):
        shapes = [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), (2, 1)), ((), (), ()), ((0, 3), (3,), ())]
        return [Sample((arr(rng, a, dtype), arr(rng, b, dtype), gen_c(rng, c, dtype)), name=f"{a},{b},{c}")
                for a, b, c in shapes]
    return samples


def _away_from_zero(rng, shape, dtype):
    x = arr(rng, shape, dtype, 0.3, 2.0)
    return np.asarray(x * np.where(rng.random(shape) < 0.5, -1, 1)).astype(dtype)


def _int_samples(rng, dtype):
    return [Sample((np.asarray(rng.integers(-30, 30, s)), np.asarray(rng.integers(-30, 30, t))), name=f"{s}x{t}")
            for s, t in [((3, 4), (3, 4)), ((2, 3), (3,)), ((), (4,))]]


SPECS += [
    OpSpec("addcmul", lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.5), _addc_samples()),
    OpSpec("addcmul_method", lambda lib, a, b, c: a.addcmul(b, c), _addc_samples()),
    OpSpec("addcdiv", lambda lib, a, b, c: lib.addcdiv(a, b, c, value=-2), _addc_samples(positive)),
    OpSpec("copysign", lambda lib, a, b: lib.copysign(a, b), _binary(_away_from_zero, _away_from_zero, right=(-1.5,))),
    OpSpec("float_power", lambda lib, a, b: lib.float_power(a, b), _binary(positive, arr, right=(2.5, 2))),
    OpSpec("logaddexp", lambda lib, a, b: lib.logaddexp(a, b), _binary(right=())),
    OpSpec("logaddexp2", lambda lib, a, b: lib.logaddexp2(a, b), _binary(right=())),
    OpSpec("xlogy", lambda lib, a, b: lib.xlogy(a, b), _binary(arr, positive, right=(2.5,), left=(1.5,))),
    OpSpec("xlogy_zero", lambda lib, b: lib.xlogy(lib.zeros_like(b), b), unary_samples(positive)),
    OpSpec("sinc", lambda lib, x: lib.sinc(x), unary_samples(_away_from_zero)),
    OpSpec("deg2rad", lambda lib, x: lib.deg2rad(x * 90), unary_samples()),
    OpSpec("rad2deg", lambda lib, x: x.rad2deg(), unary_samples()),
    OpSpec("sgn", lambda lib, x: lib.sgn(x) * x * x, unary_samples()),  # torch gives sgn alone a ZeroTensor grad
    OpSpec("positive", lambda lib, x: lib.positive(x) * 2, unary_samples()),
    OpSpec("ldexp", lambda lib, a, e: lib.ldexp(a, e),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), np.asarray(rng.integers(-3, 4, (4,)))), name="int exp")]),
    OpSpec("heaviside", lambda lib, a, b: lib.heaviside(lib.where(a > 0.5, a, 0 * a), b), _binary(right=()),
           differentiable=False),
    OpSpec("frexp", lambda lib, x: lib.frexp(x), unary_samples(), differentiable=False),
    OpSpec("nextafter", lambda lib, a, b: lib.nextafter(a, b), _binary(right=()), differentiable=False),
    OpSpec("gcd", lambda lib, a, b: lib.gcd(a, b), _int_samples, dtypes=(np.int64,), differentiable=False),
    OpSpec("lcm", lambda lib, a, b: lib.lcm(a, b), _int_samples, dtypes=(np.int64,), differentiable=False),
]
