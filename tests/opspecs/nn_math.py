"""Specs of the nn math ops (ember/_ops/nn_math.py, exported by ember.nn.functional)."""
import numpy as np

from opinfo import OpSpec, Sample, arr, unary_samples


def F(lib):
    return lib.nn.functional


def away_from(*points, shapes=((), (7,), (3, 4), (2, 3, 2))):
    """Values in [-4, 4] kept 0.05 away from kinks, so finite differences see one piece."""
    def samples(rng, dtype):
        out = []
        for s in shapes:
            x = rng.uniform(-4, 4, size=s)
            for p in points:
                x = np.where(np.abs(x - p) < 0.05, p + 0.1, x)
            out.append(Sample((x.astype(dtype),), name=str(s)))
        return out
    return samples


def wide(rng, dtype):
    """Large magnitudes too, where naive formulas overflow."""
    return [Sample((np.array([-60.0, -25.0, -3.0, -0.5, 0.3, 2.0, 19.0, 30.0, 80.0]).astype(dtype),), name="wide"),
            Sample((arr(rng, (3, 4), dtype, -5, 5),), name="(3, 4)")]


def softmax_samples(rng, dtype):
    return [Sample((arr(rng, (3, 5), dtype, -3, 3),), {"dim": 1}, "dim1"),
            Sample((arr(rng, (2, 3, 4), dtype, -3, 3),), {"dim": 0}, "dim0"),
            Sample((arr(rng, (2, 3, 4), dtype, -3, 3),), {"dim": -1}, "dim-1"),
            Sample((np.array([1000.0, 1001.0, 999.0]).astype(dtype),), {"dim": 0}, "large"),
            Sample((arr(rng, (), dtype),), {"dim": 0}, "0d"),
            Sample((arr(rng, (0, 3), dtype),), {"dim": 1}, "empty")]


def pad_samples(rng, dtype):
    cases = [((2, 3), (1, 2)), ((2, 3, 4), (1, 0, 2, 1)), ((2, 3), (-1, 2)), ((2, 4), (-1, -1, 1, 0)),
             ((1, 2, 3, 2), (1, 1, 0, 1, 1, 0))]
    return [Sample((arr(rng, s, dtype),), {"pad": p}, f"{s} {p}") for s, p in cases]


def mode_pad_samples(mode):
    cases = [((2, 4), (2, 1)), ((1, 2, 4), (3, 0)), ((1, 3, 4), (1, 2, 2, 1)), ((1, 1, 3, 3, 3), (1, 1, 2, 0, 0, 1)),
             ((2, 5), (-1, 2))]
    if mode == "circular":
        cases.append(((1, 3), (3, 2)))

    def samples(rng, dtype):
        return [Sample((arr(rng, s, dtype),), {"pad": p, "mode": mode}, f"{s} {p}") for s, p in cases]
    return samples


SPECS = [
    OpSpec("softmax", lambda lib, x, dim: lib.softmax(x, dim), softmax_samples),
    OpSpec("log_softmax", lambda lib, x, dim: F(lib).log_softmax(x, dim), softmax_samples),
    OpSpec("softmax_method_dtype", lambda lib, x, dim: x.softmax(dim, dtype=lib.float64),
           lambda rng, dt: softmax_samples(rng, dt)[:2]),
    OpSpec("log_softmax_method", lambda lib, x, dim: x.log_softmax(dim), lambda rng, dt: softmax_samples(rng, dt)[:3]),
    OpSpec("softmin", lambda lib, x, dim: F(lib).softmin(x, dim), lambda rng, dt: softmax_samples(rng, dt)[:2]),
    OpSpec("F.relu", lambda lib, x: F(lib).relu(x), away_from(0)),
    OpSpec("relu6", lambda lib, x: F(lib).relu6(x * 2), away_from(0, 3)),
    OpSpec("leaky_relu", lambda lib, x: F(lib).leaky_relu(x, 0.2), away_from(0)),
    OpSpec("elu", lambda lib, x: F(lib).elu(x, alpha=1.5), away_from(0)),
    OpSpec("elu_wide", lambda lib, x: F(lib).elu(x), wide),
    OpSpec("selu", lambda lib, x: F(lib).selu(x), away_from(0)),
    OpSpec("celu", lambda lib, x: F(lib).celu(x, alpha=0.7), away_from(0)),
    OpSpec("gelu", lambda lib, x: F(lib).gelu(x), unary_samples()),
    OpSpec("gelu_tanh", lambda lib, x: F(lib).gelu(x, approximate="tanh"), unary_samples()),
    OpSpec("silu", lambda lib, x: F(lib).silu(x), wide),
    OpSpec("sigmoid", lambda lib, x: F(lib).sigmoid(x), wide),
    OpSpec("softplus", lambda lib, x: F(lib).softplus(x), wide),
    OpSpec("softplus_beta", lambda lib, x: F(lib).softplus(x, beta=2.0, threshold=3.0), away_from(1.5)),
    OpSpec("mish", lambda lib, x: F(lib).mish(x), wide),
    OpSpec("hardtanh", lambda lib, x: F(lib).hardtanh(x, -2.0, 1.5), away_from(-2, 1.5)),
    OpSpec("hardsigmoid", lambda lib, x: F(lib).hardsigmoid(x), away_from(-3, 3), double_backward=False,
           note="torch has no double backward for hardsigmoid"),
    OpSpec("hardswish", lambda lib, x: F(lib).hardswish(x), away_from(-3, 3)),
    OpSpec("logsigmoid", lambda lib, x: F(lib).logsigmoid(x), wide),
    OpSpec("softsign", lambda lib, x: F(lib).softsign(x), away_from(0)),
    OpSpec("tanhshrink", lambda lib, x: F(lib).tanhshrink(x), unary_samples()),
    OpSpec("threshold", lambda lib, x: F(lib).threshold(x, 0.5, -1.0), away_from(0.5)),
    OpSpec("pad_constant", lambda lib, x, pad: F(lib).pad(x, pad, value=0.5), pad_samples),
    OpSpec("pad_reflect", lambda lib, x, pad, mode: F(lib).pad(x, pad, mode=mode), mode_pad_samples("reflect")),
    OpSpec("pad_replicate", lambda lib, x, pad, mode: F(lib).pad(x, pad, mode=mode), mode_pad_samples("replicate")),
    OpSpec("pad_circular", lambda lib, x, pad, mode: F(lib).pad(x, pad, mode=mode), mode_pad_samples("circular")),
    OpSpec("F.linear", lambda lib, x, w, *b: F(lib).linear(x, w, *b), lambda rng, dt: [
        Sample((arr(rng, (3, 4), dt), arr(rng, (5, 4), dt), arr(rng, (5,), dt)), name="2-D with bias"),
        Sample((arr(rng, (4,), dt), arr(rng, (2, 4), dt)), name="1-D input, no bias"),
        Sample((arr(rng, (2, 3, 4), dt), arr(rng, (2, 4), dt), arr(rng, (2,), dt)), name="batched"),
        Sample((arr(rng, (0, 4), dt), arr(rng, (3, 4), dt), arr(rng, (3,), dt)), name="empty batch")]),
]
