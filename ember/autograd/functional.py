"""Higher-level differentiation of whole functions: jacobian, hessian, vjp, jvp, hvp, vhp.

Everything is built on ``autograd.grad``: a Jacobian is one vector-Jacobian product per
output element, and forward-mode products (jvp, hvp) use the double-backward trick, so
they need nothing beyond ops whose backward is itself differentiable.
``vectorize`` and ``strategy`` are accepted for torch compatibility and ignored.
"""
from __future__ import annotations

from typing import Callable

from .._backend import xp
from .grad_mode import enable_grad
from . import grad as _grad


def _as_tuple(x, arg: str, fn: str) -> tuple[bool, tuple]:
    from .._tensor import Tensor
    single = not isinstance(x, tuple)  # as torch's: a tuple of tensors, or one tensor (a list is neither)
    xs = (x,) if single else x
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {arg} given to {fn} must be either a Tensor or a tuple of Tensors but the "
                            + (f"given {arg} has type {type(t)}." if single else
                               f"value at index {i} has type {type(t)}."))
    return single, xs


def _prepare(inputs, create_graph: bool, need_graph: bool = True) -> tuple:
    # fresh leaves to differentiate against; under create_graph keep the link to the caller's graph
    return tuple(t.clone() if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in inputs)


def _finish(xs, create_graph: bool) -> tuple:
    return tuple(x if x is None or create_graph else x.detach() for x in xs)


_NOT_DIFF = ("Output {} of the user-provided function does not require gradients. The outputs must be computed in a "
             "differentiable manner from the input when running in strict mode.")
_JAC_INDEP = ("While computing the hessian, found that the jacobian of the user-provided function with respect to input "
              "{} is independent of the input. This is not allowed in strict mode. You should ensure that your function "
              "is twice differentiable and that the jacobian depends on the inputs (this would be violated by a linear "
              "function for example).")


def _grads(outputs, inputs, grad_outputs, create_graph: bool, strict: bool, stage: str = "output",
           nr: int | None = None) -> tuple:
    """Gradients of ``outputs`` (weighted by ``grad_outputs``) w.r.t. ``inputs``; zeros where unused. ``strict``
    refuses what torch's strict mode refuses, in its words for the ``stage``: "output" (a function's outputs,
    output ``nr`` of several), "hessian" (the first derivative inside hessian: an unused input is refused by the
    next stage) or "jacobian" (differentiating a gradient again)."""
    from .._tensor import Tensor
    for k, o in enumerate(outputs) if strict else ():
        if not o.requires_grad:
            k = k if nr is None else nr
            raise RuntimeError(_JAC_INDEP.format(k) if stage == "jacobian" else _NOT_DIFF.format(k))
    diff = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if diff:
        gs = _grad([o for o, _ in diff], inputs, [g for _, g in diff], retain_graph=True,
                   create_graph=create_graph, allow_unused=True)
    else:
        gs = (None,) * len(inputs)
    result = []
    for i, (g, t) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict and stage == "jacobian":
                raise RuntimeError(_JAC_INDEP.format(i))
            if strict and stage == "output":
                raise RuntimeError(("The output" if nr is None else f"Output {nr}") + " of the user-provided function "
                                   f"is independent of input {i}. This is not allowed in strict mode.")
            g = Tensor._make(xp.zeros_like(t._data))
        result.append(g)
    return tuple(result)


def _check_outputs(outputs, fn: str) -> tuple[bool, tuple]:
    return _as_tuple(outputs, "outputs of the user-provided function", fn)


def _check_v(v, like, single_like: bool, fn: str) -> tuple:
    """``v`` as a tuple of one tensor per tensor of ``like`` (a function's inputs or outputs), each of its shape."""
    single, vs = _as_tuple(v, "v", fn)
    if len(vs) != len(like):
        raise RuntimeError("The given v should contain a single Tensor." if single_like else
                           f"v is a tuple of invalid length: should be {len(like)} but got {len(vs)}.")
    for i, (a, b) in enumerate(zip(vs, like)):
        if a.shape != b.shape:
            raise RuntimeError(("" if single_like else f"Entry {i} in ") + f"v has invalid size: should be "
                               f"{list(b.shape)} but got {list(a.shape)}.")
    return vs


