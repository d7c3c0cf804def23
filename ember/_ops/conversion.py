"""Dtype casts and copies: ``to``, ``float()``/``double()``..., ``clone``, ``contiguous``."""
from __future__ import annotations

from .. import _complex32, _dtype
from .._backend import xp
from .._tensor import Tensor, device as _device
from ..autograd.function import Op
from .common import register


class Cast(Op):
    batching = "elementwise"

    @staticmethod
    def forward(x, dt):
        if x.dtype.names or dt.np.names:  # complex32's record: NumPy would copy a number into both of its fields
            return _complex32.cast(x, dt)
        return (x.real if x.dtype.kind == "c" and dt._cat < 3 else x).astype(dt.np)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.src = inputs[0].dtype

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.src) if ctx.src._cat >= 2 else None, None  # complex to real: the real part


class Clone(Op):
    batching = "elementwise"

    @staticmethod
    def forward(x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def _parse_to(args, kwargs):
    dt = kwargs.get("dtype")
    for a in args:
        if isinstance(a, Tensor):
            dt = a.dtype
        elif isinstance(a, (_dtype.dtype, type)) or (isinstance(a, str) and a in _dtype.ALIASES):
            dt = a
        elif isinstance(a, (str, _device)):
            _check_device(a)
    if "device" in kwargs and kwargs["device"] is not None:
        _check_device(kwargs["device"])
    return None if dt is None else _dtype.as_dtype(dt)


def _check_device(d) -> None:
    name = str(d).split(":")[0]
    if name != "cpu":
        from ..cuda import unavailable
        raise unavailable(d)


@register(function=False)
def to(self, *args, copy: bool = False, **kwargs) -> Tensor:
    """Cast to a dtype (and/or move to a device); returns ``self`` when nothing changes."""
    dt = _parse_to(args, kwargs)
    if dt is None or dt.np is self._data.dtype:
        return self.clone() if copy else self
    if self._requires_grad and dt._cat < 2:
        return Tensor._make(self._data.astype(dt.np))
    return Cast.apply(self, dt)


def _caster(name, dt):
    def cast(self, memory_format=None) -> Tensor:
        return to(self, dt)
    cast.__name__ = name
    cast.__doc__ = f"Cast to {dt}."
    return cast


for _name, _dt in (("float", _dtype.float32), ("double", _dtype.float64), ("half", _dtype.float16),
                   ("chalf", _dtype.complex32),
                   ("bfloat16", _dtype.bfloat16),
                   ("long", _dtype.int64), ("int", _dtype.int32), ("short", _dtype.int16), ("char", _dtype.int8),
                   ("byte", _dtype.uint8), ("bool", _dtype.bool_)):
    setattr(Tensor, _name, _caster(_name, _dt))


@register(function=False)
def type_as(self, other: Tensor) -> Tensor:
    """Cast to ``other``'s dtype."""
    return to(self, other.dtype)


@register()
def clone(input, *, memory_format=None) -> Tensor:
    """A copy that stays in the graph."""
    return Clone.apply(input)


@register(function=False)
def contiguous(self, memory_format=None) -> Tensor:
    """``self`` if already row-major, else a row-major copy."""
    return self if self._data.flags.c_contiguous else Clone.apply(self)


@register(function=False)
def cpu(self) -> Tensor:
    """``self``: ember tensors already live on the CPU."""
    return self


@register(function=False)
def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """Refused as torch's CPU build refuses it: no CUDA backend in this build."""
    from ..cuda import unavailable
    raise unavailable("cuda")


class Fill(Op):
    @staticmethod
    def forward(x, value):
        if x.dtype.names:  # complex32's record: NumPy would copy a number into both of its fields
            return _complex32.narrow(xp.full(x.shape, value, xp.complex64))
        return xp.full_like(x, value)

    @staticmethod
    def setup_context(ctx, inputs, output):
        value = inputs[1]
        ctx.value_dtype = value.dtype if isinstance(value, Tensor) else None

    @staticmethod
    def backward(ctx, g):
        # the old values are overwritten (a zero gradient, as torch's); a tensor fill value receives every element's
        return g.new_zeros(g.shape), (g.sum().to(ctx.value_dtype) if ctx.value_dtype is not None else None)


@register(method=False, inplace="fill_")
def fill(input: Tensor, value) -> Tensor:
    """A tensor shaped like ``input`` holding ``value`` (a number or a 0-dim tensor) everywhere."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return Fill.apply(input, value)


@register()
def zero_(input: Tensor) -> Tensor:
    """Fill ``input`` with zeros, in place."""
    return input.fill_(0)


class Copy(Op):
    @staticmethod
    def forward(dst, src):
        return xp.broadcast_to(src, dst.shape).astype(dst.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        src = inputs[1]
        ctx.src_shape, ctx.src_dtype = src._data.shape, src.dtype

    @staticmethod
    def backward(ctx, g):
        from .common import sum_to
        gs = sum_to(g, ctx.src_shape)
        # the old values get a zero gradient, as torch's (so their history still runs, and checks its saved tensors)
        return g.new_zeros(g.shape), (gs.to(ctx.src_dtype) if ctx.src_dtype.is_floating_point else None)


def _copy(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    return Copy.apply(self, src)


from .common import inplace_method as _inplace_method  # noqa: E402

Tensor.copy_ = _inplace_method(_copy, "copy_")
Tensor.copy_.__doc__ = "Copy ``src`` (broadcast and cast) into this tensor, in place."


# ----------------------------------------------------------------------------- small attributes torch code asks for
class layout:
    """A tensor memory layout; ember has one, ``ember.strided``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ember.{self.name}"


strided = layout("strided")


class memory_format:
    """A memory-format flag (``ember.channels_last``, ...): accepted where torch takes one; ember's
    tensors keep their values in one order whatever the flag, so it changes no result."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ember.{self.name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

for _flag in ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_mkldnn", "is_nested", "is_mps", "is_xpu",
              "is_xla", "is_ipu", "is_vulkan", "is_mtia", "is_maia"):
    setattr(Tensor, _flag, property(lambda self: False, doc="False: ember tensors are dense CPU tensors."))
Tensor.is_cpu = property(lambda self: True, doc="True: ember tensors live on the CPU.")
Tensor.layout = property(lambda self: strided, doc="``ember.strided``, the one layout.")
Tensor.output_nr = property(lambda self: self._output_nr, doc="Which output of its ``grad_fn`` this tensor is.")
Tensor.real = property(lambda self: self, doc="``self``: ember tensors are real.")
for _name in ("is_pinned", "is_shared", "is_conj", "is_neg"):
    setattr(Tensor, _name, lambda self: False)
for _name in ("pin_memory", "share_memory_", "conj", "resolve_conj", "resolve_neg"):
    setattr(Tensor, _name, lambda self, *args, **kwargs: self)


@register(function=False)
def is_signed(self) -> bool:
    """True unless the dtype is unsigned (uint8) or bool."""
    return self._data.dtype.kind not in "ub"


@register()
def is_nonzero(input) -> bool:
    """The truth of a one-element tensor."""
    n = input._data.size
    if n != 1:
        raise RuntimeError(f"Boolean value of Tensor with {'no values' if n == 0 else 'more than one value'} is "
                           f"ambiguous")
    return bool(input._data.reshape(()))


@register()
def is_same_size(input, other) -> bool:
    """True when both tensors have the same shape."""
    return input._data.shape == other._data.shape


@register(function=False)
def storage_offset(self) -> int:
    """Offset, in elements, of this tensor's first element in the memory it views."""
    root = self._data
    while isinstance(root.base, type(self._data)):
        root = root.base
    start = self._data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return start // self._data.itemsize if self._data.itemsize else 0


@register(function=False)
def apply_(self, callable) -> Tensor:
    """Replace every element ``x`` by ``callable(x)`` (a Python function; no autograd), in place."""
    if self._requires_grad:
        raise RuntimeError("apply_ on a tensor that requires grad is not supported")
    flat = self._data.reshape(-1)
    for i, v in enumerate(flat.tolist()):
        flat[i] = callable(v)
    if not xp.shares_memory(flat, self._data):
        self._data[...] = flat.reshape(self._data.shape)
    self._version += 1
    return self


@register(function=False)
def map_(self, tensor: Tensor, callable) -> Tensor:
    """``self[i] = callable(self[i], tensor[i])`` for every element (``tensor`` broadcast), in place."""
    if self._requires_grad:
        raise RuntimeError("map_ on a tensor that requires grad is not supported")
    other = xp.broadcast_to(tensor._data, self._data.shape).reshape(-1).tolist()
    flat = self._data.reshape(-1)
    for i, (a, b) in enumerate(zip(flat.tolist(), other)):
        flat[i] = callable(a, b)
    if not xp.shares_memory(flat, self._data):
        self._data[...] = flat.reshape(self._data.shape)
    self._version += 1
    return self


@register(function=False)
def resize_(self, *sizes, memory_format=None) -> Tensor:
    """Give ``self`` a new shape, keeping its first elements in order (new ones are uninitialised)."""
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = tuple(int(s) for s in sizes)
    if shape != self._data.shape:
        new = xp.zeros(shape, self._data.dtype)
        n = min(new.size, self._data.size)
        new.reshape(-1)[:n] = self._data.reshape(-1)[:n]
        self._data = new
        self._version += 1
    return self


@register()
def resize_as_(input, the_template: Tensor, *, memory_format=None) -> Tensor:
    """:meth:`resize_` to ``the_template``'s shape."""
    return resize_(input, the_template._data.shape)
