"""vmap: run a function written for one sample on a whole batch, by moving a batch dim through each op.

Inside ``vmap`` a batched input is a ``BatchedTensor``: to the function (and to the op wrappers
that check shapes and normalise dims) it looks like one sample of the logical shape, while
``_phys`` holds the whole batch as an ordinary tensor with the batch dims at the front, one per
active vmap level. When an op is applied to a batched tensor, its batching rule rewrites the
call into one call of an ordinary op on those physical tensors: elementwise and matrix ops line
up ranks and broadcast, ops that take dims get them shifted past the batch dims, shape ops get
the batch sizes prefixed. So autograd inside vmap records ordinary ops on the physical tensors,
and ``vmap(grad(f))`` gives per-sample gradients in one backward pass. An op with no rule falls
back to a loop over the batch (with a warning, once per op); docs/func.md lists the rules.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import sys
import warnings
import weakref

from .._backend import matmul as _array_matmul, ndarray, xp
from .._tensor import Tensor
from ..autograd import forward_ad as _fw
from ..autograd.function import Op
from ._tree import flatten, unflatten

_levels: list = []   # the active vmap levels, outermost first: [(level id, batch size, randomness)]
_next_level = itertools.count(1).__next__
# id of a batched tensor's one-sample array -> the tensor: an op wrapper that hands an op a tensor's
# array (a target's class indices) instead of the tensor is seen through
_proxies = weakref.WeakValueDictionary()


class BatchedTensor(Tensor):
    """A tensor seen one sample at a time inside vmap; ``_phys`` has the batch dims in front."""

    def __repr__(self) -> str:
        return f"BatchedTensor(levels={list(self._bat_levels)}, value={self._phys!r})"

    def item(self):
        raise RuntimeError("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
                           "calling .item() on a Tensor, please try to rewrite what you're doing with other "
                           "operations. If error is occurring somewhere inside PyTorch internals, please file a bug "
                           "report.")

    def __bool__(self):
        raise RuntimeError("vmap: It looks like you're attempting to use a Tensor in some data-dependent control "
                           "flow. We don't support that yet, please file an issue at "
                           "https://github.com/pytorch/pytorch/issues .")

    __float__ = __int__ = __index__ = tolist = item

    def numpy(self, *, force: bool = False):
        raise RuntimeError("vmap: a batched tensor has no single array: return it from the function instead "
                           "of converting it inside vmap")

    def detach(self) -> "BatchedTensor":
        return _wrap(self._phys.detach(), self._bat_levels)

    def requires_grad_(self, requires_grad: bool = True) -> "BatchedTensor":
        self._phys.requires_grad_(requires_grad)
        self._requires_grad = requires_grad
        return self


def _wrap(phys: Tensor, levels: tuple) -> Tensor:
    """A BatchedTensor over ``phys``, whose first ``len(levels)`` dims are those levels' batch dims."""
    if not levels:
        return phys
    b = object.__new__(BatchedTensor)
    b._data = _proxy(phys._data, len(levels))
    b._requires_grad = phys._requires_grad
    b._grad_fn = None
    b._output_nr = 0
    b._vc = phys._vc
    b._phys, b._bat_levels = phys, levels
    _proxies[id(b._data)] = b
    return b


