"""Specs of the special functions (ember/_ops/special.py, ember.special)."""
import numpy as np

from opinfo import OpSpec, Sample, arr, positive, unary_samples


def _in(low, high):
    return lambda rng, shape, dtype: arr(rng, shape, dtype, low, high)


def _neg_noninteger(rng, shape, dtype):
    x = arr(rng, shape, dtype, -4, 0)
    return np.asarray(np.floor(x) + 0.15 + 0.7 * rng.random(shape)).astype(dtype)


def _special(name):
    return lambda lib, x: getattr(lib.special, name)(x)


SPECS = [
    OpSpec("lgamma", lambda lib, x: lib.lgamma(x), unary_samples(_in(0.2, 12))),
    OpSpec("lgamma_negative", lambda lib, x: x.lgamma(), unary_samples(_neg_noninteger)),
    OpSpec("digamma", lambda lib, x: lib.digamma(x), unary_samples(_in(0.2, 12))),
    OpSpec("digamma_negative", lambda lib, x: lib.digamma(x), unary_samples(_neg_noninteger)),
    OpSpec("polygamma_0", lambda lib, x: lib.polygamma(0, x), unary_samples(_in(0.3, 12))),
    OpSpec("polygamma_1", lambda lib, x: lib.polygamma(1, x), unary_samples(_in(0.3, 12))),
    OpSpec("polygamma_3", lambda lib, x: x.polygamma(3), unary_samples(_in(0.5, 30))),
    OpSpec("polygamma_negative", lambda lib, x: lib.polygamma(2, x), unary_samples(_neg_noninteger),
           atol=1e-4, rtol=1e-5),
    OpSpec("mvlgamma", lambda lib, x: lib.mvlgamma(x, 3), unary_samples(_in(1.2, 6))),
    OpSpec("i0", lambda lib, x: lib.i0(x), unary_samples(_in(-8, 8)), rtol=2e-6),
    OpSpec("i0_large", lambda lib, x: lib.i0(x * 20), unary_samples(_in(1.2, 3)), rtol=2e-6),
    OpSpec("special_i1", _special("i1"), unary_samples(_in(-8, 8)), rtol=2e-6),
    OpSpec("special_i0e", _special("i0e"), unary_samples(_in(-40, 40))),
    OpSpec("special_i1e", _special("i1e"), unary_samples(_in(-40, 40))),
    OpSpec("special_gammaln", _special("gammaln"), unary_samples(positive)),
    OpSpec("special_psi", _special("psi"), unary_samples(positive)),
    OpSpec("special_multigammaln", lambda lib, x: lib.special.multigammaln(x, 2), unary_samples(_in(1, 4))),
    OpSpec("special_expit", _special("expit"), unary_samples()),
    OpSpec("special_entr", _special("entr"), unary_samples(positive)),
    OpSpec("special_ndtr", _special("ndtr"), unary_samples()),
    OpSpec("special_ndtri", _special("ndtri"), unary_samples(_in(0.05, 0.95)), rtol=1e-5, atol=1e-5),
    OpSpec("special_log_ndtr", _special("log_ndtr"), unary_samples()),
    OpSpec("special_sinc", _special("sinc"), unary_samples(_in(0.2, 3))),
    OpSpec("special_xlog1py", lambda lib, a, b: lib.special.xlog1py(a, b),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), positive(rng, s, dt)), name=f"{s}")
                            for s in [(3, 4), (4,), ()]]),
    OpSpec("special_softmax", lambda lib, x: lib.special.softmax(x, 1), unary_samples(shapes=[(3, 4), (2, 3, 4)])),
    OpSpec("special_log_softmax", lambda lib, x: lib.special.log_softmax(x, -1, dtype=lib.float64),
           unary_samples(shapes=[(3, 4), (2, 3, 4)])),
    OpSpec("special_logsumexp", lambda lib, x: lib.special.logsumexp(x, 0), unary_samples(shapes=[(3, 4), (5,)])),
]
