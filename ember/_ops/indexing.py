"""Indexing: ``x[idx]``, ``x[idx] = v``, gather/scatter, index_*, masked_*, take, put, nonzero.

Two primitives carry every gradient here: ``Index`` reads ``x[idx]`` and ``IndexPut``
writes (or adds) a value at ``idx`` into a copy of ``x``. Their backwards are written
with each other (and ``IndexGrad``, zeros with ``g`` put at ``idx``, whose backward is
``Index``), so double backward needs no extra code. Every other op builds
a NumPy index tuple for them (``gather`` is ``x[along(index, dim)]``, ``scatter_add`` an
accumulating put), so its gradient comes for free. ``scatter_reduce`` is the one
other primitive: its gradients are weights on ``g`` computed once in forward.
"""
from __future__ import annotations

import functools
import re

from .. import _complex32
from .._backend import ndarray, xp
from .._dtype import is_float, is_half
from .._tensor import Tensor
from ..amp import autocast_mode as _amp
from ..autograd.function import Op
from ..autograd.grad_mode import state
from .out import resize_out
from .common import (FUNCTIONS, register, sum_to, wrap_dim, check_inplace, write_inplace, is_scalar, broadcast_error,
                     _type_name, check_no_partial_overlap)

_INT_KINDS = ("int64", "int32")


# ----------------------------------------------------------------------------- the two primitives
def _has_int_array(idx: tuple) -> bool:
    """Integer index arrays may repeat a position, so their gradient must add up."""
    return any(type(i) is ndarray and i.dtype.kind != "b" for i in idx)


def _has_array(idx: tuple) -> bool:
    return any(type(i) is ndarray for i in idx)


class Index(Op):
    batching = "index"

    @staticmethod
    def forward(x, idx):
        return x[idx]

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, idx = inputs
        ctx.shape = x._data.shape
        if _has_array(idx):  # index tensors are saved (a second backward raises, as torch's)
            ctx.idx = None
            ctx.save_for_backward(idx)
        else:  # basic slicing saves nothing in torch: backward may run again
            ctx.idx = idx

    @staticmethod
    def backward(ctx, g):
        idx = ctx.idx if ctx.idx is not None else ctx.saved_tensors[0]
        return IndexGrad.apply(g, ctx.shape, idx), None


class IndexGrad(Op):
    """Zeros of ``shape`` with ``g`` put (or added, at repeated positions) at ``idx``: Index's gradient."""

    @staticmethod
    def forward(g, shape, idx):
        out = xp.zeros(shape, dtype=g.dtype)
        _put(out, idx, g, _has_int_array(idx))
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, gg):
        idx, = ctx.saved_tensors
        return Index.apply(gg, idx), None, None


class IndexPut(Op):
    @staticmethod
    def forward(x, value, idx, accumulate):
        out = x.copy()
        _put(out, idx, value, accumulate)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, value, idx, ctx.accumulate = inputs
        ctx.vshape = value._data.shape if isinstance(value, Tensor) else None
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        (fx, _), (fv, _) = ctx.next_functions[:2]
        gx = gv = None
        if fx is not None:
            gx = g if ctx.accumulate else IndexPut.apply(g, 0, idx, False)
        if fv is not None:
            gv = _sum_to_value(Index.apply(g, idx), ctx.vshape)
        return gx, gv, None, None


def _put(out: ndarray, idx: tuple, value, accumulate: bool) -> None:
    """``out[idx] = value`` (or ``+=`` with repeats adding up), with torch's shape errors."""
    try:
        if accumulate:  # bfloat16 added in bfloat16 one by one, as torch's index_put_
            xp.add.at(out, idx, value)
        else:
            out[idx] = value
    except ValueError:
        raise _shape_error(out[idx].shape, xp.shape(value), any(type(i) is ndarray for i in idx)) from None


def _shape_error(target, vshape, advanced: bool) -> RuntimeError:
    if advanced:
        return RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to indexing "
                            f"result of shape {list(target)}")
    lead = len(target) - len(vshape)
    for d, s in enumerate(vshape):
        if d + lead >= 0 and s != 1 and s != target[d + lead]:
            return RuntimeError(f"The expanded size of the tensor ({target[d + lead]}) must match the existing size "
                                f"({s}) at non-singleton dimension {d + lead}.  Target sizes: {list(target)}.  "
                                f"Tensor sizes: {list(vshape)}")
    return RuntimeError(f"expand: the number of sizes provided ({len(target)}) must be greater or equal to the "
                        f"number of dimensions in the tensor ({len(vshape)})")


def _sum_to_value(g: Tensor, vshape) -> Tensor:
    """Sum a gradient to a value's shape; leading size-1 dims of the value may be beyond ``g``'s."""
    core = tuple(vshape)
    while len(core) > g._data.ndim and core[0] == 1:
        core = core[1:]
    g = sum_to(g, core)
    return g.reshape(vshape) if core != tuple(vshape) else g


