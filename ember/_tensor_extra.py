"""The rarer Tensor methods torch has: storages, ``set_``, ``dim_order``, small aliases, and the removed methods
that in torch only raise. Each is written from ember ops or the tensor's array; nothing here records a new op.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._backend import xp
from ._tensor import Tensor
from . import _dtype
from .autograd.function import _root  # the array that owns a tensor's memory: its storage
from .autograd.grad_mode import state as _grad_state
from .autograd.engine import _CPP_NAMES, grad_dtype


# ---------------------------------------------------------------------------------------------- storages

class UntypedStorage:
    """The bytes under a tensor (torch.UntypedStorage): its address, size, and byte values."""

    def __init__(self, root: np.ndarray) -> None:
        self._array = root

    def _bytes(self) -> np.ndarray:
        return self._array.reshape(-1).view(np.uint8)

    def data_ptr(self) -> int:
        """Address of the first byte."""
        return self._array.__array_interface__["data"][0]

    def nbytes(self) -> int:
        """Size in bytes."""
        return self._array.nbytes

    size = nbytes
    __len__ = nbytes

    def element_size(self) -> int:
        """1: an untyped storage counts bytes."""
        return 1

    @property
    def device(self):
        """The CPU."""
        from ._tensor import device
        return device("cpu")

    def __getitem__(self, idx):
        return self._bytes()[idx].tolist()

    def tolist(self) -> list:
        """The bytes as ints."""
        return self._bytes().tolist()

    def untyped(self) -> "UntypedStorage":
        """This storage."""
        return self

    def cpu(self) -> "UntypedStorage":
        """This storage (ember only has the CPU)."""
        return self

    def is_shared(self) -> bool:
        """False: no shared-memory segments in ember."""
        return False

    @property
    def is_cuda(self) -> bool:
        return False


class TypedStorage:
    """A storage seen as elements of one dtype (torch.TypedStorage, what ``Tensor.storage()`` returns)."""

    def __init__(self, untyped: UntypedStorage, dtype: _dtype.dtype) -> None:
        self._untyped_storage, self.dtype = untyped, dtype

    def _elements(self) -> np.ndarray:
        return self._untyped_storage._bytes().view(self.dtype.np)

    def data_ptr(self) -> int:
        """Address of the first element."""
        return self._untyped_storage.data_ptr()

    def nbytes(self) -> int:
        """Size in bytes."""
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def size(self) -> int:
        """Number of elements."""
        return self.nbytes() // self.element_size()

    __len__ = size

    def __getitem__(self, idx):
        n = self.size()
        if isinstance(idx, int) and not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return self._elements()[idx].tolist()

    def tolist(self) -> list:
        """The elements as Python numbers."""
        return self._elements().tolist()

    def untyped(self) -> UntypedStorage:
        """The bytes underneath."""
        return self._untyped_storage

    def type(self) -> str:
        """torch's legacy storage name (``torch.FloatStorage``)."""
        return Tensor._make(np.empty(0, self.dtype.np)).type().replace("Tensor", "Storage")

    device = UntypedStorage.device
    cpu = UntypedStorage.cpu
    is_shared = UntypedStorage.is_shared
    is_cuda = UntypedStorage.is_cuda


def untyped_storage(self) -> UntypedStorage:
    """The memory this tensor views, as bytes (shared by its views: compare ``data_ptr()``s)."""
    return UntypedStorage(_root(self._data))


def storage(self) -> TypedStorage:
    """The memory this tensor views, as elements of its dtype (torch's TypedStorage)."""
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the "
                  "only storage class. Use tensor.untyped_storage() instead of tensor.storage()", UserWarning,
                  stacklevel=2)
    return TypedStorage(untyped_storage(self), self.dtype)


