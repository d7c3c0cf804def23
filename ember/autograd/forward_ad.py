"""Forward-mode AD with dual tensors, as torch.autograd.forward_ad.

A dual tensor is a primal value paired with a tangent: the direction in which we ask how
the function changes. Each op, given inputs ``x + t eps`` (with ``eps**2 = 0``), returns
``f(x) + (J t) eps``: the tangent of its output is the Jacobian of the op times the
tangents of its inputs, computed as the op goes, with no graph and no backward pass.

An op states its tangent formula as ``jvp(inputs, output, *tangents)`` beside its forward
and backward (one tangent per positional input, None where there is none). An op without one
gets a tangent derived from its backward, which is written with ember ops: ``vjp(u)`` is
linear in the cotangent ``u``, and ``<vjp(u), t> = <u, J t>``, so the gradient of
``<vjp(u), t>`` with respect to ``u`` is ``J t`` (the transpose trick: a backward of the
backward). That costs a forward and two backward passes of the op, so hot ops carry their own.
"""
from __future__ import annotations

import contextlib
import weakref
from collections import namedtuple

from . import function
from .grad_mode import enable_grad, state

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])

_level = None      # the active dual level (only one at a time, as in torch)
_duals = []        # weak references to the tensors that got a tangent at this level


def enter_dual_level() -> int:
    """Start a forward-AD level; tangents given at it vanish when it ends."""
    global _level
    if _level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _level = 0
    push(_apply)
    return _level


def exit_dual_level(*, level: int | None = None) -> None:
    """End the current forward-AD level and drop every tangent made at it."""
    global _level
    if _level is None or (level is not None and level != _level):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    for ref in _duals:
        t = ref()
        if t is not None:
            t._tangent = None
    _duals.clear()
    pop(_apply)
    _level = None


_through_inference = [False]  # inside ember.func.jvp


@contextlib.contextmanager
def dual_level():
    """Context manager for a forward-AD level: ``with dual_level(): ...``."""
    level = enter_dual_level()
    try:
        yield level
    finally:
        exit_dual_level(level=level)


@contextlib.contextmanager
def _transform_level():
    """A dual level for ember.func's jvp, which works under inference_mode too, as torch.func's transforms."""
    prev, _through_inference[0] = _through_inference[0], True
    try:
        with dual_level() as level:
            yield level
    finally:
        _through_inference[0] = prev


def _inference_off() -> bool:
    """torch's inference mode turns forward AD off (torch.func's transforms excepted): no tangent is seen or made."""
    return state.inference and not _through_inference[0]


def make_dual(tensor, tangent, *, level: int | None = None):
    """A view of ``tensor`` that carries ``tangent`` as its forward gradient."""
    if _level is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not _differentiable(tensor):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not _differentiable(tangent):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    with _off():
        dual = tensor.view_as(tensor)
    if not _inference_off():
        _set(dual, tangent)
    return dual


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of a dual tensor; the tangent is None for a tensor without one."""
    tangent = _tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with _off():
        primal = tensor.view_as(tensor)
    return UnpackedDualTensor(primal, tangent)


# -- the transform stack: forward AD and vmap intercept ops while active. The innermost one is
# function.transform; Op.apply and Function.apply hand it every call. A transform runs the op
# itself under below(itself), so that the transforms outside it (and then plain apply) see it.
_stack = []


def push(fn) -> None:
    _stack.append(fn)
    function.transform = fn


def pop(fn) -> None:
    _stack.remove(fn)
    function.transform = _stack[-1] if _stack else None


@contextlib.contextmanager
def below(fn):
    """Run ops as the transforms outside ``fn`` see them (none: plain ops)."""
    saved = function.transform
    if fn in _stack:
        i = _stack.index(fn)
        function.transform = _stack[i - 1] if i > 0 else None
    try:
        yield
    finally:
        function.transform = saved


def _off():
    """Ops that propagate no tangent: tangent formulas themselves, and a user Function's forward."""
    return below(_apply)


def set_tangent(t, tangent) -> None:
    """Give ``t`` the tangent ``tangent`` (None takes its tangent away): in-place ops use it."""
    if tangent is None:
        t._tangent = None
    else:
        _set(t, tangent)


def _differentiable(t) -> bool:
    return t.is_floating_point() or t.is_complex()


def _set(t, tangent, like=None) -> None:
    """Give ``t`` (a tensor, or the node whose backward reads its output ``like``) a tangent."""
    like = t if like is None else like
    if tangent.is_complex() and not like.is_complex():
        tangent = tangent.real  # a real output moves along the real part of a complex linear map's result
    if tangent.dtype is not like.dtype:
        tangent = tangent.to(like.dtype)
    if tuple(tangent.shape) != tuple(like.shape):
        tangent = tangent.expand(like.shape)  # an input broadcast into the output
    t._tangent = tangent
    _duals.append(weakref.ref(t))


