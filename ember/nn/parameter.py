"""Parameter and Buffer: tensors that a Module registers when they are assigned as attributes."""
from __future__ import annotations

from .._tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning it to a Module attribute registers it.

    It shares memory with ``data`` and requires grad by default.

    Args:
        data: the initial values (an empty tensor when None).
        requires_grad: whether autograd records ops on it. Default: True.

    Example::

        >>> p = nn.Parameter(ember.zeros(2))
        >>> p.requires_grad
        True
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        super().__init__(Tensor([]) if data is None else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when it is assigned as an attribute.

    Args:
        data: the values (an empty tensor when None).
        persistent: whether it is part of the module's ``state_dict``. Default: True.
    """

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        super().__init__(Tensor([]) if data is None else data)
        self.persistent = persistent
