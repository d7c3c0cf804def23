"""Activation modules: thin wrappers that hold an activation's settings and call its functional form."""
from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module


class _Activation(Module):
    """An activation that keeps its settings as attributes and passes them to ``_fn`` by keyword."""

    _fn = None
    _options: tuple[str, ...] = ()  # the attribute names, in extra_repr's order

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, **{name: getattr(self, name) for name in self._options})

    def extra_repr(self) -> str:
        # as torch: strings quoted, ``inplace`` shown only when set
        shown = [(name, getattr(self, name)) for name in self._options if name != "inplace" or self.inplace]
        return ", ".join(f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}" for name, value in shown)


class _Inplace(_Activation):
    """An activation with only an ``inplace`` switch."""

    _options = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


class ReLU(_Inplace):
    """``max(0, x)`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.

    Example::

        >>> nn.ReLU()(ember.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    _fn = staticmethod(F.relu)


class ReLU6(_Inplace):
    """``min(max(0, x), 6)`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.relu6)


class SELU(_Inplace):
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with SELU's fixed constants.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    """``x * sigmoid(x)`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """``x * tanh(softplus(x))`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.mish)


class Tanh(_Activation):
    """``tanh(x)`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.tanh)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.sigmoid)


class LeakyReLU(_Activation):
    """``x`` for positive ``x``, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.

    Example::

        >>> nn.LeakyReLU(0.1)(ember.tensor([-1.0, 2.0])).tolist()
        [-0.1, 2.0]
    """

    _fn = staticmethod(F.leaky_relu)
    _options = ("negative_slope", "inplace")

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace


class ELU(_Activation):
    """``x`` for positive ``x``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the saturation value for negative inputs. Default: 1.0.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.elu)
    _options = ("alpha", "inplace")

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace


class GELU(_Activation):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula.

    Args:
        approximate: ``'none'`` or ``'tanh'``. Default: ``'none'``.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.gelu)
    _options = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate


class Softplus(_Activation):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` for stability.

    Args:
        beta: sharpness. Default: 1.
        threshold: above ``beta * x > threshold`` the identity is used. Default: 20.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.softplus)
    _options = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold


class Hardtanh(_Activation):
    """``x`` clamped to ``[min_val, max_val]``.

    Args:
        min_val: lower bound. Default: -1.
        max_val: upper bound. Default: 1.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.hardtanh)
    _options = ("min_val", "max_val", "inplace")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace


class _SoftmaxBase(_Activation):
    """Softmax-like activations over one dim."""

    _options = ("dim",)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("dim", None)

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.dim, _stacklevel=5)


class Softmax(_SoftmaxBase):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim`` (outputs sum to 1).

    Args:
        dim: the dim to normalise over.

    Shape:
        - Input: ``(*)``; Output: same shape.

    Example::

        >>> nn.Softmax(dim=1)(ember.zeros(1, 2)).tolist()
        [[0.5, 0.5]]
    """

    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    """``log(softmax(x))`` along ``dim``, computed stably.

    Args:
        dim: the dim to normalise over.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.log_softmax)


class Softmin(_SoftmaxBase):
    """``softmax(-x)`` along ``dim``.

    Args:
        dim: the dim to normalise over.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.softmin)