def _default_v(xs, fn: str, what: str) -> tuple:
    from .._tensor import Tensor
    if len(xs) != 1 or xs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the " + ("user-provided function returns" if what ==
                           "output" else "input to the user-provided function is") + " a single Tensor with a "
                           "single element.")
    return (Tensor._make(xp.ones_like(xs[0]._data)),)


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    single_in, xs = _as_tuple(inputs, "inputs", "vjp")
    with enable_grad():
        xs = _prepare(xs, create_graph)
        outputs = func(*xs)
        single_out, outs = _check_outputs(outputs, "vjp")
        vs = _default_v(outs, "vjp", "output") if v is None else _check_v(v, outs, single_out, "vjp")
        res = _grads(outs, xs, vs, create_graph, strict)
    outs, res = _finish(outs, create_graph), _finish(res, create_graph)
    return (outs[0] if single_out else outs), (res[0] if single_in else res)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by differentiating a vjp w.r.t. its vector."""
    from .._tensor import Tensor
    single_in, xs = _as_tuple(inputs, "inputs", "jvp")
    vs = _default_v(xs, "jvp", "input") if v is None else _check_v(v, xs, single_in, "jvp")
    with enable_grad():
        xs = _prepare(xs, create_graph)
        outputs = func(*xs)
        single_out, outs = _check_outputs(outputs, "jvp")
        # u^T J is linear in u, so its gradient w.r.t. u along v is J v
        us = tuple(Tensor._make(xp.zeros_like(o._data), requires_grad=True) for o in outs)
        g = _grads(outs, xs, us, True, strict)
        live = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if live:
            res = _grad([a for a, _ in live], us, [b for _, b in live], retain_graph=True,
                        create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(us)
        res = tuple(r if r is not None else Tensor._make(xp.zeros_like(o._data)) for r, o in zip(res, outs))
    outs, res = _finish(outs, create_graph), _finish(res, create_graph)
    return (outs[0] if single_out else outs), (res[0] if single_out else res)


def _check_strategy(strategy: str, create_graph: bool, strict: bool, vectorize: bool) -> None:
    # the combinations torch's jacobian refuses (ember computes every strategy the same way)
    name = "torch.autograd.functional.jacobian"
    if strategy == "forward-mode" and create_graph:
        raise NotImplementedError(f'{name}: `create_graph=True` and `strategy="forward-mode"` are not supported '
                                  'together (yet). Please either set `create_graph=False` or `strategy="reverse-mode"`.')
    if strategy == "forward-mode" and strict:
        raise RuntimeError(f'{name}: `strict=True` and `strategy="forward-mode"` are not supported together (yet). '
                           'Please either set `strict=False` or `strategy="reverse-mode"`.')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian isonly "
                                  "implemented for `vectorize=True`.")
    if vectorize and strict:
        raise RuntimeError(f"{name}: `strict=True` and `vectorized=True` are not supported together. Please either "
                           "set `strict=False` or `vectorize=False`.")


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: block [i][j] has shape ``out_i.shape + in_j.shape``."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                             'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, '
                             'prefer to use "reverse-mode".')
    _check_strategy(strategy, create_graph, strict, vectorize)
    return _jacobian(func, inputs, create_graph, strict, "output")


def _jacobian(func: Callable, inputs, create_graph: bool, strict: bool, stage: str):
    from .._tensor import Tensor
    from .._ops.common import FUNCTIONS
    single_in, xs = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        xs = _prepare(xs, create_graph)
        outputs = func(*xs)
        single_out, outs = _check_outputs(outputs, "jacobian")
        blocks = []
        for i, out in enumerate(outs):
            n = out.numel()
            rows = [[] for _ in xs]
            for k in range(n):
                e = xp.zeros(n, dtype=out._data.dtype)
                e[k] = 1
                unit = Tensor._make(e.reshape(out._data.shape))
                gs = _grads((out,), xs, (unit,), create_graph, strict, stage, i)
                for j, g in enumerate(gs):
                    rows[j].append(g.reshape(-1))
            per_in = []
            for j, x in enumerate(xs):
                shape = tuple(out.shape) + tuple(x.shape)
                if n == 0 or x.numel() == 0:
                    per_in.append(Tensor._make(xp.zeros(shape, dtype=x._data.dtype)))
                    continue
                per_in.append(FUNCTIONS["stack"](rows[j]).reshape(shape))
            blocks.append(_finish(per_in, create_graph))
    if single_out:
        return blocks[0][0] if single_in else blocks[0]
    return tuple(b[0] for b in blocks) if single_in else tuple(blocks)


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: block [i][j] has shape ``in_i.shape + in_j.shape``."""
    single_in, xs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("reverse-mode", "forward-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    _check_strategy(outer_jacobian_strategy, create_graph, strict, vectorize)

    def gradient(*args):
        out = func(*args)
        _, outs = _check_outputs(out, "hessian")
        _scalar_output(outs, "hessian")
        return _grads(outs, args, (None,), True, strict, "hessian")

    res = _jacobian(gradient, xs, create_graph, strict, "jacobian")
    if single_in:
        return res[0][0]
    return res


def _scalar_output(outs, fn: str) -> None:
    if len(outs) != 1:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain a single element")


def _vhp(func: Callable, inputs, v, create_graph: bool, strict: bool, fn: str):
    single_in, xs = _as_tuple(inputs, "inputs", fn)
    vs = _default_v(xs, fn, "input") if v is None else _check_v(v, xs, single_in, fn)
    with enable_grad():
        xs = _prepare(xs, create_graph)
        outputs = func(*xs)
        _, outs = _check_outputs(outputs, fn)
        _scalar_output(outs, fn)
        g = _grads(outs, xs, (None,), True, strict)
        res = _grads(g, xs, vs, create_graph, strict, "jacobian")
    out, res = _finish(outs, create_graph)[0], _finish(res, create_graph)
    return out, (res[0] if single_in else res)


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)``: a vector-Hessian product of a scalar function."""
    return _vhp(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)``: a Hessian-vector product of a scalar function."""
    # the Hessian of a twice-differentiable function is symmetric, so H v equals v^T H
    return _vhp(func, inputs, v, create_graph, strict, "hvp")
