"""``torch.special``: the special functions under their SciPy-style names."""
from __future__ import annotations

from ._ops import FUNCTIONS as _F
from ._ops.special import entr, erfcx, i0e, i1, i1e, ndtr, ndtri, xlog1py, zeta  # noqa: F401
from ._ops.special_bessel import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,  # noqa: F401
                                  modified_bessel_i0, modified_bessel_i1, modified_bessel_k0, modified_bessel_k1,
                                  scaled_modified_bessel_k0, scaled_modified_bessel_k1, spherical_bessel_j0)
from ._ops.special_poly import (chebyshev_polynomial_t, chebyshev_polynomial_u, chebyshev_polynomial_v,  # noqa: F401
                                chebyshev_polynomial_w, hermite_polynomial_h, hermite_polynomial_he,
                                laguerre_polynomial_l, legendre_polynomial_p, shifted_chebyshev_polynomial_t,
                                shifted_chebyshev_polynomial_u, shifted_chebyshev_polynomial_v,
                                shifted_chebyshev_polynomial_w)
from ._tensor import Tensor

erf, erfc, erfinv = _F["erf"], _F["erfc"], _F["erfinv"]
expit, logit = _F["sigmoid"], _F["logit"]
exp2, expm1, log1p, round = _F["exp2"], _F["expm1"], _F["log1p"], _F["round"]
gammaln, digamma, psi, polygamma, multigammaln = _F["lgamma"], _F["digamma"], _F["digamma"], _F["polygamma"], \
    _F["mvlgamma"]
i0, sinc, xlogy = _F["i0"], _F["sinc"], _F["xlogy"]
gammainc, gammaincc = _F["igamma"], _F["igammac"]
logsumexp = _F["logsumexp"]


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    return _F["softmax"](input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably."""
    return _F["log_softmax"](input, dim, dtype=dtype)


def log_ndtr(input: Tensor) -> Tensor:
    """``log(ndtr(x))``."""
    return ndtr(input).log()


from ._ops.out import publish as _publish  # noqa: E402

# torch's out= on each (torch.special's softmax and log_softmax take none)
_publish(globals(), [_n for _n in dir() if not _n.startswith("_") and _n not in ("softmax", "log_softmax")])
