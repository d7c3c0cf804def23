"""Parameter and Buffer: tensors that a Module registers when they are assigned as attributes.

Also the uninitialized (lazy) forms, whose shape is only known at a lazy module's first forward.
"""
from __future__ import annotations

from .. import _dtype
from .._backend import xp
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


# The real array lives in Tensor's ``_data`` slot; the uninitialized classes shadow that slot with a
# property that refuses reads, so that every op (they all read ``_data``) fails as torch's do.
_DATA_SLOT = Tensor.__dict__["_data"]

_SHAPE_MSG = ("Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
              "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
              "`forward` to initialize the parameters before accessing their attributes.")


def _refuse(self):
    name = type(self).__name__
    raise ValueError(f"Attempted to use an uninitialized parameter. This error happens when you are using a "
                     f"`LazyModule` or explicitly manipulating `nn.parameter.{name}` objects. When using "
                     f"LazyModules Call `forward` with a dummy batch to initialize the parameters before calling "
                     f"torch functions")


def _store(self, value) -> None:
    _DATA_SLOT.__set__(self, value)


class UninitializedTensorMixin:
    """What UninitializedParameter and UninitializedBuffer share: no shape until ``materialize``."""

    cls_to_become: type = Tensor
    _data = property(_refuse, _store)

    def _placeholder(self):
        """The empty array that carries the dtype until materialization."""
        return _DATA_SLOT.__get__(self)

    def _setup(self, requires_grad: bool, dtype) -> None:

        dt = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
        _store(self, xp.empty((0,), dtype=dt.np))
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._output_nr = 0
        self._version = 0

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give it ``shape`` (uninitialized values) and turn it into ``cls_to_become``."""

        if device is not None and str(device) != "cpu":
            raise RuntimeError(f"ember: device {device} is not available in this build")
        dt = self._placeholder().dtype if dtype is None else _dtype.as_dtype(dtype).np
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        _store(self, xp.empty(shape, dtype=dt))
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_MSG)

    @property
    def dtype(self):

        return _dtype._FROM_NP[self._placeholder().dtype]

    @property
    def data(self) -> Tensor:
        return Tensor._make(self._placeholder())

    @data.setter
    def data(self, value) -> None:
        _store(self, value._placeholder() if is_lazy(value) else value._data if isinstance(value, Tensor)
               else xp.asarray(value))

    def size(self, dim: int | None = None):
        """``Size([0])``, as torch reports for an uninitialized tensor."""
        return Tensor._make(self._placeholder()).size(dim)

    def is_floating_point(self) -> bool:
        """Whether the dtype it will materialize with is a float dtype."""
        return _dtype.is_float(self._placeholder().dtype)

    def is_complex(self) -> bool:
        """Always False."""
        return False

    def requires_grad_(self, requires_grad: bool = True):
        """Refused, as in torch (set ``requires_grad`` at construction instead)."""
        _refuse(self)

    def numpy(self, *, force: bool = False):
        """Refused, as in torch."""
        _refuse(self)

    def share_memory_(self):
        """Refused, as in torch."""
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before calling `module.share_memory()`.")

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self).__new__(type(self))
        result._setup(self._requires_grad, self.dtype)
        for k, v in self.__dict__.items():
            result.__dict__[k] = v
        memo[id(self)] = result
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


def is_lazy(param) -> bool:
    """Whether ``param`` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (a lazy module's, until its first forward).

    Only its dtype, ``requires_grad`` and casts can be used; ``materialize(shape)`` turns it into a
    Parameter.

    Example::

        >>> p = nn.parameter.UninitializedParameter()
        >>> p.materialize((2, 3)); type(p).__name__, tuple(p.shape)
        ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        self._setup(requires_grad, dtype)

    def to(self, *args, **kwargs) -> Tensor:
        """An empty tensor cast as asked (torch's answer; a module cast stores its dtype here)."""
        return Tensor._make(self._placeholder()).to(*args, **kwargs)


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is not known yet; ``materialize(shape)`` turns it into a Tensor."""

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None, persistent: bool = True) -> None:
        self._setup(requires_grad, dtype)
        self.persistent = persistent

    def to(self, *args, **kwargs) -> "UninitializedBuffer":
        """Still uninitialized, with the cast's dtype (so a module cast keeps the buffer lazy)."""
        out = Tensor._make(self._placeholder()).to(*args, **kwargs)
        new = UninitializedBuffer(self._requires_grad, dtype=out.dtype, persistent=self.persistent)
        return new