def write_out(op: str, result, out, *inputs):
    """torch's ``out=``: ``result`` (a tensor or a tuple of them) copied into ``out``, resized to it.
    ``out`` must have the result's dtype and share no memory with an input, as torch checks."""
    if out is None:
        return result
    if state.enabled and any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if isinstance(result, tuple):
        return type(result)(*(write_out(op, r, o, *inputs) for r, o in zip(result, out)))
    if out._data.dtype != result._data.dtype:
        raise RuntimeError(f"{op}: Expected out tensor to have dtype {result.dtype}, but got {out.dtype} instead")
    if not out._data.flags.writeable:  # an expanded out: several of its elements are one memory location
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                           "to a single memory location. Please clone() the tensor before performing the operation.")
    if any(isinstance(t, Tensor) and _overlaps(out._data, result._data.shape, t._data) for t in inputs):
        raise RuntimeError(f"{op}: unsupported operation: some elements of the input tensor and the written-to "
                           "tensor refer to a single memory location. Please clone() the tensor before performing "
                           "the operation.")
    resize_out(out, result._data.shape)
    return out.copy_(result)


def _overlaps(out: ndarray, shape: tuple, a: ndarray) -> bool:
    """Whether ``out``, once resized to ``shape`` as torch resizes it first (in place, from where it
    starts in its storage), shares memory with ``a``."""
    if out.shape == tuple(shape) or not out.size:
        return bool(xp.shares_memory(out, a))
    from .shape import _root
    if _root(out) is not _root(a) or not a.size:
        return False
    start = out.__array_interface__["data"][0]
    low, high = xp.lib.array_utils.byte_bounds(a)
    return start < high and low < start + int(xp.prod(shape)) * out.itemsize


# ----------------------------------------------------------------------------- x[index]
def _legacy_tuple(index: list) -> bool:
    """torch still reads a list holding sequences, slices, None, ... or tensors as a tuple of indices."""
    return any(isinstance(i, (list, tuple, slice, Tensor, ndarray)) or i is None or i is Ellipsis for i in index)


def _index_array(a: ndarray) -> ndarray:
    if a.dtype.kind == "b":
        return a
    if a.dtype == xp.uint8:  # torch's deprecated byte masks
        return a.astype(bool)
    if a.dtype.kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return a


def _parse(index, ndim: int = 0) -> tuple:
    """A torch index as a NumPy index tuple that always yields an array (a view for basic indexing)."""
    if type(index) is not tuple:
        index = tuple(index) if type(index) is list and _legacy_tuple(index) else (index,)
    out = []
    ellipsis = False
    for i in index:
        t = type(i)
        if t is int or i is None or t is bool:
            out.append(i)
        elif t is slice:
            if i.step is not None and i.step < 0:
                raise ValueError("step must be greater than zero")
            out.append(i)
        elif i is Ellipsis:
            if ellipsis:  # torch lets a later one skip the same dims again: fine while nothing follows
                _check_later_ellipsis(index, ndim)
                continue
            ellipsis = True
            out.append(i)
        elif t is Tensor:
            out.append(_index_array(i._data))
        elif isinstance(i, ndarray):
            out.append(_index_array(i))
        elif isinstance(i, (list, tuple, range)):  # x[range(n), idx] indexes as the list would
            a = xp.asarray([int(v) if isinstance(v, Tensor) else v for v in i])
            out.append(_index_array(a if a.size else a.astype(xp.int64)))
        elif isinstance(i, xp.integer) or hasattr(i, "__index__"):
            out.append(i.__index__())
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {t.__name__})")
    if not ellipsis:
        out.append(Ellipsis)  # so x[0] of a vector is a 0-dim view, not a NumPy scalar copy
    return tuple(out)


def _check_later_ellipsis(index: tuple, ndim: int) -> None:
    """torch's each ``...`` skips the dims the rest leaves: a dim indexed after the second lies past the last."""
    indexing = [i for i in index if i is not None and i is not Ellipsis and type(i) is not bool]
    second = index.index(Ellipsis, index.index(Ellipsis) + 1)
    if ndim > len(indexing) and any(i is not None and i is not Ellipsis for i in index[second:]):
        raise IndexError("an index after a second ellipsis ('...') is out of range: each '...' skips the "
                         "dims the other indices leave")


def _index_error(e: IndexError, idx: tuple, shape) -> IndexError:
    """NumPy's indexing errors in torch's words."""
    msg = str(e)
    m = re.match(r"too many indices for array: array is (\d+)-dimensional", msg)
    if m and m.group(1) == "0":
        return IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                          "in C++ to convert a 0-dim tensor to a number")
    if m:
        return IndexError(f"too many indices for tensor of dimension {m.group(1)}")
    m = re.match(r"boolean index did not match indexed array along (?:axis|dimension) (\d+); size of "
                 r"(?:axis|dimension) is \d+ but size of corresponding boolean (?:axis|dimension) is (\d+)", msg)
    if m:
        mask = next(i for i in idx if type(i) is ndarray and i.dtype.kind == "b")
        k = list(mask.shape).index(int(m.group(2))) if int(m.group(2)) in mask.shape else 0
        return IndexError(f"The shape of the mask {list(mask.shape)} at index {k} does not match the shape of the "
                          f"indexed tensor {list(shape)} at index {m.group(1)}")
    m = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", msg)
    if m:
        k = _item_at_axis(idx, len(shape), int(m.group(2)))
        dim = m.group(2)
        if type(idx[k]) is ndarray:  # torch counts advanced indices among themselves
            dim = sum(1 for i in idx[:k] if type(i) is ndarray)
        return IndexError(f"index {m.group(1)} is out of bounds for dimension {dim} with size {m.group(3)}")
    return IndexError(msg)


