"""The Tensor: an array, plus what autograd needs to know about where it came from.

Only the tensor's own state lives here. Every op (``x + y``, ``x.sum()``,
``x.reshape(...)``) is defined once in ``ember/_ops`` and attached to this class
by the op registry.
"""
from __future__ import annotations

import weakref
import warnings

import numpy as np

from . import _complex32, _dtype
from ._backend import ndarray, xp
from .autograd.function import AccumulateGrad
from .autograd import function as _function
from .autograd import engine as _engine
from .autograd.grad_mode import state as _grad_state


class Tensor:
    """A multi-dimensional array that can record the ops applied to it for automatic differentiation."""

    # every tensor sets these five; the rarer ones below are class defaults until a tensor sets its own.
    # _vc is the version counter, a one-element list shared by a tensor, its views and its detach()es:
    # every in-place write bumps it, and backward compares it with the versions saved tensors had
    __slots__ = ("_data", "_requires_grad", "_grad_fn", "_output_nr", "_vc", "__weakref__", "__dict__")
    _grad = None
    _accum_ref = None              # weak reference to a leaf's AccumulateGrad node
    _hooks = None                  # a leaf's tensor hooks
    _post_accumulate_hooks = None
    _retains_grad = False
    _base = None                   # the tensor whose memory this one views (set by Op.apply), as torch's ._base
    _view_version = None           # a view: the version its history was derived at (see refresh_view)
    _view_no_grad = False          # a view made under no_grad of a base that requires grad
    _multi_view = None             # (op name, output number) of one of several views an op returned (unbind)
    _tangent = None                # its forward gradient, inside a dual level (ember.autograd.forward_ad)
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected operators

    def __init__(self, *data, device=None, **kwargs) -> None:
        if kwargs:  # sizes or data, and a device: torch.Tensor takes nothing else (no dtype, no requires_grad)
            _bad_arguments(data, kwargs)
        if len(data) == 1 and isinstance(data[0], Tensor) and type(self) is Tensor:
            # torch.Tensor(t) is t.alias(): a view sharing t's memory, version counter and history
            alias = data[0].view_as(data[0])
            for name in Tensor.__slots__[:5]:
                setattr(self, name, getattr(alias, name))
            self.__dict__.update(alias.__dict__)
            return
        data = _legacy_data(data)
        default = _dtype.get_default_dtype().np
        if type(data) is tuple:  # legacy torch.Tensor(2, 3) / Tensor(size): uninitialised, of the default dtype
            data = xp.empty(data, dtype=default)
        # (a Parameter or Buffer keeps its tensor's dtype; data is of the default dtype, an ndarray of it shared)
        arr = data._data if isinstance(data, Tensor) else xp.asarray(data).astype(default, copy=False)
        _init(self, _checked(arr), False, None, 0)
        if _grad_state.inference or isinstance(data, Tensor) and data._vc is _function.NO_VERSION:
            self._vc = _function.NO_VERSION
        elif isinstance(data, Tensor):  # Parameter(t): t's memory and version counter
            self._vc = data._vc

    @staticmethod
    def _make(arr, requires_grad: bool = False, grad_fn=None, output_nr: int = 0) -> "Tensor":
        """Wrap an array without checks or copies (the ops' fast path)."""
        t = _new(Tensor)
        t._data = arr
        t._requires_grad = requires_grad
        t._grad_fn = grad_fn
        t._output_nr = output_nr
        t._vc = [0]
        return t

    # ---------------------------------------------------------------- metadata
    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        """Number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def device(self) -> "device":
        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def is_floating_point_(self) -> bool:
        return self._data.dtype.kind in "fV"

    def is_floating_point(self) -> bool:
        """True for float16/bfloat16/float32/float64 tensors (bfloat16 is NumPy kind "V", complex32 a record)."""
        kind = self._data.dtype.kind
        return kind == "f" or kind == "V" and not self._data.dtype.names

    def is_complex(self) -> bool:
        """True for complex32/complex64/complex128 tensors."""
        kind = self._data.dtype.kind
        return kind == "c" or kind == "V" and self._data.dtype.names is not None

    def is_contiguous(self, memory_format=None) -> bool:
        """True when the elements are laid out in row-major order."""
        return self._data.flags.c_contiguous

    def stride(self, dim: int | None = None):
        """Strides in elements, as torch reports them."""
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim, "stride")]

    def data_ptr(self) -> int:
        """Address of the first element."""
        return self._data.__array_interface__["data"][0]

    def type(self, dtype=None):
        """The legacy type name (``torch.FloatTensor``), or a cast when given a dtype."""
        if dtype is None:
            return _LEGACY.get(self.dtype.name, "torch.Tensor")
        if isinstance(dtype, str):  # x.type('torch.LongTensor'): .to would read the name as a device
            if dtype.startswith("torch.cuda."):
                return self.to("cuda")
            named = [d for d in _dtype.ALL if _LEGACY.get(d.name) == dtype]
            if not named:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = named[0]
        return self.to(dtype)

    def get_device(self) -> int:
        return -1

    # ---------------------------------------------------------------- autograd state
    @property
    def grad_fn(self):
        """The node that made this tensor (None for a leaf)."""
        if self._base is not None:
            _function.refresh_view(self)
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node) -> None:
        self._grad_fn = node

    def _get_version(self) -> int:
        if self._vc is _function.NO_VERSION:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vc[0]

    def _set_version(self, value: int) -> None:
        try:
            self._vc[0] = value
        except AttributeError:  # a tensor set up without _init (an uninitialized parameter)
            self._vc = [value]

    _version = property(_get_version, _set_version, doc="How many in-place writes this tensor's memory has had.")

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
                "Tensor by mistake, make sure you access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor) and not getattr(value, "is_sparse", False):  # (a sparse COO one may)
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            _engine.check_grad(self, value)
        self._grad = value

    @property
    def data(self) -> "Tensor":
        """The same values, detached from the graph; shares memory but not the version counter, as torch's."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether autograd records ops on this tensor (leaves only)."""
        self._set_requires_grad(requires_grad)
        return self

    def is_inference(self) -> bool:
        """True for a tensor made in ``inference_mode``."""
        return self._vc is _function.NO_VERSION

    def _set_requires_grad(self, value: bool) -> None:
        if value and self._vc is _function.NO_VERSION and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        if value and self._data.dtype.kind not in "fcV":
            raise RuntimeError("only Tensors of floating point dtype can require gradients "
                               f"(got {self.dtype})")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self._requires_grad = bool(value) or self._view_no_grad  # such a view keeps its base's, as torch's

    def _get_requires_grad(self) -> bool:
        if self._base is not None and not self._view_no_grad:  # (torch answers, where it refuses grad_fn)
            _function.refresh_view(self)
        return self._requires_grad

    requires_grad = property(_get_requires_grad, _set_requires_grad)

    def _accumulator(self) -> AccumulateGrad:
        # one AccumulateGrad per leaf, held weakly here (the node holds the leaf)
        if self._view_no_grad:  # none for a view made under no_grad, as torch's: its gradient goes nowhere
            return None
        ref = self._accum_ref
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accum_ref = weakref.ref(node)
        return node

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory and version counter, cut from the graph."""
        t = Tensor._make(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph, making it a leaf."""
        if self._base is not None:  # its base's history would still reach it: torch refuses
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        self._view_version = None
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        node = self.grad_fn
        if node._retain is None:
            node._retain = {}
            node._fast = False
        node._retain[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = {}
        return _function._Handle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a leaf's ``.grad`` has been updated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        return _function._Handle(self._post_accumulate_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor with respect to the graph leaves into their ``.grad``."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ---------------------------------------------------------------- conversion
    def numpy(self, *, force: bool = False) -> ndarray:
        """The underlying array (shared memory); refused while the tensor requires grad, as torch does."""
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if self._data.dtype.names:  # as torch: NumPy has no complex32 (view_as_real(t).numpy() gives its parts)
            raise TypeError("Got unsupported ScalarType ComplexHalf")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        v = self._data.reshape(()).item()
        return complex(*v) if type(v) is tuple else v  # complex32's record gives (real, imag)

    def tolist(self):
        """The values as (nested) Python lists."""
        return (_complex32.widen(self._data) if self._data.dtype.names else self._data).tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()))

    def __complex__(self) -> complex:
        return complex(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.")
        t = type(self).__new__(type(self))
        _init(t, self._data.copy(), False, None, 0)
        t._requires_grad = self._requires_grad
        memo[id(self)] = t
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        import copy
        for k, v in getattr(self, "__dict__", {}).items():
            # the user's attributes, copied deep as torch's; ember's own (its AccumulateGrad, hooks, view links)
            # belong to the original: shared, backward through the copy would accumulate into the original
            if not hasattr(Tensor, k):
                t.__dict__[k] = copy.deepcopy(v, memo)
        return t

    def __reduce_ex__(self, proto):
        # as torch: the values, dtype, requires_grad and Python attributes travel; the graph and .grad do not
        attrs = {k: v for k, v in getattr(self, "__dict__", {}).items() if not k.startswith("_")}  # not ember's own
        return (_unpickle, (type(self), self._data, self._requires_grad, attrs))

    def __repr__(self) -> str:
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self._data.item().__format__(spec)
        return repr(self)


_new = object.__new__
_function.Tensor = Tensor


def _init(t, arr, requires_grad, grad_fn, nr) -> None:
    t._data = arr
    t._requires_grad = requires_grad
    t._grad_fn = grad_fn
    t._output_nr = nr
    t._vc = [0]


def _is_size(x) -> bool:
    # torch reads a Python or NumPy integer, a 0-d integer array or a 0-d integer tensor as a size
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (ndarray, Tensor)):
        return x.ndim == 0 and x.dtype.is_floating_point is False and not x.dtype.is_complex \
            if isinstance(x, Tensor) else x.ndim == 0 and x.dtype.kind in "iu"
    return isinstance(x, (int, np.integer))


