"""NumPy's ``axis=`` for ``dim=``: torch's argument parser takes either name in every op that has a ``dim``."""
from __future__ import annotations

import functools
import inspect

from .._tensor import Tensor

# ops whose dim torch also takes as axis= (reductions, scans, softmax, squeezes, joins, selections)
NAMES = ("argmax", "argmin", "any", "all", "sum", "mean", "prod", "std", "var", "amax", "amin", "max", "min",
         "aminmax", "nansum", "nanmean", "median", "nanmedian", "mode", "count_nonzero", "logsumexp", "cumsum",
         "cumprod", "cummax", "cummin", "logcumsumexp", "softmax", "log_softmax", "sort", "argsort", "kthvalue",
         "squeeze", "unsqueeze", "unbind", "diff", "index_select", "gather", "narrow", "select", "cat", "concat",
         "concatenate", "stack")


def accept_axis(fn):
    """``fn``, also taking ``axis=`` for its ``dim=`` (an extra call only for these ops, none for others)."""
    @functools.wraps(fn)
    def with_axis(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        return fn(*args, **kwargs)
    try:  # its signature shows the alias (keyword-only, before any **kwargs)
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return with_axis
    params = list(sig.parameters.values())
    at = len(params) - (1 if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD else 0)
    alias = inspect.Parameter("axis", inspect.Parameter.KEYWORD_ONLY, default=None)
    with_axis.__signature__ = sig.replace(parameters=params[:at] + [alias] + params[at:])
    return with_axis


def install(namespace: dict) -> None:
    """Give the ops of NAMES, as ``ember.<name>`` (in ``namespace``) and ``Tensor.<name>``, the ``axis=`` alias."""
    for name in NAMES:
        if name in namespace:
            namespace[name] = accept_axis(namespace[name])
        method = Tensor.__dict__.get(name)
        if method is not None:
            setattr(Tensor, name, accept_axis(method))