def _item_at_axis(idx: tuple, ndim: int, axis: int) -> int:
    """The position in ``idx`` of the item that indexes dim ``axis`` of the tensor."""
    width = [i.ndim if type(i) is ndarray and i.dtype.kind == "b" else 0 if i is None or type(i) is bool else 1
             for i in idx]
    rest = ndim - sum(w for i, w in zip(idx, width) if i is not Ellipsis)
    dim = 0
    for k, (i, w) in enumerate(zip(idx, width)):
        w = rest if i is Ellipsis else w
        if dim + w > axis:
            return k
        dim += w
    return len(idx) - 1


def _split_ints(idx: tuple):
    """torch applies ints before index arrays (NumPy would broadcast them together, which moves the
    result's dims when a slice separates them): ``(first, second)`` to apply one after the other, or None."""
    has_int = has_array = False
    for i in idx:
        has_int = has_int or type(i) is int
        has_array = has_array or type(i) is ndarray
    if not (has_int and has_array):
        return None
    first, second = [], []
    for i in idx:
        if type(i) is ndarray:
            first.extend([slice(None)] * (i.ndim if i.dtype.kind == "b" else 1))
            second.append(i)
        else:
            first.append(i)
            if type(i) is not int:
                second.append(i if i is Ellipsis else slice(None))
    return tuple(first), tuple(second)


def __getitem__(self: Tensor, index) -> Tensor:
    """``self[index]``: basic indexing gives a view, advanced indexing a copy."""
    idx = _parse(index, self._data.ndim)
    try:
        split = _split_ints(idx)
        if split is not None:
            return Index.apply(Index.apply(self, split[0]), split[1])
        return Index.apply(self, idx)
    except IndexError as e:
        raise _index_error(e, idx, self._data.shape) from None


def __setitem__(self: Tensor, index, value) -> None:
    """``self[index] = value``, differentiable in ``self`` and ``value`` as torch's."""
    idx = _parse(index, self._data.ndim)
    check_inplace(self, "setitem")
    if isinstance(value, Tensor) and xp.may_share_memory(self._data, value._data):
        try:
            target = self._data[idx]
        except IndexError:
            target = None  # (raised below, with torch's message)
        if target is not None and target.base is not None:  # a view (basic indexing): torch's copy_ checks
            check_no_partial_overlap(target, (value,))
    if isinstance(value, Tensor):
        if value._data.dtype != self._data.dtype:
            value = value.to(self.dtype)
    elif not is_scalar(value):
        raise TypeError(f"can't assign a {type(value).__module__}.{type(value).__name__} to a "
                        f"{self.type()}".replace("builtins.", ""))
    try:
        split = _split_ints(idx)
        if (state.enabled and (self._requires_grad or isinstance(value, Tensor) and value._requires_grad)
                or self._tangent is not None or isinstance(value, Tensor) and value._tangent is not None
                or getattr(self, "_phys", None) is not None):  # (forward AD, vmap: as an op, which they see)
            if split is not None:  # write into the int-selected part, then put that part back
                value = IndexPut.apply(Index.apply(self, split[0]), value, split[1], False)
                idx = split[0]
            write_inplace(self, IndexPut.apply(self, value, idx, False), "setitem")
        else:
            data = value._data if isinstance(value, Tensor) else value
            if split is not None:
                _put(self._data[split[0]], split[1], data, False)
            else:
                _put(self._data, idx, data, False)
            self._version += 1
    except IndexError as e:
        raise _index_error(e, idx, self._data.shape) from None


Tensor.__getitem__ = __getitem__
Tensor.__setitem__ = __setitem__