class _Sample(ndarray):
    """A batched tensor's one-sample array (see BatchedTensor), read-only. An op wrapper may read its
    shape and dtype freely; computing with its values (a NumPy function or ufunc) marks the values
    seen (_seen), because a result built from them would silently give every sample the first
    one's result: vmap refuses such a result (see _make_checked and _apply) instead."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _seen[0] = True
        inputs = tuple(i.view(ndarray) if isinstance(i, _Sample) else i for i in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        _seen[0] = True
        return super().__array_function__(func, types, args, kwargs)


_seen = [False]  # a one-sample array's values were computed with since the last batched op


def _proxy(arr, k: int):
    """An array of one sample's shape and dtype, for the op wrappers' checks (the first sample)."""
    if all(arr.shape[:k]):
        out = arr[(0,) * k + (Ellipsis,)].view(_Sample)  # a 0-d view, not a NumPy scalar
    else:
        out = xp.zeros(arr.shape[k:], arr.dtype).view(_Sample)
    out.flags.writeable = False  # an in-place write goes to the physical tensor (see write_inplace)
    return out


def _unbatched() -> str:
    """The refusal, naming the public op being called (the innermost ember function on the stack)."""
    from .._ops.common import FUNCTIONS
    codes: dict = {}
    for n, f in FUNCTIONS.items():
        codes.setdefault(getattr(f, "__code__", None), set()).add(n)
    frame, name = sys._getframe(1), None
    while frame is not None:  # the outermost ember function: the one the user called
        names = codes.get(frame.f_code, ())
        if names:
            name = next(iter(names)) if len(names) == 1 else None  # one body serving several ops: unknown
        frame = frame.f_back
    what = f"{name}()" if name else "this operation"
    return (f"vmap: {what} computes its result from a batched tensor's values outside ember's ops, so vmap "
            "cannot batch it (it has no batching rule); ember does not support it inside vmap yet (see "
            "docs/func.md). Run it outside vmap or on each sample.")
_plain_make = Tensor._make


def _make_checked(arr, *rest):
    """Tensor._make while vmap is active: refuses an array computed from a one-sample array."""
    if isinstance(arr, _Sample) or _seen[0]:
        _seen[0] = False
        raise RuntimeError(_unbatched())
    if isinstance(arr, _Draw) and arr.levels:  # random values, different for each sample
        return _wrap(_plain_make(arr.view(ndarray), *rest), arr.levels)
    return _plain_make(arr, *rest)


def _active() -> tuple:
    return tuple(lv for lv, _, _ in _levels)


def _size(level) -> int:
    return next(n for lv, n, _ in _levels if lv == level)


def _levels_of(a) -> tuple:
    if isinstance(a, _Raw):
        return a.b._bat_levels
    return a._bat_levels if isinstance(a, BatchedTensor) else ()


def _align(a, levels: tuple, rank: int | None = None, expand: bool = False):
    """``a``'s physical tensor with one dim per level of ``levels`` (size 1 where ``a`` is not batched
    over it, or the batch size with ``expand``), then ``rank`` logical dims (size-1 dims padded in front)."""
    if isinstance(a, _Raw):
        return _align(a.b, levels, rank, expand)._data
    own = _levels_of(a)
    phys = a._phys if own else a
    logical = tuple(phys.shape[len(own):])
    pad = () if rank is None else (1,) * (rank - len(logical))
    if own == levels and not pad:
        return phys
    shape, src = [], 0
    for lv in levels:
        if lv in own:
            shape.append(phys.shape[src])
            src += 1
        else:
            shape.append(1)
    out = phys.reshape(*shape, *pad, *logical)
    if expand:
        out = out.expand(*[_size(lv) for lv in levels], *pad, *logical)
    return out


# ----------------------------------------------------------------------------- batching rules
# rule(cls, args, levels) -> the result on physical tensors (batch dims in front, for ``levels``)

def broadcasting(cls, args, levels):
    """Elementwise and matrix ops: batch dims in front, logical ranks lined up, one call."""
    rank = max((len(a.shape) for a in args if isinstance(a, Tensor)), default=0)
    return cls.apply(*[_align(a, levels, rank) if isinstance(a, Tensor) else a for a in args])


def shift_dims(*positions):
    """Ops with dims at ``positions`` of their arguments (an int, a tuple, or None for all)."""
    def rule(cls, args, levels):
        x, k = args[0], len(levels)
        new = [_align(x, levels)] + list(args[1:])
        for p in positions:
            d = args[p]
            if d is None:
                new[p] = tuple(range(k, k + x.ndim))
            elif isinstance(d, int):
                new[p] = d % max(x.ndim, 1) + k
            else:
                new[p] = tuple(i % max(x.ndim, 1) + k for i in d)
        return cls.apply(*new)
    return rule


def _sizes(levels):
    return tuple(_size(lv) for lv in levels)


def reshape_rule(cls, args, levels):
    x, shape = args[0], args[1]
    return cls.apply(_align(x, levels, expand=True), (*_sizes(levels), *shape))


def expand_rule(cls, args, levels):
    x, shape = args[0], args[1]  # broadcast_to lines up from the right: pad the sample's rank first
    return cls.apply(_align(x, levels, len(shape), expand=True), (*_sizes(levels), *shape))


def permute_rule(cls, args, levels):
    k = len(levels)
    return cls.apply(_align(args[0], levels), (*range(k), *[d % max(args[0].ndim, 1) + k for d in args[1]]))


def index_rule(cls, args, levels):
    x, idx = args
    key = idx if isinstance(idx, tuple) else (idx,)
    if not all(isinstance(i, (slice, int)) or i is None or i is Ellipsis for i in key):
        return loop(cls, args, levels)  # advanced indexing moves dims: by loop
    return cls.apply(_align(x, levels), (slice(None),) * len(levels) + key)


def cat_rule(cls, args, levels):
    dim, xs = args[0], args[1:]
    k = len(levels)
    nd = max(x.ndim for x in xs)
    return cls.apply(dim % nd + k, *[_align(x, levels, expand=True) for x in xs])


def linear_rule(cls, args, levels):
    """x W^T + b: as one op when only x is batched, else as batched matrix products."""
    x, w, b = args
    if not _levels_of(w) and not _levels_of(b):
        return cls.apply(_align(x, levels), w, b)
    from .. import matmul
    k = len(levels)
    xp_ = _align(x, levels, expand=True)
    rows = xp_.reshape(*xp_.shape[:k], -1, x.shape[-1])                      # (batch..., rows, in)
    wp = _align(w, levels, expand=True)
    if k == 1 and wp._data.strides[0] == 0:  # one weight lifted for per-sample gradients
        out = _PerSampleLinear.apply(rows, wp)
    else:
        out = matmul(rows, wp.mT)                                              # (batch..., rows, out)
    if b is not None:
        out = out + _align(b, levels).unsqueeze(-2)
    return out.reshape(*xp_.shape[:k], *x.shape[:-1], w.shape[0])


def nll_rule(cls, args, levels):
    """Negative log-likelihood: the batch dims fold into its samples' dim."""
    logp, target, weight, ignore = args
    k = len(levels)
    lp, t = _align(logp, levels, expand=True), _align(target, levels, expand=True)
    if lp.ndim != k + 2 or _levels_of(weight):
        return loop(cls, args, levels)
    out = cls.apply(lp.reshape(-1, lp.shape[-1]), t.reshape(-1), weight, ignore)
    return out.reshape(*lp.shape[:k + 1])


