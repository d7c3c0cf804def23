"""``ember.masked``: reductions and normalizations that skip masked-out elements, as ``torch.masked``.

Each takes ``mask=`` (a bool tensor broadcastable to the input; None keeps every element). Masked-out
elements are replaced by the operation's identity (0 for sum, 1 for prod, -inf for amax, ...) and the
plain ember op runs on the result, so autograd comes for free and a fully masked-out slice gives what
torch gives: the identity, or NaN where there is none (mean, median, var, softmax).
"""
from ._ops import (amax, amin, argmax, argmin, cumprod, cumsum, log_softmax, logaddexp, logsumexp, mean, median,
                   norm, normalize, prod, softmax, softmin, std, sum, var)

__all__ = ["amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp", "logsumexp", "mean",
           "median", "norm", "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]