@register(inplace="index_put_")
def index_put(input, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written (or added) at ``input[indices]``."""
    idx = _parse(tuple(indices))
    values = values.to(input.dtype) if isinstance(values, Tensor) else values
    try:
        return IndexPut.apply(input, values, idx, bool(accumulate))
    except IndexError as e:
        raise _index_error(e, idx, input._data.shape) from None


# ----------------------------------------------------------------------------- gather / scatter
def _along(index: ndarray, dim: int) -> tuple:
    """The NumPy index that picks ``x[..., index[i, j, k], ...]`` (at ``dim``) for every ``(i, j, k)``."""
    n = index.ndim
    return tuple(index if d == dim else xp.arange(s).reshape((-1,) + (1,) * (n - d - 1))
                 for d, s in enumerate(index.shape))


def _check_index(op: str, x: Tensor, dim: int, index: Tensor, src=None, who: str = "self") -> None:
    """torch's checks of a gather/scatter index: dtype, rank, sizes, bounds."""
    if index.dtype.name not in _INT_KINDS and index._data.size:  # torch accepts an empty index of any dtype
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    xs, ishape = x._data.shape, index._data.shape
    if len(ishape) != len(xs) and index._data.size:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {who} tensor")
    sshape = src._data.shape if isinstance(src, Tensor) else None
    if sshape is not None and len(sshape) != len(ishape) and index._data.size:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    for d, s in enumerate(ishape):
        too_big = (d != dim and s > xs[d]) or (sshape is not None and s > sshape[d])
        if too_big:
            if op == "gather":
                raise RuntimeError(f"Size does not match at dimension {d} expected index {list(ishape)} to be no "
                                   f"larger than self {list(xs)} apart from dimension {dim}")
            tail = f" and to be no larger size than src {list(sshape)}" if sshape is not None else ""
            raise RuntimeError(f"Expected index {list(ishape)} to be no larger than self {list(xs)} apart from "
                               f"dimension {dim}{tail}")
    _check_bounds(index._data, xs[dim] if xs else 1, dim, RuntimeError)


def _check_bounds(a: ndarray, size: int, dim: int, exc=RuntimeError, prefix: str = "") -> None:
    if a.size:
        bad = a[(a < 0) | (a >= size)]
        if bad.size:
            raise exc(f"{prefix}index {bad.flat[0]} is out of bounds for dimension {dim} with size {size}")


def _same_dtype(op: str, x: Tensor, src) -> None:
    if isinstance(src, Tensor) and src._data.dtype != x._data.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")


def _src_part(src: Tensor, shape) -> Tensor:
    """The leading ``shape`` block of ``src``: scatter reads only where the index has entries."""
    if src._data.shape == tuple(shape):
        return src
    return src[tuple(slice(0, s) for s in shape)]


@register()
def gather(input, dim: int, index, *, sparse_grad: bool = False, out=None) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for ``dim=0``), and likewise along any dim."""
    dim = wrap_dim(dim, input._data.ndim, "gather")
    _check_index("gather", input, dim, index, who="input")
    if not input._data.ndim:
        result = Index.apply(input.reshape(1), (index._data.reshape(1),)).reshape(())
    else:
        result = Index.apply(input, _along(index._data, dim))
    return write_out("gather", result, out, input, index)


@register(inplace="scatter_")
def scatter(input, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (or the number ``value``) written at ``index`` along ``dim``."""
    if src is None:
        src = value
    dim = wrap_dim(dim, input._data.ndim, "scatter")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        if not isinstance(src, Tensor):
            src = Tensor._make(xp.full(index._data.shape, src, dtype=input._data.dtype))
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    _same_dtype("scatter", input, src)
    _check_index("scatter", input, dim, index, src if isinstance(src, Tensor) else None)
    if isinstance(src, Tensor):
        src = _src_part(src, index._data.shape)
    return IndexPut.apply(input, src, _along(index._data, dim), False)


@register(inplace="scatter_add_")
def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    dim = wrap_dim(dim, input._data.ndim, "scatter_add")
    _same_dtype("scatter", input, src)
    _check_index("scatter", input, dim, index, src)
    if is_half(input._data.dtype):  # summed in float32 and rounded once, as torch's kernel
        return scatter_add(input.float(), dim, index, src.float()).to(input.dtype)
    return IndexPut.apply(input, _src_part(src, index._data.shape), _along(index._data, dim), True)


# ufunc, identity for include_self=False (float, int)
_REDUCE = {"sum": (xp.add, 0, 0), "mean": (xp.add, 0, 0), "prod": (xp.multiply, 1, 1),
           "amax": (xp.maximum, -xp.inf, "min"), "amin": (xp.minimum, xp.inf, "max")}


class ScatterReduce(Op):
    saves_output = True  # prod's gradient is written with its result

    @staticmethod
    def forward(x, src, idx, reduce, include_self):
        ufunc, fident, iident = _REDUCE[reduce]
        out = x.astype(xp.float32) if is_half(x.dtype) else x.copy()  # half types reduced in float32, as torch
        if not include_self:
            ident = fident if is_float(x.dtype) else iident
            if isinstance(ident, str):  # the dtype's extreme (True/False for bool)
                ident = (ident == "max") if x.dtype == xp.bool_ else getattr(xp.iinfo(x.dtype), ident)
            out[idx] = ident
        ufunc.at(out, idx, src)
        if reduce == "mean":
            count = _mean_count(x.shape, idx, include_self)
            # the half types' sums are rounded before dividing, as torch's kernel
            out = out.astype(x.dtype, copy=False) / count if is_float(x.dtype) else out // count.astype(x.dtype)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, src, idx, reduce, include_self = inputs
        xd, sd = x._data, src._data
        ctx.smooth_prod = reduce == "prod" and xd.all() and sd.all()
        if ctx.smooth_prod:
            # without zeros, out / x is the product of the others, and stays differentiable
            keep = None if include_self else Tensor._make(_scattered_zero(xd.shape, idx, xd.dtype))
            ctx.save_for_backward(idx, x, src, keep)
            return
        w_self, w_src = _REDUCE_WEIGHTS[reduce](xd, sd, output, idx, include_self)
        ctx.save_for_backward(idx, *(None if w is None else Tensor._make(w.astype(xd.dtype, copy=False))
                                     for w in (w_self, w_src)))

    @staticmethod
    def backward(ctx, g):
        (fx, _), (fs, _) = ctx.next_functions[:2]
        gx = gs = None
        if ctx.smooth_prod:
            idx, x, src, keep = ctx.saved_tensors
            gout = g * ctx.output
            if fx is not None:
                gx = gout / x if keep is None else gout / x * keep
            if fs is not None:
                gs = Index.apply(gout, idx) / src
            return gx, gs, None, None, None
        idx, w_self, w_src = ctx.saved_tensors
        if fx is not None:
            gx = g if w_self is None else g * w_self
        if fs is not None:
            gs = Index.apply(g, idx)
            gs = gs if w_src is None else gs * w_src
        return gx, gs, None, None, None