class _PerSampleLinear(Op):
    """``x W_b^T`` for each sample b, where every W_b is the same weight (a broadcast view, as grad
    lifts a shared weight inside vmap): one matrix product forward, and in backward each sample's
    weight gradient as the outer product of its output gradient and input (the per-sample trick)."""

    @staticmethod
    def forward(x, w):                                   # x (B, rows, in), w (B, out, in)
        b, rows, n = x.shape
        return _array_matmul(x.reshape(b * rows, n), w[0].T).reshape(b, rows, -1)  # ember's BLAS threading

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):                                # g (B, rows, out)
        x, w = ctx.saved_tensors
        b, rows, n = x.shape
        need_x, need_w = ctx.needs_input_grad
        gx = (g.reshape(b * rows, -1) @ w[0]).reshape(b, rows, n) if need_x else None
        if not need_w:
            return gx, None
        if rows == 1:  # one row per sample (the usual case): the outer product itself, no sum to take
            return gx, g.reshape(b, -1, 1) * x.reshape(b, 1, n)
        return gx, g.mT @ x                              # (B, out, in)


def conv_rule(cls, args, levels):
    """Convolution: the batch dims fold into the images' batch dim when only the input is batched."""
    x, w, b, geo = args
    if _levels_of(w) or _levels_of(b) or x.ndim != w.ndim:
        return loop(cls, args, levels)
    k = len(levels)
    xp_ = _align(x, levels)
    out, cols = cls.apply(xp_.reshape(-1, *x.shape[1:]), w, b, geo)
    return out.reshape(*xp_.shape[:k], x.shape[0], *out.shape[1:]), cols


