"""``torch.special``: the special functions under their SciPy-style names."""
from __future__ import annotations

from ._ops import FUNCTIONS as _F
from ._ops.special import entr, i0e, i1, i1e, ndtr, ndtri, xlog1py  # noqa: F401
from ._tensor import Tensor

erf, erfc, erfinv = _F["erf"], _F["erfc"], _F["erfinv"]
expit, logit = _F["sigmoid"], _F["logit"]
exp2, expm1, log1p, round = _F["exp2"], _F["expm1"], _F["log1p"], _F["round"]
gammaln, digamma, psi, polygamma, multigammaln = _F["lgamma"], _F["digamma"], _F["digamma"], _F["polygamma"], \
    _F["mvlgamma"]
i0, sinc, xlogy = _F["i0"], _F["sinc"], _F["xlogy"]
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