def _bad_arguments(args: tuple, kwargs: dict):
    got = ", ".join([type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()])
    raise TypeError(f"new() received an invalid combination of arguments - got ({got}), but expected one of: "
                    "(*, device), (Tensor other), (tuple of ints size, *, device), (object data, *, device)")


def _legacy_data(args: tuple):
    """torch.Tensor's arguments: a shape tuple (sizes, a Size, nothing) or the data, refused as torch refuses."""
    if len(args) == 1 and isinstance(args[0], Size):
        return tuple(args[0])
    if len(args) != 1 or _is_size(args[0]):
        if not all(_is_size(a) for a in args):
            _bad_arguments(args, {})
        shape = tuple(int(a) for a in args) or (0,)
        if min(shape) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
        return shape
    data = args[0]
    if isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if isinstance(data, (Tensor, ndarray)):
        return data
    if not isinstance(data, (list, tuple, range)):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__module__.replace('builtins', '')}"
                        f"{'.' if type(data).__module__ != 'builtins' else ''}{type(data).__name__})")
    return _scalars(data, 0, _legacy_sizes(data))


def _legacy_sizes(data) -> list:
    """The shape torch infers from nested sequences: along the first elements (a 0-d array there has no len())."""
    sizes, seq = [], data
    while isinstance(seq, (list, tuple, range, ndarray)):
        if isinstance(seq, ndarray):
            if seq.ndim == 0:
                raise TypeError("len() of unsized object")
            return sizes + list(seq.shape)
        sizes.append(len(seq))
        if not len(seq):
            break
        seq = seq[0]
    return sizes