_warned: set = set()
_strict = [False]  # set by a caller with a faster way than a loop (jacrev): a missing rule raises NoRule


class NoRule(Exception):
    """An op without a batching rule was met while _strict was set."""


def _no_rule(key, name: str, stacklevel: int) -> None:
    """Before running an op once per sample: raise under _strict, else warn (once per op)."""
    if _strict[0]:
        raise NoRule(name)
    if key not in _warned:
        warnings.warn(f"There is a performance drop because we have not yet implemented the batching rule for "
                      f"{name}. vmap runs it once per sample.", UserWarning, stacklevel=stacklevel + 1)
        _warned.add(key)


def loop(cls, args, levels, kwargs=None):
    """No rule: the op once per sample, the results stacked (recorded, so still differentiable)."""
    from .. import stack
    _no_rule(cls, cls.__name__, 4)
    aligned = [_align(a, levels) if _levels_of(a) else a for a in args]
    results = []
    for idx in itertools.product(*[range(n) for n in _sizes(levels)]):
        sample = [a[tuple(min(i, s - 1) for i, s in zip(idx, a.shape))] if _levels_of(b) else a
                  for a, b in zip(aligned, args)]
        results.append(cls.apply(*sample, **(kwargs or {})))
    if isinstance(results[0], tuple):
        return tuple(_stack_as(stack, [r[j] for r in results], levels) if isinstance(results[0][j], Tensor)
                     else results[0][j] for j in range(len(results[0])))
    return _stack_as(stack, results, levels)


# Public ops that read values outside ember's ops (index results, data-dependent algorithms) and have
# no batching rule yet: inside vmap, with a batched argument, each runs once per sample (a warning
# names it the first time). Outside vmap the wrapper only checks that no vmap is active.
LOOPED = ("argmax", "argmin", "argsort", "sort", "msort", "topk", "kthvalue", "max", "min", "median", "nanmedian",
          "mode", "cummax", "cummin", "gather", "take", "take_along_dim", "index_select", "index_add", "index_copy",
          "index_fill", "index_reduce", "scatter", "scatter_add", "scatter_reduce", "put", "searchsorted",
          "bucketize", "isin", "histc", "quantile", "nanquantile", "nanmean", "renorm", "logdet",
          "linalg.lstsq", "linalg.matrix_rank")


def install_loops(namespaces) -> None:
    """Wrap each LOOPED op where it is published (ember, ember.linalg, Tensor, the registry)."""
    for name in LOOPED:
        short = name.split(".")[-1]
        for ns in namespaces:
            fn = ns.get(name) if isinstance(ns, dict) else getattr(ns, short if "." in name else name, None)
            if fn is None or getattr(fn, "_vmap_loop", False):
                continue
            if isinstance(ns, dict):
                ns[name] = _looped(fn, name)
            elif "." not in name or ns.__name__.endswith(name.rsplit(".", 1)[0]):
                setattr(ns, short if "." in name else name, _looped(fn, name))


def _looped(fn, name: str):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _levels:
            leaves, spec = flatten((args, kwargs))
            levels = tuple(lv for lv in _active() if any(lv in _levels_of(a) for a in leaves))
            if levels:
                return _loop_call(fn, name, leaves, spec, levels)
        return fn(*args, **kwargs)
    op._vmap_loop = True
    return op


def _loop_call(fn, name: str, leaves: list, spec, levels: tuple):
    """``fn`` once per sample of ``levels`` on plain tensors, its tensor results stacked and batched."""
    from .. import stack
    _no_rule(name, name, 3)
    with _fw.below(_apply):
        aligned = [_align(a, levels) if _levels_of(a) else a for a in leaves]
        outs = []
        for idx in itertools.product(*[range(n) for n in _sizes(levels)]):
            sample = [a[tuple(min(i, s - 1) for i, s in zip(idx, a.shape))] if _levels_of(b) else a
                      for a, b in zip(aligned, leaves)]
            args, kwargs = unflatten(sample, spec)
            _seen[0] = False
            outs.append(flatten(fn(*args, **kwargs)))
        _seen[0] = False
        results = [_wrap(_stack_as(stack, [o[0][j] for o in outs], levels), levels)
                   if isinstance(outs[0][0][j], Tensor) else outs[0][0][j] for j in range(len(outs[0][0]))]
    return unflatten(results, outs[0][1])


