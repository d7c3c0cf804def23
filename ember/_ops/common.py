"""What every op file shares: the registry that makes one definition into function,
method and operator; the undoing of broadcasting; operand and dim normalisation."""
from __future__ import annotations

import math
import numbers
import weakref

from .. import _dtype
from .._backend import ndarray, xp
from .._dtype import is_half
from .._tensor import Tensor, _wrap_dim
from ..autograd import forward_ad as _forward_ad
from ..autograd import function as _function
from ..autograd.function import Op, _edge, _next_seq, NO_VERSION
from ..autograd.grad_mode import state
from .out import write_out as _write_out

FUNCTIONS: dict = {}   # name -> function, exported as ember.<name>
SCALARS = (int, float, bool)


def register(name: str | None = None, *, method: bool = True, function: bool = True, operators=(),
             reflected=(), inplace: str | None = None, aliases=()):
    """Publish an op once as ``ember.<name>``, ``Tensor.<name>``, operators and its in-place form.

    ``reflected`` operators (``__radd__``) call the op with the operands swapped;
    ``inplace`` names a method (``add_``) that writes the result into ``self``.
    """
    def deco(fn):
        n = name or fn.__name__
        for alias in (n, *aliases):
            if function:
                FUNCTIONS[alias] = fn
            if method:
                setattr(Tensor, alias, fn)
        for op in operators:
            setattr(Tensor, op, fn)
        for op in reflected:
            setattr(Tensor, op, _reflect(fn, op))
        if inplace:
            setattr(Tensor, inplace, inplace_method(fn, inplace))
            # x += y is in place in torch (a leaf parameter stays the same object)
            for op in operators:
                if op.startswith("__") and op not in ("__neg__", "__pos__", "__invert__", "__abs__"):
                    setattr(Tensor, "__i" + op[2:], getattr(Tensor, inplace))
        return fn
    return deco


def _reflect(fn, op: str):
    def reflected(self, other):
        if not isinstance(self, Tensor):  # Tensor.__radd__(2, t): torch's method descriptor refuses it
            raise TypeError(f"descriptor '{op}' for 'Tensor' objects doesn't apply to a '{type(self).__name__}' "
                            "object")
        return fn(other, self)
    reflected.__name__ = op
    return reflected