# Each reduction's gradient as constant weights (w_self, w_src) on g and g[idx]; None means 1.
def _sum_weights(xd, sd, od, idx, include_self):
    return (None if include_self else _scattered_zero(xd.shape, idx, xd.dtype)), None


def _mean_weights(xd, sd, od, idx, include_self):
    inv = 1 / _mean_count(xd.shape, idx, include_self).astype(xd.dtype)
    w_self = inv if include_self else inv * _scattered_zero(xd.shape, idx, xd.dtype)
    return w_self, inv[idx]


def _extreme_weights(xd, sd, od, idx, include_self):
    """amax / amin: the gradient is shared evenly by every element equal to the result."""
    hit_self = xd == od
    if not include_self:
        hit_self &= _scattered_zero(xd.shape, idx, bool)
    hit_src = sd == od[idx]
    n = hit_self.astype(xd.dtype)
    xp.add.at(n, idx, hit_src)
    n = xp.maximum(n, 1)
    return hit_self / n, hit_src / n[idx]


def _prod_weights(xd, sd, od, idx, include_self):
    """prod with zeros: each factor's weight is the product of the others (exact to first order)."""
    own = xp.ones(xd.shape, bool) if include_self else _scattered_zero(xd.shape, idx, bool)
    nz_x, nz_s = xp.where(xd != 0, xd, 1), xp.where(sd != 0, sd, 1)
    prod = xp.where(own, nz_x, 1)             # product of the non-zero factors at each position
    zeros = (own & (xd == 0)).astype(xp.int64)  # and how many factors are zero
    xp.multiply.at(prod, idx, nz_s)
    xp.add.at(zeros, idx, sd == 0)

    def weight(v, nz, p, z):
        return xp.where(v != 0, (z == 0) * p / nz, (z == 1) * p)
    return own * weight(xd, nz_x, prod, zeros), weight(sd, nz_s, prod[idx], zeros[idx])


_REDUCE_WEIGHTS = {"sum": _sum_weights, "mean": _mean_weights, "amax": _extreme_weights,
                   "amin": _extreme_weights, "prod": _prod_weights}


def _mean_count(shape, idx, include_self: bool) -> ndarray:
    """How many values each position of a scatter mean averages (at least 1, as untouched ones keep self)."""
    count = xp.ones(shape, dtype=xp.int64)
    if not include_self:
        count[idx] = 0
    xp.add.at(count, idx, 1)
    return count


def _scattered_zero(shape, idx, dtype) -> ndarray:
    """Ones, with zeros where the index writes."""
    w = xp.ones(shape, dtype=dtype)
    w[idx] = 0
    return w


@register(inplace="scatter_reduce_")
def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True) -> Tensor:
    """Reduce ``src`` into a copy of ``input`` at ``index`` along ``dim`` (sum, prod, mean, amax, amin)."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # torch still accepts the old names
    if reduce not in _REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    dim = wrap_dim(dim, input._data.ndim, "scatter_reduce")
    _same_dtype("scatter", input, src)
    _check_index("scatter", input, dim, index, src)
    return ScatterReduce.apply(input, _src_part(src, index._data.shape), _along(index._data, dim), reduce,
                               bool(include_self))



# ----------------------------------------------------------------------------- index_* along one dim
def _vector_index(op: str, index: Tensor, dtypes=_INT_KINDS, msg: str = "") -> ndarray:
    if index.dtype.name not in dtypes:
        raise RuntimeError(msg or f"{op}(): Expected dtype int32 or int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return index._data.reshape(-1)


def _at_dim(dim: int, index: ndarray) -> tuple:
    return (slice(None),) * dim + (index, Ellipsis)


def _scalar_as_vector(with_source: bool):
    """torch runs an index_* op on a 0-d input as on a vector of one (a 0-d source too): so does ember."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapped(input, dim, index, *args, **kwargs):
            if input._data.ndim:
                return fn(input, dim, index, *args, **kwargs)
            if with_source and args and isinstance(args[0], Tensor) and not args[0]._data.ndim:
                args = (args[0].reshape(1),) + args[1:]
            return fn(input.reshape(1), dim, index, *args, **kwargs).reshape(())
        return wrapped
    return deco


@register()
def index_select(input, dim: int, index, *, out=None) -> Tensor:
    """The slices of ``input`` at positions ``index`` along ``dim``."""
    dim = wrap_dim(dim, input._data.ndim, "index_select")
    i = _vector_index("index_select", index)
    size = input._data.shape[dim] if input._data.ndim else 1
    if i.size and (i.min() < 0 or i.max() >= size):
        raise IndexError("index out of range in self")
    if not input._data.ndim:
        result = Index.apply(input.reshape(1), (i,)).reshape(())
    else:
        result = Index.apply(input, _at_dim(dim, i))
    return write_out("index_select", result, out, input, index)