def _stack_as(stack, parts, levels):
    out = stack(parts)
    return out.reshape(*_sizes(levels), *out.shape[1:])


# How vmap batches an op is declared on the op, beside its forward and backward (JAX keeps a batching
# rule beside each primitive the same way): a class attribute ``batching`` naming one of these kinds.
# A new op of a known kind then batches from its definition, e.g.
#     class Sum(Op):
#         batching = "dims"        # the batch dims go in front; its dim argument shifts past them
KINDS = {
    "elementwise": broadcasting,   # ranks lined up behind the batch dims, one call (NumPy broadcasts)
    "dims": shift_dims(1),         # the dim(s) at argument 1 (None: all) shift past the batch dims
    "reshape": reshape_rule,       # the batch sizes prefixed to the shape
    "expand": expand_rule,         # the same, after the sample's dims are padded to the new rank
    "permute": permute_rule,       # the batch dims kept in front of the permutation
    "cat": cat_rule,               # the dim shifted, every part expanded over the batch
    "index": index_rule,           # a full slice per batch dim in front of a basic index
    "linear": linear_rule,         # x W^T + b, with per-sample weights as batched products
    "conv": conv_rule,             # the batch folded into the images' batch dim
    "nll": nll_rule,               # the batch folded into the samples' dim
}

# ``linear`` does not declare its kind yet (its file was being changed by others when the
# declarations moved to the ops): it is kept here, by class. Everything else without one loops.
RULES: dict = {}


def _register_rules() -> None:
    from ..nn._functional import basic
    RULES[basic._Linear] = "linear"


def rule_of(cls):
    """The batching rule of an op class: its declared kind's, else a loop over the samples."""
    kind = cls.batching or RULES.get(cls)
    return loop if kind is None else KINDS[kind]


def _apply(cls, args, kwargs):
    """The vmap transform: an op on batched tensors becomes one op on their physical tensors."""
    if _seen[0]:  # a one-sample array's values were read: by a check (fine), or to compute an argument
        _seen[0] = False
        if any(_plain_array(a) for a in args):
            raise RuntimeError(_unbatched())
    args = tuple(_unproxy(a) for a in args)
    levels = tuple(lv for lv in _active() if any(lv in _levels_of(a) for a in args))
    with _fw.below(_apply):
        if not levels:
            return cls.apply(*args, **kwargs)
        if not RULES:
            _register_rules()
        if issubclass(cls, Op):
            out = rule_of(cls)(cls, args, levels)
        else:
            out = _custom_function(cls, args, kwargs, levels)
    if isinstance(out, tuple):
        return tuple(_wrap(o, levels) if isinstance(o, Tensor) else o for o in out)
    return _wrap(out, levels)


def write_batched(self: BatchedTensor, out: Tensor, name: str) -> BatchedTensor:
    """An in-place op on a batched tensor: the result, batched as ``self``, written into its batch."""
    from .._ops.common import write_inplace
    if any(lv not in _levels_of(self) for lv in _levels_of(out)):
        raise RuntimeError(f"vmap: {name}(self, *extra_args) is not possible because there exists a Tensor "
                           "`other` in extra_args that has more elements than `self`. This happened due to "
                           "`other` being vmapped over but `self` not being vmapped over in a vmap. Please try to "
                           f"use out-of-place operators instead of {name}.")
    with _fw.below(_apply):
        write_inplace(self._phys, _align(out, self._bat_levels, expand=True), name)
    self._requires_grad = self._phys._requires_grad
    return self


class _VmapInfo:
    """What a custom Function's vmap staticmethod is told (torch's VmapInfo)."""

    def __init__(self, batch_size: int, randomness: str) -> None:
        self.batch_size, self.randomness = batch_size, randomness