def need_tensor(x, op: str, what: str = "input", pos: int = 1) -> None:
    """Refuse a non-tensor where torch's schema takes a Tensor, with torch's TypeError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{what}' (position {pos}) must be Tensor, not {type(x).__name__}")


def inplace_method(fn, name: str):
    """The in-place variant of an out-of-place op: compute, then write the result into ``self``."""
    def method(self, *args, **kwargs):
        check_inplace(self, name)
        check_no_partial_overlap(self._data, args)
        src = self
        if getattr(self, "_phys", None) is not None:  # inside vmap: self's values are a whole batch
            src = self.clone() if state.enabled and self._requires_grad else self
        elif state.enabled and (self._requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)):
            # the op may save its input for backward, and self is about to be overwritten: give it
            # a copy that takes self's place in the graph (torch saves the original values too)
            src = Tensor._make(self._data.copy(), self._requires_grad, self._grad_fn, self._output_nr)
            src._tangent = self._tangent  # forward AD: the copy stands for self there too
        return write_inplace(self, fn(src, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In-place version of :func:`{fn.__name__}`."
    return method


def check_no_partial_overlap(out: ndarray, args) -> None:
    """torch refuses to write into memory that a tensor argument partly overlaps (its kernels would read values
    already overwritten); ember would give the clean result, so it refuses the same cases: both dense, and
    overlapping without being the same elements in the same layout."""
    for a in args:
        if isinstance(a, Tensor) and a._data is not out and xp.may_share_memory(out, a._data) \
                and _partial_overlap(out, a._data):
            raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor "
                               "refer to a single memory location. Please clone() the tensor before performing the "
                               "operation.")


def _dense(a: ndarray) -> bool:
    """Non-overlapping and dense: C-contiguous in some order of its dims."""
    step = a.itemsize
    for st, n in sorted((st, n) for st, n in zip(a.strides, a.shape) if n != 1):
        if st != step:
            return False
        step *= n
    return True


def _partial_overlap(a: ndarray, b: ndarray) -> bool:
    if not a.size or not b.size or not (_dense(a) and _dense(b)):
        return False  # (torch too gives up on the rest)
    a0, b0 = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
    a1, b1 = a0 + a.nbytes, b0 + b.nbytes
    if a0 == b0 and a1 == b1:
        return a.strides != b.strides
    return a0 < b1 and b0 < a1


def check_inplace(self: Tensor, name: str) -> None:
    """Refuse an in-place op on a leaf that requires grad (or a view of one) while recording, as torch does."""
    if self._base is not None:
        refresh_view(self)
    if self._vc is NO_VERSION and not state.inference:
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
                           "clone to get a normal tensor before doing inplace update.See "
                           "https://github.com/pytorch/rfcs/pull/17 for more details.")
    if state.enabled:
        if self._view_no_grad and self._multi_view is None:  # (first: it requires grad, has no grad_fn)
            raise RuntimeError("A view was created in no_grad mode and is being modified inplace with grad mode "
                               "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
                               "can clarify your code by moving both the view and the inplace either both inside the "
                               "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
                               "want the inplace to be tracked).")
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base._requires_grad and base._grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        if base is not None and self._multi_view is not None:
            op, nr, *why = self._multi_view  # why: a custom Function's view (see Function.apply)
            raise RuntimeError(f"Output {nr} of {op} is a view and is being modified inplace. " + (why[0] if why else
                               "This view is the output of a function that returns multiple views. Such functions do "
                               "not allow the output views to be modified inplace. You should replace the inplace "
                               "operation by an out-of-place one."))


def write_inplace(self: Tensor, out: Tensor, name: str) -> Tensor:
    """Store ``out`` in ``self``'s memory and make ``self`` the op's output in the graph."""
    if getattr(self, "_phys", None) is not None or getattr(out, "_phys", None) is not None:  # inside vmap
        from ..func._vmap import write_batched
        return write_batched(self, out, name)
    if out._data.shape != self._data.shape:
        raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(out.shape)}")
    if out._data.dtype != self._data.dtype:
        if not _dtype.can_cast(out.dtype, self.dtype):
            raise RuntimeError(f"{name}: result type {_type_name(out.dtype)} can't be cast to the desired output "
                               f"type {_type_name(self.dtype)}")
    if not self._data.flags.writeable:
        raise RuntimeError(f"{name}: unsupported operation: more than one element of the written-to tensor refers "
                           "to a single memory location. Please clone() the tensor before performing the operation.")
    for watch in _function.write_watchers:  # allow_mutation_on_saved_tensors copies what this write changes
        watch(self)
    if self._data.ndim:
        self._data[...] = out._data
    else:
        xp.copyto(self._data, out._data, casting="unsafe")
    view_edge = (self._grad_fn, self._output_nr)
    if out._requires_grad:
        if self._retains_grad:  # a view's retained grad waits for refresh_view to give it its new node
            _move_retained(self, out, attach=self._base is None)
        self._requires_grad = True
        self._grad_fn = out._grad_fn
        self._output_nr = out._output_nr
    self._vc[0] += 1  # shared with self's base, views and detach()es: their saved copies are now stale
    if out._tangent is not None or self._tangent is not None:  # forward AD: self takes the result's tangent
        _forward_ad.set_tangent(self, out._tangent)
        if self._base is not None:
            _tangent_into_base(self)
    node = out._grad_fn
    if node is not None and node._out_vc is out._vc:  # the op saved its result, which is self from now on
        node._out_vc, node._out_saved_version = self._vc, self._vc[0]
    base = self._base
    if base is not None and state.enabled and (out._requires_grad or base._requires_grad):
        _rebase(base, self, out, view_edge)
    return self


def _tangent_into_base(view: Tensor) -> None:
    """Forward AD: a view's new tangent goes into its base's at the view's elements (torch's tangent of a
    view is a view of its base's tangent)."""
    base = view._base
    pos = _flat_positions(base._data, view._data)
    if pos is None:
        return
    old = base._tangent
    arr = xp.zeros(base._data.shape, base._data.dtype) if old is None else xp.array(old._data, copy=True)
    arr.reshape(-1)[pos.reshape(-1)] = 0 if view._tangent is None else \
        xp.broadcast_to(view._tangent._data, pos.shape).reshape(-1)
    _forward_ad.set_tangent(base, Tensor._make(arr))