def set_(self, source=None, storage_offset: int = 0, size=None, stride=None) -> Tensor:
    """Make ``self`` view ``source``'s memory (a tensor's, or a storage's with offset/size/stride); no source:
    empty."""
    if self._requires_grad and self.grad_fn is None and _grad_state.enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if source is None:
        arr = xp.empty((0,), self._data.dtype)
    elif isinstance(source, Tensor):
        if source.dtype != self.dtype:
            raise RuntimeError(f"Could not set tensor of type {_c_name(source.dtype)} to a tensor of type "
                               f"{_c_name(self.dtype)}")
        arr = source._data
    elif isinstance(source, (UntypedStorage, TypedStorage)):
        if isinstance(source, TypedStorage) and source.dtype != self.dtype:
            raise RuntimeError(f"Expected a Storage of type {self.dtype} but got type {source.dtype} for argument 1 "
                               "'storage'")
        flat = source.untyped()._bytes().view(self._data.dtype)
        size = (flat.size - storage_offset,) if size is None else tuple(size)
        if stride is None:
            stride = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else storage_offset - 1
        if storage_offset < 0 or last >= flat.size:
            raise RuntimeError(f"set_: size {list(size)} with strides {list(stride)} and offset {storage_offset} "
                               f"needs more than the storage's {flat.size} elements")
        # over the storage's own array, so that it stays this tensor's storage (storage_offset() works)
        arr = xp.ndarray(size, flat.dtype, buffer=source.untyped()._array, offset=storage_offset * flat.itemsize,
                         strides=tuple(s * flat.itemsize for s in stride))
    else:
        raise TypeError(f"set_(): source must be a Tensor or a storage, not {type(source).__name__}")
    self._data = arr
    self._base = None
    self._version += 1
    return self


def _c_name(dt: _dtype.dtype) -> str:
    """The C++ element type torch names in set_'s message."""
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16"}.get(str(dt).split(".")[-1], str(dt))


def is_set_to(self, tensor: Tensor) -> bool:
    """True when both view the same memory with the same offset, shape and strides."""
    return (_root(self._data) is _root(tensor._data) and self.data_ptr() == tensor.data_ptr()
            and self.shape == tensor.shape and self.stride() == tensor.stride())


def const_data_ptr(self) -> int:
    """Address of the first element (as ``data_ptr``)."""
    return self.data_ptr()


# ---------------------------------------------------------------------------------------------- layout
def _dense_contiguous(sizes, strides, order) -> bool:
    """Whether dims laid out innermost-first in ``order`` are packed (size-1 dims may have any stride)."""
    expected = 1
    for d in order:
        if sizes[d] != 1:
            if strides[d] != expected:
                return False
            expected *= sizes[d]
    return True