def _tangent_of(a):
    """``a``'s tangent; a view's is read from its base's at the view's elements, as torch's tangent of a view
    is a view of its base's, so that a write through the base or another view shows in it."""
    if _inference_off():
        return None
    tangent = getattr(a, "_tangent", None)
    base = getattr(a, "_base", None)
    if base is None or base._tangent is None:
        return tangent
    from .._ops.common import _flat_positions
    pos = _flat_positions(base._data, a._data)
    if pos is None:
        return tangent
    flat = base._tangent.reshape(-1)
    if not flat.requires_grad:
        return function.Tensor._make(flat._data[pos])
    with _off():  # a tangent with a history (forward over reverse) keeps it
        return flat[function.Tensor._make(pos)]


def _apply(cls, args, kwargs):
    """Run an op under a dual level: its result, with tangents when an input carries one."""
    tangents = [_tangent_of(a) for a in args]
    with _off():
        if all(t is None for t in tangents):
            return cls.apply(*args, **kwargs)
        user = not issubclass(cls, function.Op)
        if user:
            function.ctx_sink = sink = []
            try:
                out = cls.apply(*args, **kwargs)
            finally:
                function.ctx_sink = None
            tout = _user_jvp(cls, sink[-1], tangents)
        else:
            out = cls.apply(*args)
            tout = cls.jvp(args, out, *tangents) if cls.jvp is not None else _transpose_jvp(cls, args, tangents)
    outs, touts = (out, tout) if isinstance(out, tuple) else ((out,), (tout,))
    if not isinstance(touts, tuple):
        touts = (touts,)
    for o, t in zip(outs, touts):
        if t is not None and isinstance(o, function.Tensor) and _differentiable(o):
            if user and any(o is a for a in args):
                continue  # an input returned as is keeps its own tangent
            _set(o, t)
            node = o._grad_fn
            if node is not None and node._out_data is o._data:  # the op's backward reads its output
                _set(node, t, o)
    return out


def _user_jvp(cls, ctx, tangents):
    if cls.jvp is function.Function.jvp:
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")
    return cls.jvp(_JvpCtx(ctx), *tangents)


class _JvpCtx:
    """The ctx a user Function's jvp sees: what forward stored, and save_for_forward's tensors."""

    def __init__(self, ctx) -> None:
        self._ctx = ctx

    def __getattr__(self, name):
        if name == "saved_tensors":
            return getattr(self._ctx, "_saved_forward", ())
        return getattr(self._ctx, name)


def _transpose_jvp(cls, args, tangents):
    """``J t`` from the op's backward: the gradient with respect to ``u`` of ``<vjp(u), t>``."""
    from . import grad as _grad
    keep = any(a.requires_grad or t.requires_grad for a, t in zip(args, tangents) if t is not None)
    with enable_grad():
        ins = [a.detach().requires_grad_(True) if t is not None and not a.requires_grad else a
               for a, t in zip(args, tangents)]
        out = cls.apply(*ins)
        outs = out if isinstance(out, tuple) else (out,)
        diff = [i for i, o in enumerate(outs) if isinstance(o, function.Tensor) and o.requires_grad]
        if not diff:
            return None
        # the op's own backward, not autograd.grad: partial derivatives, even where one input is
        # computed from another (autograd.grad would follow that path too)
        us = [_zeros_like(o, i in diff) if isinstance(o, function.Tensor) else None for i, o in enumerate(outs)]
        vjps = outs[diff[0]].grad_fn.apply(*us)
        vjps = vjps if isinstance(vjps, tuple) else (vjps,)
        inner = total(*[_inner(g, t) for g, t in zip(vjps, tangents) if g is not None and t is not None])
        if inner is None or not inner.requires_grad:  # a backward that is constant zero (rounding)
            return tuple(None if not isinstance(o, function.Tensor) else _zeros_like(o, False) for o in outs) \
                if isinstance(out, tuple) else _zeros_like(out, False)
        jts = _grad(inner, [us[i] for i in diff], create_graph=True, allow_unused=True)
    result = [None] * len(outs)
    for i, jt in zip(diff, jts):
        if jt is None:
            jt = _zeros_like(outs[i], False)
        result[i] = jt if keep else jt.detach()
    return tuple(result) if isinstance(out, tuple) else result[0]


def _inner(g, t):
    """The real inner product ``Re <g, t>``: backward gives the adjoint of the Jacobian for it (torch's
    convention for complex gradients), so its gradient with respect to the cotangent is ``J t``."""
    if g.is_complex() or t.is_complex():
        return (g.conj() * t).sum().real
    return (g * t).sum()


def _zeros_like(t, requires_grad: bool = True):
    z = function.Tensor._make(t._data * 0)
    return z.requires_grad_(True) if requires_grad else z


def total(*terms):
    """The sum of the tangent terms that are present (None when none is): a jvp's helper."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    result = terms[0]
    for t in terms[1:]:
        result = result + t
    return result