# ----------------------------------------------------------------------------- views and in-place
# A view shares its base's memory and version counter. An in-place write into a view gives the base a
# new history at once (CopySlices); every other view of that base learns of the write lazily: its
# version no longer matches the one its history was derived at, so the next time autograd looks at it
# (an op, .grad_fn, .requires_grad, backward) refresh_view derives a new node from the base's current
# history (AsStridedBackward0), as torch does.

def refresh_view(view: Tensor) -> None:
    """Re-derive ``view``'s history from its base if their memory was written in place since."""
    seen = view._view_version
    if seen is None:  # (before reading the counter: a view of an inference tensor has none)
        return
    now = view._vc[0]
    if seen == now:
        return
    if view._view_no_grad:  # which history it should have is ambiguous: torch refuses to guess
        if state.enabled:
            raise RuntimeError(_NO_GRAD_VIEW)
        return
    view._view_version = now
    base = view._base
    if not base._requires_grad:
        return
    pos = _flat_positions(base._data, view._data)
    if pos is None:
        return
    node = AsStrided._Node()
    node.next_functions = (_edge(base),)
    node._seq = _next_seq()
    node.pos, node.base_shape = pos, base._data.shape
    if view._retains_grad:
        _move_retained(view, Tensor._make(view._data, True, node, 0))
    view._grad_fn, view._output_nr, view._requires_grad = node, 0, True


def _move_retained(t: Tensor, new: Tensor, attach: bool = True) -> None:
    """``t`` is about to take ``new``'s place in the graph: its retained grad leaves its old node and, if
    ``attach``, follows it to ``new``'s (torch moves the retains_grad hook: .grad is then the new value's)."""
    old = t._grad_fn
    ref = old._retain.get(t._output_nr) if old is not None and old._retain else None
    if ref is not None and ref() is t:
        del old._retain[t._output_nr]
    node = new._grad_fn
    if attach and node is not None:
        if node._retain is None:
            node._retain = {}
            node._fast = False
        node._retain[new._output_nr] = weakref.ref(t)


_function.refresh_view = refresh_view
_NO_GRAD_VIEW = ("A view was created in no_grad mode and its base or another view of its base has been modified "
                 "inplace with grad mode enabled. Given that this use case is ambiguous and error-prone, it is "
                 "forbidden. You can clarify your code by moving both the view and the inplace either both inside "
                 "the no_grad block (if you don't want the inplace to be tracked) or both outside (if you want the "
                 "inplace to be tracked).")


class AsStrided(Op):
    """The history of a view re-derived from its base: its gradient scattered into the base's shape."""

    @staticmethod
    def backward(ctx, g):
        flat = Tensor._make(xp.zeros(math.prod(ctx.base_shape), g._data.dtype))
        return flat.index_add(0, Tensor._make(ctx.pos.reshape(-1)), g.reshape(-1)).reshape(ctx.base_shape)


class CopySlices(Op):
    """A view's base after an in-place op wrote into the view: the base's new history (torch's
    CopySlices). Its memory already holds the new values; the gradient of the written positions
    goes to the op's result, the rest to the base's previous history."""

    @staticmethod
    def forward(base, src, idx):
        return base

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.idx, ctx.base_shape = inputs[2], inputs[0]._data.shape

    @staticmethod
    def backward(ctx, g):
        flat = g.reshape(-1)
        idx = Tensor._make(ctx.idx.reshape(-1))
        return (flat.index_fill(0, idx, 0).reshape(ctx.base_shape),
                flat.index_select(0, idx).reshape(ctx.idx.shape), None)