def dim_order(self, *, ambiguity_check=False) -> tuple:
    """The dims from outermost to innermost in memory (``(0, 2, 3, 1)`` for channels_last)."""
    from ._ops.conversion import memory_format
    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list) and all(isinstance(f, memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    sizes, strides, n = tuple(self.shape), self.stride(), self.ndim
    if ambiguity_check is not False:
        ambiguous = any(a == b for a, b in zip(strides, strides[1:])) or 1 in sizes
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        if ambiguous and sum(_in_format(sizes, strides, f) for f in formats) != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                               "memory formats.")
    if n <= 1:
        return tuple(range(n))
    packed = self.numel() == 0 or _dense_contiguous(sizes, strides, range(n - 1, -1, -1))
    channels_last = n == 4 and (self.numel() == 0 or _dense_contiguous(sizes, strides, (1, 3, 2, 0)))
    if packed != channels_last:
        return tuple(range(n)) if packed else (0, *range(2, n), 1)

    def compare(a: int, b: int) -> int:  # 1: dim a lies outside dim b; -1: inside; 0: no telling
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if _ge(sizes[b], sizes[a]) else 1
        return -1 if _ge(sb, sa) else 1

    # torch's order: an insertion sort from the innermost dim, which leaves ties where they are
    perm = list(range(n - 1, -1, -1))
    for i in range(1, n):
        j = i
        for k in range(i - 1, -1, -1):
            c = compare(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    if ambiguity_check is True and any(compare(a, b) != -1 for a, b in zip(perm, perm[1:])):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(reversed(perm))


def _in_format(sizes, strides, fmt) -> bool:
    """Whether a layout is contiguous in memory format ``fmt`` (the channels-last ones need 4 or 5 dims)."""
    n = len(sizes)
    order = {"channels_last": (1, 3, 2, 0) if n == 4 else None,
             "channels_last_3d": (1, 4, 3, 2, 0) if n == 5 else None}.get(str(fmt).split(".")[-1],
                                                                          range(n - 1, -1, -1))
    return order is not None and (0 in sizes or _dense_contiguous(sizes, strides, order))


def _ge(a: int, b: int) -> bool:
    return b == 0 or (a != 0 and (a >= b or a % b == 0))


def resize_as(self, the_template: Tensor, *, memory_format=None) -> Tensor:
    """Deprecated out-of-place ``resize_as_``: ``self`` reshaped to the template's shape (same element count)."""
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    shape = tuple(the_template.shape)
    if int(np.prod(shape)) != self.numel():
        def show(s):
            return "x".join(map(str, s))
        raise RuntimeError(f"requested resize to {show(shape)} ({int(np.prod(shape))} elements in total), but the "
                           f"given tensor has a size of {show(self.shape)} ({self.numel()} elements). autograd's "
                           "resize can only change the shape of a given tensor, while preserving the number of "
                           "elements. ")
    return self.reshape(shape)


def slice_inverse(self, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """The inverse of ``src.slice(dim, start, end, step)``: ``self``'s memory seen with ``src``'s layout."""
    return self.as_strided(tuple(src.shape), src.stride(), src.storage_offset())


def unsafe_split_with_sizes(self, split_sizes, dim: int = 0) -> tuple:
    """:meth:`split_with_sizes` whose pieces autograd does not track as views."""
    return self.unsafe_split(list(split_sizes), dim)


def adjoint(self) -> Tensor:
    """The conjugate transpose of the last two dims (``mH``), a view."""
    if self.ndim == 1:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return self.mH if self.ndim else self.view_as(self)


def as_subclass(self, cls) -> Tensor:
    """``self``'s data and autograd history as an instance of the Tensor subclass ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not possible. "
                        "Make sure your class inherits from Tensor.")
    out = self.view_as(self)
    out.__class__ = cls
    return out


def module_load(self, other: Tensor, assign: bool = False) -> Tensor:
    """What ``load_state_dict`` puts in place of ``self`` for ``other``: ``other`` itself with ``assign``, else
    ``self`` with ``other``'s values copied in (both detached)."""
    return other.detach() if assign else self.copy_(other).detach()


def map2_(self, x: Tensor, y: Tensor, callable) -> Tensor:
    """``self[i] = callable(self[i], x[i], y[i])`` for every element (``x``, ``y`` broadcast), in place."""
    if self._requires_grad:
        raise RuntimeError("Can't call map2_() on Variable that requires grad. Use var.detach().map2_() instead.")
    xs, ys = (t.expand(self.shape)._data.reshape(-1).tolist() for t in (x, y))
    out = [callable(a, b, c) for a, b, c in zip(self._data.reshape(-1).tolist(), xs, ys)]
    self._data[...] = xp.asarray(out, self._data.dtype).reshape(self._data.shape)
    self._version += 1
    return self


def prelu(self, weight: Tensor) -> Tensor:
    """:func:`nn.functional.prelu`."""
    from .nn import functional as F
    return F.prelu(self, weight)


def hardshrink(self, lambd: float = 0.5) -> Tensor:
    """:func:`nn.functional.hardshrink`."""
    from .nn import functional as F
    return F.hardshrink(self, lambd)


# ---------------------------------------------------------------------------------------------- sparse and misc
def to_sparse_coo(self):
    """This dense tensor in the sparse COO layout (as ``to_sparse()``)."""
    return self.to_sparse()


def sparse_mask(self, mask):
    """``self``'s values at the entries of the sparse COO ``mask``, as a sparse COO tensor."""
    from .sparse import SparseTensor, sparse_coo, sparse_coo_tensor
    if not (isinstance(mask, SparseTensor) and mask.layout == sparse_coo):
        raise NotImplementedError("Could not run 'aten::sparse_mask' with arguments from the 'CPU' backend: "
                                  "the mask must be a sparse COO tensor")
    mask = mask.coalesce()
    idx = mask.indices()
    return sparse_coo_tensor(idx, self[tuple(idx)].detach(), tuple(self.shape))


def _sparse_only(name: str):
    def method(self, *args, **kwargs):
        # smm runs through sspaddmm in torch, which names the latter in both
        raise RuntimeError("tensor.sspaddmm(...) can only be called on sparse tensors")
    method.__name__ = name
    method.__doc__ = "Only for sparse tensors: raises RuntimeError on a dense one, as torch."
    return method


def _compressed_only(name: str, kind: str):
    def method(self):
        raise RuntimeError(f"{name} expected sparse {kind} compressed tensor layout but got Strided")
    method.__name__ = name
    method.__doc__ = "Only for compressed sparse tensors: raises RuntimeError on a dense one, as torch."
    return method


def to_padded_tensor(self, padding: float, output_size=None) -> Tensor:
    """Only for nested tensors, which ember lacks: NotImplementedError, as torch's CPU dense tensors raise."""
    raise NotImplementedError("Could not run 'aten::to_padded_tensor' with arguments from the 'CPU' backend: it "
                              "is for nested tensors only")


def _removed(name: str, hint: str):
    def method(self, *args, **kwargs):
        raise RuntimeError("This function was deprecated since version 1.9 and is now removed. " + hint)
    method.__name__ = name
    method.__doc__ = "Removed from torch in 1.9: raises RuntimeError naming the replacement."
    return method


def reinforce(self, reward) -> None:
    """Removed from torch: raises RuntimeError pointing at ``torch.distributions``."""
    raise RuntimeError("reinforce() was removed.\nUse torch.distributions instead (sample an action, then "
                       "backpropagate -log_prob(action) * reward).")


def _volatile_get(self) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
    return False


def _volatile_set(self, value) -> None:
    warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.", UserWarning,
                  stacklevel=2)


def _grad_dtype_get(self):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    return grad_dtype(self)


def _grad_dtype_set(self, value) -> None:
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    if value is not None and not isinstance(value, _dtype.dtype):
        raise RuntimeError(f"grad_dtype must be a torch.dtype or None, but got {type(value).__name__}")
    g = self._grad
    if g is not None and value is not None and g.dtype is not value:
        from ._ops.common import _type_name
        raise RuntimeError(f"Cannot set grad_dtype to '{_type_name(value)}' because there is already a gradient with "
                           f"dtype '{_CPP_NAMES[g.dtype.name]}'. Please clear the gradient (.grad = None) before changing "
                           "grad_dtype, or ensure the new grad_dtype matches the existing gradient's dtype.")
    self._grad_dtype = value  # the engine casts this leaf's gradients to it (None: leaves them as they come)


class DeviceUnavailable(AssertionError, NotImplementedError):
    """A device torch's CPU build lacks (XPU, MTIA): an AssertionError as torch raises, and a NotImplementedError."""


def _no_device(name: str, error: type, message: str):
    def method(self, device=None, non_blocking: bool = False, memory_format=None):
        raise error(f"{message} (ember: device '{name}' is not available (only 'cpu' in this build))")
    method.__name__ = name
    method.__doc__ = f"Refused as torch's CPU build refuses it: no {name.upper()} backend in this build."
    return method


_METHODS = (untyped_storage, storage, set_, is_set_to, const_data_ptr, dim_order, resize_as, slice_inverse,
            unsafe_split_with_sizes, adjoint, as_subclass, module_load, map2_, prelu, hardshrink, to_sparse_coo,
            sparse_mask, to_padded_tensor, reinforce,
            _sparse_only("smm"), _sparse_only("sspaddmm"),
            _compressed_only("crow_indices", "row"), _compressed_only("col_indices", "row"),
            _compressed_only("ccol_indices", "column"), _compressed_only("row_indices", "column"),
            _no_device("xpu", DeviceUnavailable, "Torch not compiled with XPU enabled"),
            _no_device("mtia", DeviceUnavailable, "Torch not compiled with MTIA enabled"),
            _no_device("ipu", NotImplementedError, "PyTorch is not linked with support for ipu devices"),
            _removed("solve", "Use torch.linalg.solve (its arguments are reversed; torch.linalg.lu_factor gives "
                              "the LU factorization)."),
            _removed("eig", "Use torch.linalg.eig or torch.linalg.eigvals (they return complex tensors)."),
            _removed("lstsq", "Use torch.linalg.lstsq (its arguments are reversed)."),
            _removed("symeig", "Use torch.linalg.eigh or torch.linalg.eigvalsh (lower triangle by default)."))
for _fn in _METHODS:
    if not hasattr(Tensor, _fn.__name__):
        setattr(Tensor, _fn.__name__, _fn)


def sparse_dim(self) -> int:
    """0: a dense tensor has no sparse dims."""
    return 0


def dense_dim(self) -> int:
    """All of a dense tensor's dims."""
    return self.ndim


def is_distributed(self) -> bool:
    """False, as torch's."""
    return False


for _fn in (sparse_dim, dense_dim, is_distributed):
    setattr(Tensor, _fn.__name__, _fn)
Tensor.name = None
Tensor.volatile = property(_volatile_get, _volatile_set)
Tensor.grad_dtype = property(_grad_dtype_get, _grad_dtype_set, doc="The dtype gradients of this leaf take.")