def _index_source(op: str, input: Tensor, dim: int, index: Tensor, source: Tensor, accumulate: bool):
    """Checks shared by index_add and index_copy; returns the put index."""
    dim = wrap_dim(dim, input._data.ndim, op)
    if accumulate:
        i = _vector_index(op, index, msg=f"{op}(): Expected dtype int32/int64 for index but got: "
                                         f"{_type_name(index.dtype)}")
    else:
        i = _vector_index(op, index, ("int64",), f"{op}(): Expected a long tensor for index, but got "
                                                  f"{_type_name(index.dtype)}")
    if source._data.dtype != input._data.dtype:
        if accumulate:
            raise RuntimeError(f"{op}(): self ({_type_name(input.dtype)}) and source ({_type_name(source.dtype)}) "
                               "must have the same scalar type")
        raise RuntimeError(f"{op}(): self and source expected to have the same dtype, but got (self) "
                           f"{_type_name(input.dtype)} and (source) {_type_name(source.dtype)}")
    xs, ss = input._data.shape, source._data.shape
    nsrc = ss[dim] if source._data.ndim else 1
    if i.size != nsrc:
        exc, sep = (RuntimeError, ":") if accumulate else (IndexError, "")
        raise exc(f"{op}(): Number of indices ({i.size}) should be equal to source.size(dim){sep} ({nsrc})"
                  + (f", for dim: {dim}" if accumulate else ""))
    if len(xs) != len(ss) or any(a != b for d, (a, b) in enumerate(zip(xs, ss)) if d != dim):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(xs)} source.shape = {list(ss)}")
    # torch's index_add_ of a vector or scalar takes another kernel, which raises IndexError
    _check_bounds(i, xs[dim] if xs else 1, dim, RuntimeError if accumulate and len(xs) > 1 else IndexError,
                  "" if accumulate and len(xs) > 1 else f"{op}(): ")
    return _at_dim(dim, i) if xs else (i,)


@register(inplace="index_add_")
@_scalar_as_vector(True)
def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at positions ``index`` along ``dim``."""
    idx = _index_source("index_add_", input, dim, index, source, True)
    if is_half(input._data.dtype) and alpha == 1 and input._data.ndim > 1 and isinstance(source, Tensor):
        # torch's kernel for this case sums in float32 and rounds once (1-D or alpha != 1: in the half type one by one)
        return index_add(input.float(), dim, index, source.float()).to(input.dtype)
    if alpha != 1 and not is_float(input._data.dtype):  # alpha in the input's dtype, wrapping as torch's
        alpha = Tensor._make(xp.asarray(alpha).astype(input._data.dtype))
    return IndexPut.apply(input, source if alpha == 1 else source * alpha, idx, True)


@register(inplace="index_copy_")
@_scalar_as_vector(True)
def index_copy(input, dim: int, index, source) -> Tensor:
    """A copy of ``input`` with the slices of ``source`` written at positions ``index`` along ``dim``."""
    if _amp.state.on:
        return _amp.call(index_copy, _amp.PROMOTE, input, dim, index, source)
    return IndexPut.apply(input, source, _index_source("index_copy_", input, dim, index, source, False), False)


@register(inplace="index_fill_")
@_scalar_as_vector(False)
def index_fill(input, dim: int, index, value) -> Tensor:
    """A copy of ``input`` with ``value`` written at positions ``index`` along ``dim``."""
    dim = wrap_dim(dim, input._data.ndim, "index_fill")
    if index.dtype.name != "int64":
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    i = _vector_index("index_fill_", index, ("int64",))
    size = input._data.shape[dim] if input._data.ndim else 1
    bad = i[(i < -size) | (i >= size)]
    if bad.size:
        raise IndexError(f"index {bad[0]} is out of bounds for dimension {dim} with size {size}")
    value = _fill_value("index_fill_", input, value)
    return IndexPut.apply(input, value, _at_dim(dim, i) if input._data.ndim else (i,), False)


def _fill_value(op: str, input: Tensor, value):
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        if value.is_complex() and not input.is_complex():
            raise RuntimeError(f"{op}: value cannot be converted to type {input.dtype} without overflow")
        return value.to(input.dtype)
    if isinstance(value, complex) and not input.is_complex():
        raise RuntimeError(f"{op}: value cannot be converted to type {input.dtype} without overflow")
    if input._data.dtype.names:  # complex32's record: NumPy would copy a number into both of its fields
        return Tensor._make(_complex32.narrow(value))
    return value


# ----------------------------------------------------------------------------- masks
_C_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "float32": "float", "float64": "double", "float16": "c10::Half"}


def _broadcast_mask(op: str, input: Tensor, mask: Tensor):
    """``input`` and the mask's array, broadcast to their common shape."""
    if getattr(mask, "_phys", None) is not None:  # a mask batched by vmap has no single array to index with
        raise RuntimeError(f"vmap: {op}() with a batched mask has no batching rule in ember yet (see docs/func.md); "
                           "use where(mask, value, input) instead")
    try:
        shape = xp.broadcast_shapes(input._data.shape, mask._data.shape)
    except ValueError:
        raise broadcast_error(op, input._data.shape, mask._data.shape) from None
    if input._data.shape != shape:
        input = input.expand(shape)
    return input, xp.broadcast_to(mask._data, shape)