def _scalars(seq, dim: int, sizes: list):
    """``seq`` with every element checked against ``sizes`` and each one-element tensor made a number, as torch's."""
    if dim == len(sizes):
        if isinstance(seq, Tensor):
            if seq.numel() != 1:
                raise ValueError("only one element tensors can be converted to Python scalars")
            return seq.item()
        if isinstance(seq, complex):
            raise TypeError("must be real number, not complex")
        return seq
    if isinstance(seq, ndarray):
        return seq
    if not isinstance(seq, (list, tuple, range)):
        raise TypeError("not a sequence")
    if len(seq) != sizes[dim]:
        raise ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} (got {len(seq)})")
    return [_scalars(s, dim + 1, sizes) for s in seq]


def _checked(arr):
    if arr.dtype not in _dtype._FROM_NP:
        _dtype.from_np(arr.dtype)  # raises a TypeError naming the dtype
    return arr


def _wrap_dim(dim: int, ndim: int, op: str = "") -> int:
    """A dim in [-ndim, ndim) made non-negative, or torch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``ember.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        """Product of the sizes."""
        n = 1
        for s in self:
            n *= s
        return n


class device:
    """Where a tensor lives; only 'cpu' in this build."""

    def __init__(self, type: str = "cpu", index=None) -> None:
        if isinstance(type, device):
            type = type.type
        self.type = str(type).split(":")[0]
        self.index = index

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type


_LEGACY = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
           "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
           "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bool": "torch.BoolTensor",
           "bfloat16": "torch.BFloat16Tensor", "complex32": "torch.ComplexHalfTensor", "complex64": "torch.ComplexFloatTensor", "complex128": "torch.ComplexDoubleTensor"}


def _unpickle(cls, arr, requires_grad: bool, attrs: dict) -> Tensor:
    """A tensor from pickle.loads (see Tensor.__reduce_ex__)."""
    t = cls.__new__(cls)
    _init(t, arr, False, None, 0)
    t._requires_grad = requires_grad
    t.__dict__.update(attrs)
    return t