def _offsets(a: ndarray, ref: ndarray):
    """The address of each element of ``a``, in items from ``ref``'s first element (None if not whole items)."""
    item = ref.itemsize
    start = a.__array_interface__["data"][0] - ref.__array_interface__["data"][0]
    if a.itemsize != item or start % item or any(st % item for st in a.strides):
        return None
    off = xp.full(a.shape, start // item, dtype=xp.int64)
    for k, (n, st) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[k] = n
        off += (xp.arange(n, dtype=xp.int64) * (st // item)).reshape(shape)
    return off


def _flat_positions(base: ndarray, view: ndarray):
    """For each element of ``view``, the index of the same element in ``base`` flattened in C order
    (None if some element of ``view`` is not one of ``base``'s)."""
    pos = _offsets(view, base)
    if pos is None or not pos.size:
        return pos
    if not base.flags.c_contiguous:  # map addresses to C-order indices through a table
        addr = _offsets(base, base).reshape(-1)
        lo = min(int(addr.min()), int(pos.min()))
        table = xp.full(max(int(addr.max()), int(pos.max())) - lo + 1, -1, dtype=xp.int64)
        table[addr - lo] = xp.arange(base.size, dtype=xp.int64)
        pos = table[pos - lo]
    if pos.min() < 0 or pos.max() >= base.size:
        return None
    return pos


def _rebase(base: Tensor, view: Tensor, out: Tensor, view_edge: tuple) -> None:
    """Give ``base`` the history of the in-place write that just went into its ``view``."""
    before = Tensor._make(base._data, base._requires_grad, base._grad_fn, base._output_nr)
    pos = _flat_positions(base._data, view._data)
    if pos is None and base._data.dtype.itemsize != view._data.dtype.itemsize:
        # a real view of a complex base (real, imag, view_as_real) or the reverse: the write is spliced
        # in the view's element type, through a differentiable view of the base as that type
        from .complex import view_as_complex, view_as_real
        there, back = (view_as_real, view_as_complex) if base.is_complex() else (view_as_complex, view_as_real)
        before = there(before)
        pos = _flat_positions(before._data, view._data)
        if pos is None:  # else the base's gradient would be wrong
            raise NotImplementedError("ember: this in-place write into a real view of a complex tensor (or the "
                                      "reverse) that requires grad is not differentiable yet")
        after = back(CopySlices.apply(before, out, pos))
    elif pos is None:
        return
    else:
        _skip_view_node(out._grad_fn, view_edge, before, pos)
        after = CopySlices.apply(before, out, pos)
    if base._retains_grad:
        _move_retained(base, after)
    base._requires_grad = True
    base._grad_fn = after._grad_fn
    base._output_nr = 0


def _skip_view_node(node, view_edge: tuple, before: Tensor, pos) -> None:
    """Route the written view's gradient from the in-place op's node straight to the base's earlier history, as
    torch's CopySlices does: the view's own node, and the hooks registered on the view before, are not on it."""
    if node is None or view_edge[0] is None or view_edge not in node.next_functions:
        return
    fresh = AsStrided._Node()
    fresh.next_functions = (_edge(before),)
    fresh._seq = node._seq - 0.5  # the engine runs nodes by number: after the op's node, before the base's
    fresh.pos, fresh.base_shape = pos, before._data.shape
    edges = list(node.next_functions)
    edges[edges.index(view_edge)] = (fresh, 0)
    node.next_functions = tuple(edges)


def _type_name(d) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
            "int16": "Short", "int8": "Char", "uint8": "Byte", "uint64": "UInt64", "bool": "Bool", "bfloat16": "BFloat16", "complex32": "ComplexHalf", "complex64": "ComplexFloat",
            "complex128": "ComplexDouble"}[d.name]


def write_out(op: str, result: Tensor, out: Tensor | None) -> Tensor:
    """torch's ``out=`` for elementwise ops: ``result`` cast into ``out`` (see ``out.write_out``), or ``result``."""
    return result if out is None else _write_out(op, result, out)


def is_scalar(x) -> bool:
    """A Python or NumPy number (not a tensor)."""
    return isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def as_tensor_arg(x, like: Tensor | None = None) -> Tensor:
    """A tensor operand from a tensor, array, list or number."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, ndarray):
        return Tensor._make(x)
    if hasattr(x, "to_dense"):  # a sparse operand of an elementwise op: the result is dense, as torch's
        return x.to_dense()
    from .._factories import tensor
    return tensor(x)


def binary_operands(a, b, ints: str = "wrap"):
    """Operands of an elementwise binary op, with torch's dtype promotion applied.

    A Python number stays a number (NumPy treats it as weakly typed, as torch does),
    unless promotion makes it change the tensor's dtype. A Python int computed in an integer dtype it
    does not fit is cast as torch casts it (see ``int_scalar``): ``ints`` is "wrap" (comparisons,
    arithmetic), "check" (pow, where) or "exact" (ops that compute in floating point: true division).
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a._data.dtype is b._data.dtype:
            return a, b
    elif ta and type(b) in SCALARS:
        if a._data.dtype.kind in "fV" and type(b) is not bool:
            return a, b
    elif tb and type(a) in SCALARS:
        if b._data.dtype.kind in "fV" and type(a) is not bool:
            return a, b
    if not ta and not is_scalar(a):
        a = as_tensor_arg(a)
    if not tb and not is_scalar(b):
        b = as_tensor_arg(b)
    rt = _dtype.result_type(a, b)
    a = _cast_operand(a, rt, ints)
    b = _cast_operand(b, rt, ints)
    return a, b


def _cast_operand(x, rt, ints: str = "wrap"):
    if isinstance(x, Tensor):
        return x if x._data.dtype is rt.np else x.to(rt)
    if isinstance(x, xp.generic):
        x = x.item()
    if rt._cat == 3:
        return complex(x)
    if rt._cat == 2:
        return float(x)
    if rt._cat == 1:
        return int_scalar(int(x), rt, ints)
    return bool(x)


_INT_BOUNDS = {d.np: (int(xp.iinfo(d.np).min), int(xp.iinfo(d.np).max)) for d in _dtype.ALL if d._cat == 1}


def int_scalar(x: int, rt, ints: str = "wrap") -> int:
    """A Python int as torch makes it an operand of dtype ``rt``: out of range it wraps modulo 2**bits
    (``uint8_tensor == -1`` compares with 255), or raises with ``ints="check"`` as torch's pow and where do.

    torch reads the int as int64 or, from 2**63 up, as uint64; beyond those it raises OverflowError."""
    lo, hi = _INT_BOUNDS[rt.np]
    if lo <= x <= hi:
        return x
    if not -2 ** 63 <= x < 2 ** 64:
        raise OverflowError("int too big to convert" if x > 0 else "can't convert negative int to unsigned")
    if ints == "exact":
        return x
    if ints == "check" and not (lo == 0 and -hi <= x < 0):  # torch lets -max..-1 wrap into an unsigned type
        raise RuntimeError(f"value cannot be converted to type {rt.np.name}_t without overflow")
    return (x - lo) % (hi - lo + 1) + lo


def sum_to(g: Tensor, shape) -> Tensor:
    """Undo broadcasting: sum ``g`` down to ``shape`` (differentiable, so double backward works)."""
    if not isinstance(g, Tensor):  # an array-mode backward (see Op.array_backward)
        if type(g) is ndarray and g.shape == shape:
            return g
        g = xp.asarray(g)  # NumPy turns 0-dim results into scalars
        if g.shape == tuple(shape):
            return g
        lead = g.ndim - len(shape)
        dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
        if dims and is_half(g.dtype):  # NumPy would add in the half type: in float32, rounded once, as torch
            return g.sum(axis=dims, keepdims=True, dtype=xp.float32).astype(g.dtype).reshape(shape)
        return g.sum(axis=dims, keepdims=True).reshape(shape) if dims else g.reshape(shape)
    gshape = g._data.shape
    if gshape == shape:
        return g
    shape = tuple(shape)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"sum_to: shape {list(shape)} is not expandable to {list(gshape)}")
    dims = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            dims.append(lead + i)
        elif s != gshape[lead + i]:
            raise RuntimeError(f"sum_to: shape {list(shape)} is not expandable to {list(gshape)}")
    if dims:
        g = g.sum(tuple(dims), keepdim=True)
    return g.reshape(tuple(shape)) if g._data.shape != tuple(shape) else g


def norm_dims(dim, ndim: int, op: str = "") -> tuple:
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, xp.integer)):
        return (_wrap_dim(int(dim), ndim, op),)
    dims = tuple(_wrap_dim(int(d), ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dim {dims[0]} appears multiple times in the list of dims")
    return tuple(sorted(dims))


wrap_dim = _wrap_dim


def broadcast_error(op: str, *shapes) -> RuntimeError:
    """torch's message for shapes that don't broadcast, naming the op."""
    a, b = shapes[0], shapes[1]
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and da != 1 and db != 1:
            nd = max(len(a), len(b)) - i
            return RuntimeError(f"{op}: The size of tensor a ({da}) must match the size of tensor b ({db}) at "
                                f"non-singleton dimension {nd} (shapes {list(a)} and {list(b)})")
    return RuntimeError(f"{op}: shapes {list(a)} and {list(b)} cannot be broadcast together")


def float_dtype_for(t: Tensor):
    """The float dtype an integer input is promoted to by ops like div, sqrt, mean."""
    return t._data.dtype if t._data.dtype.kind in "fV" else _dtype.get_default_dtype().np
