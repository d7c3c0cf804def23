"""Activation modules: thin wrappers that hold an activation's settings and call its functional form."""
from __future__ import annotations

from ..._tensor import Tensor
from .. import functional as F
from .module import Module


class _Inplace(Module):
    """An activation with only an ``inplace`` switch."""

    _fn = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _Plain(Module):
    """An activation with no settings."""

    _fn = None

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input)


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


class Tanh(_Plain):
    """``tanh(x)`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.tanh)


class Sigmoid(_Plain):
    """``1 / (1 + exp(-x))`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.sigmoid)


class LeakyReLU(Module):
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

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``x`` for positive ``x``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the saturation value for negative inputs. Default: 1.0.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula.

    Args:
        approximate: ``'none'`` or ``'tanh'``. Default: ``'none'``.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` for stability.

    Args:
        beta: sharpness. Default: 1.
        threshold: above ``beta * x > threshold`` the identity is used. Default: 20.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``x`` clamped to ``[min_val, max_val]``.

    Args:
        min_val: lower bound. Default: -1.
        max_val: upper bound. Default: 1.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class _SoftmaxBase(Module):
    """Softmax-like activations over one dim."""

    _fn = None

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("dim", None)

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


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