def _custom_function(cls, args, kwargs, levels):
    """A user's autograd.Function: its own vmap rule (one level at a time), else with
    generate_vmap_rule=True once per sample; otherwise refused, as torch."""
    from ..autograd.function import Function
    if "setup_context" not in _defined(cls):
        raise RuntimeError("In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, "
                           "jacrev, ...), it must override the setup_context staticmethod. For more details, please "
                           "see https://pytorch.org/docs/main/notes/extending.func.html")
    if "vmap" in _defined(cls) and getattr(cls, "vmap") is not getattr(Function, "vmap", None) and len(levels) == 1:
        level, = levels
        n, randomness = next((n, r) for lv, n, r in _levels if lv == level)
        in_dims = tuple(0 if isinstance(a, Tensor) and _levels_of(a) else None for a in args)
        phys = [_align(a, levels) if isinstance(a, Tensor) and _levels_of(a) else a for a in args]
        out, out_dims = cls.vmap(_VmapInfo(n, randomness), in_dims, *phys, **kwargs)
        single = not isinstance(out, tuple)
        outs, dims = ((out,), (out_dims,)) if single else (out, out_dims if isinstance(out_dims, tuple)
                                                           else (out_dims,) * len(out))
        front = tuple(o if d is None and not isinstance(o, Tensor) else
                      o.unsqueeze(0).expand(n, *o.shape) if d is None else o.movedim(d, 0)
                      for o, d in zip(outs, dims))
        return front[0] if single else front
    if getattr(cls, "generate_vmap_rule", False) or "vmap" in _defined(cls):
        return loop(cls, args, levels, kwargs)
    raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have vmap support. Please override "
                       "and implement the vmap staticmethod or set generate_vmap_rule=True. For more details, please "
                       "see https://pytorch.org/docs/main/notes/extending.func.html")


def _defined(cls) -> set:
    """The names a user's Function class (or its user-written bases) define themselves."""
    from ..autograd.function import Function
    names = set()
    for base in cls.__mro__:
        if base is Function or base is object:
            break
        names |= set(vars(base))
    return names


# ----------------------------------------------------------------------------- the transform
def _unproxy(a):
    if type(a) is tuple:  # an index: arrays computed from a batched tensor can hide in it
        if any(isinstance(i, _Sample) for i in a):
            raise RuntimeError(_unbatched())
        return a
    if isinstance(a, _Sample):
        b = _proxies.get(id(a))
        if b is not None and b._data is a:
            return _Raw(b)
        raise RuntimeError(_unbatched())
    return a


def _plain_array(a) -> bool:
    if type(a) is tuple:
        return any(_plain_array(i) for i in a)
    return isinstance(a, ndarray) and not isinstance(a, _Sample)


class _Raw:
    """An array argument that is a batched tensor's one-sample array (see _proxies)."""

    def __init__(self, b) -> None:
        self.b = b


