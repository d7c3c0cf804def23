"""ember's dtypes and torch's type-promotion rules."""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type, printed as torch prints it (``torch.float32``): programs parse that string."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_cat")

    def __init__(self, name: str, np_type, cat: int) -> None:
        self.name = name
        self.np = np.dtype(np_type)
        self.is_floating_point = cat == 2
        self.is_signed = cat >= 2 or self.np.kind == "i"
        self.itemsize = self.np.itemsize
        self._cat = cat  # 0 bool, 1 integer, 2 floating, 3 complex: the order of torch's categories

    @property
    def is_complex(self) -> bool:
        return self._cat == 3

    def to_real(self) -> "dtype":
        return _TO_REAL.get(self, self)

    def to_complex(self) -> "dtype":
        return _TO_COMPLEX.get(self, self)

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
# as torch's, a bare type: made, viewed, compared and hashed into (hash_tensor), never promoted with another
uint64 = dtype("uint64", np.uint64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)
# torch's complex32 (ComplexHalf) as a NumPy record of two float16: NumPy has no complex half, and the record has
# torch's memory layout, so copies, views, indexing and joins work on it as they are; arithmetic goes through
# complex64 and rounds back (ember/_complex32.py), as torch's CPU kernels do
CHALF = np.dtype([("real", np.float16), ("imag", np.float16)])
complex32 = dtype("complex32", CHALF, 3)
_TO_REAL = {complex32: float16, complex64: float32, complex128: float64}
_TO_COMPLEX = {float16: complex32, float32: complex64, float64: complex128}



class _Unstorable(dtype):
    """A torch dtype that ember names but cannot store (NumPy has no such type, and the optional package that
    adds it is missing): making a tensor of it raises NotImplementedError, so ``torch.bfloat16`` in a program
    fails where it is used, saying why."""

    __slots__ = ()

    def __init__(self, name: str, itemsize: int) -> None:
        self.name, self.itemsize = name, itemsize
        self.is_floating_point, self.is_signed, self._cat = True, True, 2

    @property
    def np(self):
        raise NotImplementedError(f"ember has no {self.name} tensors here: NumPy has no {self.name} type and the "
                                  "optional package ml_dtypes, which adds it, is not installed (pip install "
                                  "'ember[bfloat16]'; or use float32, or float16 to save memory)")


try:  # bfloat16 arrays come from ml_dtypes (a small NumPy extension), an optional dependency
    import ml_dtypes as _ml_dtypes
except ImportError:
    _ml_dtypes = None
# kind "V" to NumPy: ember tests floating point as kind in "fV" (NumPy's own float kinds are "f" only)
bfloat16 = _Unstorable("bfloat16", 2) if _ml_dtypes is None else dtype("bfloat16", _ml_dtypes.bfloat16, 2)
_BF16 = None if _ml_dtypes is None else np.dtype(_ml_dtypes.bfloat16)  # a singleton: tested with ``is``


_F16 = np.dtype(np.float16)


def is_half(np_dtype) -> bool:
    """Whether a NumPy dtype is float16 or bfloat16, which torch's CPU kernels compute in float32 (opmath)."""
    return np_dtype is _F16 or np_dtype is _BF16


def is_float(np_dtype) -> bool:
    """Whether a NumPy dtype is a real floating type, bfloat16 included (NumPy calls it kind "V")."""
    return np_dtype.kind == "f" or np_dtype is _BF16


ALL = (bool_, uint8, int8, int16, int32, int64, uint64, float16, float32, float64, complex32, complex64, complex128) + \
    (() if _ml_dtypes is None else (bfloat16,))
_FROM_NP = {d.np: d for d in ALL}
ALIASES = {"bfloat16": bfloat16, "half": float16, "float": float32, "double": float64, "short": int16,
           "int": int32, "long": int64, "bool": bool_, "chalf": complex32, "cfloat": complex64, "cdouble": complex128}


def from_np(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; unsupported ones raise TypeError."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"ember: can't convert np.ndarray of type {np_dtype}; the only supported types are: "
                        "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, uint64, and bool.") from None


def as_dtype(d) -> dtype:
    """An ember dtype from an ember dtype, a NumPy dtype, a torch-style name or a Python type."""
    if isinstance(d, dtype):
        return d
    if isinstance(getattr(d, "_dtype", None), dtype):  # a legacy class: x.type(torch.FloatTensor)
        return d._dtype
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in ALIASES:
        return ALIASES[d]
    return from_np(d)


_default = float32


def set_default_dtype(d: dtype) -> None:
    """Set the dtype that Python floats and float factories produce (float32 or float64)."""
    global _default
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default = d


def get_default_dtype() -> dtype:
    """The current default floating dtype."""
    return _default


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both ``a`` and ``b`` convert to."""
    if a is b:
        return a
    if (a is uint64 or b is uint64) and not (a.is_floating_point or b.is_floating_point):
        from ._ops.common import _type_name
        raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                           f"{_type_name(a)} and {_type_name(b)}")
    if a is complex32 or b is complex32:  # NumPy cannot promote the record: through its float16 parts
        return promote_types(float16, (b if a is complex32 else a).to_real()).to_complex()
    if a._cat != b._cat:
        hi, lo = (a, b) if a._cat > b._cat else (b, a)
        return _FROM_NP[np.promote_types(hi.np, lo.np)] if hi._cat == 3 and lo._cat == 2 else hi
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _combine(higher, lower):
    # torch's combine_categories: a lower tier only matters if it is of a higher category
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._cat == 3:
        return higher
    if lower._cat == 3:  # a float keeps its precision and becomes complex; an integer takes the complex type
        return higher.to_complex() if higher._cat == 2 else lower
    if higher._cat == 2:
        return higher
    if higher._cat == 0 or lower._cat == 2:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(s) -> dtype:
    """The dtype torch gives a Python scalar as an operand."""
    if isinstance(s, bool):
        return bool_
    if isinstance(s, int):
        return int64
    if isinstance(s, float):
        return _default
    if isinstance(s, complex):
        return _default.to_complex()
    if isinstance(s, np.generic):
        return from_np(s.dtype)
    raise TypeError(f"ember: unsupported scalar type {type(s).__name__}")


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars."""
    from ._tensor import Tensor
    dim = zero = wrapped = None
    for o in operands:
        if isinstance(o, Tensor):
            d = o.dtype
            if o._data.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif o is not None:
            d = scalar_dtype(o)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine(dim, _combine(zero, wrapped))


def can_cast(frm: dtype, to: dtype) -> bool:
    """torch.can_cast: whether an in-place op may write a ``frm`` result into ``to``."""
    return frm._cat <= to._cat


class finfo:
    """The limits of a floating dtype (``eps``, ``max``, ``min``, ``tiny``...), as ``torch.finfo``."""

    def __init__(self, type: dtype | None = None) -> None:
        d = get_default_dtype() if type is None else as_dtype(type).to_real()
        if not d.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        f = np.finfo(d.np)
        self.bits, self.dtype = f.bits, d.name
        self.eps, self.max, self.min = float(f.eps), float(f.max), float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = 10.0 ** -f.precision

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype (``min``, ``max``, ``bits``), as ``torch.iinfo``."""

    def __init__(self, type: dtype) -> None:
        d = as_dtype(type)
        if d._cat != 1:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        i = np.iinfo(d.np)
        self.bits, self.min, self.max, self.dtype = i.bits, int(i.min), int(i.max), d.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
