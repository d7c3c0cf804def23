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

        >>> nn.LeakyReLU(0.5)(ember.tensor([-1.0, 2.0])).tolist()
        [-0.5, 2.0]
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


# ----------------------------------------------------------------------------- more activations
class CELU(_Activation):
    """``x`` for positive ``x``, ``alpha * (exp(x / alpha) - 1)`` otherwise.

    Args:
        alpha: the saturation value for negative inputs. Default: 1.0.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.celu)
    _options = ("alpha", "inplace")

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace


class Hardsigmoid(_Inplace):
    """``clamp(x / 6 + 1/2, 0, 1)`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self) -> str:
        return ""  # torch shows no settings here


class Hardswish(_Inplace):
    """``x * hardsigmoid(x)`` elementwise.

    Args:
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class LogSigmoid(_Activation):
    """``log(sigmoid(x))`` elementwise, computed without overflow.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.logsigmoid)


class Softsign(_Activation):
    """``x / (1 + |x|)`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.softsign)


class Tanhshrink(_Activation):
    """``x - tanh(x)`` elementwise.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.tanhshrink)


class Threshold(_Activation):
    """``x`` where ``x > threshold``, else ``value``.

    Args:
        threshold: the cut-off.
        value: what replaces the entries at or below it.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.

    Example::

        >>> nn.Threshold(0.1, 20)(ember.tensor([0.0, 1.0])).tolist()
        [20.0, 1.0]
    """

    _fn = staticmethod(F.threshold)
    _options = ("threshold", "value", "inplace")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace


class _Shrink(_Activation):
    _options = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """``x`` where ``|x| > lambd``, else 0.

    Args:
        lambd: the half-width of the zeroed band. Default: 0.5.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between.

    Args:
        lambd: the half-width of the zeroed band, at least 0. Default: 0.5.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _fn = staticmethod(F.softshrink)


class GLU(_Activation):
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the halves of the input along ``dim``.

    Args:
        dim: the dim to split (its size must be even). Default: -1.

    Shape:
        - Input: ``(*1, N, *2)``; Output: ``(*1, N / 2, *2)``.
    """

    _fn = staticmethod(F.glu)
    _options = ("dim",)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim


class RReLU(_Activation):
    """Randomized leaky ReLU: in training each negative entry gets a slope drawn from U(lower, upper); in
    evaluation the slope is ``(lower + upper) / 2``.

    Args:
        lower: lower bound of the slope. Default: 1/8.
        upper: upper bound of the slope. Default: 1/3.
        inplace: overwrite the input. Default: False.

    Shape:
        - Input: ``(*)``; Output: same shape.
    """

    _options = ("lower", "upper", "inplace")

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class PReLU(Module):
    """Leaky ReLU with a learned slope: ``x`` for positive ``x``, ``weight * x`` otherwise.

    Args:
        num_parameters: 1 (one slope shared) or the number of input channels (dim 1). Default: 1.
        init: the initial slope. Default: 0.25.

    Attributes:
        weight: the slopes, shape ``(num_parameters,)``.

    Shape:
        - Input: ``(*)`` (channels at dim 1 when ``num_parameters > 1``); Output: same shape.

    Example::

        >>> nn.PReLU()(ember.tensor([-2.0, 2.0])).tolist()
        [-0.5, 2.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        from ..._factories import empty
        from ..parameter import Parameter
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every slope back to ``init``."""
        from .. import init as init_
        init_.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmax2d(Module):
    """Softmax over the channels (dim -3) at every spatial position.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``; Output: same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)


from .attention import MultiheadAttention  # noqa: E402,F401  (torch's module path for it)