def _check_in_dims(in_dims, args, name: str):
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    if len(dims) != len(args):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {len(dims)} but inputs has structure "
                         f"{len(args)}.")
    leaves, dim_leaves = [], []
    for a, d in zip(args, dims):
        al, _ = flatten(a)
        dl = flatten(d)[0] if isinstance(d, (tuple, list, dict)) else [d] * len(al)
        leaves += al
        dim_leaves += dl
    return leaves, dim_leaves


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size: int | None = None):
    """``func`` mapped over a batch dim of its inputs (``in_dims``), returning batched outputs (``out_dims``)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, dims = _check_in_dims(in_dims, args, name)
        sizes = set()
        for x, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(x, Tensor):
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but "
                                 f"the input is of type {type(x)}. We cannot vmap over non-Tensor arguments, please "
                                 "use None as the respective in_dim")
            if not -x.ndim <= d < max(x.ndim, 0) or x.ndim == 0:
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                                 f"but that input is a Tensor of dimensionality {x.ndim} so expected in_dim to satisfy "
                                 f"-{x.ndim} <= in_dim < {x.ndim}.")
            sizes.add(x.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one input must be batched "
                             "(an in_dim that is not None)")
        if len(sizes) > 1:
            got = [x.shape[d] for x, d in zip(leaves, dims) if d is not None]
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                             f"{got} for the mapped dimension")
        n = sizes.pop()
        if chunk_size is not None and chunk_size < n:
            return _chunked(wrapper_one, args, kwargs, leaves, dims, n, chunk_size)
        return wrapper_one(args, kwargs, leaves, dims, n)

    def wrapper_one(args, kwargs, leaves, dims, n):
        with batching(n, randomness) as level:
            batched = [x if d is None else _enter(x, d, level) for x, d in zip(leaves, dims)]
            new_args = unflatten(batched, flatten(list(args))[1])
            out = func(*new_args, **kwargs)
            outs, spec = flatten(out)
            odims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(outs)
            if len(odims) != len(outs):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, or out_dims must match "
                                 "the structure of the outputs")
            results = [_exit(o, d, level, n, name) for o, d in zip(outs, odims)]
        return unflatten(results, spec)

    return wrapper


@contextlib.contextmanager
def batching(n: int, randomness: str = "error"):
    """A new vmap level of batch size ``n`` while the block runs (yields its id): ops on tensors
    batched at it go through their batching rules, random draws follow ``randomness``."""
    level = _next_level()
    _levels.append((level, n, randomness))
    _seen[0] = False
    if len(_levels) == 1:
        _fw.push(_apply)
        Tensor._make = staticmethod(_make_checked)
    from .. import random as _random
    gen = _random.default_generator
    saved_rng = gen._rng
    if not isinstance(saved_rng, _VmapRandom):  # draws decide per level: one per sample, shared, or refused
        gen._rng = _VmapRandom(saved_rng)
    try:
        yield level
    finally:
        gen._rng = saved_rng
        _seen[0] = False
        _levels.pop()
        if not _levels:
            _fw.pop(_apply)
            Tensor._make = staticmethod(_plain_make)


# where each NumPy sampler takes its ``size``: a draw for every sample has the batch sizes in front of it
_SIZE_AT = {"random": 0, "standard_normal": 0, "standard_exponential": 0, "standard_cauchy": 0, "integers": 2,
            "normal": 2, "uniform": 2, "binomial": 2, "exponential": 1, "poisson": 1, "geometric": 1,
            "lognormal": 2, "gamma": 2, "standard_gamma": 1, "beta": 2, "laplace": 2, "chisquare": 1}


class _VmapRandom:
    """The default generator's NumPy state inside vmap. A random op draws one sample's worth; the
    levels' ``randomness`` decide what that means: "error" raises, "same" keeps one draw for the
    batch, "different" draws with those levels' batch sizes in front and marks the array (_Draw), so
    the tensor made from it is batched over them."""

    def __init__(self, rng) -> None:
        self.rng = rng

    def __getattr__(self, name):
        if any(r == "error" for _, _, r in _levels):
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                               "'same' or 'different' randomness flags on vmap or perform the randomness operation "
                               "out of vmap")
        different = [(lv, n) for lv, n, r in _levels if r == "different"]
        if not different:
            return getattr(self.rng, name)
        if name not in _SIZE_AT:
            raise NotImplementedError(f"vmap: randomness='different' does not support this random operation "
                                      f"(NumPy's {name}) yet; use randomness='same' or draw outside vmap")
        return functools.partial(self._draw, getattr(self.rng, name), _SIZE_AT[name], different)

    @staticmethod
    def _draw(method, at: int, different, *args, **kwargs):
        import numpy as np
        args = list(args)
        given = len(args) > at  # size passed by position (arguments after it, such as a dtype, stay put)
        size = args[at] if given else kwargs.pop("size", None)
        if size is None:  # one draw, or one per element of the parameters' broadcast shape
            size = np.broadcast_shapes(*[np.shape(a) for a in args[:at]], *[np.shape(v) for k, v in kwargs.items()
                                                                           if k != "dtype"])
        size = tuple(n for _, n in different) + ((size,) if isinstance(size, int) else tuple(size))
        if given:
            args[at] = size
        else:
            kwargs["size"] = size
        out = np.asarray(method(*args, **kwargs)).view(_Draw)
        out.levels = tuple(lv for lv, _ in different)
        return out


class _Draw(ndarray):
    """Random values drawn inside vmap with randomness="different": the batch dims of ``levels`` in front."""

    def __array_finalize__(self, obj) -> None:
        self.levels = getattr(obj, "levels", ())


def _chunked(run, args, kwargs, leaves, dims, n, chunk):
    from .. import cat
    parts = []
    for start in range(0, n, chunk):
        sub = [x if d is None else x.narrow(d, start, min(chunk, n - start)) for x, d in zip(leaves, dims)]
        parts.append(run(args, kwargs, sub, dims, min(chunk, n - start)))
    flat = [flatten(p) for p in parts]
    return unflatten([cat([f[0][i] for f in flat], 0) for i in range(len(flat[0][0]))], flat[0][1])


def _enter(x: Tensor, d: int, level) -> Tensor:
    """``x`` as a batched tensor at ``level``, its dim ``d`` the batch dim."""
    with _fw.below(_apply):
        own = _levels_of(x)
        phys = x._phys if own else x
        k = len(own)
        return _wrap(phys.movedim(d % x.ndim + k, k), own + (level,))


def _exit(o, d, level, n: int, name: str):
    """An output of the mapped function, its batch dim for ``level`` moved to ``d``."""
    if not isinstance(o, Tensor):
        raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(o)}. Did you mean "
                         "to set out_dims= to None for output?")
    own = _levels_of(o)
    with _fw.below(_apply):
        if level not in own:
            if d is None:
                return o
            phys = o._phys if own else o  # not batched at this level: every sample gives the same result
            k = len(own)
            phys = phys.unsqueeze(k).expand(*phys.shape[:k], n, *phys.shape[k:])
            own = own + (level,)
        else:
            if d is None:
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            phys = o._phys
        i = own.index(level)
        rest = own[:i] + own[i + 1:]
        logical = phys.ndim - len(own)
        phys = phys.movedim(i, len(own) - 1)  # this level's dim last among the batch dims
        phys = phys.movedim(len(own) - 1, len(rest) + d % (logical + 1))
        return _wrap(phys, rest)


# -- what ember.func's reverse-mode transforms need to differentiate inside vmap --
def batched_leaf(x, connected: bool = False):
    """A fresh leaf for grad inside vmap: batched as ``x`` is, or over every level if ``x`` is not
    (its gradient is then per sample, as torch.func's). Made from a broadcast view of ``x``'s
    array (no copy, no op to record); ``connected`` (an enclosing transform differentiates ``x``)
    makes it a recorded view of ``x`` instead, through which that transform's gradient flows."""
    if not _levels:
        return None
    levels, own = _active(), _levels_of(x)
    if connected:
        with _fw.below(_apply):
            phys = _align(x, levels, expand=True)
            return _wrap(phys.view_as(phys), levels)  # its own node: grad catches only this use of x
    arr = (x._phys if own else x)._data
    logical = arr.shape[len(own):]
    front = iter(arr.shape[:len(own)])
    arr = arr.reshape(*[next(front) if lv in own else 1 for lv in levels], *logical)
    return _wrap(_plain_make(xp.broadcast_to(arr, (*_sizes(levels), *logical)), True), levels)


def from_array(arr, level) -> "BatchedTensor":
    """A tensor batched at ``level`` (the innermost) from an array with that batch dim in front."""
    return _wrap(_plain_make(arr), (level,))


@contextlib.contextmanager
def strict():
    """Inside: an op without a batching rule raises NoRule instead of running once per sample."""
    saved, _strict[0] = _strict[0], True
    try:
        yield
    finally:
        _strict[0] = saved


def physical(t):
    """The ordinary tensor behind ``t`` (itself when not batched)."""
    return t._phys if isinstance(t, BatchedTensor) else t


def cotangent(c, out):
    """The physical cotangent of the output ``out`` (ones for a batched scalar, as grad's implicit one)."""
    if not isinstance(out, BatchedTensor):
        return c
    with _fw.below(_apply):
        if c is None:  # made as an array: no op to record
            return _plain_make(xp.ones(out._phys.shape, out._phys._data.dtype))
        return _align(c, out._bat_levels, expand=True)


def rewrap(g, like):
    """A gradient computed on physical tensors, seen as ``like`` is."""
    return _wrap(g, like._bat_levels) if isinstance(like, BatchedTensor) else g