@register(inplace="masked_fill_")
def masked_fill(input, mask, value) -> Tensor:
    """A copy of ``input`` with ``value`` where the (broadcast) bool ``mask`` is True."""
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_C_NAMES.get(mask.dtype.name, mask.dtype.name)}")
    value = _fill_value("masked_fill_", input, value)
    if getattr(mask, "_phys", None) is not None:  # a mask batched by vmap: as an elementwise op, which vmap batches
        if not isinstance(value, Tensor):
            value = Tensor._make(xp.asarray(value, input._data.dtype))
        from .common import FUNCTIONS
        return FUNCTIONS["where"](mask, value, input)
    input, m = _broadcast_mask("masked_fill", input, mask)
    return IndexPut.apply(input, value, (m,), False)


@register()
def masked_select(input, mask, *, out=None) -> Tensor:
    """The elements of ``input`` where the (broadcast) bool ``mask`` is True, as a vector."""
    if mask.dtype.name != "bool":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    x, m = _broadcast_mask("masked_select", input, mask)
    result = Index.apply(x, (m,))
    return write_out("masked_select", result, out, input, mask)


# ----------------------------------------------------------------------------- flat indexing
def _flat_index(op: str, input: Tensor, index: Tensor) -> ndarray:
    if index.dtype.name != "int64":
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {_type_name(index.dtype)}")
    i, n = index._data, input._data.size
    bad = i[(i < -n) | (i >= n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {bad.flat[0]} on a tensor of {n} elements.")
    return i


@register()
def take(input, index, *, out=None) -> Tensor:
    """``input`` read as a flat vector at ``index`` (negative positions count from the end)."""
    result = Index.apply(input.reshape(-1), (_flat_index("take", input, index),))
    return write_out("take", result, out, input, index)


@register(inplace="put_")
def put(input, index, source, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written (or added) at flat positions ``index``."""
    i = _flat_index("put_", input, index)
    if source._data.size != i.size:
        raise IndexError("put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source._data.size}, index.numel() = {i.size}")
    flat = IndexPut.apply(input.reshape(-1), source.reshape(-1), (i.reshape(-1),), bool(accumulate))
    return flat.reshape(input._data.shape)


@register()
def take_along_dim(input, indices, dim: int | None = None) -> Tensor:
    """``gather`` with ``indices`` broadcast against ``input`` (flat when ``dim`` is None)."""
    if indices.dtype.name != "int64":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_type_name(indices.dtype)}")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    xs, ishape = input._data.shape, indices._data.shape
    if len(xs) != len(ishape):
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {len(xs)} dimensions for input, and {len(ishape)} dimensions for indices")
    dim = wrap_dim(dim, len(xs), "take_along_dim")
    try:
        common = list(xp.broadcast_shapes(*[tuple(1 if d == dim else s for d, s in enumerate(sh))
                                            for sh in (xs, ishape)]))
    except ValueError:
        raise broadcast_error("take_along_dim", xs, ishape) from None
    xshape = tuple(xs[dim] if d == dim else s for d, s in enumerate(common))
    ishape = tuple(ishape[dim] if d == dim else s for d, s in enumerate(common))
    if input._data.shape != xshape:
        input = input.expand(xshape)
    return gather(input, dim, Tensor._make(xp.broadcast_to(indices._data, ishape)))


@register()
def nonzero(input, *, as_tuple: bool = False):
    """Positions of the non-zero elements: an ``(n, ndim)`` int64 tensor, or one vector per dim."""
    a = input._data
    if a.ndim == 0:
        n = int(bool(a))
        return (Tensor._make(xp.zeros(n, dtype=xp.int64)),) if as_tuple else \
            Tensor._make(xp.zeros((n, 0), dtype=xp.int64))
    where = xp.nonzero(a)
    if as_tuple:
        return tuple(Tensor._make(w.astype(xp.int64, copy=False)) for w in where)
    return Tensor._make(xp.stack(where, axis=1).astype(xp.int64, copy=False))


@register()
def nonzero_static(input, *, size: int, fill_value: int = -1) -> Tensor:
    """:func:`nonzero`'s ``(size, ndim)`` result cut or padded (with ``fill_value``) to ``size`` rows."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got {size}")
    found = nonzero(input)._data[:size]
    pad = xp.full((size - found.shape[0], found.shape[1]), fill_value, dtype=xp.int64)
    return Tensor._make(xp.concatenate([found, pad]))


@register()
def argwhere(input) -> Tensor:
    """Positions of the non-zero elements as an ``(n, ndim)`` int64 tensor."""
    return nonzero(input)


# ----------------------------------------------------------------------------- more scatters (torch's long tail)
def _scatter_into(op: str, input: Tensor, src: Tensor, idx: tuple) -> Tensor:
    """A copy of ``input`` with ``src`` written at the basic index ``idx`` (whose shape it must have)."""
    target = input._data[idx].shape
    if src._data.shape != target:
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(target)}")
    return IndexPut.apply(input, src.to(input.dtype), idx, False)


@register()
def select_scatter(input, src, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with ``src`` written at the slice :func:`select` would return."""
    d = wrap_dim(dim, input._data.ndim, "select_scatter")
    n = input._data.shape[d]
    if not -n <= int(index) < n:
        raise IndexError(f"select(): index {int(index)} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    return _scatter_into("select_scatter", input, src, (slice(None),) * d + (int(index),))


@register()
def slice_scatter(input, src, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``input[..., start:end:step]`` (along ``dim``)."""
    d = wrap_dim(dim, input._data.ndim, "slice_scatter")
    return _scatter_into("slice_scatter", input, src, (slice(None),) * d + (slice(start, end, step),))


@register(inplace="masked_scatter_")
def masked_scatter(input, mask, source) -> Tensor:
    """A copy of ``input`` with ``source``'s leading elements written, in order, where ``mask`` is True."""
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{_C_NAMES.get(mask.dtype.name, mask.dtype.name)}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{_type_name(input.dtype)} and {_type_name(source.dtype)}")
    input, m = _broadcast_mask("masked_scatter", input, mask)
    count = int(m.sum())
    if source._data.size < count:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return IndexPut.apply(input, source.reshape(-1)[:count], (m,), False)


@register(inplace="index_reduce_")
@_scalar_as_vector(True)
def index_reduce(input, dim: int, index, source, reduce: str, *, include_self: bool = True) -> Tensor:
    """Reduce the slices of ``source`` into a copy of ``input`` at positions ``index`` along ``dim``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    dim = wrap_dim(dim, input._data.ndim, "index_reduce")
    i = _vector_index("index_reduce", index)
    if source._data.ndim and source._data.shape[dim] != i.size:
        raise IndexError(f"index_reduce_(): Number of indices ({i.size}) should be equal to source.size(dim) "
                         f"({source._data.shape[dim]})")
    if i.size and (i.min() < 0 or i.max() >= input._data.shape[dim]):
        raise IndexError("index out of range in self")
    full = xp.broadcast_to(i.reshape([-1 if d == dim else 1 for d in range(source._data.ndim)]), source._data.shape)
    return scatter_reduce(input, dim, Tensor._make(xp.ascontiguousarray(full).astype(xp.int64)), source, reduce,
                          include_self=include_self)


# ----------------------------------------------------------------------------- index helpers
def _tri_indices(op: str, row: int, col: int, offset: int, dtype, lower: bool) -> Tensor:
    from .. import _dtype
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row must be non-negative, got {row}" if row < 0 else
                           f"{op}: col must be non-negative, got {col}")
    dt = xp.int64 if dtype is None else _dtype.as_dtype(dtype).np
    rows, cols = (xp.tril_indices if lower else xp.triu_indices)(row, offset, col)
    return Tensor._make(xp.stack([rows, cols]).astype(dt).reshape(2, -1))


@register(method=False)
def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix, row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, True)


@register(method=False)
def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix, row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, False)


@register(method=False)
def unravel_index(indices, shape) -> tuple:
    """The coordinates in a tensor of ``shape`` of each flat index (one int64 tensor per dim)."""
    a = indices._data if isinstance(indices, Tensor) else xp.asarray(indices)
    if a.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {a.dtype}")
    shape = (int(shape),) if isinstance(shape, (int, xp.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(tuple(shape)))
    rest, coords = a.astype(xp.int64), []
    for s in reversed(shape):  # floor division and modulo, so negative indices wrap as in torch
        coords.append(rest % s if s else rest * 0)
        rest = rest // s if s else rest * 0
    return tuple(Tensor._make(xp.asarray(c, dtype=xp.int64)) for c in reversed(coords))


@register(method=False)
def cartesian_prod(*tensors) -> Tensor:
    """Every tuple of one element from each 1-D tensor, as the rows of a matrix."""
    from .common import FUNCTIONS
    for t in tensors:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = FUNCTIONS["meshgrid"](*tensors, indexing="ij")
    return FUNCTIONS["stack"]([g.reshape(-1) for g in grids], 1)


@register(method=False)
def combinations(input, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-D tensor's elements (with repetition if asked), as rows."""
    import itertools
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._make(xp.empty((0,), dtype=input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = xp.array(list(pick(range(input._data.shape[0]), r)), dtype=xp.int64).reshape(-1, r)
    return index_select(input, 0, Tensor._make(idx.reshape(-1))).reshape(-1, r)


# ----------------------------------------------------------------------------- masked indexing (inductor's helpers)
def _clamped(input: Tensor, indices) -> tuple:
    """The index arrays of ``indices`` (one per leading dim) clamped into range: "unsafe" positions are the
    masked-out ones, which may hold anything."""
    return tuple(xp.clip(i._data, -n, n - 1) for i, n in zip(indices, input._data.shape))


@register("_unsafe_masked_index", method=False)
def unsafe_masked_index(input, mask, indices, fill) -> Tensor:
    """``input[indices]`` where ``mask`` is True, ``fill`` elsewhere."""
    fill = Tensor._make(xp.asarray(fill, dtype=input._data.dtype))
    return FUNCTIONS["where"](mask, Index.apply(input, _clamped(input, indices)), fill)


@register("_unsafe_masked_index_put_accumulate", method=False)
def unsafe_masked_index_put_accumulate(input, mask, indices, values) -> Tensor:
    """A copy of ``input`` with ``values`` added at ``indices`` where ``mask`` is True."""
    values = values.masked_fill(mask.logical_not(), 0)
    return IndexPut.apply(input, values, _clamped(input, indices), True)
